"""Exact information measures on discrete distributions, in nats.

A distribution is a NumPy array of probabilities (a pmf) with one axis per variable:
``pxy[i, j] = P(X = i, Y = j)``. Every function checks its input (non-negative, no NaN,
sums to one) and uses the convention 0 log 0 = 0. Lists are accepted and read as float64.

Also here: the mutual information of correlated Gaussians in closed form, the yardstick the
variational bounds of :mod:`sslib.bounds` are measured against.

Explained in chapter 0, *An information-theory toolkit*.
"""

from __future__ import annotations

import numpy as np

SUM_TOL = 1e-6  # a pmf may miss one by this much (float rounding, a normalised histogram)


def _pmf(p, name: str = "p", ndim: int | None = None) -> np.ndarray:
    """``p`` as a float64 array, checked to be a pmf with ``ndim`` axes (any if None)."""
    p = np.asarray(p, dtype=np.float64)
    if ndim is not None and p.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} axes (one per variable), got shape {p.shape}; "
            f"reshape it so that axis k indexes the k-th variable."
        )
    if p.ndim == 0 or p.size == 0:
        raise ValueError(f"{name} must be a non-empty array of probabilities, got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError(f"{name} contains NaN or inf; a pmf must hold finite probabilities.")
    if np.any(p < 0):
        raise ValueError(
            f"{name} has a negative entry (min {p.min():.3g}); probabilities must be >= 0. "
            f"Did you pass log-probabilities? Exponentiate them first."
        )
    total = p.sum()
    if abs(total - 1.0) > SUM_TOL:
        raise ValueError(
            f"{name} sums to {total:.9g}, not 1; normalise it first: {name} = {name} / {name}.sum()"
        )
    return p


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x * log(y)`` elementwise with 0 log 0 = 0 (and 0 log anything = 0)."""
    out = np.zeros(np.broadcast(x, y).shape)
    nz = np.broadcast_to(x > 0, out.shape)
    xb, yb = np.broadcast_to(x, out.shape), np.broadcast_to(y, out.shape)
    with np.errstate(divide="ignore"):  # log 0 = -inf is the right answer where x > 0
        out[nz] = xb[nz] * np.log(yb[nz])
    return out


def marginal(p, keep) -> np.ndarray:
    """Marginal pmf of the variables on axes ``keep``, summing out all the others.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        p: joint pmf, any number of axes.
        keep: an axis or a tuple of axes to keep, in the order they should appear.

    Returns:
        The marginal pmf, shape ``tuple(p.shape[k] for k in keep)``.

    Example:
        ``marginal(pxyz, (0, 2))`` is p(x, z).
    """
    p = _pmf(p)
    keep = (keep,) if np.isscalar(keep) else tuple(keep)
    if len(set(k % p.ndim for k in keep)) != len(keep) or any(
        not -p.ndim <= k < p.ndim for k in keep
    ):
        raise ValueError(f"keep must name distinct axes of a {p.ndim}-axis pmf, got {keep}")
    keep = tuple(k % p.ndim for k in keep)  # negative axes count from the end
    drop = tuple(k for k in range(p.ndim) if k not in keep)
    m = p.sum(axis=drop)  # remaining axes stay in increasing order
    order = np.argsort(np.argsort(keep))  # where each requested axis sits in m
    return np.transpose(m, order)


def entropy(p) -> float:
    """Shannon entropy H(p) = -sum p log p in nats; the joint entropy of all axes of ``p``.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        p: pmf of any shape; a 2-D ``pxy`` gives H(X, Y).

    Returns:
        H(p) in nats, between 0 (a point mass) and log(p.size) (uniform).
    """
    p = _pmf(p)
    return float(-_xlogy(p, p).sum())


def conditional_entropy(pxy) -> float:
    """Conditional entropy H(Y | X) = H(X, Y) - H(X) in nats; X is axis 0, Y axis 1.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        pxy: joint pmf, shape (n_x, n_y).

    Returns:
        H(Y | X) in nats, between 0 (Y a function of X) and H(Y) (independence).
    """
    pxy = _pmf(pxy, "pxy", ndim=2)
    px = pxy.sum(axis=1, keepdims=True)
    # H(Y|X) = -sum p(x,y) log p(y|x), computed as log p(x,y) - log p(x) where p(x,y) > 0
    return float(max(-(_xlogy(pxy, pxy) - _xlogy(pxy, px)).sum(), 0.0))


def kl_divergence(p, q) -> float:
    """Kullback-Leibler divergence KL(p || q) = sum p log(p / q) in nats.

    Not symmetric: KL(p || q) != KL(q || p) in general. It is ``inf`` when q puts zero mass
    where p does not (p is not absolutely continuous with respect to q): no finite number of
    nats describes samples of p with a code built for q. Where p = 0 the term is 0, whatever q.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        p: pmf, any shape.
        q: pmf, the same shape as ``p``.

    Returns:
        KL(p || q) >= 0 in nats, or ``inf``.
    """
    p, q = _pmf(p, "p"), _pmf(q, "q")
    if p.shape != q.shape:
        raise ValueError(
            f"kl_divergence needs p and q over the same outcomes, got shapes {p.shape} and "
            f"{q.shape}; pad the smaller one with zeros or reshape them to match."
        )
    support = p > 0
    if np.any(q[support] == 0):
        return float("inf")
    return float(max((p[support] * np.log(p[support] / q[support])).sum(), 0.0))


def mutual_information(pxy) -> float:
    """Mutual information I(X; Y) = KL(p(x, y) || p(x) p(y)) in nats; X is axis 0, Y axis 1.

    Equal to H(X) + H(Y) - H(X, Y), but computed from the ratio directly so that independent
    variables give 0 rather than a difference of large entropies.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        pxy: joint pmf, shape (n_x, n_y). For more variables, reshape: I(X; (Y, Z)) is
            ``mutual_information(pxyz.reshape(n_x, -1))``.

    Returns:
        I(X; Y) in nats, between 0 and min(H(X), H(Y)).
    """
    pxy = _pmf(pxy, "pxy", ndim=2)
    px = pxy.sum(axis=1, keepdims=True)  # (n_x, 1)
    py = pxy.sum(axis=0, keepdims=True)  # (1, n_y)
    # I = sum p(x,y) log p(x,y) / (p(x) p(y)); rounding can make it -1e-17, and I >= 0
    mi = (_xlogy(pxy, pxy) - _xlogy(pxy, px * py)).sum()
    return float(max(mi, 0.0))


def conditional_mutual_information(pxyz) -> float:
    """Conditional mutual information I(X; Y | Z) in nats; X, Y, Z are axes 0, 1, 2.

    I(X; Y | Z) = sum p(x, y, z) log [p(x, y, z) p(z) / (p(x, z) p(y, z))], the average over z
    of the mutual information between X and Y given Z = z. The chain rule links it to the
    unconditional one: I(X; (Y, Z)) = I(X; Z) + I(X; Y | Z).

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        pxyz: joint pmf, shape (n_x, n_y, n_z).

    Returns:
        I(X; Y | Z) >= 0 in nats.
    """
    pxyz = _pmf(pxyz, "pxyz", ndim=3)
    pxz = pxyz.sum(axis=1, keepdims=True)  # (n_x, 1, n_z)
    pyz = pxyz.sum(axis=0, keepdims=True)  # (1, n_y, n_z)
    pz = pxyz.sum(axis=(0, 1), keepdims=True)  # (1, 1, n_z)
    cmi = (_xlogy(pxyz, pxyz) + _xlogy(pxyz, pz) - _xlogy(pxyz, pxz) - _xlogy(pxyz, pyz)).sum()
    return float(max(cmi, 0.0))


def gaussian_mi(rho, dim: int = 1):
    """Mutual information of correlated Gaussians, I = -dim/2 log(1 - rho^2) nats.

    For x ~ N(0, I_dim) and y = rho x + sqrt(1 - rho^2) eps with eps ~ N(0, I_dim): ``dim``
    independent pairs of standard Gaussians, each pair with correlation ``rho``. This is the
    toy problem of Poole et al. (2019) on which every MI bound is checked.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        rho: correlation in (-1, 1); a float or an array of them.
        dim: number of independent pairs, >= 1.

    Returns:
        I(X; Y) in nats: a float for a float ``rho``, an array for an array.
    """
    dim = _check_dim(dim)
    r = np.asarray(rho, dtype=np.float64)
    if np.any(~np.isfinite(r)) or np.any(np.abs(r) >= 1):
        raise ValueError(
            f"rho must lie strictly inside (-1, 1), got {rho}; at |rho| = 1, y is a copy of x "
            f"and the mutual information of continuous variables is infinite."
        )
    mi = -0.5 * dim * np.log1p(-(r**2))  # log1p keeps small-rho values accurate
    return float(mi) if mi.ndim == 0 else mi


def gaussian_rho(mi, dim: int = 1):
    """The correlation rho >= 0 at which ``gaussian_mi(rho, dim) == mi``; its inverse.

    rho = sqrt(1 - exp(-2 mi / dim)). Used to build the staircase of target MI values in the
    experiments of Poole et al. (2019).

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        mi: target mutual information in nats, >= 0; a float or an array.
        dim: number of independent Gaussian pairs, >= 1.

    Returns:
        rho in [0, 1): a float for a float ``mi``, an array for an array.
    """
    dim = _check_dim(dim)
    m = np.asarray(mi, dtype=np.float64)
    if np.any(~np.isfinite(m)) or np.any(m < 0):
        raise ValueError(f"mi must be finite and >= 0 nats, got {mi}")
    rho = np.sqrt(-np.expm1(-2.0 * m / dim))  # 1 - exp(-x) without cancellation at small x
    return float(rho) if rho.ndim == 0 else rho


def _check_dim(dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim < 1:
        raise ValueError(f"dim must be an integer >= 1 (the number of Gaussian pairs), got {dim!r}")
    return int(dim)
