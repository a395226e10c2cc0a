"""Evaluating frozen representations: linear probe, k-nearest neighbours, baselines.

The protocol every chapter uses (chapter 1, *Self-supervision and pretext tasks*): embed the
train and test images with the frozen encoder, then

* :func:`linear_probe`: multinomial logistic regression on standardised features
  (scikit-learn, L-BFGS), test accuracy;
* :func:`knn_accuracy`: weighted k-nearest-neighbour vote with cosine similarity
  (Wu et al., 2018), computed in torch on the features' device;

and compare with the baselines :func:`raw_pixels` (the images themselves as features) and a
randomly initialised copy of the encoder.
"""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from sslib.data import ImageSet, to_float
from sslib.nets import MLP


@torch.no_grad()
def embed(method, images: torch.Tensor | ImageSet, batch_size: int = 1024) -> torch.Tensor:
    """Features ``method.embed(x)`` of every image, in eval mode, batch by batch.

    Shape:
        ``(N, C, H, W) -> (N, D)`` on the method's device.
    """
    if isinstance(images, ImageSet):
        images = images.images
    was_training = method.training
    method.eval()
    device = next(method.parameters()).device
    parts = [
        method.embed(images[i : i + batch_size].to(device))
        for i in range(0, len(images), batch_size)
    ]
    method.train(was_training)
    return torch.cat(parts).float()


def raw_pixels(images: torch.Tensor | ImageSet) -> torch.Tensor:
    """The baseline features: each image flattened, in [0, 1]. Shape ``(N, C*H*W)``."""
    if isinstance(images, ImageSet):
        images = images.images
    return to_float(images).flatten(1)


