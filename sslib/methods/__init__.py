"""Self-supervised methods, one file each, all trained by :func:`sslib.train.fit`.

Every method is a :class:`~sslib.methods.base.Method`: ``loss(batch) -> (loss, metrics)`` and
``embed(x)``. ``METHODS`` maps the names the command line accepts (``python -m sslib train
NAME``) to their classes, in the order of the book's chapters.
"""

from sslib.methods.aae import AdversarialAutoencoder
from sslib.methods.autoencoder import Autoencoder
from sslib.methods.base import Method
from sslib.methods.dim import DeepInfoMax
from sslib.methods.mae import MAE
from sslib.methods.pretext import Colorization, RelativePosition, RotationPrediction
from sslib.methods.simclr import SimCLR
from sslib.methods.supervised import Supervised
from sslib.methods.vae import VAE
from sslib.methods.vib import VIB

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
}

__all__ = [
    "METHODS",
    "Method",
    "AdversarialAutoencoder",
    "Autoencoder",
    "Colorization",
    "DeepInfoMax",
    "MAE",
    "RelativePosition",
    "RotationPrediction",
    "SimCLR",
    "Supervised",
    "VAE",
    "VIB",
]
