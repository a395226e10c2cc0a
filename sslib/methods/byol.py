"""BYOL (Grill et al., 2020): predict a momentum teacher's projection of the other view.

The online network (encoder, projector, predictor) predicts the projection that a *target*
network, an exponential moving average of the online encoder and projector, gives the other
view. Only the online network is trained; the target follows it in ``after_step`` with the
momentum rising from ``momentum_base`` to 1 on BYOL's cosine schedule
(:mod:`sslib.momentum`). ``predictor=False`` removes the predictor (the paper's table 5b: the
representation collapses).

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import torch.nn as nn

from sslib.methods.siamese import TwoViewMethod, spread
from sslib.momentum import cosine_momentum, ema_update, frozen_copy
from sslib.nets import ProjectionHead
from sslib.objectives import negative_cosine_similarity


class BYOL(TwoViewMethod):
    """Bootstrap your own latent: ``L = 2 + (D(p1, z'2) + D(p2, z'1))``.

    ``D`` is :func:`~sslib.objectives.negative_cosine_similarity`, ``p = q(g(f(x)))`` the
    online prediction, ``z' = g'(f'(x))`` the target projection (no gradient): the
    symmetrised ``||p/|p| - z'/|z'| ||^2 = 2 - 2 cos`` of Grill et al. (2020), eq. (2), averaged
    over the two views (so it lies in [0, 4]). Logs ``z_std`` of the online projections and
    the teacher's current ``momentum``.

    Explained in chapter 7, *Learning without negatives*.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the augmentation (default: by channel count).
        hidden_dim: the projector's hidden width.
        proj_dim: dimension of ``z`` (and ``p``).
        pred_hidden_dim: the predictor's hidden width.
        num_layers: linear layers in the projector.
        momentum_base: the teacher's momentum at step 0, rising to 1 (the paper: 0.996).
        predictor: False drops the predictor (``p = z``), the collapse ablation.
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        views=None,
        hidden_dim: int = 256,
        proj_dim: int = 128,
        pred_hidden_dim: int = 256,
        num_layers: int = 2,
        momentum_base: float = 0.996,
        predictor: bool = True,
    ):
        super().__init__(encoder, views)
        cosine_momentum(0, 1, momentum_base)  # checks it is in [0, 1]
        self.projector = ProjectionHead(encoder.out_dim, hidden_dim, proj_dim, num_layers)
        self.predictor = (
            ProjectionHead(proj_dim, pred_hidden_dim, proj_dim, 2) if predictor else None
        )
        # the target network: frozen copies, moved only by ema_update (not in players())
        self.teacher_encoder = frozen_copy(encoder)
        self.teacher_projector = frozen_copy(self.projector)
        self.momentum_base = momentum_base
        self.momentum = momentum_base

    def loss(self, batch):
        """BYOL's loss (in [0, 4]) of two views of a batch ``(images,)`` or ``(images, labels)``."""
        x = self.two_views(batch)
        z = self.projector(self.encoder(x)).float()  # (2N, proj_dim), online
        p = self.predictor(z) if self.predictor is not None else z
        target = self.teacher_projector(self.teacher_encoder(x)).float().detach()
        (p1, p2), (t1, t2) = p.chunk(2), target.chunk(2)
        loss = 2 + negative_cosine_similarity(p1, t2) + negative_cosine_similarity(p2, t1)
        return loss, {"z_std": spread(z.chunk(2)[0]), "momentum": self.momentum}

    def after_step(self, step: int, total_steps: int) -> None:
        """Moves the teacher toward the online network with BYOL's cosine momentum."""
        self.momentum = cosine_momentum(step, total_steps, self.momentum_base)
        ema_update(self.teacher_encoder, self.encoder, self.momentum)
        ema_update(self.teacher_projector, self.projector, self.momentum)
