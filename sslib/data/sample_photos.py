"""Offline colour data: random patches of scikit-learn's two bundled sample photos.

The quick budget's data for colorization
(:class:`sslib.methods.pretext.colorization.Colorization`), which needs colour images and no
download. Explained in chapter 1, *Self-supervision and pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

#: Share of each photo's width (from the left) that train patches come from; test patches come
#: from the rest, so the two never overlap.
TRAIN_SHARE = 0.8


def photo_patches(
    n: int, size: int = 32, split: str = "train", scale: int = 2, seed: int = 0
) -> torch.Tensor:
    """Random RGB patches of scikit-learn's two bundled photos (offline colour data).

    The photos (a temple in China and a flower, 427x640 each) are shrunk by ``scale``; train
    patches come from the left :data:`TRAIN_SHARE` of each photo's width and test patches
    from the rest, so the two never overlap.

    Returns:
        uint8 patches ``(n, 3, size, size)``, half from each photo.
    """
    from sklearn.datasets import load_sample_images

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    g = torch.Generator().manual_seed(seed)
    patches = []
    photos = load_sample_images().images
    for i, photo in enumerate(photos):
        x = torch.from_numpy(photo.copy()).permute(2, 0, 1).float().unsqueeze(0)  # (1, 3, H, W)
        x = F.avg_pool2d(x, scale)[0]
        _, h, w = x.shape
        cut = int(TRAIN_SHARE * w)
        lo, hi = (0, cut - size) if split == "train" else (cut, w - size)
        count = n // len(photos) + (i < n % len(photos))
        tops = torch.randint(0, h - size + 1, (count,), generator=g)
        lefts = torch.randint(lo, hi + 1, (count,), generator=g)
        patches += [x[:, t : t + size, s : s + size] for t, s in zip(tops, lefts, strict=True)]
    return torch.stack(patches).round().clamp(0, 255).to(torch.uint8)
