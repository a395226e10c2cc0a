"""Measures of collapse: how many directions an embedding actually uses.

A method without negatives can reach a low loss by *collapse*: a constant embedding (complete
collapse) or one that spans only a few directions of its space (dimensional collapse, Jing et
al. 2022). Both are information statements: a constant carries no information about the
input, and a low-rank embedding carries it in few directions. These functions measure it on a
batch of embeddings ``z`` of shape ``(N, D)``, one row per example.

Explained in chapter 7, *Learning without negatives*.
"""

from __future__ import annotations

import math

import torch


def _check(z: torch.Tensor, name: str) -> torch.Tensor:
    if not torch.is_tensor(z) or z.ndim != 2 or len(z) < 2:
        shape = tuple(z.shape) if torch.is_tensor(z) else type(z).__name__
        raise ValueError(f"{name} needs embeddings of shape (N, D) with N >= 2, got {shape}")
    if not torch.isfinite(z).all():
        raise ValueError(f"{name} got non-finite embeddings (nan or inf)")
    return z.detach().double()  # float64: small singular values and log-determinants


def effective_rank(z: torch.Tensor, center: bool = True, eps: float = 1e-7) -> float:
    """The effective rank of ``z``: exp of the Shannon entropy of its normalised singular values.

    With singular values ``s_1, ..., s_r`` of ``z`` (centred over the rows first if
    ``center``), ``p_k = s_k / sum_j s_j + eps`` and ``erank = exp(-sum_k p_k log p_k)``:
    between 1 (one direction) and ``min(N, D)`` (all singular values equal). This is RankMe
    (Garrido et al. 2023, eq. (1), with its ``eps``) and the effective rank of Roy and
    Vetterli (2007). Data spread evenly over k orthogonal directions give k.

    References: Roy and Vetterli (2007), "The effective rank: a measure of effective
    dimensionality", EUSIPCO; Garrido, Balestriero, Najman and LeCun (2023), "RankMe:
    Assessing the Downstream Performance of Pretrained Self-Supervised Representations by
    Their Rank", ICML.

    Args:
        z: embeddings. Shape: (N, D), N >= 2.
        center: subtract the mean row first (RankMe does not; the mean is one direction that
            carries no information about which example is which).
        eps: RankMe's small constant, which keeps ``log 0`` out.

    Returns:
        A float in [1, min(N, D)] (up to ``eps``); 1.0 for a constant embedding.
    """
    z = _check(z, "effective_rank")
    if center:
        z = z - z.mean(0)
    s = torch.linalg.svdvals(z)
    total = s.sum()
    if total <= 0:  # all rows equal: no direction at all, the rank of a point
        return 1.0
    p = s / total + eps
    return float(torch.exp(-(p * p.log()).sum()))


def per_dimension_std(z: torch.Tensor) -> torch.Tensor:
    """The standard deviation of each dimension over the rows (unbiased).

    Zero in every dimension is complete collapse; VICReg's variance term keeps each above 1.

    Shape:
        ``(N, D) -> (D,)``, float64 on the CPU.
    """
    return _check(z, "per_dimension_std").std(0).cpu()


def gaussian_entropy(z: torch.Tensor, ridge: float = 0.0) -> float:
    """Differential entropy in nats of the Gaussian with ``z``'s sample covariance.

    ``h = 1/2 log det(2 pi e Sigma) = D/2 log(2 pi e) + 1/2 log det Sigma``, with ``Sigma``
    the unbiased sample covariance of the rows (plus ``ridge * I``). Among all distributions
    with covariance ``Sigma`` the Gaussian has the largest entropy, so this is an upper bound
    on the embedding's own differential entropy (Cover and Thomas 2006, theorem 8.6.5), the
    quantity VICReg's variance and covariance terms act on (Shwartz-Ziv et al. 2023).

    Args:
        z: embeddings. Shape: (N, D), N >= 2.
        ridge: a number >= 0 added to the covariance's diagonal; with N <= D or collapsed
            dimensions ``Sigma`` is singular and the entropy is -infinity without one.

    Returns:
        The entropy in nats, a float (may be negative: a differential entropy).

    Raises:
        ValueError: if the covariance is singular (numerically) and ``ridge`` is 0.
    """
    z = _check(z, "gaussian_entropy")
    if not (math.isfinite(ridge) and ridge >= 0):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge}")
    n, d = z.shape
    cov = torch.cov(z.T).reshape(d, d) + ridge * torch.eye(d, dtype=z.dtype)
    sign, logdet = torch.linalg.slogdet(cov)
    eigmin = torch.linalg.eigvalsh(cov)[0]
    if sign <= 0 or not torch.isfinite(logdet) or eigmin <= 1e-12 * cov.diagonal().max():
        raise ValueError(
            f"gaussian_entropy: the {d}x{d} sample covariance of {n} rows is singular (smallest "
            f"eigenvalue {float(eigmin):.3g}): the entropy is -infinity. Collapsed dimensions "
            "or N <= D do this; pass ridge > 0 (e.g. 1e-4) to measure it up to that floor"
        )
    return 0.5 * d * math.log(2 * math.pi * math.e) + 0.5 * float(logdet)
