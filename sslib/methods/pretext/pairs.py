"""The shared shape of two-input pretext tasks: encode each input, classify the pair.

Relative patch position and the relative 3D rotation both ask "how is input 2 related to
input 1?". One encoder (shared weights, a Siamese network) embeds both; a small MLP on the
concatenated embeddings names the relation. Explained in chapter 1, *Self-supervision and
pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import MLP


class PairClassifier(Method):
    """Classify the relation between two inputs from their two embeddings.

    Subclasses define :meth:`pairs`, which turns a batch of inputs into ``(x1, x2, labels)``.

    Args:
        encoder: maps ``(B, C, H, W)`` to ``(B, encoder.out_dim)``; shared by both inputs.
        num_classes: number of relations.
        hidden: width of the pair head's hidden layer.
    """

    def __init__(self, encoder: nn.Module, num_classes: int, hidden: int = 128):
        super().__init__()
        self.encoder = encoder
        self.num_classes = num_classes
        self.head = MLP(2 * encoder.out_dim, [hidden], num_classes, norm="batch")

    def pairs(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(x1, x2, labels)`` of float inputs ``(B, C, H, W)`` and relations ``(B,)``."""
        raise NotImplementedError(f"{type(self).__name__} must define pairs(inputs)")

    def logits(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Relation logits, ``(B, C, H, W), (B, C, H, W) -> (B, num_classes)``."""
        h = self.encoder(torch.cat([x1, x2]))  # one pass: batch norm sees both inputs
        h1, h2 = h.chunk(2)
        return self.head(torch.cat([h1, h2], dim=1))

    def loss(self, batch):
        """Cross-entropy of the relation, in nats; logs accuracy."""
        x1, x2, labels = self.pairs(inputs_of(batch))
        logits = self.logits(x1, x2)
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {"accuracy": accuracy}

    @torch.no_grad()
    def accuracy(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-pair correctness on inputs, in eval mode: ``(correct (B,) bool, labels (B,))``."""
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        x1, x2, labels = (t.to(device) for t in self.pairs(inputs))
        correct = self.logits(x1, x2).argmax(dim=1) == labels
        self.train(was_training)
        return correct, labels

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's representation ``h`` of single inputs, ``(B, encoder.out_dim)``."""
        return self.encoder(to_float(x))
