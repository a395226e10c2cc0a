"""Training losses against literal reference implementations."""

from __future__ import annotations

import math

import pytest
import torch

from sslib import nets
from sslib.objectives import (
    barlow_twins_loss,
    dino_loss,
    negative_cosine_similarity,
    nt_xent,
    vicreg_loss,
    vicreg_terms,
)


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


# learning without negatives (chapter 7): each loss against its paper's pseudocode, as loops


def _pair(n=6, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=torch.float64)
    return z1, z1 + 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)


def _mean(values):
    return sum(values) / len(values)


def _std(values, ddof):
    m = _mean(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - ddof))


def barlow_loop(z1, z2, lam):
    """Zbontar et al. (2021), Algorithm 1, one entry C_ij at a time (biased std, as BN)."""
    n, d = z1.shape
    a = [[float(v) for v in z1[:, i]] for i in range(d)]  # dimension i over the batch
    b = [[float(v) for v in z2[:, i]] for i in range(d)]
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(
                (a[i][k] - _mean(a[i])) / math.sqrt(_std(a[i], 0) ** 2 + 1e-5)
                * (b[j][k] - _mean(b[j])) / math.sqrt(_std(b[j], 0) ** 2 + 1e-5)
                for k in range(n)
            ) / n  # fmt: skip
            loss += (1 - c) ** 2 if i == j else lam * c**2
    return loss


@pytest.mark.parametrize("lam", [0.0, 5e-3, 1.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_barlow_twins_matches_the_loop(lam, seed):
    z1, z2 = _pair(seed=seed)
    assert barlow_twins_loss(z1, z2, lam).item() == pytest.approx(barlow_loop(z1, z2, lam))


def test_barlow_twins_is_zero_for_identical_decorrelated_views():
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    assert barlow_twins_loss(z, z.clone(), 1.0).item() == pytest.approx(0.0, abs=1e-5)
    # and invariant to scaling and shifting a dimension (it standardises)
    z1, z2 = _pair()
    scaled = z1 * torch.tensor([3.0, 0.5, 2.0, 1.0], dtype=torch.float64) + 7
    expected = barlow_twins_loss(z1, z2).item()
    assert barlow_twins_loss(scaled, z2).item() == pytest.approx(expected, rel=1e-4)


def vicreg_loop(z1, z2):
    """Bardes et al. (2022), Algorithm 1, written out: (invariance, variance, covariance)."""
    n, d = z1.shape
    inv = sum(float(z1[k, i] - z2[k, i]) ** 2 for k in range(n) for i in range(d)) / (n * d)
    var = cov = 0.0
    for z in (z1, z2):
        cols = [[float(v) for v in z[:, i]] for i in range(d)]
        var += sum(max(0.0, 1 - math.sqrt(_std(c, 1) ** 2 + 1e-4)) for c in cols) / d
        for i in range(d):
            for j in range(d):
                if i != j:
                    mi, mj = _mean(cols[i]), _mean(cols[j])
                    c = sum((cols[i][k] - mi) * (cols[j][k] - mj) for k in range(n)) / (n - 1)
                    cov += c**2 / d
    return inv, var, cov


@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])  # below 1 the variance hinge is active
def test_vicreg_terms_and_loss_match_the_loop(scale):
    z1, z2 = _pair()
    z1, z2 = z1 * scale, z2 * scale
    expected = vicreg_loop(z1, z2)
    for ours, ref in zip(vicreg_terms(z1, z2), expected, strict=True):
        assert ours.item() == pytest.approx(ref)
    inv, var, cov = expected
    assert vicreg_loss(z1, z2, 2.0, 3.0, 0.5).item() == pytest.approx(2 * inv + 3 * var + cov / 2)
    assert vicreg_loss(z1, z2).item() == pytest.approx(25 * inv + 25 * var + cov)


def test_vicreg_of_a_constant_embedding_is_the_full_variance_hinge():
    z = torch.zeros(8, 3)
    inv, var, cov = vicreg_terms(z, z)
    assert inv.item() == 0 and cov.item() == 0
    assert var.item() == pytest.approx(2 * (1 - math.sqrt(1e-4)))  # both branches
    assert vicreg_loss(z, z, var_weight=0.0).item() == 0  # the collapse the ablation finds


