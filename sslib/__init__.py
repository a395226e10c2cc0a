"""sslib: the library behind *Self-Supervised Learning, Executed*.

Every chapter of the book imports from here instead of re-typing code. Modules hold one
idea each: ``config`` (budget, device, seeds), ``data``, ``augment``, ``nets``, ``info``
(exact discrete information measures), ``bounds`` (variational MI bounds), ``objectives``
(training losses), ``methods`` (one file per method), ``train`` (the one training loop),
``probe`` (evaluation of frozen features), ``plots`` and ``show``.
"""

from sslib.config import budget, device, seed_everything
from sslib.show import show

__version__ = "0.1.0"
__all__ = ["budget", "device", "seed_everything", "show", "__version__"]
