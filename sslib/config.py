"""Run-wide settings: the compute budget, the device, seeds and the cache folder.

The book runs at two budgets (chapter "Introduction" explains them):

* ``quick`` (default): CPU, offline data, each chapter in about two minutes on two cores;
* ``full``: a GPU, the real datasets, paper-scale training.

Set the budget with the environment variable ``SSLIB_BUDGET`` and the cache folder (where
torchvision datasets and checkpoints go) with ``SSLIB_CACHE``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import threadpoolctl
import torch

BUDGETS = ("quick", "full")


def budget() -> str:
    """The compute budget, ``"quick"`` or ``"full"``, from ``SSLIB_BUDGET`` (default quick).

    Raises:
        ValueError: if ``SSLIB_BUDGET`` holds anything else.
    """
    value = os.environ.get("SSLIB_BUDGET", "quick").strip().lower() or "quick"
    if value not in BUDGETS:
        raise ValueError(
            f"SSLIB_BUDGET={value!r} is not a budget; use one of {BUDGETS} "
            "(for example `export SSLIB_BUDGET=full` on a GPU machine)."
        )
    return value


def device() -> torch.device:
    """The best available device: CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices) and return a CPU generator with that seed.

    Args:
        seed: any non-negative integer.

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for code that takes one explicitly.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def cache_dir() -> Path:
    """The folder for datasets and checkpoints, created on first use.

    ``SSLIB_CACHE`` if set, else ``~/.cache/sslib``.
    """
    path = Path(os.environ.get("SSLIB_CACHE", Path.home() / ".cache" / "sslib")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def set_threads(n: int | None = None) -> int:
    """Set torch's intra-op threads deliberately and return the number used.

    ``n=None`` reads ``SSLIB_THREADS`` and otherwise leaves one core free: ``cores - 1``, at
    least 1. On a two-core machine torch's default of one thread per core ran the chapter-0
    critics in 37 s on an idle machine but over 400 s (killed) when another process held a
    core, against 42-49 s with one thread either way: OpenMP threads that wait for a busy core
    stall every operation. Notebooks, tests and CI call this first.

    NumPy's and scikit-learn's BLAS/OpenMP pools (the probes) get the same limit through
    ``threadpoolctl``: left at one thread per core, one linear probe cost 8 s of CPU instead
    of 0.13 s while another process held the second core.
    """
    if n is None:
        n = int(os.environ.get("SSLIB_THREADS", max(1, (os.cpu_count() or 1) - 1)))
    if n < 1:
        raise ValueError(f"thread count must be >= 1, got {n}")
    torch.set_num_threads(n)
    threadpoolctl.threadpool_limits(n)
    return n
