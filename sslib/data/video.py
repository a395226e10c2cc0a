"""Synthetic video: digits moving in straight lines and bouncing off the walls.

After the moving-MNIST videos of Srivastava et al. (2015); the data of next-frame prediction
(:class:`sslib.methods.pretext.next_frame.NextFramePrediction`). Explained in chapter 1,
*Self-supervision and pretext tasks*.
"""

from __future__ import annotations

import torch


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
