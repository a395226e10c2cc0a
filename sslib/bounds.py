"""Variational lower bounds on mutual information, from a matrix of critic scores.

Every bound takes ``scores`` of shape (N, N) with ``scores[i, j] = f(x_i, y_j)`` for a critic
``f`` and N pairs (x_i, y_i) drawn from the joint p(x, y). The diagonal holds the N positive
(joint) pairs; the N (N - 1) off-diagonal entries stand in for samples of p(x) p(y). Each bound
returns a scalar tensor in nats, differentiable in ``scores``, on the device and in the dtype of
``scores``; maximising it over the critic tightens the bound. Formulas follow Poole et al.
(2019), "On Variational Bounds of Mutual Information", ICML, and their reference notebook.

=========  =================================================  =================================
bound      value                                              optimal critic f*
=========  =================================================  =================================
infonce    mean_i [f_ii - log mean_j exp f_ij]                log p(y|x)/p(y) + c(x); <= log N
nwj        mean_i f_ii - e^-1 mean_{i!=j} exp f_ij            1 + log p(y|x)/p(y)
dv         mean_i f_ii - log mean_{i!=j} exp f_ij             log p(y|x)/p(y) + c
jsd        value of nwj(f + 1), gradient of js_fgan(f)        log p(y|x)/p(y)
=========  =================================================  =================================

A second section applies the bounds to blocks of scores, one matrix per location of a feature
map, as Deep InfoMax's local critics (:mod:`sslib.critics`) produce them. The last section
holds the optimal critic in closed form (:func:`gaussian_log_ratio_scores`) of the toy
problem on which the bounds are checked, correlated Gaussians with a known MI
(:func:`sslib.data.gaussians.correlated_gaussians`).

Explained in chapter 0, *An information-theory toolkit*.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data.gaussians import check_rho


def _check_scores(scores: torch.Tensor) -> torch.Tensor:
    if not isinstance(scores, torch.Tensor):
        raise ValueError(f"scores must be a torch.Tensor, got {type(scores).__name__}")
    if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(
            f"scores must be a square (N, N) matrix with scores[i, j] = f(x_i, y_j), got shape "
            f"{tuple(scores.shape)}; score every x against every y of the batch."
        )
    if scores.shape[0] < 2:
        raise ValueError(
            f"scores must be at least 2 x 2 (a bound needs a negative pair), got "
            f"{tuple(scores.shape)}; use a batch of N >= 2 pairs."
        )
    if not scores.is_floating_point():
        raise ValueError(f"scores must have a floating dtype, got {scores.dtype}; call .float()")
    return scores


def _offdiag_mask(n: int, device: torch.device) -> torch.Tensor:
    return ~torch.eye(n, dtype=torch.bool, device=device)  # (N, N), True off the diagonal


def logmeanexp_nodiag(scores: torch.Tensor) -> torch.Tensor:
    """Log of the mean of exp(scores) over the N (N - 1) off-diagonal entries, computed stably.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        scores: critic scores; Shape: (N, N), N >= 2.

    Returns:
        Scalar tensor: log (1 / (N (N - 1))) sum_{i != j} exp(scores[i, j]).
    """
    scores = _check_scores(scores)
    n = scores.shape[0]
    off = scores.masked_fill(~_offdiag_mask(n, scores.device), float("-inf"))  # exp(-inf) = 0
    return torch.logsumexp(off.flatten(), dim=0) - math.log(n * (n - 1))


def infonce(scores: torch.Tensor) -> torch.Tensor:
    """InfoNCE lower bound (van den Oord et al., 2018) on I(X; Y), in nats.

    I_NCE = log N + mean_i [scores[i, i] - logsumexp_j scores[i, j]]: each row is an N-way
    classification of the y that was drawn with x_i. Since the diagonal term is at most the
    logsumexp, I_NCE <= log N whatever the critic: the bound saturates at log N, which is why
    large batches matter in contrastive learning.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        scores: ``scores[i, j] = f(x_i, y_j)``, positives on the diagonal. Shape: (N, N).

    Returns:
        Scalar tensor, the bound in nats (at most log N).
    """
    scores = _check_scores(scores)
    n = scores.shape[0]
    # log N + mean_i log softmax_j(scores[i])_i; logsumexp keeps exp from overflowing
    return math.log(n) + (scores.diagonal() - torch.logsumexp(scores, dim=1)).mean()


def nwj(scores: torch.Tensor) -> torch.Tensor:
    """NWJ lower bound (Nguyen, Wainwright and Jordan, 2010; MINE-f) on I(X; Y), in nats.

    I_NWJ = E_p(x,y)[f] - e^-1 E_p(x)p(y)[exp f], estimated with the diagonal and off-diagonal
    means. Equal to Poole et al.'s ``tuba_lower_bound(scores - 1)``. Tight at the critic
    f* = 1 + log p(y|x) / p(y), unbiased in N but with variance that grows like exp(MI).

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        scores: ``scores[i, j] = f(x_i, y_j)``, positives on the diagonal. Shape: (N, N).

    Returns:
        Scalar tensor, the bound in nats.
    """
    scores = _check_scores(scores)
    # e^-1 mean exp f = exp(logmeanexp f - 1): the exp of one number, so no overflow on the way
    return scores.diagonal().mean() - torch.exp(logmeanexp_nodiag(scores) - 1.0)


def dv(scores: torch.Tensor) -> torch.Tensor:
    """Donsker-Varadhan bound (MINE without its moving average) on I(X; Y), in nats.

    I_DV = E_p(x,y)[f] - log E_p(x)p(y)[exp f]. With the true expectations it is a lower bound,
    tight at f* = log p(y|x) / p(y) + any constant. With a batch, the log of the off-diagonal
    mean underestimates log E[exp f] on average (Jensen), so the estimate is biased upward and
    is not a lower bound in expectation (Poole et al., 2019).

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        scores: ``scores[i, j] = f(x_i, y_j)``, positives on the diagonal. Shape: (N, N).

    Returns:
        Scalar tensor, the estimate in nats.
    """
    scores = _check_scores(scores)
    return scores.diagonal().mean() - logmeanexp_nodiag(scores)


def js_fgan(scores: torch.Tensor) -> torch.Tensor:
    """The Jensen-Shannon f-GAN objective (Nowozin et al., 2016) that trains a JS critic.

    J = E_p(x,y)[-softplus(-f)] - E_p(x)p(y)[softplus(f)]: the negative of a GAN discriminator's
    binary cross-entropy with logit f (joint pairs labelled 1, shuffled pairs 0). Its maximum is
    2 JS(p(x,y) || p(x)p(y)) - log 4, reached at f* = log p(x, y) / (p(x) p(y)). A bound on the
    JS divergence, not on MI: see :func:`jsd` for the MI estimate from the same critic.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        scores: ``scores[i, j] = f(x_i, y_j)``, positives on the diagonal. Shape: (N, N).

    Returns:
        Scalar tensor, in nats, at most 0.
    """
    scores = _check_scores(scores)
    n = scores.shape[0]
    joint = -F.softplus(-scores.diagonal()).mean()  # E_p log sigmoid(f)
    # Mask instead of (sum all - sum diagonal): no cancellation when the diagonal is large.
    marg = F.softplus(scores).masked_fill(~_offdiag_mask(n, scores.device), 0.0).sum()
    return joint - marg / (n * (n - 1))  # - E_q log(1 + e^f) = E_q log(1 - sigmoid(f))


def jsd(scores: torch.Tensor) -> torch.Tensor:
    """I_JS of Poole et al. (2019): train the critic with JS, read out MI with NWJ.

    The returned tensor has the *value* ``nwj(scores + 1)`` and the *gradient* of
    ``js_fgan(scores)``: ``js + (mi - js).detach()``. The JS objective gives the critic
    lower-variance gradients than NWJ's own, and its optimum f* = log p(y|x) / p(y) is NWJ's optimum
    1 + log p(y|x) / p(y) shifted by one, so the value is read out from f + 1.

    About the shift: the reference notebook of Poole et al. returns ``nwj_lower_bound(f)``,
    i.e. nwj without the shift. Both are lower bounds for any f, but at the JS optimum
    f* = log r (r = p(y|x) / p(y), E_p(x)p(y)[r] = 1) they differ by a constant::

        nwj(f*)     = E_p[log r] - e^-1 E_q[r]     = I - 1/e   (about 0.37 nats low)
        nwj(f* + 1) = E_p[log r] + 1 - E_q[r]      = I.

    With the analytic critic on one batch of correlated Gaussians (N = 4096, rho = 0.5,
    dim = 1, true I = 0.144 nats) the unshifted value is -0.216 and the shifted one 0.152;
    ``tests/test_bounds.py`` asserts both on the mean of four batches.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        scores: ``scores[i, j] = f(x_i, y_j)``, positives on the diagonal. Shape: (N, N).

    Returns:
        Scalar tensor, the NWJ estimate in nats, carrying the JS gradient.
    """
    scores = _check_scores(scores)
    js = js_fgan(scores)
    mi = nwj(scores + 1.0)  # NWJ at f + 1: tight at the JS optimum f* = log p/q
    return js + (mi - js).detach()  # value of mi, gradient of js


#: The bounds by name, for code that picks one from a setting.
BOUNDS = {"infonce": infonce, "nwj": nwj, "dv": dv, "jsd": jsd}


# --- Bounds over blocks of scores: Deep InfoMax's local critics (sslib.critics) ---

#: The estimators Deep InfoMax trains with.
BLOCK_ESTIMATORS = ("dv", "jsd", "infonce")


class MovingAverageDV(nn.Module):
    """MINE's Donsker-Varadhan bound with its bias-corrected gradient (Belghazi et al., 2018).

    The value is :func:`dv`. Its gradient has ``E_q[e^T grad T] / E_q[e^T]``, a
    ratio of batch means and so biased; MINE divides by a moving average ``ma`` of
    ``E_q[e^T]`` instead. Written as ``mean_i T_ii - exp(log_mean_q e^T - log ma)`` with ``ma``
    held fixed, the second term has exactly that gradient. ``ma`` is kept in log space (no
    overflow) and updated in training mode only.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        rate: weight of the newest batch in the moving average, in (0, 1].

    Shape:
        ``scores (B, n, n) -> (B,)``: one estimate per score matrix, in nats.
    """

    def __init__(self, rate: float = 0.01):
        super().__init__()
        if not 0 < rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        self.rate = rate
        self.register_buffer("log_ma", torch.tensor(float("nan")))  # nan: not started

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """The DV value of each matrix, carrying the moving-average gradient.

        Shape: ``(B, n, n) -> (B,)``, or ``(n, n) ->`` a scalar.
        """
        if scores.ndim == 2:
            return self(scores[None])[0]
        value = torch.vmap(dv)(scores)  # (B,)
        lme = torch.vmap(logmeanexp_nodiag)(scores)  # (B,) log mean_q e^T
        if self.training:
            with torch.no_grad():
                pooled = torch.logsumexp(lme, 0) - math.log(len(lme))  # log of E_q[e^T]
                if torch.isnan(self.log_ma) or self.rate == 1:
                    self.log_ma.copy_(pooled)
                else:  # log((1 - r) ma + r E_q[e^T])
                    old = self.log_ma + math.log1p(-self.rate)
                    self.log_ma.copy_(torch.logaddexp(old, pooled + math.log(self.rate)))
        diag = scores.diagonal(dim1=-2, dim2=-1).mean(-1)  # (B,)
        corrected = diag - torch.exp(lme - self.log_ma.detach())
        return corrected + (value - corrected).detach()  # value of DV, MINE's gradient


def bound_per_matrix(estimator: str | nn.Module, scores: torch.Tensor) -> torch.Tensor:
    """The bound ``estimator`` on each ``(b, b)`` matrix of ``scores``, in nats.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        estimator: ``"jsd"``, ``"infonce"`` or ``"dv"`` (plain :mod:`sslib.bounds`), or a
            module such as :class:`MovingAverageDV`.
        scores: Shape: ``(..., b, b)``, positives on the diagonal of each matrix.

    Returns:
        The bounds, shape ``scores.shape[:-2]``.
    """
    flat = scores.reshape(-1, *scores.shape[-2:]).float()  # (B, b, b)
    fn = estimator if isinstance(estimator, nn.Module) else torch.vmap(BOUNDS[estimator])
    return fn(flat).view(scores.shape[:-2])


def all_locations_bound(estimator: str, scores: torch.Tensor) -> torch.Tensor:
    """A bound whose negatives are all locations of all other images, as the authors' code.

    In each block of ``b`` images the positives are the ``b L`` pairs (location ``m`` of
    image ``i``, code of image ``i``); the negatives of code ``j`` are the ``K = (b - 1) L``
    features at every location of the other images. Following the authors' code
    (``cortex_DIM``, ``dim_losses.py``), with no moving average:

    * ``"dv"``: ``mean(positives) - log mean(exp(negatives))``, the negatives of all codes
      pooled: plain batch Donsker-Varadhan;
    * ``"jsd"``: the JSD objective's gradient on the same pools; the value is NWJ at ``T + 1``,
      as :func:`jsd`;
    * ``"infonce"``: for each positive, a softmax over it and the ``K`` negatives of its code,
      plus ``log(K + 1)`` so that the value is a bound in nats, capped at ``log(K + 1)``.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        estimator: ``"dv"``, ``"jsd"`` or ``"infonce"``.
        scores: ``scores[g, m, i, j] = T(feature of image i at location m, code of image j)``
            in block ``g``. Shape: ``(G, L, b, b)`` with ``b >= 2``.

    Returns:
        The bound of each block in nats, shape ``(G,)``.
    """
    if estimator not in BLOCK_ESTIMATORS:
        raise ValueError(f"estimator must be one of {BLOCK_ESTIMATORS}, got {estimator!r}")
    if scores.ndim != 4 or scores.shape[-1] != scores.shape[-2] or scores.shape[-1] < 2:
        raise ValueError(f"scores must have shape (G, L, b, b) with b >= 2, got {scores.shape}")
    scores = scores.float()
    g, n_loc, b, _ = scores.shape
    pos = scores.diagonal(dim1=-2, dim2=-1)  # (G, L, b): location m of image i with code i
    off = ~torch.eye(b, dtype=torch.bool, device=scores.device)  # (b, b): i != j
    neg = scores.masked_fill(~off, float("-inf"))  # (G, L, b, b), positives masked out
    if estimator == "infonce":
        num = (b - 1) * n_loc  # negatives of each code
        lse_neg = torch.logsumexp(neg.transpose(1, 3).reshape(g, b, -1), dim=-1)  # (G, b) per j
        log_softmax = pos - torch.logaddexp(pos, lse_neg[:, None, :])  # (G, L, b)
        return math.log(num + 1) + log_softmax.mean(dim=(1, 2))
    negs = scores[:, :, off]  # (G, L, b (b - 1)): every negative pair of the block
    log_mean_exp = torch.logsumexp(negs.flatten(1), dim=1) - math.log(negs[0].numel())  # (G,)
    if estimator == "dv":
        return pos.mean(dim=(1, 2)) - log_mean_exp
    js = -F.softplus(-pos).mean(dim=(1, 2)) - F.softplus(negs).mean(dim=(1, 2))
    mi = (pos + 1).mean(dim=(1, 2)) - torch.exp(log_mean_exp)  # NWJ at T + 1
    return js + (mi - js).detach()  # value of NWJ, gradient of JS


# --- The optimal critic of the correlated-Gaussian toy problem (sslib.data.gaussians) ---


def gaussian_log_ratio_scores(x: torch.Tensor, y: torch.Tensor, rho: float) -> torch.Tensor:
    """The optimal critic log p(y_j | x_i) / p(y_j) for every pair of a correlated-Gaussian batch.

    For y = rho x + sqrt(1 - rho^2) eps (see
    :func:`sslib.data.gaussians.correlated_gaussians`), expanding the two Gaussian log densities
    and cancelling gives, with s = 1 - rho^2::

        f(x, y) = -dim/2 log s + (2 rho x.y - rho^2 |x|^2 - rho^2 |y|^2) / (2 s),

    symmetric in x and y as the pointwise mutual information must be. Its mean on the joint is
    the true MI. Add 1 for the NWJ-optimal critic.

    Explained in chapter 0, *An information-theory toolkit*.

    Args:
        x: first halves of the pairs. Shape: (N, dim).
        y: second halves. Shape: (N, dim).
        rho: the correlation the pairs were drawn with, in (-1, 1).

    Returns:
        ``scores[i, j] = log p(y_j | x_i) - log p(y_j)``, in the dtype of x. Shape: (N, N).
    """
    if x.ndim != 2 or x.shape != y.shape:
        raise ValueError(
            f"x and y must both be (N, dim), got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    check_rho(rho)
    dim, s = x.shape[1], 1.0 - rho**2
    xx = (x * x).sum(dim=1, keepdim=True)  # (N, 1): |x_i|^2
    yy = (y * y).sum(dim=1).unsqueeze(0)  # (1, N): |y_j|^2
    xy = x @ y.T  # (N, N): x_i . y_j
    return -0.5 * dim * math.log(s) + (2 * rho * xy - rho**2 * (xx + yy)) / (2 * s)