def random_init(method: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """A copy of ``method`` with every parameter re-initialised (the random-encoder baseline)."""
    fresh = copy.deepcopy(method)
    torch.manual_seed(seed)
    for module in fresh.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh


def _numpy(t) -> np.ndarray:
    return t.detach().float().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def linear_predictions(
    train_features,
    train_labels,
    test_features,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
) -> np.ndarray:
    """Test predictions of logistic regression trained on frozen features.

    Features are standardised with the training set's mean and variance, then a multinomial
    logistic regression with L2 penalty ``1/C`` is fit by L-BFGS.

    Args:
        train_features: ``(N, D)`` tensor or array.
        train_labels: ``(N,)`` integer labels.
        test_features: ``(M, D)``.
        C: inverse regularisation strength.
        max_iter: L-BFGS iterations.

    Returns:
        ``(M,)`` predicted labels (compare with the test labels for per-example correctness,
        which :mod:`sslib.stats` turns into intervals).
    """
    xtr, xte, ytr = _numpy(train_features), _numpy(test_features), _numpy(train_labels)
    if xtr.ndim != 2 or xte.ndim != 2 or xtr.shape[1] != xte.shape[1]:
        raise ValueError(f"features must be (N, D) and (M, D), got {xtr.shape} and {xte.shape}")
    scaler = StandardScaler().fit(xtr)
    with warnings.catch_warnings():
        # Hitting max_iter still gives a valid (slightly under-fit) probe.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = LogisticRegression(C=C, max_iter=max_iter).fit(scaler.transform(xtr), ytr)
    return clf.predict(scaler.transform(xte))


def linear_probe(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    C: float = 1.0,
    max_iter: int = 1000,
) -> float:
    """Test accuracy of logistic regression trained on frozen features (:func:`linear_predictions`).

    Returns:
        Accuracy on the test set, in [0, 1].
    """
    predictions = linear_predictions(
        train_features, train_labels, test_features, C=C, max_iter=max_iter
    )
    return float(np.mean(predictions == _numpy(test_labels)))


@torch.no_grad()
def knn_predictions(
    train_features,
    train_labels,
    test_features,
    *,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = 1024,
) -> np.ndarray:
    """Test predictions of a weighted k-nearest-neighbour vote in cosine similarity.

    Each test point's ``k`` most similar training points vote for their class with weight
    ``exp(similarity / temperature)`` (Wu et al., 2018; the usual monitor of SimCLR runs).

    Returns:
        ``(M,)`` predicted labels.
    """
    xtr = F.normalize(torch.as_tensor(train_features).float(), dim=1)
    xte = F.normalize(torch.as_tensor(test_features).float().to(xtr.device), dim=1)
    ytr = torch.as_tensor(train_labels).long().to(xtr.device)
    if k < 1 or k > len(xtr):
        raise ValueError(f"k must be in 1..{len(xtr)} (training points), got {k}")
    num_classes = int(ytr.max()) + 1
    parts = []
    for i in range(0, len(xte), batch_size):
        sim = xte[i : i + batch_size] @ xtr.T  # (b, N)
        top_sim, top_idx = sim.topk(k, dim=1)  # (b, k)
        weights = torch.exp(top_sim / temperature)
        votes = torch.zeros(len(sim), num_classes, device=xtr.device)
        votes.scatter_add_(1, ytr[top_idx], weights)
        parts.append(votes.argmax(dim=1))
    return torch.cat(parts).cpu().numpy()


def knn_accuracy(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    k: int = 20,
    temperature: float = 0.07,
    batch_size: int = 1024,
) -> float:
    """Test accuracy of the k-nearest-neighbour vote of :func:`knn_predictions`.

    Returns:
        Accuracy on the test set, in [0, 1].
    """
    predictions = knn_predictions(
        train_features,
        train_labels,
        test_features,
        k=k,
        temperature=temperature,
        batch_size=batch_size,
    )
    return float(np.mean(predictions == _numpy(test_labels)))


def evaluate(method, train: ImageSet, test: ImageSet, *, k: int = 20) -> dict[str, float]:
    """Linear-probe and kNN accuracy of ``method.embed`` on a labelled train/test pair."""
    return {name: float(c.mean()) for name, c in correctness(method, train, test, k=k).items()}


def collapse_warnings(features, knn: float, labels, *, spread: float = 1e-4) -> list[str]:
    """Signs that an embedding collapsed: what the command line warns about and records.

    Two checks, each scale-free:

    * variance: the total variance of the features over the examples, as a fraction of their
      mean squared norm, below ``spread`` (every image mapped to nearly one vector);
    * kNN at chance: ``knn`` accuracy no more than three standard errors above the share of
      the most frequent class (what always guessing that class scores).

    Args:
        features: ``(M, D)`` embeddings of the test images.
        knn: the kNN accuracy on those images, in [0, 1].
        labels: ``(M,)`` their class indices.
        spread: the variance fraction below which the embedding counts as collapsed.

    Returns:
        One sentence per sign found (empty when neither is).
    """
    f = torch.as_tensor(_numpy(features), dtype=torch.float64).flatten(1)
    y = _numpy(labels).astype(int)
    found = []
    fraction = float(f.var(0, correction=0).sum() / f.pow(2).sum(1).mean().clamp_min(1e-30))
    if fraction < spread:
        found.append(
            f"the embedding collapsed: its variance over the test images is {fraction:.2g} of "
            "its mean squared norm; lower the learning rate or check the method's settings"
        )
    chance = float(np.bincount(y).max() / len(y))
    margin = 3 * math.sqrt(chance * (1 - chance) / len(y))
    if knn <= chance + margin:
        found.append(
            f"kNN accuracy {knn:.1%} is at chance (the largest class is {chance:.1%} of the test "
            "set): the representation separates no classes; train longer or check the settings"
        )
    return found


def correctness(method, train: ImageSet, test: ImageSet, *, k: int = 20) -> dict[str, np.ndarray]:
    """Per-test-example correctness (0/1) of the linear probe and kNN on ``method.embed``.

    The input of :func:`sslib.stats.paired_difference`: two encoders' arrays on the same test
    set give the interval of their difference in accuracy.

    Returns:
        ``{"linear": (M,), "knn": (M,)}`` float arrays of 0 and 1.
    """
    ftr, fte = embed(method, train), embed(method, test)
    return features_correctness(ftr, train.labels, fte, test.labels, k=k)


def features_correctness(
    train_features, train_labels, test_features, test_labels, *, k: int = 20
) -> dict[str, np.ndarray]:
    """:func:`correctness` for features already computed (raw pixels, say)."""
    y = _numpy(test_labels)
    return {
        "linear": (linear_predictions(train_features, train_labels, test_features) == y) * 1.0,
        "knn": (knn_predictions(train_features, train_labels, test_features, k=k) == y) * 1.0,
    }


def mlp_correctness(
    train_features: torch.Tensor,
    train_labels: torch.Tensor,
    test_features: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    hidden: int = 200,
    steps: int = 100,
    lr: float = 1e-2,
    weight_decay: float = 1e-3,
    seed: int = 0,
    num_classes: int | None = None,
) -> np.ndarray:
    """Per-test-example correctness (0/1) of an MLP probe with one hidden layer.

    The non-linear read-out Hjelm et al. (2019) report beside the linear probe: features
    standardised with the training statistics, then ``hidden`` ReLU units trained full-batch
    (a few thousand points need no mini-batches) with Adam for ``steps``. Explained in chapter
    5, *Deep InfoMax*.

    Args:
        train_features: ``(N, D)`` CPU features of the labelled training images.
        train_labels: ``(N,)`` their labels.
        test_features: ``(M, D)`` features of the test images.
        test_labels: ``(M,)`` their labels.
        hidden: width of the hidden layer.
        steps: full-batch Adam steps.
        lr: Adam's learning rate.
        weight_decay: Adam's (L2) weight decay.
        seed: seeds the MLP's initialisation.
        num_classes: outputs of the MLP (default: the largest training label + 1).

    Returns:
        ``(M,)`` float array, 1 where the probe is right.
    """
    mean, std = train_features.mean(0), train_features.std(0) + 1e-6
    xtr, xte = (train_features - mean) / std, (test_features - mean) / std
    ytr, yte = torch.as_tensor(train_labels).cpu(), torch.as_tensor(test_labels).cpu()
    torch.manual_seed(seed)
    net = MLP(train_features.shape[1], [hidden], num_classes or int(ytr.max()) + 1)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(net(xtr), ytr).backward()
        opt.step()
    with torch.no_grad():
        return (net(xte).argmax(1) == yte).float().numpy()


def per_class_index(labels, n: int, seed: int = 0) -> np.ndarray:
    """Indices of ``n`` examples of each class, drawn without replacement with ``seed``.

    The same labels and seed give the same indices, so encoders compared on the same
    images are probed with the same labelled examples. The labelled subset of an
    :class:`~sslib.data.images.ImageSet` is
    ``images.subset(per_class_index(images.labels, n, seed))``.

    Raises:
        ValueError: a class has fewer than ``n`` examples.
    """
    labels = _numpy(labels)
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) < n:
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than n={n}")
        picks.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(picks))


