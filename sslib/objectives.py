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


def _check_pair(name: str, a: torch.Tensor, b: torch.Tensor, min_rows: int = 2) -> None:
    """A clear error unless ``a`` and ``b`` are floating (N, D) tensors of one shape, N >= min."""
    if a.ndim != 2 or b.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"{name} needs two 2-D embeddings (N, D) of the same shape, got {tuple(a.shape)} and "
            f"{tuple(b.shape)}; row i of one is paired with row i of the other"
        )
    if len(a) < min_rows:
        raise ValueError(
            f"{name} needs at least {min_rows} rows to estimate batch statistics, got {len(a)}; "
            "use a larger batch_size"
        )
    if not (a.is_floating_point() and b.is_floating_point()):
        raise ValueError(f"{name} needs floating embeddings, got {a.dtype} and {b.dtype}")


def _off_diagonal(m: torch.Tensor) -> torch.Tensor:
    """The D (D - 1) off-diagonal entries of a square (D, D) matrix, flattened."""
    return m[~torch.eye(len(m), dtype=torch.bool, device=m.device)]


def barlow_twins_loss(
    z1: torch.Tensor, z2: torch.Tensor, lambda_offdiag: float = 5e-3
) -> torch.Tensor:
    """Barlow Twins' redundancy-reduction loss (Zbontar et al. 2021, Algorithm 1).

    Each embedding dimension is standardised over the batch (mean 0, standard deviation 1, the
    biased estimate as the authors' code's ``BatchNorm1d(affine=False)``; Algorithm 1 writes
    ``z.std(0)``), and ``C = z1_norm.T @ z2_norm / N`` is the (D, D) cross-correlation of the
    two views' dimensions, each entry in [-1, 1]. The loss::

        L = sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2

    asks each dimension to agree across views (invariance) and different dimensions to be
    uncorrelated (redundancy reduction). It is 0 exactly when C is the identity.

    Reference: Zbontar, Jing, Misra, LeCun and Deny (2021), "Barlow Twins: Self-Supervised
    Learning via Redundancy Reduction", ICML, eq. (1) and Algorithm 1.

    Explained in chapter 7, *Learning without negatives*.

    Args:
        z1: projections of the first views. Shape: (N, D), N >= 2.
        z2: projections of the second views, row i paired with row i of ``z1``. Shape: (N, D).
        lambda_offdiag: lambda >= 0, the weight of the off-diagonal (redundancy) term; the
            paper's 5e-3 for D = 8192.

    Returns:
        Scalar tensor, >= 0 (unitless: correlations).
    """
    _check_pair("barlow_twins_loss", z1, z2)
    if not (math.isfinite(lambda_offdiag) and lambda_offdiag >= 0):
        raise ValueError(f"lambda_offdiag must be a finite number >= 0, got {lambda_offdiag}")
    n = len(z1)

    def standardise(z):  # per dimension over the batch; eps as BatchNorm's, for constant dims
        return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)

    c = standardise(z1).T @ standardise(z2) / n  # (D, D) cross-correlation
    on_diag = (1 - torch.diagonal(c)).pow(2).sum()
    return on_diag + lambda_offdiag * _off_diagonal(c).pow(2).sum()


