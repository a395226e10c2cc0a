"""What every joint-embedding method without negatives shares: two views of each image.

BYOL, SimSiam, Barlow Twins, VICReg and DINO each augment a batch twice, pass both views
through one encoder (and, in some, a momentum copy of it), and compare the two outputs. This
file holds that common part, so that each method's own file holds only its idea: its heads
and its loss.

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.augment import default_views
from sslib.data import to_float
from sslib.methods.base import Method, inputs_of


class TwoViewMethod(Method):
    """A method trained on two random views of each image, evaluated on ``h = encoder(x)``.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the random augmentation ``views(x) -> x'`` on float images; default
            :class:`~sslib.augment.AffineViews` for one-channel images (chapter 3's calibrated
            digit views) and :class:`~sslib.augment.Views` otherwise.
    """

    # Batch norm in the heads sees the whole batch under torchrun (as in the papers' code).
    global_batch_norm = True

    def __init__(self, encoder: nn.Module, views=None):
        super().__init__()
        if not hasattr(encoder, "out_dim"):
            raise ValueError(f"the encoder needs an out_dim attribute, {type(encoder).__name__}")
        self.encoder = encoder
        self.views = views

    def two_views(self, batch) -> torch.Tensor:
        """Both views of a batch ``(images,)`` or ``(images, labels)``, stacked: ``(2N, C, H, W)``.

        The two views go through the networks in one pass, so batch norm sees both (as
        SimCLR's, chapter 3); ``.chunk(2)`` splits any output back into the two views.
        """
        x = to_float(inputs_of(batch))
        if len(x) < 2:
            raise ValueError(f"{type(self).__name__} needs batches of >= 2 images, got {len(x)}")
        if self.views is None:  # chosen on first use, when the channel count is known
            self.views = default_views(x.shape[1])
        return torch.cat([self.views(x), self.views(x)])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``h = f(x)``, the encoder's output. Shape: ``(B, C, H, W) -> (B, encoder.out_dim)``."""
        return self.encoder(to_float(x))


@torch.no_grad()
def spread(z: torch.Tensor) -> torch.Tensor:
    """Mean per-dimension standard deviation of the L2-normalised rows, times ``sqrt(D)``.

    About 1 when the unit vectors spread over all D dimensions (an isotropic Gaussian's), 0
    when every row is the same vector: the collapse indicator of SimSiam's figure 2 (Chen and
    He 2021, there without the ``sqrt(D)``), cheap enough to log every step.

    Shape:
        ``(N, D) -> ()``.
    """
    return F.normalize(z.float(), dim=1).std(0).mean() * math.sqrt(z.shape[1])
