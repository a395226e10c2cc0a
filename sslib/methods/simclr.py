"""SimCLR (Chen et al., 2020): two views per image, one encoder, a head, NT-Xent.

Each image is augmented twice; both views go through the encoder and a projection head, and
NT-Xent asks each projection to find its partner among the batch's other projections.

Explained in chapter 3, *Contrastive learning*.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.augment import default_views
from sslib.bounds import infonce
from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import ProjectionHead
from sslib.objectives import (
    alignment,
    check_temperature,
    multiview_nt_xent,
    nt_xent,
    uniformity,
)


class SimCLR(Method):
    """Contrastive learning of ``h = f(x)`` through NT-Xent on ``z = g(h)``.

    Each batch of images is augmented ``num_views`` times; all views go through the encoder
    ``f`` and the head ``g`` in one pass (batch norm sees every view, as in SimCLR on one
    device), and the loss is :func:`~sslib.objectives.nt_xent` (two views) or
    :func:`~sslib.objectives.multiview_nt_xent` (more).

    Besides the loss it logs, from the first two views and without gradients: ``infonce``, the
    InfoNCE lower bound on I(Z1; Z2) in nats from the N x N cross-view scores
    ``sim(z1_i, z2_j) / temperature`` (at most ``log N``); ``log_n``; ``top1``, how often
    ``z1_i``'s nearest ``z2`` is its own partner; and ``alignment``/``uniformity`` of the
    normalised projections (Wang and Isola, 2020).

    Explained in chapter 3, *Contrastive learning*.

    Args:
        encoder: ``f``, images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        views: the random augmentation, ``views(x) -> x'`` on float images; default
            :class:`~sslib.augment.AffineViews` for one-channel images (digits: chapter 3's
            calibrated views) and :class:`~sslib.augment.Views` otherwise.
        temperature: t > 0 of NT-Xent.
        hidden_dim: width of the projection head's hidden layer.
        proj_dim: dimension of ``z``.
        num_layers: linear layers in the head (1 = linear head).
        num_views: views per image, >= 2.
        embed_projection: if True, :meth:`embed` returns ``z = g(f(x))`` instead of ``h``
            (for the before/after-projection comparison).
    """

    # Per-process statistics would let a view's normalisation carry the other views on its
    # process, a shortcut the loss can use; SimCLR trains with global batch norm (section 2.2).
    global_batch_norm = True

    def __init__(
        self,
        encoder: nn.Module,
        *,
        views=None,
        temperature: float = 0.5,
        hidden_dim: int = 512,
        proj_dim: int = 128,
        num_layers: int = 2,
        num_views: int = 2,
        embed_projection: bool = False,
    ):
        super().__init__()
        if num_views < 2:
            raise ValueError(
                f"num_views must be >= 2 (a positive needs a second view), got {num_views}"
            )
        check_temperature(temperature)
        self.encoder = encoder
        self.head = ProjectionHead(encoder.out_dim, hidden_dim, proj_dim, num_layers)
        self.views = views
        self.temperature = temperature
        self.num_views = num_views
        self.embed_projection = embed_projection

    def _augment(self, x: torch.Tensor) -> torch.Tensor:
        if self.views is None:  # chosen on first use, when the channel count is known
            self.views = default_views(x.shape[1])
        return self.views(x)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """``z = g(f(x))`` of float images. Shape: ``(B, C, H, W) -> (B, proj_dim)``."""
        return self.head(self.encoder(x))

    def loss(self, batch):
        """NT-Xent of ``num_views`` random views of a batch of images, in nats.

        ``batch`` is ``(images,)`` or ``(images, labels)``, images ``(N, C, H, W)`` (labels
        unused).
        """
        images = inputs_of(batch)
        x = to_float(images)
        views = torch.cat([self._augment(x) for _ in range(self.num_views)])  # (K N, C, H, W)
        zs = self.project(views).float().chunk(self.num_views)  # K x (N, proj_dim)
        if self.num_views == 2:
            loss = nt_xent(zs[0], zs[1], self.temperature)
        else:
            loss = multiview_nt_xent(list(zs), self.temperature)
        with torch.no_grad():
            metrics = self.view_metrics(zs[0], zs[1])
        return loss, metrics

    def view_metrics(self, z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
        """InfoNCE bound (nats), log N, top-1 retrieval, alignment and uniformity of a pair.

        Shape:
            ``z1, z2: (N, D)``; every value is a 0-d tensor.
        """
        u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
        scores = u @ v.T / self.temperature  # (N, N): the critic sim(z1_i, z2_j) / t
        n = len(scores)
        target = torch.arange(n, device=scores.device)
        return {
            "infonce": infonce(scores),
            "log_n": torch.tensor(math.log(n)),
            "top1": (scores.argmax(dim=1) == target).float().mean(),
            "alignment": alignment(u, v),
            "uniformity": uniformity(torch.cat([u, v])),
        }

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """``h = f(x)`` (or ``z = g(h)`` with ``embed_projection``), shape ``(B, D)``."""
        h = self.encoder(to_float(x))
        return self.head(h) if self.embed_projection else h