def vicreg_terms(
    z1: torch.Tensor, z2: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """VICReg's three terms, unweighted: ``(invariance, variance, covariance)``.

    As in Bardes et al. (2022), Algorithm 1, for embeddings of dimension D:

    * invariance: the mean squared error between the two views, ``mean_{n,d} (z1 - z2)^2``;
    * variance: for each branch, the hinge ``mean_d relu(1 - sqrt(Var z_d + 1e-4))`` on the
      per-dimension standard deviation over the batch (unbiased), summed over the two
      branches as Algorithm 1 and solo-learn write it (the authors' ``main_vicreg.py`` averages
      the two branches instead, which halves the variance weight);
    * covariance: for each branch, ``sum_{i != j} Cov(z)_ij^2 / D`` of the (unbiased) sample
      covariance, summed over the two branches.

    Explained in chapter 7, *Learning without negatives*.

    Shape:
        ``z1, z2: (N, D)``, N >= 2; each term a scalar tensor.
    """
    _check_pair("vicreg_terms", z1, z2)
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)
    variance = z1.new_zeros(())
    covariance = z1.new_zeros(())
    for z in (z1, z2):
        z = z - z.mean(0)
        std = torch.sqrt(z.var(0) + 1e-4)
        variance = variance + F.relu(1 - std).mean()
        cov = z.T @ z / (n - 1)  # (D, D)
        covariance = covariance + _off_diagonal(cov).pow(2).sum() / d
    return invariance, variance, covariance


def vicreg_loss(
    z1: torch.Tensor,
    z2: torch.Tensor,
    sim_weight: float = 25.0,
    var_weight: float = 25.0,
    cov_weight: float = 1.0,
) -> torch.Tensor:
    """VICReg's loss, ``sim_weight * invariance + var_weight * variance + cov_weight * cov``.

    The terms are :func:`vicreg_terms`'s: the invariance pulls the two views together, the
    variance hinge keeps every dimension's standard deviation near 1 over the batch (what
    prevents collapse: with ``var_weight=0`` a constant embedding minimises the rest), and the
    covariance term decorrelates the dimensions.

    Reference: Bardes, Ponce and LeCun (2022), "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", ICLR, eq. (6) and Algorithm 1 (weights
    lambda = mu = 25, nu = 1).

    Explained in chapter 7, *Learning without negatives*.

    Args:
        z1: projections of the first views. Shape: (N, D), N >= 2.
        z2: projections of the second views, row i paired with row i of ``z1``. Shape: (N, D).
        sim_weight: lambda >= 0, the invariance term's weight.
        var_weight: mu >= 0, the variance hinge's weight (0: the collapse ablation).
        cov_weight: nu >= 0, the covariance term's weight.

    Returns:
        Scalar tensor, >= 0.
    """
    weights = {"sim_weight": sim_weight, "var_weight": var_weight, "cov_weight": cov_weight}
    for name, w in weights.items():
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {w}")
    invariance, variance, covariance = vicreg_terms(z1, z2)
    return sim_weight * invariance + var_weight * variance + cov_weight * covariance


