"""Rotation prediction (Gidaris et al., 2018): classify which quarter turn an image went through.

The pseudo-label is the number ``k`` of quarter turns applied; recognising it requires knowing
which way up objects stand, so the encoder has to learn what the objects are. Explained in
chapter 1, *Self-supervision and pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import MLP

NUM_ROTATIONS = 4


def all_rotations(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every image under each of the four quarter turns, with the turn as label.

    Block ``k`` of the output holds the whole batch turned ``k`` times counter-clockwise,
    as ``torch.rot90`` does, so ``rotated[k * B + i] = rot90(x[i], k)``.

    Shape:
        ``x``: ``(B, C, H, H)`` -> ``rotated``: ``(4 B, C, H, H)``, ``labels``: ``(4 B,)``.
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotations need square images, got {tuple(x.shape[-2:])}")
    rotated = torch.cat([torch.rot90(x, k, dims=(-2, -1)) for k in range(NUM_ROTATIONS)])
    labels = torch.arange(NUM_ROTATIONS, device=x.device).repeat_interleave(len(x))
    return rotated, labels


class RotationPrediction(Method):
    """Pre-train ``encoder`` to predict the quarter turn applied to its input.

    Each batch is shown in all four orientations (as Gidaris et al. do), so every image
    contributes one example of each class and the classes stay balanced.

    Args:
        encoder: maps images ``(B, C, H, H)`` to ``(B, encoder.out_dim)``.
        hidden: width of the hidden layer of an MLP head; ``None`` for a linear head. A
            non-linear head keeps the last layer of the encoder from specialising in rotations
            alone (Gidaris et al. find the best features a few layers before the head).
        views: optional augmentation ``views(x) -> x'`` applied before rotating.
    """

    def __init__(self, encoder: nn.Module, hidden: int | None = 128, views=None):
        super().__init__()
        self.encoder = encoder
        if hidden is None:
            self.head = nn.Linear(encoder.out_dim, NUM_ROTATIONS)
        else:
            self.head = MLP(encoder.out_dim, [hidden], NUM_ROTATIONS, norm="batch")
        self.views = views

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Rotation logits of (already rotated) images. Shape ``(B, C, H, H) -> (B, 4)``."""
        return self.head(self.encoder(to_float(x)))

    def loss(self, batch):
        """Cross-entropy of the four-way rotation label, in nats; logs accuracy."""
        images = inputs_of(batch)
        x = to_float(images)
        if self.views is not None:
            x = self.views(x)
        rotated, labels = all_rotations(x)
        logits = self.head(self.encoder(rotated))
        loss = F.cross_entropy(logits, labels)
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return loss, {"accuracy": accuracy}

    @torch.no_grad()
    def predictions(self, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
        """The predicted turn of each image under each true turn, in eval mode.

        Entry ``[i, k]`` is the prediction for ``rot90(images[i], k)``; it is right where it
        equals ``k``.

        Shape:
            ``(N, C, H, H) -> (N, 4)`` (``int64``, on the CPU).
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        parts = []
        for i in range(0, len(images), batch_size):
            rotated, _ = all_rotations(to_float(images[i : i + batch_size].to(device)))
            guess = self.logits(rotated).argmax(dim=1)
            parts.append(guess.view(NUM_ROTATIONS, -1).T.cpu())  # (b, 4)
        self.train(was_training)
        return torch.cat(parts)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's representation ``h`` of upright images, ``(B, encoder.out_dim)``."""
        return self.encoder(to_float(x))
