"""sslib: the library behind *Self-Supervised Learning, Executed*.

Every chapter of the book imports from here instead of re-typing code. Modules hold one
idea each: ``config`` (budget, device, seeds), ``data`` (datasets and generated data, one
module each), ``augment``, ``nets``, ``info`` (exact discrete information measures),
``bounds`` (variational MI bounds), ``objectives`` (training losses), ``methods`` (one file
per method), ``train`` (the one training loop), ``probe`` (evaluation of frozen features),
``plots`` and ``show``.
"""

import sys as _sys

if _sys.version_info < (3, 11):  # noqa: UP036 (a clear message, not a tomllib ImportError)
    raise ImportError(f"sslib needs Python 3.11 or later; this is {_sys.version.split()[0]}")

import importlib.metadata as _metadata  # noqa: E402
import tomllib as _tomllib  # noqa: E402
from pathlib import Path as _Path  # noqa: E402

from sslib.config import budget, device, seed_everything  # noqa: E402
from sslib.show import show  # noqa: E402


def _version() -> str:
    """The installed distribution's version (``ssl-executed``), else the checkout's pyproject."""
    try:
        return _metadata.version("ssl-executed")
    except _metadata.PackageNotFoundError:  # imported from a checkout that is not installed
        pyproject = _Path(__file__).resolve().parents[1] / "pyproject.toml"
        if pyproject.is_file():
            return _tomllib.loads(pyproject.read_text())["project"]["version"]
        return "unknown"


__version__ = _version()
__all__ = ["budget", "device", "seed_everything", "show", "__version__"]