def negative_cosine_similarity(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``-cos(p, stop-gradient(z))``, averaged over the batch: SimSiam's ``D`` and BYOL's loss.

    ``p`` is the online branch's prediction, ``z`` the target branch's projection; no gradient
    flows into ``z`` (the stop-gradient of Chen and He 2021, the target network of Grill et
    al. 2020). Symmetrised, ``(D(p1, z2) + D(p2, z1)) / 2`` is SimSiam's loss (Chen and He
    2021, eq. (2) and Algorithm 1). BYOL's loss on normalised vectors is
    ``||p/|p| - z/|z| ||^2 = 2 - 2 cos(p, z)`` (Grill et al. 2020, eq. (2)), i.e. 2 + 2 times
    this, summed over the two views: the same gradient up to a factor.

    A method that wants the gradient to flow into ``z`` (SimSiam's ablation without the
    stop-gradient) computes ``-F.cosine_similarity(p, z).mean()`` itself.

    Explained in chapter 7, *Learning without negatives*.

    Shape:
        ``p, z: (N, D)``; returns a scalar tensor in [-1, 1].
    """
    _check_pair("negative_cosine_similarity", p, z, min_rows=1)
    return -F.cosine_similarity(p, z.detach(), dim=1).mean()


def _as_views(name: str, logits) -> list[torch.Tensor]:
    """A list of (N, K) tensors from a list of them or a stacked (V, N, K) tensor."""
    views = list(logits.unbind(0)) if torch.is_tensor(logits) and logits.ndim == 3 else logits
    if torch.is_tensor(views) or not views or any(not torch.is_tensor(v) for v in views):
        raise ValueError(
            f"dino_loss needs {name} as a list of (N, K) tensors, one per view, or a (V, N, K) "
            f"tensor; got {type(logits).__name__}"
            + (f" of shape {tuple(logits.shape)}" if torch.is_tensor(logits) else "")
        )
    if any(v.ndim != 2 or v.shape != views[0].shape for v in views):
        raise ValueError(
            f"dino_loss needs every view of {name} to be (N, K) of one shape, got "
            f"{[tuple(v.shape) for v in views]}"
        )
    return views


def dino_loss(
    student_logits,
    teacher_logits,
    center: torch.Tensor,
    student_temperature: float = 0.1,
    teacher_temperature: float = 0.04,
) -> torch.Tensor:
    """DINO's cross-entropy between the sharpened, centred teacher and the student, in nats.

    For teacher view a and student view b of the same images, with K prototypes::

        P_t = softmax((t_a - center) / teacher_temperature)      (no gradient)
        H(a, b) = - mean_n sum_k P_t[n, k] log_softmax(s_b / student_temperature)[n, k]

    averaged over the pairs with a != b (Caron et al. 2021, Algorithm 1: with two views,
    ``H(t1, s2) / 2 + H(t2, s1) / 2``). Teacher view a is student view a: the lists are
    aligned, and the student may have more views (multi-crop) than the teacher. Centring
    (subtracting a running mean of the teacher's logits) keeps one prototype from winning
    every image; sharpening (a low teacher temperature) keeps the teacher from going uniform.
    Together they avoid collapse; the centre's update is the method's
    (:class:`sslib.methods.dino.DINO`).

    Reference: Caron, Touvron, Misra, Jégou, Mairal, Bojanowski and Joulin (2021), "Emerging
    Properties in Self-Supervised Vision Transformers", ICCV, eq. (1)-(4) and Algorithm 1.

    Explained in chapter 7, *Learning without negatives*.

    Args:
        student_logits: V_s >= 1 tensors of shape (N, K), or one (V_s, N, K) tensor.
        teacher_logits: V_t tensors (N, K) or a (V_t, N, K) tensor, V_t <= V_s; detached here.
        center: the running centre of the teacher's logits. Shape: (K,) or (1, K).
        student_temperature: > 0 (the paper: 0.1).
        teacher_temperature: > 0, lower than the student's: it sharpens the target (the paper:
            0.04, warmed up to 0.07 in some runs).

    Returns:
        Scalar tensor, the mean cross-entropy in nats, >= 0.
    """
    check_temperature(student_temperature)
    check_temperature(teacher_temperature)
    students = _as_views("student_logits", student_logits)
    teachers = _as_views("teacher_logits", teacher_logits)
    if students[0].shape != teachers[0].shape:
        raise ValueError(
            f"dino_loss needs student and teacher views of one shape (N, K), got "
            f"{tuple(students[0].shape)} and {tuple(teachers[0].shape)}"
        )
    if len(teachers) > len(students) or len(students) < 2:
        raise ValueError(
            f"dino_loss needs >= 2 student views and no more teacher views than student ones, "
            f"got {len(students)} and {len(teachers)}"
        )
    k = students[0].shape[1]
    if center.numel() != k:
        raise ValueError(f"dino_loss needs a centre of K = {k} numbers, got {tuple(center.shape)}")
    center = center.reshape(1, k).detach()
    targets = [F.softmax((t.detach() - center) / teacher_temperature, dim=1) for t in teachers]
    log_probs = [F.log_softmax(s / student_temperature, dim=1) for s in students]
    total, pairs = 0.0, 0
    for a, target in enumerate(targets):
        for b, log_prob in enumerate(log_probs):
            if a != b:  # a view does not predict itself
                total = total + -(target * log_prob).sum(dim=1).mean()
                pairs += 1
    return total / pairs
