"""Relative patch position (Doersch et al., 2015): where is this patch, relative to that one?

Cut a 3x3 grid of patches from an image; show the network the centre patch and one of its
eight neighbours; the pseudo-label is the neighbour's position. A gap between patches and a
random jitter of each patch stop the network from matching edges that run across the border
(a shortcut that needs no idea of what the object is). Explained in chapter 1,
*Self-supervision and pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sslib.data import to_float
from sslib.methods.pretext.pairs import PairClassifier

#: Grid cell ``(row, col)`` of each of the eight labels; the centre is ``(1, 1)``.
NEIGHBOURS = ((0, 0), (0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1), (2, 2))


def _randint(high: int, n: int, like: torch.Tensor, generator) -> torch.Tensor:
    if generator is None:
        return torch.randint(high, (n,), device=like.device)
    return torch.randint(high, (n,), generator=generator, device=generator.device).to(like.device)


def _crop(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, size: int) -> torch.Tensor:
    """Crop ``size`` x ``size`` at ``(top[i], left[i])`` from image ``i``: ``(B, C, s, s)``."""
    offsets = torch.arange(size, device=x.device)
    rows = (top[:, None] + offsets)[:, :, None]  # (B, s, 1)
    cols = (left[:, None] + offsets)[:, None, :]  # (B, 1, s)
    batch = torch.arange(len(x), device=x.device)[:, None, None]
    return x[batch, :, rows, cols].permute(0, 3, 1, 2)  # advanced indexing puts C last


def patch_pair(
    x: torch.Tensor,
    patch: int,
    gap: int,
    jitter: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The centre patch, a random neighbour and the neighbour's position label, per image.

    The 3x3 grid of cells, each ``patch + gap`` pixels apart, is centred in the image; each of
    the two patches is then shifted by its own random offset in ``0..jitter`` along each axis.

    Shape:
        ``x``: ``(B, C, H, W)`` -> centre, neighbour: ``(B, C, patch, patch)``; labels ``(B,)``
        in 0..7 (see :data:`NEIGHBOURS`).

    Raises:
        ValueError: the grid ``3 patch + 2 gap + jitter`` does not fit in the image.
    """
    b, _, h, w = x.shape
    extent = 3 * patch + 2 * gap + jitter
    if extent > min(h, w):
        raise ValueError(f"3*patch + 2*gap + jitter = {extent} exceeds the image ({h}x{w})")
    top0, left0 = (h - extent) // 2, (w - extent) // 2
    labels = _randint(len(NEIGHBOURS), b, x, generator)
    cells = torch.tensor(NEIGHBOURS, device=x.device)[labels]  # (B, 2): (row, col)
    step = patch + gap

    def place(row, col):
        top = top0 + row * step + _randint(jitter + 1, b, x, generator)
        left = left0 + col * step + _randint(jitter + 1, b, x, generator)
        return _crop(x, top, left, patch)

    one = torch.ones(b, dtype=torch.long, device=x.device)
    centre = place(one, one)
    neighbour = place(cells[:, 0], cells[:, 1])
    return centre, neighbour, labels


class RelativePosition(PairClassifier):
    """Pre-train ``encoder`` to name the position of a patch relative to the centre patch.

    Args:
        encoder: maps patches ``(B, C, patch, patch)`` to ``(B, encoder.out_dim)``.
        patch: patch side in pixels.
        gap: pixels left between neighbouring cells of the grid.
        jitter: largest random shift of each patch, in pixels.
        hidden: width of the pair head.
    """

    def __init__(
        self, encoder: nn.Module, patch: int = 7, gap: int = 3, jitter: int = 1, hidden: int = 128
    ):
        super().__init__(encoder, len(NEIGHBOURS), hidden)
        self.patch, self.gap, self.jitter = patch, gap, jitter

    def pairs(self, images):
        """Centre patches, neighbours and position labels of a batch of images."""
        return patch_pair(to_float(images), self.patch, self.gap, self.jitter)
