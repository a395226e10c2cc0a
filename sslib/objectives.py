"""Training losses, as plain functions of tensors (a module only where something has state).

Explained chapter by chapter; each function names its own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent, the normalised temperature-scaled cross-entropy of SimCLR, in nats.

    The 2N embeddings of N pairs of views are L2-normalised and compared by cosine similarity.
    Anchor k (a row of ``z = [z1; z2]``) must pick its partner, k + N or k - N, out of the
    2N - 1 others: one positive and 2N - 2 negatives::

        loss_k = -log exp(sim(z_k, z_pos) / t) / sum_{m != k} exp(sim(z_k, z_m) / t),

    averaged over all 2N anchors. Computed as a cross-entropy on the (2N, 2N) logits with the
    self-similarities masked to -inf, which is the stable form of this log-softmax.

    Reference: Chen, Kornblith, Norouzi and Hinton (2020), "A Simple Framework for Contrastive
    Learning of Visual Representations", ICML, eq. (1).

    Explained in chapter 3, *Contrastive learning*.

    Args:
        z1: projections of the first views. Shape: (N, D), N >= 2.
        z2: projections of the second views, row i paired with row i of ``z1``. Shape: (N, D).
        temperature: t > 0; smaller values weigh the hardest negatives more.

    Returns:
        Scalar tensor, the mean loss in nats, between 0 and about log(2N - 1) + 2 / t.

    Raises:
        ValueError: on inputs that are not 2-D, do not match, have fewer than 2 pairs, or a
            temperature that is not a positive finite number.
    """
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        t = float("nan")
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"Illegal temperature {temperature!r}: it must be a finite number > 0.")
    if z1.ndim != 2 or z2.ndim != 2:
        raise ValueError(
            f"nt_xent needs 2-D embeddings (N, D), got shapes {tuple(z1.shape)} and "
            f"{tuple(z2.shape)}; flatten feature maps first, e.g. z.flatten(1)."
        )
    if z1.shape != z2.shape:
        raise ValueError(
            f"nt_xent needs the two views to have the same shape, got {tuple(z1.shape)} and "
            f"{tuple(z2.shape)}; row i of z1 must pair with row i of z2."
        )
    n = z1.shape[0]
    if n < 2:
        raise ValueError(
            f"nt_xent needs at least 2 pairs in the batch to have a negative, got a batch of {n}; "
            f"use a larger batch_size."
        )
    if not (z1.is_floating_point() and z2.is_floating_point()):
        raise ValueError(f"nt_xent needs floating embeddings, got {z1.dtype} and {z2.dtype}")

    z = F.normalize(torch.cat([z1, z2]), dim=1)  # (2N, D), unit rows: dot product = cosine
    logits = z @ z.T / temperature  # (2N, 2N): sim(z_k, z_m) / t
    self_mask = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))  # an anchor is not its own candidate
    # the positive of row k is row k + N (first views) or k - N (second views)
    targets = (torch.arange(2 * n, device=z.device) + n) % (2 * n)  # (2N,)
    return F.cross_entropy(logits, targets)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL( N(mu, diag(exp(logvar))) || N(0, I) ) per example, in nats.

    The rate term of a VAE (Kingma and Welling, 2014, appendix B) and of the variational
    information bottleneck (Alemi et al., 2017): averaged over the data it is an upper bound on
    the mutual information I(X; Z) between the input and the stochastic code. Closed form::

        KL = 1/2 * sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1).

    Explained in chapter 2, *Autoencoders*, and chapter 6, *The information bottleneck*.

    Args:
        mu: posterior means. Shape: (N, D).
        logvar: posterior log-variances log sigma^2. Shape: (N, D).

    Returns:
        Per-example KL in nats, >= 0. Shape: (N,).
    """
    if mu.shape != logvar.shape:
        raise ValueError(
            f"gaussian_kl needs mu and logvar of the same shape, got {tuple(mu.shape)} and "
            f"{tuple(logvar.shape)}"
        )
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).flatten(1).sum(dim=1)


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A sample z = mu + sigma * eps, eps ~ N(0, I), differentiable in mu and logvar.

    Shape:
        ``(N, D), (N, D) -> (N, D)``.
    """
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps
