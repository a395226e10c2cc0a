"""CriticEstimator: its loss is minus the bound, and training it estimates a known MI."""

from __future__ import annotations

import math

import pytest
import torch

from sslib import bounds, info, nets, train
from sslib.data import gaussians
from sslib.methods.critic import CriticEstimator

DIM, MI = 2, 1.0  # two Gaussian pairs sharing 1 nat: rho = 0.63 per coordinate
RHO = info.gaussian_rho(MI, DIM)


def batch(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    return gaussians.correlated_gaussians(
        n, DIM, RHO, generator=torch.Generator().manual_seed(seed)
    )


def stream(step: int, batch_size: int, generator: torch.Generator):
    return gaussians.correlated_gaussians(batch_size, DIM, RHO, generator=generator)


@pytest.mark.parametrize("critic_cls", [nets.SeparableCritic, nets.ConcatCritic])
@pytest.mark.parametrize("name", list(bounds.BOUNDS))
def test_loss_is_minus_the_bound_on_the_critics_scores(name, critic_cls):
    critic = critic_cls(DIM, DIM, hidden=16, layers=1)
    method = CriticEstimator(critic, name)
    x, y = batch(32, seed=1)
    loss, metrics = method.loss((x, y))
    expected = bounds.BOUNDS[name](critic(x, y))
    torch.testing.assert_close(loss, -expected)
    torch.testing.assert_close(metrics["mi"], expected.detach())
    assert not metrics["mi"].requires_grad and loss.requires_grad
    assert method.estimate(x, y) == pytest.approx(expected.item(), abs=1e-6)


def test_a_custom_bound_function_is_accepted_and_bad_names_are_not():
    critic = nets.SeparableCritic(DIM, DIM, hidden=8, embed_dim=4, layers=1)
    x, y = batch(8, seed=2)
    method = CriticEstimator(critic, lambda s: s.diagonal().mean())
    torch.testing.assert_close(method.loss((x, y))[0], -critic(x, y).diagonal().mean())
    with pytest.raises(ValueError, match="unknown bound"):
        CriticEstimator(critic, "mine")
    with pytest.raises(ValueError, match="same N pairs"):
        method.loss((x, y[:4]))


def test_embed_is_g_for_a_separable_critic_and_an_error_otherwise():
    x, _ = batch(8, seed=3)
    sep = nets.SeparableCritic(DIM, DIM, hidden=8, embed_dim=4, layers=1)
    torch.testing.assert_close(CriticEstimator(sep, "infonce").embed(x), sep.g(x))
    with pytest.raises(NotImplementedError, match="SeparableCritic"):
        CriticEstimator(nets.ConcatCritic(DIM, DIM, hidden=8, layers=1), "infonce").embed(x)


def test_training_the_infonce_critic_estimates_the_true_mi():
    n = 128  # log N = 4.85 nats >> MI, so the ceiling is out of the way
    critic = nets.SeparableCritic(DIM, DIM, hidden=64, embed_dim=16, layers=2)
    method = CriticEstimator(critic, "infonce")
    x, y = batch(2048, seed=4)  # a fixed held-out batch, so start and end see the same pairs
    start = method.estimate(x, y)
    train.fit(method, stream, steps=400, batch_size=n, lr=3e-3, final_lr=1.0, progress=False,
              device="cpu", precision="fp32", seed=0)  # fmt: skip
    end = method.estimate(x, y)
    # On this batch InfoNCE at the optimal critic (bounds.gaussian_log_ratio_scores) is 0.99 nats:
    # its bias at I = 1 nat is O(e^I / N), and the batch's sampling error is rho sqrt(dim / N)
    # = 0.02. A trained critic sits a little below the optimum (0.96 to 0.98 over five seeds);
    # 0.1 nats is about three times that gap.
    assert start < 0.1
    assert MI - 0.1 < end <= math.log(len(x))
    assert end > start + 0.8
