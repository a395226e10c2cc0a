"""The VAE: ELBO terms against closed forms, the beta weighting, sampling and shapes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from sslib import nets
from sslib.methods.vae import VAE, bernoulli_nll

IMAGES = torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8)


def make(beta: float = 1.0, latent_dim: int = 3) -> VAE:
    return VAE(nets.MLP(784, [16], 8), latent_dim=latent_dim, beta=beta)


def test_rate_is_the_closed_form_kl_of_diagonal_gaussians():
    torch.manual_seed(0)
    vae = make()
    mu, logvar = vae.encode(IMAGES)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    _, rate = vae.terms(IMAGES)
    torch.testing.assert_close(rate, expected)
    # and by hand: 1/2 sum(mu^2 + sigma^2 - log sigma^2 - 1)
    manual = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(dim=1)
    torch.testing.assert_close(rate, manual)


def test_distortion_is_the_bernoulli_negative_log_likelihood():
    x = torch.rand(4, 1, 5, 5)
    logits = torch.randn(4, 1, 5, 5)
    p = torch.sigmoid(logits)
    manual = -(x * p.log() + (1 - x) * (1 - p).log()).flatten(1).sum(dim=1)
    torch.testing.assert_close(bernoulli_nll(logits, x), manual)


def test_distortion_with_a_deterministic_posterior_is_the_decoders_nll():
    torch.manual_seed(0)
    vae = make()
    with torch.no_grad():  # sigma -> 0: the sample is mu
        vae.posterior.bias[3:] = -60.0
        vae.posterior.weight[3:] = 0.0
    distortion, _ = vae.terms(IMAGES)
    mu, _ = vae.encode(IMAGES)
    expected = bernoulli_nll(vae.decoder(mu), IMAGES.float() / 255)
    torch.testing.assert_close(distortion, expected)


@pytest.mark.parametrize("beta", [0.0, 1.0, 4.0])
def test_loss_is_distortion_plus_beta_rate(beta):
    vae = make(beta)
    torch.manual_seed(1)
    loss, metrics = vae.loss((IMAGES, torch.zeros(6)))
    torch.manual_seed(1)
    distortion, rate = vae.terms(IMAGES)
    torch.testing.assert_close(loss, distortion.mean() + beta * rate.mean())
    torch.testing.assert_close(metrics["elbo"], -(distortion.mean() + rate.mean()).detach())
    assert metrics["rate"] >= 0


def test_shapes_sampling_and_bad_beta():
    vae = make(latent_dim=4)
    assert vae.embed(IMAGES).shape == (6, 4)
    samples = vae.sample(5, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (5, 1, 28, 28) and 0 <= samples.min() and samples.max() <= 1
    conv = VAE(nets.ConvEncoder(1, 4, 8), nets.ConvDecoder(2, 1, 4), latent_dim=2)
    d, r = conv.terms(IMAGES)
    assert d.shape == r.shape == (6,)
    assert math.isfinite(F.softplus(d).sum().item())
    with pytest.raises(ValueError, match="beta"):
        make(beta=-1)
