"""Data: every dataset and every generator of synthetic data the book uses, one module each.

=====================================  ======================================================
module                                 what it holds
=====================================  ======================================================
:mod:`sslib.data.images`               image datasets as whole tensors: ``load(name,
                                       split)`` returns an ``ImageSet``; offline
                                       ``mnist5k`` and ``digits``, and the torchvision sets,
                                       one row each of ``TORCHVISION`` (chapter 1)
:mod:`sslib.data.gaussians`            correlated Gaussian pairs with a known mutual
                                       information (chapter 0)
:mod:`sslib.data.sample_photos`        colour patches of scikit-learn's two sample photos,
                                       offline colour data for colorization (chapter 1)
:mod:`sslib.data.video`                videos of moving digits, for next-frame prediction
                                       (chapter 1)
:mod:`sslib.data.render3d`             renders of simple 3D solids under any rotation, and
                                       the turntable views of the 3D pretext task (chapter 1)
:mod:`sslib.data.sequences`            token sequences: a hidden Markov model with exact
                                       masked predictions, masks, offline text (chapter 4)
=====================================  ======================================================

The image-dataset API is importable from here: ``from sslib.data import load, to_float``.
The generators are imported from their modules: ``from sslib.data import render3d``.
"""

from sslib.data.images import (
    DATASETS,
    OFFLINE,
    SPLIT_SEED,
    TEST_FRACTION,
    TORCHVISION,
    DatasetUnavailable,
    ImageSet,
    TorchvisionSet,
    load,
    split_name,
    to_float,
    train_flag,
)

__all__ = [
    "ImageSet",
    "load",
    "to_float",
    "DatasetUnavailable",
    "DATASETS",
    "OFFLINE",
    "TORCHVISION",
    "TorchvisionSet",
    "train_flag",
    "split_name",
    "SPLIT_SEED",
    "TEST_FRACTION",
]