def test_negative_cosine_similarity_matches_the_loop_and_stops_the_gradient():
    p, z = _pair(n=5, d=3)
    loop = -_mean([float(p[i] @ z[i] / (p[i].norm() * z[i].norm())) for i in range(5)])
    p.requires_grad_(True)
    z.requires_grad_(True)
    loss = negative_cosine_similarity(p, z)
    assert loss.item() == pytest.approx(loop)
    loss.backward()
    assert p.grad is not None and z.grad is None  # the target is a constant
    assert negative_cosine_similarity(z, 3 * z).item() == pytest.approx(-1.0)


def dino_loop(students, teachers, center, ts, tt):
    """Caron et al. (2021), Algorithm 1, generalised to V views: every pair a != b."""
    total, pairs = 0.0, 0
    for a, t in enumerate(teachers):
        for b, s in enumerate(students):
            if a == b:
                continue
            h = 0.0
            for n in range(len(t)):
                tz = [
                    math.exp((float(t[n, k]) - float(center[k])) / tt) for k in range(len(center))
                ]
                sz = [math.exp(float(s[n, k]) / ts) for k in range(len(center))]
                h -= sum(tz[k] / sum(tz) * math.log(sz[k] / sum(sz)) for k in range(len(center)))
            total += h / len(t)
            pairs += 1
    return total / pairs


@pytest.mark.parametrize("views", [(2, 2), (3, 2)])
@pytest.mark.parametrize("temps", [(0.1, 0.04), (0.5, 0.2)])
def test_dino_loss_matches_the_loop(views, temps):
    g = torch.Generator().manual_seed(sum(views))
    students = [torch.randn(4, 5, generator=g, dtype=torch.float64) for _ in range(views[0])]
    teachers = [torch.randn(4, 5, generator=g, dtype=torch.float64) for _ in range(views[1])]
    center = torch.randn(5, generator=g, dtype=torch.float64)
    expected = dino_loop(students, teachers, center, *temps)
    assert dino_loss(students, teachers, center, *temps).item() == pytest.approx(expected)
    stacked = dino_loss(torch.stack(students), torch.stack(teachers), center[None], *temps)
    assert stacked.item() == pytest.approx(expected)


def test_dino_loss_sends_no_gradient_to_the_teacher():
    s = torch.randn(2, 4, 6, requires_grad=True)
    t = torch.randn(2, 4, 6, requires_grad=True)
    dino_loss(s, t, torch.zeros(6)).backward()
    assert s.grad is not None and t.grad is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: barlow_twins_loss(torch.randn(4, 3), torch.randn(4, 2)), "same shape"),
        (lambda: barlow_twins_loss(torch.randn(1, 3), torch.randn(1, 3)), "at least 2"),
        (lambda: barlow_twins_loss(torch.randn(4, 3), torch.randn(4, 3), -1.0), "lambda"),
        (lambda: vicreg_loss(torch.randn(4), torch.randn(4)), "2-D"),
        (lambda: vicreg_loss(torch.randn(4, 3), torch.randn(4, 3), var_weight=-1), "var_weight"),
        (lambda: negative_cosine_similarity(torch.randn(4, 3), torch.randn(5, 3)), "same shape"),
        (lambda: dino_loss(torch.randn(2, 4, 3), torch.randn(2, 4, 3), torch.zeros(3), 0.0),
         "Illegal temperature"),
        (lambda: dino_loss(torch.randn(2, 4, 3), torch.randn(2, 4, 3), torch.zeros(3), 0.1, -1),
         "Illegal temperature"),
        (lambda: dino_loss(torch.randn(2, 4, 3), torch.randn(2, 4, 5), torch.zeros(3)),
         "one shape"),
        (lambda: dino_loss(torch.randn(2, 4, 3), torch.randn(2, 4, 3), torch.zeros(4)), "centre"),
        (lambda: dino_loss(torch.randn(4, 3), torch.randn(4, 3), torch.zeros(3)), "list"),
        (lambda: dino_loss(torch.randn(2, 4, 3), torch.randn(3, 4, 3), torch.zeros(3)),
         "no more teacher"),
    ],
)  # fmt: skip
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
