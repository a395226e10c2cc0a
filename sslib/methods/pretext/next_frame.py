"""Next-frame prediction: given two frames of a video, predict the third.

The pseudo-label is the future itself. To predict it the network must find each object, its
velocity, and what happens at a wall; a copy of the last frame, the best guess of a network
that understands nothing about motion, is the baseline to beat. The videos are moving digits
(:func:`moving_digits`, after Srivastava et al., 2015): the "video prediction" of the source
post, done for real. Explained in chapter 1, *Self-supervision and pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of


def moving_digits(
    digits: torch.Tensor,
    n: int,
    frames: int = 3,
    size: int = 32,
    num_digits: int = 2,
    speed: tuple[float, float] = (1.0, 3.0),
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Videos of digits moving in straight lines and bouncing off the walls.

    Each video picks ``num_digits`` random images from ``digits``, a random start inside the
    canvas and a random direction and speed (pixels per frame); where digits overlap the
    brighter pixel wins.

    Args:
        digits: uint8 images ``(M, 1, d, d)`` with ``d < size``.
        n: number of videos.
        frames: frames per video.
        size: canvas side in pixels.
        num_digits: digits per video.
        speed: range of speeds, pixels per frame.
        seed: seed of every random choice.

    Returns:
        ``(videos, which)``: uint8 ``(n, frames, 1, size, size)`` and the indices into
        ``digits`` of the digits in each video, ``(n, num_digits)``.
    """
    d = digits.shape[-1]
    room = size - d  # top-left corners live in [0, room]
    if room <= 0:
        raise ValueError(f"digits of side {d} do not fit a canvas of side {size}")
    g = torch.Generator().manual_seed(seed)
    which = torch.randint(len(digits), (n, num_digits), generator=g)
    start = torch.rand(n, num_digits, 2, generator=g) * room
    angle = torch.rand(n, num_digits, generator=g) * 2 * torch.pi
    v = speed[0] + (speed[1] - speed[0]) * torch.rand(n, num_digits, generator=g)
    velocity = torch.stack([torch.sin(angle), torch.cos(angle)], dim=-1) * v[..., None]
    t = torch.arange(frames, dtype=torch.float32).view(1, -1, 1, 1)
    # Bouncing is reflection: unfold the straight path and fold it back into [0, room].
    path = (start[:, None] + t * velocity[:, None]) % (2 * room)  # (n, frames, digits, 2)
    corner = torch.where(path > room, 2 * room - path, path).round().long()
    videos = torch.zeros(n, frames, 1, size, size, dtype=torch.uint8)
    for i in range(n):
        for j in range(num_digits):
            digit = digits[which[i, j], 0]
            for f in range(frames):
                r, c = corner[i, f, j].tolist()
                window = videos[i, f, 0, r : r + d, c : c + d]
                torch.maximum(window, digit, out=window)
    return videos, which


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
