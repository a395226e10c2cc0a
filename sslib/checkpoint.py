"""Checkpoints that resume exactly, and files that are never half-written.

A checkpoint holds the method's and the optimizers' state, the step, the run's settings that
must match on resume, the :class:`~sslib.train.History` so far and the global random
generators' states, all as tensors and plain data: it loads with ``weights_only=True``, so
loading runs no code from the file. Every file sslib writes (checkpoints, results records)
goes through :func:`write_atomic`. Explained with the training loop in chapter 1.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import random
from pathlib import Path

import numpy as np
import torch


def write_atomic(path: str | Path, content: bytes | str) -> None:
    """Write ``content`` to a temporary file beside ``path``, then rename: never half-written.

    A reader (or a run resumed after a crash) sees the old file or the new one, never part of
    one; the temporary file is removed if writing fails. ``str`` is written as UTF-8.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # one per process: no clashes
    try:
        tmp.write_bytes(content.encode() if isinstance(content, str) else content)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_atomic(obj, path: str | Path) -> None:
    """``torch.save(obj)`` to ``path`` through :func:`write_atomic`."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_atomic(path, buffer.getvalue())


def save_json(record: dict, path: str | Path) -> None:
    """Write ``record`` as indented JSON through :func:`write_atomic` (results records)."""
    write_atomic(path, json.dumps(record, indent=2) + "\n")


def rng_state() -> dict:
    """The global generators' states as tensors and plain numbers (``weights_only`` loads it)."""
    version, internal, gauss_next = random.getstate()
    kind, key, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss_next],
        "numpy": [kind, torch.from_numpy(key.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Inverse of :func:`rng_state`, exact: the same draws follow."""
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    kind, key, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, key.cpu().numpy().astype(np.uint32), pos, has_gauss, cached))
    # generator states are CPU byte tensors, wherever map_location put the checkpoint
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save(path, method, optimizers: dict, *, step: int, settings: dict, history) -> None:
    """Write a checkpoint of a run at ``step`` (atomically).

    Args:
        path: the checkpoint file.
        method: the module being trained.
        optimizers: player name -> its optimizer.
        step: the last step taken.
        settings: what a resumed run must match (``steps``, ``batch_size``).
        history: the run's :class:`~sslib.train.History` so far.
    """
    save_atomic(
        {
            "method": method.state_dict(),
            "optimizers": {p: o.state_dict() for p, o in optimizers.items()},
            "step": step,
            **settings,
            "history": history.state_dict(),
            "rng": rng_state(),
        },
        path,
    )


def load(path, method, optimizers: dict, *, settings: dict, device) -> tuple[dict, int]:
    """Restore a run saved by :func:`save` into ``method`` and ``optimizers``.

    Restores the global generators too, so the resumed run draws what the uninterrupted one
    would have. Returns ``(history_state, step)``.

    Raises:
        ValueError: the file is not a checkpoint of this kind, or was made with other
            ``settings`` (the message says which and how to start over).
    """
    try:  # tensors and plain data only: loading runs no code from the file
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(
            f"checkpoint {path} holds more than tensors and plain data (an older sslib's "
            "checkpoint, or not one of sslib's); pass resume=False to start over"
        ) from err
    made = {k: state.get(k) for k in settings}
    if made != settings:
        given = ", ".join(f"{k}={v}" for k, v in made.items())
        raise ValueError(
            f"checkpoint {path} was made for {given}; pass the same values or resume=False "
            "to start over"
        )
    method.load_state_dict(state["method"])
    for p, opt in optimizers.items():
        opt.load_state_dict(state["optimizers"][p])
    set_rng_state(state["rng"])
    return state["history"], state["step"]
