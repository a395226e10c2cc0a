"""The supervised reference: an encoder and a linear classifier trained with labels.

Every chapter compares its self-supervised encoder with this one, trained on the same images
for as long: the upper reference of the evaluation protocol (chapter 1, *Self-supervision and
pretext tasks*).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method


class Supervised(Method):
    """Cross-entropy training of ``encoder`` followed by a linear head.

    Args:
        encoder: maps images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        num_classes: number of labels.
        views: optional augmentation, ``views(x) -> x'`` on float images (e.g.
            :class:`sslib.augment.Views`), applied to each training batch.
    """

    def __init__(self, encoder: nn.Module, num_classes: int, views=None):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, num_classes)
        self.views = views

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> Supervised:
        """A head with one output per class of ``train_set``."""
        return cls(encoder, train_set.num_classes, **kwargs)

    def loss(self, batch):
        """Cross-entropy of a batch ``(images, labels)``, in nats; logs accuracy."""
        images, labels = batch
        x = to_float(images)
        if self.views is not None:
            x = self.views(x)
        logits = self.head(self.encoder(x))
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {"accuracy": accuracy}

    @torch.no_grad()
    def predictions(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The predicted class of each image, in eval mode (the network used end to end).

        Shape:
            ``(N, C, H, W) -> (N,)`` (``int64``, on the CPU).
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        parts = [
            self.head(self.encoder(to_float(images[i : i + batch_size].to(device))))
            .argmax(dim=1)
            .cpu()
            for i in range(0, len(images), batch_size)
        ]
        self.train(was_training)
        return torch.cat(parts)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's representation ``h``, shape ``(B, encoder.out_dim)``."""
        return self.encoder(to_float(x))
