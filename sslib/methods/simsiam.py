"""SimSiam (Chen and He, 2021): two views, one encoder, a predictor and a stop-gradient.

Each view's projection ``z`` is predicted from the other's by a small MLP ``p = q(z)``; the
loss is the negative cosine similarity between a prediction and the *other* view's projection,
with no gradient through that projection. Without the stop-gradient the network collapses to
a constant (the paper's figure 2); ``stop_gradient=False`` shows it.

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.methods.siamese import TwoViewMethod, spread
from sslib.nets import ProjectionHead
from sslib.objectives import negative_cosine_similarity


class SimSiam(TwoViewMethod):
    """Simple Siamese learning: ``L = (D(p1, sg(z2)) + D(p2, sg(z1))) / 2``.

    ``D`` is :func:`~sslib.objectives.negative_cosine_similarity`, ``z = g(f(x))`` the
    projection and ``p = q(z)`` the prediction (Chen and He 2021, Algorithm 1). Logs ``z_std``
    (:func:`~sslib.methods.siamese.spread` of the projections: 0 is collapse).

    Explained in chapter 7, *Learning without negatives*.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the augmentation (default: by channel count, see
            :class:`~sslib.methods.siamese.TwoViewMethod`).
        hidden_dim: the projector's hidden width.
        proj_dim: dimension of ``z`` (and ``p``).
        pred_hidden_dim: the predictor's hidden width (the paper: a bottleneck, proj_dim / 4).
        num_layers: linear layers in the projector.
        stop_gradient: False removes the stop-gradient (the collapse ablation): the gradient
            then also flows through the target projection.
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
        stop_gradient: bool = True,
    ):
        super().__init__(encoder, views)
        self.projector = ProjectionHead(encoder.out_dim, hidden_dim, proj_dim, num_layers)
        self.predictor = ProjectionHead(proj_dim, pred_hidden_dim, proj_dim, 2)
        self.stop_gradient = stop_gradient

    def _distance(self, p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.stop_gradient:
            return negative_cosine_similarity(p, z)
        return -F.cosine_similarity(p, z, dim=1).mean()  # the ablation: z is not a constant

    def loss(self, batch):
        """The symmetrised negative cosine similarity (in [-1, 1]) of two views of a batch.

        ``batch`` is ``(images,)`` or ``(images, labels)`` (labels unused).
        """
        z = self.projector(self.encoder(self.two_views(batch))).float()  # (2N, proj_dim)
        p = self.predictor(z)
        (z1, z2), (p1, p2) = z.chunk(2), p.chunk(2)
        loss = (self._distance(p1, z2) + self._distance(p2, z1)) / 2
        return loss, {"z_std": spread(z1)}
