"""Self-supervised methods, one file each, all trained by :func:`sslib.train.fit`.

Every method is a :class:`~sslib.methods.base.Method`: ``loss(batch) -> (loss, metrics)`` and
``embed(x)``. ``METHODS`` maps the names the command line accepts (``python -m sslib train
NAME``) to their classes, in the order of the book's chapters, and :func:`build` makes one for
a dataset.

Adding a method takes four things: its file here (a ``Method`` subclass, with ``for_data`` if
it needs something from the data), one line in ``METHODS``, its tests, and its recipes in
:mod:`sslib.recipes` (``QUICK`` calibrated on the digits, ``FULL`` from its paper). The command
line, the benchmark and the records then know it.
"""

from sslib.methods.aae import AdversarialAutoencoder
from sslib.methods.autoencoder import Autoencoder
from sslib.methods.barlow_twins import BarlowTwins
from sslib.methods.base import Method
from sslib.methods.byol import BYOL
from sslib.methods.dim import DeepInfoMax
from sslib.methods.dino import DINO
from sslib.methods.mae import MAE
from sslib.methods.pretext import Colorization, RelativePosition, RotationPrediction
from sslib.methods.simclr import SimCLR
from sslib.methods.simsiam import SimSiam
from sslib.methods.supervised import Supervised
from sslib.methods.vae import VAE
from sslib.methods.vib import VIB
from sslib.methods.vicreg import VICReg

METHODS = {
    "supervised": Supervised,  # the reference every chapter compares with
    "rotation": RotationPrediction,  # chapter 1
    "relative_position": RelativePosition,
    "colorization": Colorization,
    "autoencoder": Autoencoder,  # chapter 2
    "vae": VAE,
    "aae": AdversarialAutoencoder,
    "simclr": SimCLR,  # chapter 3
    "mae": MAE,  # chapter 4 (its masked language model, sslib.methods.mlm, trains on text)
    "dim": DeepInfoMax,  # chapter 5
    "vib": VIB,  # chapter 6
    "byol": BYOL,  # chapter 7
    "simsiam": SimSiam,
    "barlow_twins": BarlowTwins,
    "vicreg": VICReg,
    "dino": DINO,
}


def build(name: str, encoder, train_set, **kwargs) -> Method:
    """The method ``name`` of ``METHODS`` around ``encoder``, for ``train_set``.

    ``kwargs`` are the method's own settings (a recipe's ``method_kwargs``); views named by a
    string (``"affine"``) are made with :func:`sslib.augment.make_views`. What the data decides
    (classes, image shape, which encoders fit) is the method's own ``for_data``.
    """
    from sslib.augment import make_views

    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {', '.join(METHODS)}")
    if isinstance(kwargs.get("views"), str):  # recipes name their views
        kwargs = {**kwargs, "views": make_views(kwargs["views"])}
    return METHODS[name].for_data(encoder, train_set, **kwargs)


__all__ = [
    "METHODS",
    "build",
    "Method",
    "AdversarialAutoencoder",
    "Autoencoder",
    "BYOL",
    "BarlowTwins",
    "Colorization",
    "DINO",
    "DeepInfoMax",
    "MAE",
    "RelativePosition",
    "RotationPrediction",
    "SimCLR",
    "SimSiam",
    "Supervised",
    "VAE",
    "VIB",
    "VICReg",
]
