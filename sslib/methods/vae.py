"""The variational autoencoder and the beta-VAE: a noisy code, and a price on its information.

The encoder outputs a Gaussian ``q(z|x) = N(mu(x), diag(sigma(x)^2))`` instead of a point; the
decoder ``p(x|z)`` is a Bernoulli per pixel. The negative ELBO splits into

* distortion ``D = E_q[-log p(x|z)]``, nats per image, and
* rate ``R = KL(q(z|x) || N(0, I))``, nats per image, whose mean over the data is an upper
  bound on the mutual information I(X; Z) between the input and the code,

and the beta-VAE minimises ``D + beta R`` (Kingma and Welling, 2014; Higgins et al., 2017;
Alemi et al., 2018): sweeping beta traces a rate-distortion curve.

Explained in chapter 2, *Autoencoders*.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import MLPDecoder
from sslib.objectives import gaussian_kl, reparameterize


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``-log p(x|z)`` of a Bernoulli decoder per image, in nats (grey levels as soft targets).

    Shape:
        ``logits (N, *), x (N, *) -> (N,)``.
    """
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


class VAE(Method):
    """A beta-VAE: minimises distortion + beta * rate, both in nats per image.

    Explained in chapter 2, *Autoencoders*.

    Args:
        encoder: maps images ``(B, C, H, W)`` to features ``(B, encoder.out_dim)``; a linear
            layer on top gives ``mu`` and ``log sigma^2``.
        decoder: maps ``z (B, latent_dim)`` to pixel logits ``(B, C, H, W)``; default an
            :class:`~sslib.nets.MLPDecoder`.
        latent_dim: size of ``z``.
        beta: the price of one nat of rate, in nats of distortion (1: the plain VAE).
        image_shape: ``(C, H, W)``, for the default decoder.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module | None = None,
        *,
        latent_dim: int = 16,
        beta: float = 1.0,
        image_shape: Sequence[int] = (1, 28, 28),
    ):
        super().__init__()
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.encoder = encoder
        self.posterior = nn.Linear(encoder.out_dim, 2 * latent_dim)  # -> (mu, logvar)
        self.decoder = decoder if decoder is not None else MLPDecoder(latent_dim, image_shape)
        self.latent_dim, self.beta = latent_dim, beta

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu`` and ``log sigma^2`` of ``q(z|x)``, each ``(B, latent_dim)``."""
        mu, logvar = self.posterior(self.encoder(to_float(x))).chunk(2, dim=1)
        return mu, logvar

    def terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Distortion and rate of each image, nats, with one sample ``z ~ q(z|x)``.

        Shape:
            ``(B, C, H, W) -> (B,), (B,)``.
        """
        x = to_float(x)
        mu, logvar = self.encode(x)
        logits = self.decoder(reparameterize(mu, logvar)).view_as(x)
        return bernoulli_nll(logits, x), gaussian_kl(mu, logvar)

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> VAE:
        """A decoder back to the image shape of ``train_set``."""
        return cls(encoder, image_shape=train_set.shape, **kwargs)

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """``mean(D + beta R)`` on ``(images,)`` or ``(images, labels)``; logs D, R and the ELBO."""
        images = inputs_of(batch)
        distortion, rate = self.terms(images)
        d, r = distortion.mean(), rate.mean()
        metrics = {"distortion": d.detach(), "rate": r.detach(), "elbo": -(d + r).detach()}
        return d + self.beta * r, metrics

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Mean images ``sigmoid(logits)`` in [0, 1], ``(B, latent_dim) -> (B, C, H, W)``."""
        return torch.sigmoid(self.decoder(z))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decoded draws ``z ~ N(0, I)`` from the prior, ``(n, C, H, W)`` in [0, 1]."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator).to(device)
        return self.decode(z)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``mu(x)``, ``(B, latent_dim)``."""
        return self.encode(x)[0]