def label_efficiency(
    train_features,
    train_labels,
    test_features,
    test_labels,
    per_class=(1, 5, 10, 50),
    *,
    repeats: int = 5,
    seed: int = 0,
    probe: str = "linear",
    **probe_kwargs,
) -> dict[int, np.ndarray]:
    """Probe accuracy against the number of labelled examples per class.

    For each ``n`` in ``per_class`` a probe is trained on ``n`` labelled examples of each class
    (drawn with seeds ``seed, seed + 1, ...``, one per repeat) and tested on the whole test
    set. Draws depend only on the labels and the seed, so every encoder gets the same examples:
    differences between encoders are paired. A ``n`` that uses every training example is
    probed once. Explained in chapter 1, *Self-supervision and pretext tasks*.

    Args:
        train_features: ``(N, D)``.
        train_labels: ``(N,)``.
        test_features: ``(M, D)``.
        test_labels: ``(M,)``.
        per_class: labelled examples per class to try.
        repeats: draws of the labelled subset per ``n``.
        seed: seed of the first draw.
        probe: ``"linear"`` (:func:`linear_probe`) or ``"knn"`` (:func:`knn_accuracy`, with
            ``k`` capped at the number of labelled examples).
        **probe_kwargs: passed to the probe.

    Returns:
        ``{n: accuracies}``, each an array of shape ``(repeats,)`` (``(1,)`` when one draw
        covers the whole training set).
    """
    if probe not in ("linear", "knn"):
        raise ValueError(f"probe must be 'linear' or 'knn', got {probe!r}")
    xtr, ytr = _numpy(train_features), _numpy(train_labels)
    counts = np.bincount(ytr.astype(np.int64))
    results = {}
    for n in per_class:
        draws = 1 if n >= counts[counts > 0].max() else repeats
        accuracies = []
        for r in range(draws):
            idx = per_class_index(ytr, n, seed + r)
            if probe == "linear":
                acc = linear_probe(xtr[idx], ytr[idx], test_features, test_labels, **probe_kwargs)
            else:
                kwargs = dict(probe_kwargs)
                kwargs["k"] = min(kwargs.get("k", 20), len(idx))
                acc = knn_accuracy(xtr[idx], ytr[idx], test_features, test_labels, **kwargs)
            accuracies.append(acc)
        results[n] = np.asarray(accuracies)
    return results


