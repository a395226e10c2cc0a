"""Self-supervised methods, one file each, all trained by :func:`sslib.train.fit`.

Every method is a :class:`~sslib.methods.base.Method`: ``loss(batch) -> (loss, metrics)`` and
``embed(x)``. ``METHODS`` maps the names the command line accepts to their classes.
"""

from sslib.methods.base import Method
from sslib.methods.supervised import Supervised

METHODS = {"supervised": Supervised}

__all__ = ["METHODS", "Method", "Supervised"]
