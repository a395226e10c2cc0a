"""Training losses against literal reference implementations."""

from __future__ import annotations

import math

import pytest
import torch

from sslib import nets
from sslib.objectives import nt_xent


def nt_xent_loop(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent as written in SimCLR's eq. (1), one anchor and one candidate at a time."""
    z = torch.cat([z1, z2])
    n2 = z.shape[0]
    n = n2 // 2

    def sim(a, b):
        return torch.dot(a, b) / (a.norm() * b.norm())

    total = 0.0
    for k in range(n2):
        pos = (k + n) % n2
        numerator = math.exp(sim(z[k], z[pos]).item() / temperature)
        denominator = sum(
            math.exp(sim(z[k], z[m]).item() / temperature) for m in range(n2) if m != k
        )
        total += -math.log(numerator / denominator)
    return torch.tensor(total / n2, dtype=torch.float64)


@pytest.mark.parametrize("n", [2, 3, 8])
@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0])
def test_nt_xent_matches_the_double_loop(n, temperature):
    g = torch.Generator().manual_seed(n)
    z1 = torch.randn(n, 5, generator=g, dtype=torch.float64)
    z2 = torch.randn(n, 5, generator=g, dtype=torch.float64)
    torch.testing.assert_close(nt_xent(z1, z2, temperature), nt_xent_loop(z1, z2, temperature))


def test_nt_xent_is_symmetric_in_its_views():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    torch.testing.assert_close(nt_xent(z1, z2), nt_xent(z2, z1))


def test_nt_xent_is_invariant_to_scaling_each_embedding():
    g = torch.Generator().manual_seed(1)
    z1, z2 = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    scale1, scale2 = torch.rand(6, 1, generator=g) * 10 + 0.1, torch.rand(6, 1, generator=g) * 10
    scale2 += 0.1
    torch.testing.assert_close(nt_xent(z1 * scale1, z2 * scale2), nt_xent(z1, z2))


def test_nt_xent_gradient_is_finite():
    g = torch.Generator().manual_seed(2)
    z1 = torch.randn(8, 16, generator=g, requires_grad=True)
    z2 = torch.randn(8, 16, generator=g, requires_grad=True)
    loss = nt_xent(z1, z2, temperature=0.1)
    loss.backward()
    assert torch.isfinite(loss) and loss.ndim == 0
    assert torch.isfinite(z1.grad).all() and torch.isfinite(z2.grad).all()
    assert z1.grad.abs().sum() > 0


def test_aligned_orthogonal_embeddings_beat_random_ones():
    n = 8
    z = torch.eye(
        n, dtype=torch.float64
    )  # orthogonal: every negative has cosine 0, every positive 1
    aligned = nt_xent(z, z.clone(), temperature=0.1)
    # exact: -log(e^{1/t} / (e^{1/t} + 2N - 2))
    t = 0.1
    assert aligned.item() == pytest.approx(math.log1p((2 * n - 2) * math.exp(-1 / t)), rel=1e-5)
    g = torch.Generator().manual_seed(3)
    z1, z2 = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
    random = nt_xent(z1.double(), z2.double(), 0.1)
    assert aligned < random


def test_nt_xent_of_a_batch_of_one_raises():
    with pytest.raises(ValueError, match="at least 2 pairs.*batch of 1"):
        nt_xent(torch.randn(1, 4), torch.randn(1, 4))


@pytest.mark.parametrize(
    ("z1", "z2", "temperature", "match"),
    [
        (torch.randn(4, 3), torch.randn(5, 3), 0.5, "same shape"),
        (torch.randn(4, 3), torch.randn(4, 2), 0.5, "same shape"),
        (torch.randn(4), torch.randn(4), 0.5, "2-D"),
        (torch.randn(4, 3, 2), torch.randn(4, 3, 2), 0.5, "2-D"),
        (torch.randn(4, 3), torch.randn(4, 3), 0.0, "Illegal temperature"),
        (torch.randn(4, 3), torch.randn(4, 3), -1.0, "Illegal temperature"),
        (torch.randn(4, 3), torch.randn(4, 3), float("inf"), "Illegal temperature"),
        (torch.ones(4, 3, dtype=torch.long), torch.ones(4, 3, dtype=torch.long), 0.5, "floating"),
    ],
)
def test_nt_xent_bad_inputs_raise(z1, z2, temperature, match):
    with pytest.raises(ValueError, match=match):
        nt_xent(z1, z2, temperature)


def test_gaussian_kl_matches_torch_distributions():
    from torch.distributions import Normal, kl_divergence

    from sslib.objectives import gaussian_kl

    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    ours = gaussian_kl(mu, logvar)
    ref = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).sum(1)
    torch.testing.assert_close(ours, ref)
    assert torch.all(gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)) == 0)
    with pytest.raises(ValueError, match="same shape"):
        gaussian_kl(mu, logvar[:, :2])


def test_reparameterize_moments_and_gradient():
    from sslib.objectives import reparameterize

    mu = torch.full((20000, 1), 2.0, requires_grad=True)
    logvar = torch.full((20000, 1), math.log(0.25), requires_grad=True)
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 2.0) < 0.02 and abs(z.std().item() - 0.5) < 0.02
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None


@pytest.mark.parametrize("bad", [0, -0.5, float("inf"), float("nan"), "warm", None])
def test_every_temperature_is_checked_by_one_function(bad):
    """The losses, SimCLR and DIM's dot critic refuse a bad temperature with one message."""
    from sslib.critics import DotProductCritic
    from sslib.methods import SimCLR
    from sslib.objectives import check_temperature, multiview_nt_xent

    z = torch.randn(4, 3)
    calls = [
        lambda: check_temperature(bad),
        lambda: nt_xent(z, z, temperature=bad),
        lambda: multiview_nt_xent([z, z], temperature=bad),
        lambda: SimCLR(nets.MLP(3, (4,), 4), temperature=bad),
    ]
    if bad is not None:  # None means "no temperature" to the critic
        calls.append(lambda: DotProductCritic(4, 4, temperature=bad))
    for call in calls:
        with pytest.raises(ValueError, match="Illegal temperature"):
            call()
    assert check_temperature(0.1) == 0.1
