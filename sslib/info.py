"""Exact information measures on discrete distributions, in nats.

A distribution is a NumPy array of probabilities (a pmf) with one axis per variable:
``pxy[i, j] = P(X = i, Y = j)``. Every function checks its input (non-negative, no NaN,
sums to one) and uses the convention 0 log 0 = 0. Lists are accepted and read as float64.

Also here: the mutual information of correlated Gaussians in closed form, the yardstick the
variational bounds of :mod:`sslib.bounds` are measured against.

Explained in chapter 0, *An information-theory toolkit*.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def binary_entropy(q) -> float:
    """h(q) = -q log q - (1 - q) log(1 - q) in nats: the entropy of a coin with bias ``q``.

    The term of Fano's inequality, ``H(X | Y) <= h(P_e) + P_e log(K - 1)``. Explained in
    chapter 0, *An information-theory toolkit*.

    Args:
        q: a probability in [0, 1].
    """
    return entropy([q, 1 - q])


def histogram_mi(x, y, bins: int = 20) -> float:
    """Plug-in I(X; Y) in nats of two scalar samples, from a ``bins x bins`` 2-D histogram.

    Biased upward by the finite sample (about ``(bins - 1)^2 / (2 N)`` nats for independent
    samples) and blind to every coordinate it is not given. Seed 001 tracks "the mutual
    information" of two embeddings with it on their first coordinates; chapters 3 and 6 show
    why that number measures neither view's information. Explained in chapter 3,
    *Contrastive learning*.

    Args:
        x: ``(N,)`` values (numpy or a CPU tensor).
        y: ``(N,)`` values paired with ``x``.
        bins: histogram bins per axis.
    """
    counts, _, _ = np.histogram2d(np.asarray(x), np.asarray(y), bins=bins)
    return mutual_information(counts / counts.sum())


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


# ---------------------------------------------------------------------------------------------
# The information bottleneck (chapter 6)
# ---------------------------------------------------------------------------------------------


@dataclass
class BottleneckSolution:
    """An encoder p(t|x) found by :func:`information_bottleneck`, and what it achieves.

    Explained in chapter 6, *The information bottleneck*.

    Attributes:
        beta: the trade-off it was solved for (Tishby's convention, see
            :func:`information_bottleneck`).
        encoder: p(t|x), one row per x, each row a pmf over the clusters t.
            Shape: (n_x, n_t).
        i_xt: I(X; T) in nats, the compression cost.
        i_ty: I(T; Y) in nats, the relevant information kept.
        lagrangian: I(X; T) - beta I(T; Y) in nats, the value minimised.
        history: the Lagrangian after each iteration of the winning run, non-increasing.
            Shape: (iterations,).
        converged: whether the winning run met the tolerance before ``max_iter``.
    """

    beta: float
    encoder: np.ndarray
    i_xt: float
    i_ty: float
    lagrangian: float
    history: np.ndarray
    converged: bool

    def __getitem__(self, key: str):
        """Dict-style access, ``solution["i_xt"]``."""
        return getattr(self, key)


def _safe_log(p: np.ndarray) -> np.ndarray:
    """Log p where p > 0 and 0 elsewhere: callers multiply by a weight that is 0 there."""
    return np.log(np.where(p > 0, p, 1.0))


def _ib_terms(px: np.ndarray, pxy: np.ndarray, encoder: np.ndarray) -> tuple[float, float]:
    """I(X; T) and I(T; Y) in nats of an encoder, without the pmf checks (inner loop)."""
    pt = px @ encoder  # (n_t,)
    pxt = px[:, None] * encoder  # (n_x, n_t)
    pty = encoder.T @ pxy  # (n_t, n_y): T - X - Y, so p(t, y) = sum_x p(t|x) p(x, y)
    py = pxy.sum(axis=0)
    # I(X;T) = sum p(x,t) log p(t|x) / p(t);  I(T;Y) = sum p(t,y) log p(t,y) / (p(t) p(y))
    i_xt = (pxt * (_safe_log(encoder) - _safe_log(pt)[None, :])).sum()
    i_ty = (pty * (_safe_log(pty) - _safe_log(pt)[:, None] - _safe_log(py)[None, :])).sum()
    return max(float(i_xt), 0.0), max(float(i_ty), 0.0)


def _ib_update(px: np.ndarray, py_x: np.ndarray, encoder: np.ndarray, beta: float) -> np.ndarray:
    """One round of Tishby's self-consistent equations: p(t), p(y|t), then p(t|x).

    p(t|x) is proportional to p(t) exp(-beta KL(p(y|x) || p(y|t))), computed in the log domain.
    A cluster with p(t) = 0 stays empty.
    """
    pt = px @ encoder  # (n_t,)
    live = pt > 0
    py_t = (encoder[:, live] * px[:, None]).T @ py_x / pt[live, None]  # (live, n_y)
    # KL(p(y|x) || p(y|t)) = sum_y p(y|x) log p(y|x) - sum_y p(y|x) log p(y|t), for all pairs;
    # infinite where p(y|t) = 0 on part of the support of p(y|x)
    kl = (py_x * _safe_log(py_x)).sum(axis=1)[:, None] - py_x @ _safe_log(py_t).T
    kl[(py_x > 0).astype(float) @ (py_t == 0).T.astype(float) > 0] = np.inf
    logits = np.full(encoder.shape, -np.inf)
    logits[:, live] = np.log(pt[live])[None, :] - beta * kl  # (n_x, n_t)
    top = logits.max(axis=1, keepdims=True)
    lost = ~np.isfinite(top[:, 0])  # only for x with p(x) = 0: every KL infinite
    logits[lost] = np.log(np.maximum(pt, 1e-300))
    new = np.exp(logits - logits.max(axis=1, keepdims=True))
    return new / new.sum(axis=1, keepdims=True)


def _ib_run(px, pxy, py_x, beta, encoder, max_iter, tol):
    """Iterate from ``encoder`` until the Lagrangian moves less than ``tol``."""
    i_xt, i_ty = _ib_terms(px, pxy, encoder)
    history = [i_xt - beta * i_ty]
    converged = False
    for _ in range(max_iter):
        new = _ib_update(px, py_x, encoder, beta)
        i_xt, i_ty = _ib_terms(px, pxy, new)
        history.append(i_xt - beta * i_ty)
        change = np.abs(new - encoder).max()
        encoder = new
        if history[-2] - history[-1] < tol and change < np.sqrt(tol):
            converged = True
            break
    return encoder, np.asarray(history), converged


def _ib_inits(
    n_x: int, n_t: int, restarts: int, rng: np.random.Generator, identity: bool
) -> list[np.ndarray]:
    """Starting encoders: identity (each x alone), softened random partitions, random soft."""
    inits = []
    if identity and n_t >= n_x:
        inits.append(np.eye(n_x, n_t))
    for r in range(restarts):
        if r % 2 == 0:
            hard = np.eye(n_t)[rng.integers(0, n_t, size=n_x)]
            inits.append(0.9 * hard + 0.1 / n_t)
        else:
            inits.append(rng.dirichlet(np.full(n_t, 0.5), size=n_x))
    return inits


def information_bottleneck(
    pxy,
    beta: float,
    n_t: int | None = None,
    seed: int = 0,
    *,
    restarts: int = 8,
    init=None,
    max_iter: int = 5000,
    tol: float = 1e-12,
) -> BottleneckSolution:
    """The information bottleneck of a discrete joint pmf, by the iterative algorithm.

    Finds the encoder p(t|x) that minimises the IB Lagrangian of Tishby, Pereira and Bialek
    (1999), in nats::

        L[p(t|x)] = I(X; T) - beta I(T; Y),    with T - X - Y a Markov chain,

    equivalently maximises I(T; Y) - (1 / beta) I(X; T). Each iteration applies the
    self-consistent equations p(t) = sum_x p(x) p(t|x), p(y|t) = sum_x p(y|x) p(x|t) and
    p(t|x) proportional to p(t) exp(-beta KL(p(y|x) || p(y|t))); every iteration is an exact
    minimisation over one block of an upper bound that touches L, so L never increases. The
    iteration stops at a local optimum, so it is run from several starts (``init`` if given,
    else the identity encoder; then ``restarts`` random hard partitions and random soft
    encoders) and the best run is kept; :func:`information_bottleneck_curve` adds continuation
    in beta.

    With this convention every beta <= 1 has the trivial encoder (I(X; T) = 0) as a global
    optimum, since I(T; Y) <= I(X; T). Variational IB (Alemi et al., 2017) writes
    ``CE + beta' * rate``, so its beta' is 1 / beta here.

    Explained in chapter 6, *The information bottleneck*.

    Args:
        pxy: joint pmf of X (axis 0) and Y (axis 1). Shape: (n_x, n_y).
        beta: price of the relevant information, >= 0 (nats of I(X; T) per nat of I(T; Y)).
        n_t: number of clusters; default n_x, enough for an encoder to keep all of X.
        seed: seeds the random starts.
        restarts: number of random starts beside the identity (or ``init``).
        init: an optional starting encoder p(t|x), shape (n_x, n_t) (warm start); it replaces
            the identity start, so ``restarts=0, init=e`` runs the iteration from ``e`` alone.
        max_iter: iterations per run.
        tol: a run stops when the Lagrangian falls by less than ``tol`` nats per iteration and
            no entry of p(t|x) moves by more than sqrt(tol).

    Returns:
        A :class:`BottleneckSolution` with ``encoder``, ``i_xt``, ``i_ty`` (nats),
        ``lagrangian`` and the run's ``history``.
    """
    pxy = _pmf(pxy, "pxy", ndim=2)
    if not (np.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta}")
    n_x = pxy.shape[0]
    n_t = n_x if n_t is None else int(n_t)
    if n_t < 1:
        raise ValueError(f"n_t must be >= 1 (the number of clusters), got {n_t}")
    px = pxy.sum(axis=1)
    py_x = np.divide(
        pxy, px[:, None], out=np.full(pxy.shape, 1 / pxy.shape[1]), where=px[:, None] > 0
    )
    inits = _ib_inits(n_x, n_t, restarts, np.random.default_rng(seed), identity=init is None)
    if init is not None:
        init = np.asarray(init, dtype=np.float64)
        if init.shape != (n_x, n_t) or np.any(init < 0) or not np.allclose(init.sum(1), 1):
            raise ValueError(f"init must be a (n_x, n_t) = ({n_x}, {n_t}) array of pmf rows")
        inits.insert(0, init)
    best = None
    for start in inits:
        encoder, history, converged = _ib_run(px, pxy, py_x, beta, start, max_iter, tol)
        if best is None or history[-1] < best[1][-1] - 1e-13:
            best = encoder, history, converged
    encoder, history, converged = best
    i_xt, i_ty = _ib_terms(px, pxy, encoder)
    return BottleneckSolution(
        float(beta), encoder, i_xt, i_ty, i_xt - beta * i_ty, history, converged
    )


def information_bottleneck_curve(
    pxy, betas, n_t: int | None = None, seed: int = 0, *, restarts: int = 8, **kwargs
) -> list[BottleneckSolution]:
    """The IB curve: :func:`information_bottleneck` over a grid of betas, with continuation.

    Each beta is first solved from its own starts; then the grid is swept upward and downward,
    each beta restarted from its neighbour's encoder (continuation), and finally every beta is
    restarted from the best encoder of any other beta where that is better. After this, no
    encoder found anywhere on the grid beats the one kept at any beta, which makes the curve
    monotone: both I(X; T) and I(T; Y) are non-decreasing in beta (for beta_1 < beta_2, adding
    the optimality of each encoder at its own beta gives
    (beta_2 - beta_1) (I_2(T; Y) - I_1(T; Y)) >= 0).

    Explained in chapter 6, *The information bottleneck*.

    Args:
        pxy: joint pmf. Shape: (n_x, n_y).
        betas: increasing trade-offs, >= 0. Shape: (n_betas,).
        n_t: number of clusters (default n_x).
        seed: seeds the random starts.
        restarts: random starts per beta.
        **kwargs: ``max_iter`` and ``tol``, passed on.

    Returns:
        One :class:`BottleneckSolution` per beta, in the order of ``betas``.
    """
    betas = np.asarray(betas, dtype=np.float64)
    if betas.ndim != 1 or np.any(np.diff(betas) <= 0):
        raise ValueError(f"betas must be a strictly increasing 1-D grid, got {betas}")
    pxy = _pmf(pxy, "pxy", ndim=2)
    sols = [
        information_bottleneck(pxy, b, n_t, seed + k, restarts=restarts, **kwargs)
        for k, b in enumerate(betas)
    ]

    px = pxy.sum(axis=1)
    rng = np.random.default_rng(seed)

    def retry(k: int, init: np.ndarray) -> bool:
        trial = information_bottleneck(pxy, betas[k], n_t, restarts=0, init=init, **kwargs)
        if trial.lagrangian < sols[k].lagrangian - 1e-12:
            sols[k] = trial
            return True
        return False

    def nudge(encoder: np.ndarray) -> np.ndarray:
        # a small random push, so that clusters merged at one beta can split at the next
        return 0.99 * encoder + 0.01 * rng.dirichlet(np.ones(encoder.shape[1]), len(encoder))

    for k in range(1, len(betas)):  # continuation upward ...
        retry(k, nudge(sols[k - 1].encoder))
    for k in range(len(betas) - 2, -1, -1):  # ... and downward
        retry(k, nudge(sols[k + 1].encoder))
    improved = True
    while improved:  # until no encoder on the grid beats the one kept at another beta
        improved = False
        terms = [_ib_terms(px, pxy, s.encoder) for s in sols]
        for k, b in enumerate(betas):
            values = [i_xt - b * i_ty for i_xt, i_ty in terms]
            j = int(np.argmin(values))
            if values[j] < sols[k].lagrangian - 1e-12:
                improved |= retry(k, sols[j].encoder)
    return sols
