"""Exact information measures against closed forms, brute force and identities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sslib import info
from sslib.info import (
    conditional_entropy,
    conditional_mutual_information,
    entropy,
    gaussian_mi,
    gaussian_rho,
    kl_divergence,
    marginal,
    mutual_information,
)


def random_pmf(rng: np.random.Generator, shape, sparsity: float = 0.0) -> np.ndarray:
    p = rng.random(shape) ** 3  # skewed, so the pmfs are far from uniform
    p[rng.random(shape) < sparsity] = 0.0  # exact zeros exercise 0 log 0 = 0
    p.flat[0] += 1e-3  # never all zero
    return p / p.sum()


# --- entropy ---


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_entropy_of_uniform_is_log_n(n):
    assert entropy(np.full(n, 1.0 / n)) == pytest.approx(math.log(n), abs=1e-12)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)])
def test_entropy_of_point_mass_is_zero(shape):
    p = np.zeros(shape)
    p.flat[-1] = 1.0
    assert entropy(p) == 0.0


def test_entropy_accepts_lists_and_is_joint_over_all_axes():
    assert entropy([0.5, 0.5]) == pytest.approx(math.log(2))
    # two independent fair coins: H(X, Y) = 2 log 2
    assert entropy([[0.25, 0.25], [0.25, 0.25]]) == pytest.approx(2 * math.log(2))


def test_marginal_and_conditional_entropy():
    rng = np.random.default_rng(0)
    p = random_pmf(rng, (3, 4, 5))
    np.testing.assert_allclose(marginal(p, (2, 0)), p.sum(axis=1).T)
    np.testing.assert_allclose(marginal(p, 1), p.sum(axis=(0, 2)))
    pxy = marginal(p, (0, 1))
    hx = entropy(marginal(pxy, 0))
    assert conditional_entropy(pxy) == pytest.approx(entropy(pxy) - hx, abs=1e-12)
    with pytest.raises(ValueError, match="distinct axes"):
        marginal(p, (0, 0))


# --- mutual information ---


@pytest.mark.parametrize("seed", range(3))
def test_mi_of_independent_variables_is_zero(seed):
    rng = np.random.default_rng(seed)
    px, py = random_pmf(rng, 4), random_pmf(rng, 6)
    assert mutual_information(np.outer(px, py)) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_mi_of_a_copy_is_the_entropy(seed):
    rng = np.random.default_rng(seed)
    px = random_pmf(rng, 8, sparsity=0.3)
    assert mutual_information(np.diag(px)) == pytest.approx(entropy(px), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_mi_equals_entropy_identity_and_is_symmetric(seed):
    rng = np.random.default_rng(seed)
    pxy = random_pmf(rng, (5, 7), sparsity=0.2)
    hx, hy = entropy(pxy.sum(axis=1)), entropy(pxy.sum(axis=0))
    mi = mutual_information(pxy)
    assert mi == pytest.approx(hx + hy - entropy(pxy), abs=1e-12)
    assert mi == pytest.approx(mutual_information(pxy.T), abs=1e-12)
    assert 0.0 <= mi <= min(hx, hy) + 1e-12


def brute_force_cmi(p: np.ndarray) -> float:
    """I(X; Y | Z) as the literal triple sum."""
    nx, ny, nz = p.shape
    total = 0.0
    for x in range(nx):
        for y in range(ny):
            for z in range(nz):
                if p[x, y, z] > 0:
                    pz = p[:, :, z].sum()
                    pxz, pyz = p[x, :, z].sum(), p[:, y, z].sum()
                    total += p[x, y, z] * math.log(p[x, y, z] * pz / (pxz * pyz))
    return total


@pytest.mark.parametrize("seed", range(4))
def test_cmi_against_brute_force_and_chain_rule(seed):
    rng = np.random.default_rng(seed)
    pxyz = random_pmf(rng, (3, 4, 2), sparsity=0.2)
    cmi = conditional_mutual_information(pxyz)
    assert cmi == pytest.approx(brute_force_cmi(pxyz), abs=1e-12)
    # chain rule: I(X; (Y, Z)) = I(X; Z) + I(X; Y | Z)
    i_x_yz = mutual_information(pxyz.reshape(3, -1))
    i_xz = mutual_information(pxyz.sum(axis=1))
    assert i_x_yz == pytest.approx(i_xz + cmi, abs=1e-12)


def test_cmi_of_conditionally_independent_is_zero():
    rng = np.random.default_rng(0)
    pz = random_pmf(rng, 3)
    # p(x, y, z) = p(z) p(x|z) p(y|z)
    px_z = rng.random((4, 3))
    px_z /= px_z.sum(axis=0)
    py_z = rng.random((5, 3))
    py_z /= py_z.sum(axis=0)
    pxyz = np.einsum("z,xz,yz->xyz", pz, px_z, py_z)
    assert conditional_mutual_information(pxyz) == pytest.approx(0.0, abs=1e-12)


# --- KL divergence ---


@pytest.mark.parametrize("seed", range(5))
def test_kl_is_nonnegative_and_zero_on_itself(seed):
    rng = np.random.default_rng(seed)
    p, q = random_pmf(rng, (3, 3)), random_pmf(rng, (3, 3))
    assert kl_divergence(p, q) > 0
    assert kl_divergence(p, p) == 0.0


def test_kl_is_asymmetric():
    p, q = [0.5, 0.5], [0.9, 0.1]
    forward = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    backward = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    assert kl_divergence(p, q) == pytest.approx(forward)
    assert kl_divergence(q, p) == pytest.approx(backward)
    assert abs(forward - backward) > 0.1


def test_kl_is_inf_where_q_misses_mass_of_p():
    assert kl_divergence([0.5, 0.5], [1.0, 0.0]) == math.inf
    # the other way round is finite: p = 0 where q > 0 costs nothing
    assert kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(math.log(2))


# --- Gaussians ---


@pytest.mark.parametrize("rho", [0.3, 0.9])
def test_gaussian_mi_matches_a_fine_discretisation(rho):
    # Discretising can only lose information (data processing) and converges as cells shrink;
    # with cells 0.02 wide (1/20 of the conditional sd at rho = 0.9) the measured gap is ~1e-7.
    grid = np.arange(-6, 6, 0.02) + 0.01  # cell centres
    x, y = np.meshgrid(grid, grid, indexing="ij")
    q = (x**2 - 2 * rho * x * y + y**2) / (1 - rho**2)
    pxy = np.exp(-0.5 * q)
    pxy /= pxy.sum()
    assert mutual_information(pxy) == pytest.approx(gaussian_mi(rho), abs=1e-4)


def test_gaussian_mi_closed_form_and_arrays():
    assert gaussian_mi(0.0) == 0.0
    assert gaussian_mi(0.5, dim=3) == pytest.approx(-1.5 * math.log(0.75))
    assert gaussian_mi(-0.5) == gaussian_mi(0.5)
    np.testing.assert_allclose(
        gaussian_mi(np.array([0.1, 0.5])), [gaussian_mi(0.1), 0.5 * -math.log(0.75)]
    )


@pytest.mark.parametrize("dim", [1, 5, 20])
@pytest.mark.parametrize("mi", [0.0, 1e-6, 0.5, 2.0, 10.0])
def test_gaussian_rho_inverts_gaussian_mi(mi, dim):
    rho = gaussian_rho(mi, dim)
    assert 0.0 <= rho < 1.0
    # rho is within 1e-9 of 1 at mi = 10, dim = 1: rounding rho costs ~1e-8 relative there
    assert gaussian_mi(rho, dim) == pytest.approx(mi, rel=1e-7, abs=1e-15)
    assert gaussian_rho(gaussian_mi(0.7, dim), dim) == pytest.approx(0.7)


# --- bad inputs ---


@pytest.mark.parametrize(
    ("fn", "arg", "match"),
    [
        (entropy, [0.5, 0.4], "sums to 0.9"),
        (entropy, [1.2, -0.2], "negative entry"),
        (entropy, [0.5, float("nan"), 0.5], "NaN"),
        (entropy, [], "non-empty"),
        (mutual_information, [0.5, 0.5], "must have 2 axes"),
        (mutual_information, np.full((2, 2, 2), 0.125), "must have 2 axes"),
        (conditional_mutual_information, np.full((2, 2), 0.25), "must have 3 axes"),
        (conditional_entropy, [0.5, 0.5], "must have 2 axes"),
    ],
)
def test_bad_pmfs_raise_helpful_errors(fn, arg, match):
    with pytest.raises(ValueError, match=match):
        fn(arg)


def test_sum_tolerance_and_kl_shape_mismatch():
    assert entropy([0.5, 0.5 + 1e-9]) == pytest.approx(math.log(2))  # rounding is fine
    with pytest.raises(ValueError, match="normalise"):
        entropy([0.5, 0.5 + 1e-3])
    with pytest.raises(ValueError, match="same outcomes"):
        kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5])


@pytest.mark.parametrize("rho", [1.0, -1.0, 1.5, float("nan")])
def test_gaussian_mi_rejects_rho_outside_the_open_interval(rho):
    with pytest.raises(ValueError, match=r"inside \(-1, 1\)"):
        gaussian_mi(rho)


def test_gaussian_rho_and_dim_validation():
    with pytest.raises(ValueError, match=">= 0 nats"):
        gaussian_rho(-0.1)
    with pytest.raises(ValueError, match="dim must be an integer"):
        gaussian_mi(0.5, dim=0)
    with pytest.raises(ValueError, match="dim must be an integer"):
        gaussian_rho(0.5, dim=1.5)


def test_binary_entropy_and_histogram_mi():
    assert info.binary_entropy(0.5) == pytest.approx(np.log(2))
    assert info.binary_entropy(0.0) == 0.0 and info.binary_entropy(1.0) == 0.0
    rng = np.random.default_rng(0)
    x = rng.normal(size=20_000)
    same = info.histogram_mi(x, x, bins=20)
    assert same == pytest.approx(info.entropy(np.histogram(x, bins=20)[0] / len(x)))  # I = H
    noise = info.histogram_mi(x, rng.normal(size=20_000), bins=20)
    assert 0 <= noise < 2 * 19**2 / (2 * 20_000)  # independent: only the plug-in bias
    rho = 0.8
    y = rho * x + np.sqrt(1 - rho**2) * rng.normal(size=20_000)
    assert abs(info.histogram_mi(x, y, bins=20) - info.gaussian_mi(rho)) < 0.05
