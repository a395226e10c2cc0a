"""The information-bottleneck solver of sslib.info (chapter 6)."""

import itertools

import numpy as np
import pytest

from sslib import info


def random_joint(n_x, n_y, seed):
    return np.random.default_rng(seed).dirichlet(np.full(n_x * n_y, 0.5)).reshape(n_x, n_y)


def brute_force_deterministic(pxy, beta):
    """The smallest Lagrangian over every hard encoder t = g(x), |T| = |X|."""
    n_x = pxy.shape[0]
    best = np.inf
    for labels in itertools.product(range(n_x), repeat=n_x):
        t = np.eye(n_x)[list(labels)]
        pxt = pxy.sum(axis=1)[:, None] * t
        best = min(best, info.mutual_information(pxt) - beta * info.mutual_information(t.T @ pxy))
    return best


@pytest.mark.parametrize("beta", [0.5, 3.0, 30.0])
def test_lagrangian_never_increases_and_rows_are_pmfs(beta):
    pxy = random_joint(6, 4, seed=0)
    sol = info.information_bottleneck(pxy, beta, restarts=3)
    assert np.all(np.diff(sol.history) <= 1e-12)
    assert sol.converged
    assert sol.encoder.shape == (6, 6)
    assert np.all(sol.encoder >= 0)
    np.testing.assert_allclose(sol.encoder.sum(axis=1), 1.0, atol=1e-12)
    # the reported terms are those of the encoder
    px = pxy.sum(axis=1)
    mi_xt = info.mutual_information(px[:, None] * sol.encoder)
    np.testing.assert_allclose(sol.i_xt, mi_xt, rtol=1e-9, atol=1e-12)
    mi_ty = info.mutual_information(sol.encoder.T @ pxy)
    np.testing.assert_allclose(sol.i_ty, mi_ty, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(sol.lagrangian, sol.i_xt - beta * sol.i_ty)
    assert sol["i_xt"] == sol.i_xt  # dict-style access


def test_every_start_decreases_the_lagrangian():
    pxy = random_joint(5, 3, seed=1)
    start = np.random.default_rng(2).dirichlet(np.ones(5), size=5)
    sol = info.information_bottleneck(pxy, 4.0, restarts=0, init=start)
    assert np.all(np.diff(sol.history) <= 1e-12)


def test_small_beta_compresses_everything():
    pxy = random_joint(6, 4, seed=3)
    for beta in [0.0, 0.1, 0.9]:
        sol = info.information_bottleneck(pxy, beta)
        assert sol.i_xt < 1e-6 and sol.i_ty < 1e-6


def test_large_beta_keeps_the_relevant_information():
    pxy = random_joint(6, 4, seed=4)
    sol = info.information_bottleneck(pxy, 1000.0)
    assert sol.i_ty == pytest.approx(info.mutual_information(pxy), abs=1e-4)
    assert sol.i_xt <= info.entropy(pxy.sum(axis=1)) + 1e-9


@pytest.mark.parametrize("seed", [5, 6])
@pytest.mark.parametrize("beta", [2.0, 8.0, 50.0])
def test_at_least_as_good_as_every_hard_encoder(seed, beta):
    pxy = random_joint(4, 3, seed)
    sol = info.information_bottleneck(pxy, beta)
    assert sol.lagrangian <= brute_force_deterministic(pxy, beta) + 1e-9


@pytest.mark.parametrize("beta", [0.5, 1.5, 4.0])
def test_matches_brute_force_when_y_is_a_function_of_x(beta):
    # For Y = f(X) the optimum is exact: I(X;T) >= I(T;Y) and I(T;Y) <= H(Y) give
    # L >= (1 - beta) H(Y) for beta > 1 (reached by T = Y) and L >= 0 for beta <= 1.
    f = np.array([0, 0, 1, 2])
    pxy = np.zeros((4, 3))
    pxy[np.arange(4), f] = np.random.default_rng(8).dirichlet(np.ones(4))
    h_y = info.entropy(pxy.sum(axis=0))
    sol = info.information_bottleneck(pxy, beta)
    exact = min(0.0, (1 - beta) * h_y)
    assert sol.lagrangian == pytest.approx(exact, abs=1e-8)
    assert brute_force_deterministic(pxy, beta) == pytest.approx(exact, abs=1e-12)


def test_curve_is_monotone_and_bounded():
    pxy = random_joint(6, 3, seed=9)
    betas = np.geomspace(0.5, 200, 15)
    curve = info.information_bottleneck_curve(pxy, betas, restarts=2)
    i_xt = np.array([s.i_xt for s in curve])
    i_ty = np.array([s.i_ty for s in curve])
    assert np.all(np.diff(i_xt) >= -1e-9) and np.all(np.diff(i_ty) >= -1e-9)
    assert np.all(i_ty <= info.mutual_information(pxy) + 1e-12)
    assert np.all(i_xt <= info.entropy(pxy.sum(axis=1)) + 1e-12)
    assert np.all(i_ty <= i_xt + 1e-12)  # data processing, T - X - Y
    assert i_ty[-1] == pytest.approx(info.mutual_information(pxy), abs=1e-3)
    # no beta's encoder beats another beta's on its own Lagrangian
    for k, b in enumerate(betas):
        assert all(curve[k].lagrangian <= s.i_xt - b * s.i_ty + 1e-9 for s in curve)


def test_bad_arguments():
    pxy = random_joint(3, 2, seed=10)
    with pytest.raises(ValueError, match="beta"):
        info.information_bottleneck(pxy, -1.0)
    with pytest.raises(ValueError, match="n_t"):
        info.information_bottleneck(pxy, 1.0, n_t=0)
    with pytest.raises(ValueError, match="init"):
        info.information_bottleneck(pxy, 1.0, init=np.ones((3, 2)))
    with pytest.raises(ValueError, match="increasing"):
        info.information_bottleneck_curve(pxy, [2.0, 1.0])
