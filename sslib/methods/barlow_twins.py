"""Barlow Twins (Zbontar et al., 2021): make the two views' cross-correlation the identity.

Both views go through one encoder and projector; the loss
(:func:`~sslib.objectives.barlow_twins_loss`) pushes the diagonal of the cross-correlation of
the batch-standardised projections to 1 (invariance) and the off-diagonal to 0 (redundancy
reduction). No negatives, no predictor, no momentum teacher: collapse is what the
standardisation and the decorrelation rule out.

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import math

import torch.nn as nn

from sslib.methods.siamese import TwoViewMethod, spread
from sslib.nets import ProjectionHead
from sslib.objectives import barlow_twins_loss


class BarlowTwins(TwoViewMethod):
    """Redundancy reduction: ``L = scale_loss * barlow_twins_loss(z1, z2, lambda_offdiag)``.

    Logs ``z_std`` of the projections.

    Explained in chapter 7, *Learning without negatives*.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the augmentation (default: by channel count).
        hidden_dim: the projector's hidden width (the paper: 8192).
        proj_dim: dimension of ``z`` (the paper: 8192).
        num_layers: linear layers in the projector (the paper: 3).
        lambda_offdiag: weight of the off-diagonal term (the paper: 5e-3).
        scale_loss: a constant factor on the loss (solo-learn's ``scale_loss``; 1 is the paper).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        views=None,
        hidden_dim: int = 512,
        proj_dim: int = 512,
        num_layers: int = 2,
        lambda_offdiag: float = 5e-3,
        scale_loss: float = 1.0,
    ):
        super().__init__(encoder, views)
        if not (math.isfinite(scale_loss) and scale_loss > 0):
            raise ValueError(f"scale_loss must be a finite number > 0, got {scale_loss}")
        if not (math.isfinite(lambda_offdiag) and lambda_offdiag >= 0):
            raise ValueError(f"lambda_offdiag must be a finite number >= 0, got {lambda_offdiag}")
        self.projector = ProjectionHead(encoder.out_dim, hidden_dim, proj_dim, num_layers)
        self.lambda_offdiag = lambda_offdiag
        self.scale_loss = scale_loss

    def loss(self, batch):
        """Barlow Twins' loss of two views of a batch ``(images,)`` or ``(images, labels)``."""
        z1, z2 = self.projector(self.encoder(self.two_views(batch))).float().chunk(2)
        loss = self.scale_loss * barlow_twins_loss(z1, z2, self.lambda_offdiag)
        return loss, {"z_std": spread(z1)}
