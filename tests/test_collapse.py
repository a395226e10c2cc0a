"""The collapse measures of chapter 7 on closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from sslib.collapse import effective_rank, gaussian_entropy, per_dimension_std


def test_effective_rank_of_an_isotropic_gaussian_is_its_dimension():
    z = torch.randn(20000, 8, generator=torch.Generator().manual_seed(0))
    assert effective_rank(z) == pytest.approx(8, rel=0.01)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_effective_rank_of_rank_k_data_is_k(k):
    g = torch.Generator().manual_seed(k)
    basis = torch.linalg.qr(torch.randn(16, k, generator=g))[0]  # k orthonormal directions
    z = torch.randn(20000, k, generator=g) @ basis.T + 3.0  # (N, 16), rank k after centring
    assert effective_rank(z) == pytest.approx(k, rel=0.02)
    centred = effective_rank(z - z.mean(0), center=False)
    assert centred == pytest.approx(effective_rank(z), rel=1e-4)


def test_effective_rank_of_a_constant_is_one_and_it_matches_the_formula():
    assert effective_rank(torch.ones(10, 4)) == 1.0
    z = torch.diag(torch.tensor([3.0, 1.0])).repeat(5, 1)  # singular values prop. to 3 and 1
    p = [3 / 4 + 1e-7, 1 / 4 + 1e-7]
    expected = math.exp(-sum(q * math.log(q) for q in p))
    assert effective_rank(z, center=False) == pytest.approx(expected, rel=1e-6)


def test_per_dimension_std():
    z = torch.tensor([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0]])
    torch.testing.assert_close(per_dimension_std(z), torch.tensor([math.sqrt(2), 0, 0]).double())


def test_gaussian_entropy_of_a_known_covariance():
    cov = torch.tensor([[2.0, 0.6], [0.6, 1.0]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(200000, 2, generator=g, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    expected = 0.5 * math.log((2 * math.pi * math.e) ** 2 * float(torch.linalg.det(cov)))
    assert gaussian_entropy(z) == pytest.approx(expected, abs=0.01)
    # exactly the formula on the sample covariance
    small = z[:50]
    exact = 0.5 * float(torch.logdet(2 * math.pi * math.e * torch.cov(small.T)))
    assert gaussian_entropy(small) == pytest.approx(exact, rel=1e-10)


def test_gaussian_entropy_of_a_singular_covariance_needs_a_ridge():
    z = torch.randn(100, 3, generator=torch.Generator().manual_seed(0))
    z[:, 2] = 0.0  # one collapsed dimension
    with pytest.raises(ValueError, match="singular.*ridge"):
        gaussian_entropy(z)
    # the ridge is the collapsed dimension's variance: its Gaussian adds 1/2 log(2 pi e 1e-4)
    expected = gaussian_entropy(z[:, :2]) + 0.5 * math.log(2 * math.pi * math.e * 1e-4)
    assert gaussian_entropy(z, ridge=1e-4) == pytest.approx(expected, abs=1e-3)


@pytest.mark.parametrize("fn", [effective_rank, per_dimension_std, gaussian_entropy])
def test_collapse_measures_refuse_bad_shapes(fn):
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fn(torch.randn(5))
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        fn(torch.randn(1, 3))
    with pytest.raises(ValueError, match="non-finite"):
        fn(torch.tensor([[1.0, float("nan")], [0.0, 1.0]]))
