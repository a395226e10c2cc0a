"""VICReg (Bardes et al., 2022): invariance, variance and covariance terms on two views.

Both views go through one encoder and projector ("expander"); the loss
(:func:`~sslib.objectives.vicreg_loss`) pulls the two projections together (invariance) while a
hinge keeps every dimension's standard deviation over the batch near 1 (variance) and the
dimensions decorrelated (covariance). ``var_weight=0`` removes what prevents collapse.

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sslib.methods.siamese import TwoViewMethod, spread
from sslib.nets import ProjectionHead
from sslib.objectives import vicreg_loss, vicreg_terms


class VICReg(TwoViewMethod):
    """Variance-invariance-covariance regularisation of two views' projections.

    ``L = sim_weight * invariance + var_weight * variance + cov_weight * covariance`` with
    :func:`~sslib.objectives.vicreg_terms`. Logs the three unweighted terms (``invariance``,
    ``variance``, ``covariance``) and ``z_std``.

    Explained in chapter 7, *Learning without negatives*.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the augmentation (default: by channel count).
        hidden_dim: the expander's hidden width (the paper: 8192).
        proj_dim: dimension of ``z`` (the paper: 8192).
        num_layers: linear layers in the expander (the paper: 3).
        sim_weight: lambda, the invariance weight (the paper: 25).
        var_weight: mu, the variance weight (the paper: 25; 0 is the collapse ablation).
        cov_weight: nu, the covariance weight (the paper: 1).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        views=None,
        hidden_dim: int = 512,
        proj_dim: int = 512,
        num_layers: int = 2,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
    ):
        super().__init__(encoder, views)
        self.projector = ProjectionHead(encoder.out_dim, hidden_dim, proj_dim, num_layers)
        self.weights = (sim_weight, var_weight, cov_weight)
        vicreg_loss(torch.zeros(2, 1), torch.zeros(2, 1), *self.weights)  # checks the weights

    def loss(self, batch):
        """VICReg's loss of two views of a batch ``(images,)`` or ``(images, labels)``."""
        z1, z2 = self.projector(self.encoder(self.two_views(batch))).float().chunk(2)
        terms = vicreg_terms(z1, z2)
        loss = sum(w * t for w, t in zip(self.weights, terms, strict=True))
        names = ("invariance", "variance", "covariance")
        metrics = {name: t.detach() for name, t in zip(names, terms, strict=True)}
        return loss, {**metrics, "z_std": spread(z1)}
