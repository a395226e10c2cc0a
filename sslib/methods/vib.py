"""The deep variational information bottleneck (VIB) of Alemi et al. (2017).

A supervised encoder with a noisy code: the encoder outputs a Gaussian
``q(z|x) = N(mu(x), diag(sigma(x)^2))``, a linear decoder ``q(y|z)`` (a softmax classifier) reads
a sample of it, and the loss is::

    CE + beta * R,   CE = E_q[-log q(y|z)],   R = KL(q(z|x) || N(0, I)),

both in nats per example. Averaged over the data, ``R`` is an upper bound on I(X; Z) and
``H(Y) - CE`` a lower bound on I(Z; Y), so the loss is a variational bound on the information
bottleneck Lagrangian of Tishby et al. (1999) with the trade-off inverted: this ``beta`` is
1 / beta of :func:`sslib.info.information_bottleneck`. With no labels and a decoder of ``x``
instead of ``y`` the same loss is the beta-VAE (:mod:`sslib.methods.vae`).

Explained in chapter 6, *The information bottleneck*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method
from sslib.objectives import gaussian_kl, reparameterize


class VIB(Method):
    """Variational information bottleneck: minimises cross-entropy + beta * rate, in nats.

    Explained in chapter 6, *The information bottleneck*.

    Args:
        encoder: maps images ``(B, C, H, W)`` to features ``(B, encoder.out_dim)``; a linear
            layer on top gives ``mu`` and ``log sigma^2`` of the code.
        num_classes: number of labels.
        code_dim: size of the code ``z`` (Alemi et al. use 256 on MNIST).
        beta: price of one nat of rate in nats of cross-entropy, >= 0 (0: a plain classifier
            with a noisy code).
        samples: codes drawn per example by :meth:`evaluate` (Alemi et al. average 12).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        num_classes: int = 10,
        code_dim: int = 16,
        beta: float = 1e-3,
        samples: int = 12,
    ):
        super().__init__()
        if beta < 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self.encoder = encoder
        self.posterior = nn.Linear(encoder.out_dim, 2 * code_dim)  # -> (mu, logvar)
        self.decoder = nn.Linear(code_dim, num_classes)  # q(y|z), logistic regression
        self.code_dim, self.beta, self.samples = code_dim, beta, samples

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``mu`` and ``log sigma^2`` of ``q(z|x)``, each ``(B, code_dim)``."""
        mu, logvar = self.posterior(self.encoder(to_float(x))).chunk(2, dim=1)
        return mu, logvar

    def terms(
        self, images: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Cross-entropy and rate per example (nats) and the logits, with one ``z ~ q(z|x)``.

        Shape:
            ``(B, C, H, W), (B,) -> (B,), (B,), (B, num_classes)``.
        """
        mu, logvar = self.encode(images)
        logits = self.decoder(reparameterize(mu, logvar))
        return F.cross_entropy(logits, labels, reduction="none"), gaussian_kl(mu, logvar), logits

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> VIB:
        """A classifier over the classes of ``train_set``."""
        return cls(encoder, num_classes=train_set.num_classes, **kwargs)

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """``mean(CE + beta R)`` of ``(images, labels)``; logs CE, rate and accuracy."""
        images, labels = batch
        ce, rate, logits = self.terms(images, labels)
        ce, rate = ce.mean(), rate.mean()
        accuracy = (logits.argmax(dim=1) == labels).float().mean()
        metrics = {"ce": ce.detach(), "rate": rate.detach(), "accuracy": accuracy.detach()}
        return ce + self.beta * rate, metrics

    @torch.no_grad()
    def evaluate(self, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 1000) -> dict:
        """The information-plane coordinates and accuracies of a labelled set, in nats.

        ``rate`` is the mean KL (an upper bound on I(X; Z) for X drawn from this set); ``ce`` the
        decoder's cross-entropy on ``samples`` codes per example, so that ``H(Y) - ce`` is a
        lower bound on I(Z; Y); ``accuracy`` classifies by the average of the ``samples``
        softmaxes (as Alemi et al.), ``sample_accuracy`` by one code at a time (the error that
        Fano's inequality bounds from I(Z; Y)).

        Returns:
            dict with ``rate``, ``ce``, ``accuracy`` and ``sample_accuracy``.
        """
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        sums = dict(rate=0.0, ce=0.0, accuracy=0.0, sample_accuracy=0.0)
        for i in range(0, len(images), batch_size):
            x, y = images[i : i + batch_size].to(device), labels[i : i + batch_size].to(device)
            mu, logvar = self.encode(x)
            shape = (self.samples, *mu.shape)  # (S, B, code_dim): S codes per example
            z = reparameterize(mu.expand(shape), logvar.expand(shape))
            log_q = self.decoder(z).log_softmax(dim=-1)  # (S, B, num_classes)
            ys = y.expand(self.samples, -1)  # (S, B)
            sums["rate"] += gaussian_kl(mu, logvar).sum().item()
            sums["ce"] += -log_q.gather(-1, ys[..., None]).mean(dim=0).sum().item()
            sums["sample_accuracy"] += (log_q.argmax(-1) == ys).float().mean(0).sum().item()
            mean_probs = log_q.exp().mean(dim=0)  # (B, num_classes)
            sums["accuracy"] += (mean_probs.argmax(-1) == y).sum().item()
        self.train(was_training)
        return {k: v / len(images) for k, v in sums.items()}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The posterior mean ``mu(x)``, ``(B, code_dim)``."""
        return self.encode(x)[0]
