"""How much a learned code depends on its input, or on itself: MINE and NDM.

Two estimates Hjelm et al. (2019) use to evaluate Deep InfoMax's codes, each trained by
:func:`sslib.train.fit` on half of the data and read out on the other half:

* :func:`mine_estimate`: a MINE estimate of ``I(X; Y)`` between inputs and their codes;
* :func:`neural_dependency_measure`: how far a code is from having independent dimensions.

Explained in chapter 5, *Deep InfoMax*.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sslib.bounds import MovingAverageDV
from sslib.methods.base import Method, inputs_of
from sslib.methods.critic import CriticEstimator
from sslib.nets import MLP, SeparableCritic
from sslib.train import fit


class _ShuffleDiscriminator(Method):
    """Tells codes (label 1) from codes shuffled per dimension (label 0)."""

    def __init__(self, code_dim: int, hidden: int = 256):
        super().__init__()
        self.net = MLP(code_dim, [hidden, hidden], 1)

    def loss(self, batch):
        codes = inputs_of(batch)
        real, fake = self.net(codes), self.net(shuffle_dimensions(codes))
        return F.softplus(-real).mean() + F.softplus(fake).mean(), {}


def _fit_quietly(method, data, steps: int, batch_size: int, lr: float, seed: int) -> None:
    """Train an evaluator's network on its half of the data: fp32, no progress bar."""
    first = data[0] if isinstance(data, tuple) else data
    fit(method, data, steps=steps, batch_size=min(batch_size, len(first)), lr=lr, seed=seed,
        device=first.device, precision="fp32", progress=False, log_every=steps)  # fmt: skip


def shuffle_dimensions(codes: torch.Tensor, generator: torch.Generator | None = None):
    """Each column permuted independently: a sample of the product of the code's marginals.

    Shape:
        ``(N, K) -> (N, K)``.
    """
    n, k = codes.shape
    order = torch.rand(n, k, generator=generator, device=codes.device).argsort(dim=0)
    return codes.gather(0, order)


def neural_dependency_measure(
    codes: torch.Tensor,
    *,
    steps: int = 500,
    batch_size: int = 256,
    hidden: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """NDM (Hjelm et al., 2019): how far a code is from having independent dimensions, nats.

    A discriminator learns to tell codes from codes shuffled per dimension (the product of
    the marginals) on the first half of ``codes``; NDM is the Donsker-Varadhan estimate of
    ``KL(q(y) || prod_k q(y_k))`` from its logits on the second half. Independent dimensions
    give about 0; dependent ones more.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        codes: Shape: ``(N, K)``; they are standardised per dimension first.
        steps: training steps of the discriminator.
        batch_size: its batch size.
        hidden: its hidden width (an MLP with two hidden layers).
        lr: its learning rate.
        seed: seeds its initialisation, batches and the held-out shuffle.

    Returns:
        The estimate in nats.
    """
    codes = codes.detach().float()
    codes = (codes - codes.mean(0)) / (codes.std(0) + 1e-6)
    half = len(codes) // 2
    torch.manual_seed(seed)
    disc = _ShuffleDiscriminator(codes.shape[1], hidden)
    _fit_quietly(disc, codes[:half], steps, batch_size, lr, seed)
    with torch.no_grad():
        held = codes[half:]
        g = torch.Generator(device=codes.device).manual_seed(seed)
        real = disc.net(held).squeeze(1)
        fake = disc.net(shuffle_dimensions(held, g)).squeeze(1)
        return float(real.mean() - (torch.logsumexp(fake, 0) - math.log(len(fake))))


def mine_estimate(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 500,
    batch_size: int = 256,
    hidden: int = 256,
    embed_dim: int = 64,
    lr: float = 1e-4,
    seed: int = 0,
) -> float:
    """A MINE estimate of I(X; Y) in nats, as the paper uses to evaluate an encoder.

    A separable critic is trained with :class:`sslib.bounds.MovingAverageDV` on the first
    half of the pairs; the estimate is the mean DV bound over batches of the second half.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        x: inputs, flattened. Shape: ``(N, x_dim)``.
        y: their codes. Shape: ``(N, y_dim)``; standardised per dimension first.
        steps: training steps of the critic.
        batch_size: its batch size (also of the held-out batches).
        hidden: hidden width of the critic's two MLPs.
        embed_dim: the dimension in which the critic takes its dot product.
        lr: its learning rate.
        seed: seeds its initialisation and batches.

    Returns:
        The held-out estimate in nats.
    """
    x, y = x.detach().flatten(1).float(), y.detach().float()
    y = (y - y.mean(0)) / (y.std(0) + 1e-6)
    half = len(x) // 2
    torch.manual_seed(seed)
    critic = SeparableCritic(x.shape[1], y.shape[1], hidden=hidden, embed_dim=embed_dim)
    mine = CriticEstimator(critic, MovingAverageDV())
    _fit_quietly(mine, (x[:half], y[:half]), steps, batch_size, lr, seed)
    xs, ys = x[half:], y[half:]
    n = len(xs) // batch_size * batch_size or len(xs)
    estimates = [
        mine.estimate(xs[i : i + batch_size], ys[i : i + batch_size])
        for i in range(0, n, batch_size)
    ]
    return float(sum(estimates) / len(estimates))
