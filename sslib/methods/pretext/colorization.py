"""Colorization (Zhang et al., 2016): predict the colours of an image from its grey levels.

The image is split into luma ``Y`` (what the network sees) and chroma ``(I, Q)`` (what it must
predict), in the YIQ colour space, a linear map of RGB. Like Zhang et al. we predict chroma as
a *class* per location (a cell of a grid over the (I, Q) plane) rather than regress it: the
colour of a shirt is multimodal and the mean of its modes is a dull grey. Predictions are
made on the encoder's last feature map (a quarter of the resolution for
:class:`~sslib.nets.SmallCNN`, as in Zhang et al.). Explained in chapter 1, *Self-supervision
and pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of

# NTSC YIQ: rows give Y (luma), I and Q (chroma) from RGB in [0, 1].
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] to YIQ. Shape ``(B, 3, H, W) -> (B, 3, H, W)``."""
    return torch.einsum("ij,bjhw->bihw", RGB_TO_YIQ.to(x), x)  # i, j = colour channels


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """YIQ back to RGB, clipped to [0, 1]. Shape ``(B, 3, H, W) -> (B, 3, H, W)``."""
    inverse = torch.linalg.inv(RGB_TO_YIQ.double()).to(x)
    return torch.einsum("ij,bjhw->bihw", inverse, x).clamp(0, 1)


def chroma_bins(iq: torch.Tensor, bins_per_axis: int, chroma_range: float) -> torch.Tensor:
    """The grid cell of each chroma value: a class in ``0..bins_per_axis**2 - 1``.

    The grid covers ``[-chroma_range, chroma_range]^2``; values beyond fall in the edge cells.

    Shape:
        ``iq``: ``(B, 2, H, W)`` -> ``(B, H, W)`` (``int64``).
    """
    cell = torch.floor((iq + chroma_range) / (2 * chroma_range) * bins_per_axis).long()
    cell = cell.clamp(0, bins_per_axis - 1)
    return cell[:, 0] * bins_per_axis + cell[:, 1]


def bin_centres(bins_per_axis: int, chroma_range: float) -> torch.Tensor:
    """The (I, Q) centre of each grid cell, shape ``(bins_per_axis**2, 2)``."""
    centres = ((torch.arange(bins_per_axis) + 0.5) / bins_per_axis * 2 - 1) * chroma_range
    i, q = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([i.flatten(), q.flatten()], dim=1)


class Colorization(Method):
    """Pre-train ``encoder`` on grey images to classify the chroma of each location.

    Args:
        encoder: a network with ``feature_map(x)`` on one-channel images (e.g.
            ``SmallCNN(in_channels=1)``), and ``out_dim`` channels in that map.
        bins_per_axis: the (I, Q) square is cut into ``bins_per_axis**2`` classes; odd, so
            that one cell is centred on grey.
        chroma_range: half side of the square. Natural photos rarely leave ``|I|, |Q| < 0.3``
            (the RGB cube spans about 0.6), so a tighter square gives finer cells.
    """

    def __init__(self, encoder: nn.Module, bins_per_axis: int = 15, chroma_range: float = 0.3):
        super().__init__()
        if bins_per_axis % 2 == 0:
            raise ValueError(
                f"bins_per_axis must be odd (a cell centred on grey), got {bins_per_axis}"
            )
        self.encoder = encoder
        self.bins_per_axis, self.chroma_range = bins_per_axis, chroma_range
        self.head = nn.Conv2d(encoder.out_dim, bins_per_axis**2, kernel_size=1)

    def split(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Luma ``(B, 1, H, W)`` and chroma ``(B, 2, H, W)`` of RGB images (uint8 or float)."""
        yiq = rgb_to_yiq(to_float(images))
        return yiq[:, :1], yiq[:, 1:]

    def logits_and_targets(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Chroma logits ``(B, bins, h, w)`` and target classes ``(B, h, w)`` at map resolution."""
        y, iq = self.split(images)
        logits = self.head(self.encoder.feature_map(y))
        factor = y.shape[-1] // logits.shape[-1]
        targets = chroma_bins(
            F.avg_pool2d(iq, factor), self.bins_per_axis, self.chroma_range
        )  # mean per block
        return logits, targets

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> Colorization:
        """Colorization needs colour images to take the colour from."""
        if train_set.shape[0] != 3:
            raise ValueError(f"colorization needs colour images; {train_set.name} has one channel")
        return cls(encoder, **kwargs)

    def loss(self, batch):
        """Cross-entropy of the chroma class per location, in nats; logs accuracy."""
        images = inputs_of(batch)
        logits, targets = self.logits_and_targets(images)
        loss = F.cross_entropy(logits, targets)
        accuracy = (logits.argmax(dim=1) == targets).float().mean()
        return loss, {"accuracy": accuracy}

    @torch.no_grad()
    def colorize(self, images: torch.Tensor, temperature: float = 0.38) -> torch.Tensor:
        """RGB images rebuilt from their own luma and the predicted chroma.

        The chroma is the *annealed mean* of Zhang et al.: the mean bin centre under the
        predicted distribution sharpened by ``temperature`` (1 = the mean, -> 0 = the mode),
        upsampled bilinearly to the image.

        Shape:
            ``(B, 3, H, W) -> (B, 3, H, W)``, float in [0, 1].
        """
        y, _ = self.split(images)
        logits = self.head(self.encoder.feature_map(y))
        probs = F.softmax(logits / temperature, dim=1)  # (B, bins, h, w)
        centres = bin_centres(self.bins_per_axis, self.chroma_range).to(probs)  # (bins, 2)
        iq = torch.einsum("bkhw,kc->bchw", probs, centres)  # k = bins, c = (I, Q)
        iq = F.interpolate(iq, size=y.shape[-2:], mode="bilinear", align_corners=False)
        return yiq_to_rgb(torch.cat([y, iq], dim=1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's representation of the luma of ``x`` (RGB or grey), ``(B, out_dim)``."""
        x = to_float(x)
        y = self.split(x)[0] if x.shape[1] == 3 else x
        return self.encoder(y)
