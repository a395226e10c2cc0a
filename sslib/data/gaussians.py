"""Correlated Gaussians: pairs with a known mutual information.

The toy problem of Poole et al. (2019), "On Variational Bounds of Mutual Information": pairs
``(x, y)`` whose MI is known in closed form (:func:`sslib.info.gaussian_mi`), on which the
bounds of :mod:`sslib.bounds` are checked; :func:`sslib.bounds.gaussian_log_ratio_scores` is
its optimal critic. Explained in chapter 0, *An information-theory toolkit*.
"""

from __future__ import annotations

import math

import torch


def correlated_gaussians(
    n: int,
    dim: int,
    rho: float,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """N pairs (x, y) with x ~ N(0, I) and y = rho x + sqrt(1 - rho^2) eps, eps ~ N(0, I).

    Each coordinate of y has correlation ``rho`` with the same coordinate of x and none with
    the others, so I(X; Y) = ``sslib.info.gaussian_mi(rho, dim)`` = -dim/2 log(1 - rho^2).

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        n: number of pairs, >= 1.
        dim: dimension of x and of y, >= 1.
        rho: per-coordinate correlation in (-1, 1).
        generator: optional ``torch.Generator`` for reproducible samples; samples are drawn on
            its device, then moved to ``device``.
        device: where the result lives (default: the generator's device, else the CPU).
        dtype: floating dtype of the result.

    Returns:
        ``(x, y)``. Shape: (n, dim) each.
    """
    if n < 1 or dim < 1:
        raise ValueError(f"need n >= 1 pairs and dim >= 1, got n={n}, dim={dim}")
    check_rho(rho)
    gen_device = generator.device if generator is not None else device
    xe = torch.randn(n, 2 * dim, generator=generator, device=gen_device, dtype=dtype)
    x, eps = xe[:, :dim], xe[:, dim:]  # (n, dim) each
    y = rho * x + math.sqrt(1.0 - rho**2) * eps
    if device is not None:
        x, y = x.to(device), y.to(device)
    return x, y


def check_rho(rho: float) -> None:
    """Raise a clear error unless ``-1 < rho < 1`` (at ``|rho| = 1`` the MI is infinite)."""
    if not -1.0 < float(rho) < 1.0:
        raise ValueError(
            f"rho must lie strictly inside (-1, 1), got {rho}; at |rho| = 1 the MI is infinite."
        )
