"""Training losses, as plain functions of tensors (a module only where something has state).

Explained chapter by chapter; each function names its own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from sslib import distributed


def check_temperature(temperature) -> float:
    """``temperature`` as a float, or a :class:`ValueError` if it is not a finite number > 0.

    Every loss and module that divides similarities by a temperature checks it here, with one
    message.
    """
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        t = math.nan
    if not (math.isfinite(t) and t > 0):
        raise ValueError(f"Illegal temperature {temperature!r}: it must be a finite number > 0.")
    return t


def nt_xent(
    z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5, *, across_ranks: bool = True
) -> torch.Tensor:
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
        across_ranks: under ``torchrun``, compare this process's anchors with the embeddings
            of every process (:func:`sslib.distributed.gather`, gradients included), so that
            the negatives are the global batch's; a no-op in a single process.

    Returns:
        Scalar tensor, the mean loss in nats, between 0 and about log(2N - 1) + 2 / t.

    Raises:
        ValueError: on inputs that are not 2-D, do not match, have fewer than 2 pairs, or a
            temperature that is not a positive finite number.
    """
    check_temperature(temperature)
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

    rank, world = distributed.world() if across_ranks else (0, 1)
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)  # unit rows: dot product = cosine
    anchors = torch.cat([z1, z2])  # (2N, D): this process's rows
    # candidates: [z1 of every process; z2 of every process], (2NW, D); W = 1 in one process
    candidates = torch.cat([distributed.gather(z1), distributed.gather(z2)])
    logits = anchors @ candidates.T / temperature  # (2N, 2NW): sim(z_k, z_m) / t
    k = torch.arange(n, device=z1.device) + rank * n  # global row of each local pair
    self_index = torch.cat([k, k + n * world])  # (2N,) where each anchor sits among candidates
    positive = torch.cat([k + n * world, k])  # (2N,) its other view
    rows = torch.arange(2 * n, device=z1.device)
    logits[rows, self_index] = float("-inf")  # an anchor is not its own candidate
    return F.cross_entropy(logits, positive)


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


def multiview_nt_xent(zs: list[torch.Tensor], temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent for K >= 2 views of each input: every other view of the same input is a positive.

    The K N embeddings are L2-normalised; anchor k must pick each of its K - 1 partners out of
    the K N - 1 others, and its loss is the mean of those K - 1 cross-entropies (the
    "SupCon-out" form of Khosla et al. (2020), with the input's index as its class). For K = 2 it
    is exactly :func:`nt_xent`.

    Explained in chapter 3, *Contrastive learning*.

    Args:
        zs: K tensors of projections, row i of each from input i. Shape: (N, D) each.
        temperature: t > 0.

    Returns:
        Scalar tensor, the mean loss in nats.
    """
    if len(zs) < 2 or len({tuple(z.shape) for z in zs}) != 1:
        raise ValueError(f"need K >= 2 views of equal shape, got {[tuple(z.shape) for z in zs]}")
    check_temperature(temperature)
    k, n = len(zs), zs[0].shape[0]
    z = F.normalize(torch.cat(zs), dim=1)  # (K N, D), row a N + i: view a of input i
    logits = z @ z.T / temperature  # (K N, K N)
    self_mask = torch.eye(k * n, dtype=torch.bool, device=z.device)
    log_prob = logits.masked_fill(self_mask, float("-inf")).log_softmax(dim=1)
    ids = torch.arange(n, device=z.device).repeat(k)  # (K N,): input index of each row
    positives = (ids[:, None] == ids[None, :]) & ~self_mask  # (K N, K N), K - 1 per row
    return -log_prob.masked_fill(~positives, 0.0).sum() / (k * n * (k - 1))


def alignment(z1: torch.Tensor, z2: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Alignment of Wang and Isola (2020): E ||u - v||^alpha over positive pairs, lower is better.

    Embeddings are L2-normalised first, so the value lies in [0, 2^alpha].

    Explained in chapter 3, *Contrastive learning*.

    Args:
        z1: embeddings of the first views. Shape: (N, D).
        z2: embeddings of the second views, row i paired with row i of ``z1``. Shape: (N, D).
        alpha: the exponent, > 0.

    Returns:
        Scalar tensor.
    """
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return (u - v).norm(dim=1).pow(alpha).mean()


def uniformity(z: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Uniformity of Wang and Isola (2020): log E exp(-t ||u - v||^2) over distinct pairs.

    Embeddings are L2-normalised first. Lower is more uniform on the sphere; the minimum over
    N points in D >= N - 1 dimensions is reached by a regular simplex.

    Explained in chapter 3, *Contrastive learning*.

    Args:
        z: embeddings. Shape: (N, D), N >= 2.
        t: the Gaussian kernel's scale, > 0.

    Returns:
        Scalar tensor, <= 0.
    """
    u = F.normalize(z, dim=1)
    sq_dists = torch.pdist(u).pow(2)  # (N (N - 1) / 2,): every distinct pair once
    return torch.logsumexp(-t * sq_dists, dim=0) - math.log(len(sq_dists))


def adversarial_prior(
    discriminator, codes: torch.Tensor, prior_draws: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The two losses of matching codes to a prior with a discriminator (a GAN in code space).

    The discriminator ``d`` outputs a logit, ``D = sigmoid(d)`` the probability of "a prior
    draw". Its loss is the logistic one, ``-log D(p) - log(1 - D(q))`` for prior draws ``p``
    and codes ``q``, computed on detached codes so that it moves the discriminator only; the
    encoder's is the non-saturating generator loss ``-log D(q)`` (Goodfellow et al. 2014),
    which pushes the codes toward where the discriminator sees the prior. With
    ``softplus(-l) = -log sigmoid(l)``. Used by the adversarial autoencoder (Makhzani et al.
    2016) and Deep InfoMax's prior matching; explained in chapter 2, *Autoencoders*.

    Args:
        discriminator: ``(B, K) -> (B, 1)`` logits.
        codes: ``(B, K)`` the encoder's codes (gradients flow into them through the
            generator loss only).
        prior_draws: ``(B', K)`` samples of the prior.

    Returns:
        ``(generator_loss, discriminator_loss, accuracy)``: two scalar losses in nats and the
        discriminator's accuracy on this batch (detached).
    """
    real = discriminator(prior_draws)
    fake = discriminator(codes.detach())  # the discriminator's loss leaves the codes alone
    disc = F.softplus(-real).mean() + F.softplus(fake).mean()
    generator = F.softplus(-discriminator(codes)).mean()
    accuracy = ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
    return generator, disc, accuracy.detach()
