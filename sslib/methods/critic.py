"""A critic trained to maximise a variational bound on mutual information.

The simplest method of the book: no encoder, no augmentations, just pairs ``(x, y)`` drawn from
a joint distribution and a critic ``f`` whose score matrix ``scores[i, j] = f(x_i, y_j)`` feeds
one of the bounds of :mod:`sslib.bounds`. Maximising the bound over the critic makes it an
estimate of I(X; Y) (Belghazi et al., 2018; Poole et al., 2019). Contrastive learning is the
same loop with an encoder inside the critic.

Explained in chapter 0, *An information-theory toolkit*.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from sslib.bounds import BOUNDS
from sslib.methods.base import Method
from sslib.nets import SeparableCritic


class CriticEstimator(Method):
    """Estimate I(X; Y) in nats by training ``critic`` to maximise a variational bound.

    ``loss((x, y))`` is minus the bound on the batch's score matrix, so that
    :func:`sslib.train.fit` maximises it; the bound's value is logged as ``"mi"``.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        critic: a module with ``critic(x, y) -> scores``, e.g.
            :class:`~sslib.nets.SeparableCritic` or :class:`~sslib.nets.ConcatCritic`.
            Shape: ``x (N, x_dim), y (N, y_dim) -> scores (N, N)``.
        bound: a name in :data:`sslib.bounds.BOUNDS` (``"infonce"``, ``"nwj"``, ``"dv"``,
            ``"jsd"``) or a function ``scores (N, N) -> scalar tensor`` in nats.

    Raises:
        ValueError: ``bound`` is neither a known name nor callable.
    """

    def __init__(self, critic: nn.Module, bound: str | Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        if isinstance(bound, str):
            if bound not in BOUNDS:
                raise ValueError(f"unknown bound {bound!r}; choose one of {sorted(BOUNDS)}")
            self.bound_name, self.bound = bound, BOUNDS[bound]
        elif callable(bound):
            self.bound_name, self.bound = getattr(bound, "__name__", "custom"), bound
        else:
            raise ValueError(f"bound must be a name or a function of scores, got {bound!r}")
        self.critic = critic

    def scores(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The critic's score matrix ``scores[i, j] = f(x_i, y_j)``, in float32 or wider.

        Shape: ``x (N, x_dim), y (N, y_dim) -> (N, N)``.
        """
        if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
            raise ValueError(
                f"x and y must be (N, d) batches of the same N pairs, got shapes "
                f"{tuple(x.shape)} and {tuple(y.shape)}"
            )
        scores = self.critic(x, y)
        # The bounds subtract logsumexps of large scores: half precision would add its own noise.
        return scores.float() if scores.dtype in (torch.float16, torch.bfloat16) else scores

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """Minus the bound on one batch of N joint pairs, and the bound as metric ``"mi"``.

        Args:
            batch: ``(x, y)``, N pairs drawn from p(x, y). Shape: (N, x_dim), (N, y_dim).

        Returns:
            ``(-estimate, {"mi": estimate})``; the estimate is a scalar tensor in nats.
        """
        x, y = batch
        estimate = self.bound(self.scores(x, y))
        return -estimate, {"mi": estimate.detach()}

    @torch.no_grad()
    def estimate(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """The bound on one batch, without gradients: an estimate of I(X; Y) in nats.

        Args:
            x: Shape: (N, x_dim).
            y: Shape: (N, y_dim), ``y[i]`` drawn with ``x[i]``.

        Returns:
            The estimate in nats (for ``"infonce"`` at most log N).
        """
        return float(self.bound(self.scores(x, y)))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The x-side embedding ``g(x)`` of a separable critic ``f(x, y) = g(x) . h(y)``.

        Shape: ``(B, x_dim) -> (B, embed_dim)``.

        Raises:
            NotImplementedError: the critic is not a :class:`~sslib.nets.SeparableCritic`;
                a critic that scores the concatenated pair has no embedding of x alone.
        """
        if not isinstance(self.critic, SeparableCritic):
            raise NotImplementedError(
                f"embed() needs a SeparableCritic, whose g(x) is an embedding of x alone; a "
                f"{type(self.critic).__name__} scores (x, y) jointly and has none"
            )
        return self.critic.g(x)
