"""Next-frame prediction: given two frames of a video, predict the third.

The pseudo-label is the future itself. To predict it the network must find each object, its
velocity, and what happens at a wall; a copy of the last frame, the best guess of a network
that understands nothing about motion, is the baseline to beat. The videos are moving digits
(:func:`sslib.data.video.moving_digits`, after Srivastava et al., 2015): the "video
prediction" of the source post, done for real. Explained in chapter 1, *Self-supervision and
pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of


class NextFramePrediction(Method):
    """Pre-train ``encoder`` to predict frame ``t + 1`` from frames ``t - 1`` and ``t``.

    Batches are videos ``(B, T, 1, H, W)`` with ``T >= 3`` (or ``(videos, labels)``); each
    step uses the last three frames. The loss is the per-pixel binary cross-entropy of the
    predicted intensities, in nats per pixel.

    Args:
        encoder: a network with ``feature_map(x)`` on two-channel inputs (the two frames),
            e.g. ``SmallCNN(in_channels=2)``, downsampling by 4.
        width: channels of the decoder's hidden layer.
    """

    def __init__(self, encoder: nn.Module, width: int = 32):
        super().__init__()
        self.encoder = encoder
        self.decoder = nn.Sequential(  # two 2x upsamplings undo the encoder's two poolings
            nn.ConvTranspose2d(encoder.out_dim, width, 4, stride=2, padding=1),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, 1, 4, stride=2, padding=1),
        )

    @staticmethod
    def split(videos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Context: frames ``t - 1, t`` as channels ``(B, 2, H, W)``; target ``(B, 1, H, W)``."""
        x = to_float(videos[:, -3:])  # (B, 3, 1, H, W)
        return x[:, :2, 0], x[:, 2]

    def predict(self, context: torch.Tensor) -> torch.Tensor:
        """Logits of the next frame's intensities. Shape ``(B, 2, H, W) -> (B, 1, H, W)``."""
        return self.decoder(self.encoder.feature_map(context))

    def loss(self, batch):
        """Binary cross-entropy per pixel, in nats; logs the mean squared error."""
        videos = inputs_of(batch)
        context, target = self.split(videos)
        logits = self.predict(context)
        loss = F.binary_cross_entropy_with_logits(logits, target)
        mse = F.mse_loss(torch.sigmoid(logits.detach()), target)
        return loss, {"mse": mse}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The representation of single frames ``(B, 1, H, W)``: a still two-frame video."""
        x = to_float(x)
        return self.encoder(torch.cat([x, x], dim=1))
