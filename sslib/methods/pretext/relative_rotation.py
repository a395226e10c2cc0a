"""A 3D pretext task: the rotation between two renders of the same object.

Render an object, turn it by one of ``K`` angles about the camera's vertical axis and render it
again; the pseudo-label is the angle. Naming it requires inferring how the unseen side of the
object looks, i.e. its 3D shape, which is what the downstream task (which solid is this?)
needs. This is what "3D reconstruction" as a pretext task can mean with data we can make: the
renders come from :func:`sslib.data.render3d.turntable`. Explained in chapter 1,
*Self-supervision and pretext tasks*.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sslib.data import to_float
from sslib.methods.pretext.pairs import PairClassifier


def turn_pair(
    views: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two views of each object and the number of turns from the first to the second.

    Shape:
        ``views``: ``(B, K, C, H, W)`` -> ``x1, x2``: ``(B, C, H, W)``, labels ``(B,)`` in
        ``0..K-1``: ``x2`` is ``x1`` turned ``labels`` times.
    """
    b, k = views.shape[:2]
    if generator is None:
        first, second = torch.randint(k, (2, b), device=views.device)
    else:
        first, second = torch.randint(k, (2, b), generator=generator).to(views.device)
    index = torch.arange(b, device=views.device)
    return views[index, first], views[index, second], (second - first) % k


class RelativeRotation3D(PairClassifier):
    """Pre-train ``encoder`` to name the turn between two renders of one object.

    Batches are ``views`` from :func:`sslib.data.render3d.turntable` (or ``(views, labels)``;
    the labels are not used).

    Args:
        encoder: maps renders ``(B, 1, H, W)`` to ``(B, encoder.out_dim)``.
        turns: number of turns ``K`` on the turntable (chance is ``1 / K``).
        hidden: width of the pair head.
    """

    def __init__(self, encoder: nn.Module, turns: int = 4, hidden: int = 128):
        super().__init__(encoder, turns, hidden)

    def pairs(self, views):
        """Two float views of each object and the turns between them."""
        x1, x2, labels = turn_pair(views)
        return to_float(x1), to_float(x2), labels