def compare(results: dict[str, dict[str, float]], fmt: str = "{:.1%}") -> str:
    """A plain-text table of probe results: one row per encoder, one column per metric.

    Args:
        results: ``{encoder name: {metric name: value}}``; a missing value prints as ``-``.
        fmt: format of each value.

    Returns:
        The table as a string (print it).
    """
    columns = list(dict.fromkeys(k for row in results.values() for k in row))
    rows = [["encoder", *columns]]
    for name, row in results.items():
        rows.append([name, *(fmt.format(row[c]) if c in row else "-" for c in columns)])
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    lines = []
    for r in rows:  # names left-aligned, numbers right-aligned
        numbers = [v.rjust(w) for v, w in zip(r[1:], widths[1:], strict=True)]
        lines.append("  ".join([r[0].ljust(widths[0]), *numbers]))
    return "\n".join(lines)


def finetune_predictions(
    encoder: torch.nn.Module,
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    *,
    num_classes: int,
    steps: int,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.05,
    warmup: float = 0.1,
    views=None,
    seed: int = 0,
    device=None,
    optimizer_options: dict | None = None,
) -> np.ndarray:
    """Test predictions of ``encoder`` plus a linear head, trained end to end on a labelled set.

    The counterpart of :func:`linear_predictions` for fine-tuning: every weight of a *copy* of
    ``encoder`` adapts to the labels (the encoder given is left untouched), with AdamW and a
    warm-up-then-cosine schedule (:func:`sslib.train.fit`). A pre-trained encoder and the same
    architecture at random initialisation, fine-tuned with the same arguments, give the
    comparison He et al. (2022) make for masked autoencoders. Training from scratch is the same
    call on an untrained encoder, whose weights are the caller's to seed (build it after
    :func:`sslib.config.seed_everything`): chapter 1's few-labels comparison and the record of
    :mod:`sslib.few_labels` train their supervised networks so. Explained in chapter 4, *Masked
    modeling*.

    Args:
        encoder: maps float images ``(B, C, H, W)`` to ``(B, encoder.out_dim)``.
        train_images: ``(N, C, H, W)`` uint8 labelled images (a few per class, say).
        train_labels: ``(N,)`` int64 labels in ``0..num_classes - 1``.
        test_images: ``(M, C, H, W)`` uint8 images to predict.
        num_classes: outputs of the head.
        steps: optimizer steps.
        batch_size: images per step (capped at ``N``).
        lr: peak learning rate.
        weight_decay: decoupled weight decay (biases and norms excluded).
        warmup: warm-up share of ``steps``.
        views: optional augmentation of each training batch (as
            :class:`~sslib.methods.supervised.Supervised` takes).
        seed: seeds the head's initialisation, batch order and augmentation (not the
            encoder's weights, which arrive made).
        device: where to train (default :func:`sslib.config.device`).
        optimizer_options: AdamW's own keyword arguments, passed to :func:`sslib.train.fit`
            (``{"fused": True}``: fewer kernel launches per step on one CPU thread; it rounds
            differently from the default, so results are not bit-identical to it).

    Returns:
        ``(M,)`` predicted labels (compare with the test labels for per-example correctness).
    """
    # imported here: sslib.train and sslib.methods build on modules this one is imported with
    from sslib import train
    from sslib.methods.supervised import Supervised

    labels = torch.as_tensor(train_labels).long()
    if len(train_images) != len(labels) or len(labels) == 0:
        raise ValueError(
            f"need as many labels as images (and at least one), got {len(labels)} labels for "
            f"{len(train_images)} images"
        )
    if int(labels.min()) < 0 or int(labels.max()) >= num_classes:
        raise ValueError(f"labels must be in 0..{num_classes - 1}, got {labels.unique().tolist()}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    torch.manual_seed(seed)  # the head's initialisation
    model = Supervised(copy.deepcopy(encoder), num_classes, views=views)
    train.fit(
        model,
        (train_images, labels),
        steps=steps,
        batch_size=min(batch_size, len(labels)),
        lr=lr,
        weight_decay=weight_decay,
        warmup=warmup,
        device=device,
        seed=seed,
        optimizer_options=optimizer_options,
        log_every=max(1, steps // 4),
        progress=False,
    )
    return model.predictions(test_images).numpy()
