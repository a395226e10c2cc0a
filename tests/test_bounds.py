"""Variational MI bounds against the known MI of correlated Gaussians and exact special cases."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sslib.bounds import (
    BOUNDS,
    dv,
    gaussian_log_ratio_scores,
    infonce,
    js_fgan,
    jsd,
    logmeanexp_nodiag,
    nwj,
)
from sslib.data.gaussians import correlated_gaussians
from sslib.info import gaussian_mi

N, SEEDS = 1024, 4
CASES = [(0.5, 1), (0.7, 2), (0.5, 5)]  # (rho, dim): true MI 0.14, 0.67, 0.72 nats << log N
SHIFT = {"infonce": 0.0, "nwj": 1.0, "dv": 0.0, "jsd": 0.0}  # optimal critic = log ratio + shift


def optimal_scores(rho: float, dim: int, seed: int, n: int = N) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x, y = correlated_gaussians(n, dim, rho, generator=g, dtype=torch.float64)
    return gaussian_log_ratio_scores(x, y, rho)


@pytest.fixture(scope="module")
def estimates():
    """Per case, the mean over seeds of each bound at its optimal critic (computed once)."""
    out = {}
    for rho, dim in CASES:
        rows = []
        for seed in range(SEEDS):
            s = optimal_scores(rho, dim, seed)
            row = {name: fn(s + SHIFT[name]).item() for name, fn in BOUNDS.items()}
            row["nwj_unshifted"] = nwj(s).item()
            row["sample_mi"] = s.diagonal().mean().item()  # unbiased: E = true MI
            rows.append(row)
        out[rho, dim] = {k: sum(r[k] for r in rows) / SEEDS for k in rows[0]}
    return out


@pytest.mark.parametrize("name", list(BOUNDS))
@pytest.mark.parametrize(("rho", "dim"), CASES)
def test_bound_at_optimal_critic_is_close_to_true_mi(estimates, name, rho, dim):
    mi = gaussian_mi(rho, dim)
    # The pointwise MI log p(y|x)/p(y) has variance dim * rho^2, so the diagonal mean that every
    # bound contains has sd rho * sqrt(dim / N); allow 4 sd of the mean over seeds, plus 0.005
    # nats for InfoNCE's bias, which is O(e^I / N) when I << log N.
    tol = 4 * rho * math.sqrt(dim / (N * SEEDS)) + 0.005
    assert abs(estimates[rho, dim][name] - mi) < tol, (name, estimates[rho, dim], mi)


@pytest.mark.parametrize("name", list(BOUNDS))
@pytest.mark.parametrize(("rho", "dim"), CASES)
def test_bound_is_below_mi_in_expectation(estimates, name, rho, dim):
    # E[sample MI] = I exactly, so E[bound] <= I  <=>  E[bound - sample MI] <= 0, and the
    # difference cancels the diagonal noise the bounds share: its sd is at most 2e-3 per batch
    # at N = 1024 (measured over 40 seeds), 1e-3 for the mean of 4; 4e-3 is 4 sd. NWJ (and so
    # JSD) is unbiased at its optimal critic, InfoNCE slightly below; DV subtracts the log of a
    # batch mean, biased upward by Jensen by about half that mean's variance (O(1 / N), under
    # 1e-3 here), which the same tolerance covers.
    gap = estimates[rho, dim][name] - estimates[rho, dim]["sample_mi"]
    assert -0.01 < gap < 4e-3, (name, gap)


def test_optimal_critics_sit_where_the_docstrings_say():
    s = optimal_scores(0.5, 2, seed=0, n=512)
    # NWJ peaks at log ratio + 1, the JS objective at the log ratio itself
    assert nwj(s + 1) > max(nwj(s + 0.5), nwj(s + 1.5))
    assert js_fgan(s) > max(js_fgan(s - 0.5), js_fgan(s + 0.5))


def test_jsd_uses_the_shifted_nwj_not_pooles_unshifted_one(estimates):
    mi = gaussian_mi(0.5, 1)
    est = estimates[0.5, 1]
    # Poole et al.'s notebook evaluates nwj(f) on the JS critic f* = log ratio: I - 1/e.
    assert est["nwj_unshifted"] == pytest.approx(mi - 1 / math.e, abs=0.02)
    assert est["jsd"] == pytest.approx(mi, abs=0.02)  # sd of the seed mean: 0.008
    s = optimal_scores(0.5, 1, seed=0, n=64)
    assert jsd(s).item() == pytest.approx(nwj(s + 1).item(), abs=1e-12)


def test_infonce_saturates_at_log_n_when_mi_is_large():
    n = 256
    s = optimal_scores(0.95, 10, seed=0, n=n)  # I = 11.7 nats > log 256 = 5.5
    value = infonce(s).item()
    assert math.log(n) - 0.5 < value <= math.log(n)
    assert gaussian_mi(0.95, 10) > math.log(n) + 5


@pytest.mark.parametrize("n", [2, 16, 512])
def test_infonce_never_exceeds_log_n(n):
    g = torch.Generator().manual_seed(n)
    for scale in [1.0, 1e3, 1e30]:
        s = torch.randn(n, n, generator=g) * scale
        s.diagonal().add_(scale * 10)  # positives far above the rest
        value = infonce(s)
        assert torch.isfinite(value) and value.item() <= math.log(n) + 1e-6


@pytest.mark.parametrize("c", [0.0, 1.0, 10.0, 50.0])
def test_infonce_on_scaled_identity(c):
    n = 64
    value = infonce(c * torch.eye(n, dtype=torch.float64)).item()
    # each row: log N + c - log(e^c + N - 1), which tends to log N as c grows
    assert value == pytest.approx(math.log(n) + c - math.log(math.exp(c) + n - 1), abs=1e-12)
    if c == 50.0:
        assert value == pytest.approx(math.log(n), abs=1e-12)


@pytest.mark.parametrize("c", [-3.0, 0.0, 2.5])
def test_exact_values_on_constant_scores(c):
    s = torch.full((8, 8), c, dtype=torch.float64)
    assert infonce(s).item() == pytest.approx(0.0, abs=1e-12)  # no way to tell pairs apart
    assert dv(s).item() == pytest.approx(0.0, abs=1e-12)
    assert nwj(s).item() == pytest.approx(c - math.exp(c - 1), abs=1e-12)  # <= 0, 0 at c = 1
    assert jsd(s).item() == pytest.approx(c + 1 - math.exp(c), abs=1e-12)  # nwj at c + 1
    js = -math.log1p(math.exp(-c)) - math.log1p(math.exp(c))
    assert js_fgan(s).item() == pytest.approx(js, abs=1e-12)
    assert logmeanexp_nodiag(s).item() == pytest.approx(c, abs=1e-12)


def test_logmeanexp_nodiag_ignores_the_diagonal():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(5, 5, generator=g, dtype=torch.float64)
    off = s[~torch.eye(5, dtype=torch.bool)]
    expected = torch.log(torch.exp(off).mean())
    s.diagonal().fill_(1e4)  # would overflow a naive version and dominate a wrong one
    torch.testing.assert_close(logmeanexp_nodiag(s), expected)


@pytest.mark.parametrize("name", list(BOUNDS) + ["js_fgan"])
def test_bounds_are_differentiable_and_keep_dtype(name):
    fn = BOUNDS.get(name, js_fgan)
    g = torch.Generator().manual_seed(1)
    for dtype in [torch.float32, torch.float64]:
        s = (torch.randn(6, 6, generator=g) * 5).to(dtype).requires_grad_()
        value = fn(s)
        value.backward()
        assert value.dtype == dtype and value.ndim == 0
        assert s.grad is not None and torch.isfinite(s.grad).all()


def test_jsd_has_the_value_of_nwj_and_the_gradient_of_js():
    g = torch.Generator().manual_seed(2)
    s = torch.randn(7, 7, generator=g, dtype=torch.float64, requires_grad=True)
    value = jsd(s)
    (grad_jsd,) = torch.autograd.grad(value, s)
    (grad_js,) = torch.autograd.grad(js_fgan(s), s)
    torch.testing.assert_close(grad_jsd, grad_js)
    torch.testing.assert_close(value, nwj(s + 1))


def test_js_fgan_is_a_binary_cross_entropy():
    g = torch.Generator().manual_seed(3)
    s = torch.randn(6, 6, generator=g, dtype=torch.float64)
    off = ~torch.eye(6, dtype=torch.bool)
    pos = F.binary_cross_entropy_with_logits(s.diagonal(), torch.ones(6, dtype=s.dtype))
    neg = F.binary_cross_entropy_with_logits(s[off], torch.zeros(30, dtype=s.dtype))
    torch.testing.assert_close(js_fgan(s), -(pos + neg))


# --- the Gaussian toy problem ---


def test_gaussian_log_ratio_scores_match_log_densities():
    rho, dim = 0.6, 3
    g = torch.Generator().manual_seed(0)
    x, y = correlated_gaussians(5, dim, rho, generator=g, dtype=torch.float64)
    normal = torch.distributions.Normal(0.0, 1.0)
    expected = torch.empty(5, 5, dtype=torch.float64)
    for i in range(5):
        for j in range(5):
            cond = torch.distributions.Normal(rho * x[i], math.sqrt(1 - rho**2))
            expected[i, j] = cond.log_prob(y[j]).sum() - normal.log_prob(y[j]).sum()
    torch.testing.assert_close(gaussian_log_ratio_scores(x, y, rho), expected)


def test_correlated_gaussians_statistics_and_seeding():
    x, y = correlated_gaussians(20000, 3, 0.8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (20000, 3) and x.dtype == torch.float32
    corr = (x * y).mean(0) / (x.std(0) * y.std(0))  # per coordinate
    torch.testing.assert_close(corr, torch.full((3,), 0.8), atol=0.01, rtol=0)
    cross = (x[:, 0] * y[:, 1]).mean()
    assert abs(cross.item()) < 0.03  # no correlation across coordinates
    again = correlated_gaussians(20000, 3, 0.8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again[0], x) and torch.equal(again[1], y)


# --- bad inputs ---


@pytest.mark.parametrize("name", list(BOUNDS) + ["js_fgan", "logmeanexp_nodiag"])
@pytest.mark.parametrize(
    ("scores", "match"),
    [
        (torch.zeros(4), "square"),
        (torch.zeros(3, 4), "square"),
        (torch.zeros(2, 2, 2), "square"),
        (torch.zeros(1, 1), "at least 2 x 2"),
        (torch.zeros(3, 3, dtype=torch.long), "floating dtype"),
    ],
)
def test_bad_scores_raise(name, scores, match):
    fn = {**BOUNDS, "js_fgan": js_fgan, "logmeanexp_nodiag": logmeanexp_nodiag}[name]
    with pytest.raises(ValueError, match=match):
        fn(scores)


def test_gaussian_helpers_reject_bad_rho_and_shapes():
    with pytest.raises(ValueError, match=r"inside \(-1, 1\)"):
        correlated_gaussians(4, 1, 1.0)
    with pytest.raises(ValueError, match=r"inside \(-1, 1\)"):
        gaussian_log_ratio_scores(torch.zeros(3, 2), torch.zeros(3, 2), -1.0)
    with pytest.raises(ValueError, match="both be"):
        gaussian_log_ratio_scores(torch.zeros(3, 2), torch.zeros(3, 3), 0.5)
