"""``fit``: the one training loop of the book and the command line.

It trains any :class:`~sslib.methods.base.Method` on whole-tensor data or on a generated
stream, with AdamW, SGD or LARS, a warm-up + cosine schedule, bf16 autocast on CUDA, optional
``torch.compile``, gradient averaging across processes under ``torchrun``, tqdm progress, a
metric history returned as data, and atomic checkpoints that resume exactly (the resumed run
computes the same losses as an uninterrupted one). Methods with several players (an encoder and
a discriminator) get one optimizer each, all stepped in the same loop. The pieces:
:class:`Batches` (the batch of each step), :func:`train_step` (one optimizer step of every
player), :mod:`sslib.checkpoint` (save and exact resume), ``_average_across_processes`` and
the metric sums between history rows. Explained in chapter 1, *The training loop*.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import sslib.checkpoint as ckpt
from sslib.config import device as default_device
from sslib.data import ImageSet
from sslib.distributed import convert_sync_batchnorm
from sslib.distributed import world as _world
from sslib.methods.base import Method
from sslib.optim import LARS, param_groups, warmup_cosine


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the message names the step."""


@dataclass
class History:
    """What a run measured, as data.

    Attributes:
        step: the step (1-based) of each logged row.
        metrics: name -> list of values, one per logged row (means over the logged interval).
        evals: ``(step, dict)`` for each call of ``eval_fn``.
        seconds: wall-clock time spent training in :func:`fit` (evaluations excluded),
            summed over resumed runs.
        total_steps: the steps the run was asked for.
    """

    step: list[int] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    evals: list[tuple[int, dict]] = field(default_factory=list)
    seconds: float = 0.0
    total_steps: int = 0

    @property
    def finished(self) -> bool:
        """Whether the run reached its last step (not stopped early with ``stop_at``)."""
        return bool(self.step) and self.step[-1] >= self.total_steps

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self.metrics[name], dtype=float)

    def last(self, name: str) -> float:
        """The last logged value of ``name``."""
        return float(self.metrics[name][-1])

    def log(self, step: int, values: dict[str, float]) -> None:
        """Append one row (missing names get NaN so columns stay aligned)."""
        self.step.append(step)
        for name in set(self.metrics) | set(values):
            column = self.metrics.setdefault(name, [math.nan] * (len(self.step) - 1))
            column.append(float(values.get(name, math.nan)))

    def state_dict(self) -> dict:
        """Plain data for a checkpoint."""
        return {
            "step": self.step,
            "metrics": self.metrics,
            "evals": self.evals,
            "seconds": self.seconds,
            "total_steps": self.total_steps,
        }

    @classmethod
    def from_state(cls, state: dict) -> History:
        """Inverse of :meth:`state_dict`."""
        return cls(
            state["step"], state["metrics"], [tuple(e) for e in state["evals"]],
            state["seconds"], state.get("total_steps", 0),
        )  # fmt: skip


def _average_across_processes(grads: list[torch.Tensor]) -> None:
    """All-reduce (mean) a list of gradients in place, one collective per dtype.

    Flattening into one buffer sends one message instead of one per parameter, which is
    what DistributedDataParallel's buckets buy; the arithmetic is the same mean.
    """
    for dtype in sorted({g.dtype for g in grads}, key=str):  # the same order on every process
        same = [g for g in grads if g.dtype == dtype]
        flat = torch.cat([g.reshape(-1) for g in same])  # one buffer, each tensor row-major
        dist.all_reduce(flat)  # a sum, then the mean: older gloo has no ReduceOp.AVG
        flat /= dist.get_world_size()
        for g, synced in zip(same, flat.split([g.numel() for g in same]), strict=True):
            g.copy_(synced.view(g.shape))


class _LossModule(torch.nn.Module):
    """``forward(batch) = method.loss(batch)``: what DistributedDataParallel wraps."""

    def __init__(self, method: torch.nn.Module):
        super().__init__()
        self.method = method

    def forward(self, batch):
        return self.method.loss(batch)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous(memory_format=torch.channels_last) if t.dim() == 4 else t


def _as_tensors(data, device) -> tuple[torch.Tensor, ...]:
    if isinstance(data, ImageSet):
        tensors = (data.images, data.labels)
    elif isinstance(data, torch.Tensor):
        tensors = (data,)
    elif isinstance(data, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in data):
        tensors = tuple(data)
    else:
        raise TypeError(
            "fit's data must be an ImageSet, a tensor, a tuple of equally long tensors, or a "
            f"stream callable(step, batch_size, generator) -> batch; got {type(data).__name__}"
        )
    if len({len(t) for t in tensors}) != 1:
        raise ValueError(f"tensors in data differ in length: {[len(t) for t in tensors]}")
    return tuple(t.to(device) for t in tensors)


def _step_generator(seed: int, step: int) -> torch.Generator:
    # One generator per step, derived from (seed, step): batches are the same whether a run
    # was resumed or not, with no generator state to checkpoint.
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def _batch_index(n: int, batch_size: int, seed: int, step: int, rank: int, world: int):
    """Indices of this rank's share of the global batch at ``step``: epoch-wise shuffling."""
    per_epoch = n // batch_size
    epoch, i = divmod(step, per_epoch)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
    index = order[i * batch_size : (i + 1) * batch_size]
    share = batch_size // world
    return index[rank * share : (rank + 1) * share]


def _make_optimizer(
    name: str, params, lr: float, weight_decay: float, options: dict, exclude: bool
):
    """The optimizer ``name`` over ``params``; ``options`` are its own keyword arguments."""
    groups = param_groups(params, weight_decay, exclude_bias_and_norm=exclude)
    try:
        if name == "adamw":
            # torch picks the per-tensor loop on CPUs; the foreach kernels compute the same
            # numbers (checked bit for bit) with less Python per step: ~15% of a small
            # network's step. A caller's fused/foreach choice wins.
            if "fused" not in options:
                options = {"foreach": True, **options}
            return torch.optim.AdamW(groups, lr=lr, **options)
        if name == "sgd":
            return torch.optim.SGD(groups, lr=lr, **{"momentum": 0.9, **options})
        if name == "lars":
            return LARS(groups, lr=lr, **options)
    except TypeError as err:  # an option this optimizer does not take
        raise ValueError(f"optimizer_options {options} do not fit {name}: {err}") from None
    raise ValueError(f"optimizer must be 'adamw', 'sgd' or 'lars', got {name!r}")


def _progress_bar(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:  # notebook widgets when ipywidgets is there, plain text otherwise (no warning)
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm import tqdm
    return tqdm(total=total, initial=initial, file=sys.stdout, dynamic_ncols=True, leave=False)


def _per_player(value, players: list[str], what: str) -> dict:
    if isinstance(value, dict):
        missing = set(players) - set(value)
        if missing:
            raise ValueError(f"{what} has no entry for players {sorted(missing)}")
        return value
    return {p: value for p in players}


class Batches:
    """The batch of every step, as a tuple of tensors, the same on every run and resume.

    Finite data (an :class:`~sslib.data.images.ImageSet`, a tensor, a tuple of equally long tensors)
    is shuffled once per epoch by a generator seeded from ``(seed, epoch)``; a stream
    ``data(step, batch_size, generator) -> batch`` is called with a generator seeded from
    ``(seed + rank, step)``. Step ``s``'s batch is a function of ``s``, so a resumed run sees
    the batches an uninterrupted one would, with no sampler state to checkpoint. Under
    ``torchrun`` each of the ``world`` processes takes its ``rank``'s share of the global batch.
    """

    def __init__(
        self, data, batch_size: int, *, seed: int = 0, device="cpu",
        channels_last: bool = False, rank: int = 0, world: int = 1,
    ):  # fmt: skip
        if batch_size % world:
            raise ValueError(f"batch_size={batch_size} must be divisible by the {world} processes")
        self.data, self.batch_size, self.seed, self.device = data, batch_size, seed, device
        self.channels_last, self.rank, self.world = channels_last, rank, world
        self.stream = callable(data) and not isinstance(data, torch.Tensor)
        if not self.stream:
            self.tensors = _as_tensors(data, device)
            self.n = len(self.tensors[0])
            if batch_size > self.n:
                raise ValueError(f"batch_size={batch_size} exceeds the {self.n} examples in data")

    def count_steps(self, steps: int | None, epochs: float | None) -> int:
        """``steps``, or ``epochs`` passes over finite data (the last partial batch dropped)."""
        if (steps is None) == (epochs is None):
            raise ValueError("give exactly one of steps= or epochs=")
        if steps is None:
            if self.stream:
                raise ValueError("epochs= needs finite data; give steps= for a stream")
            steps = max(1, int(epochs * (self.n // self.batch_size)))
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        return steps

    def __call__(self, step: int) -> tuple[torch.Tensor, ...]:
        """This process's batch at ``step`` (counted from 1)."""
        if self.stream:
            generator = _step_generator(self.seed + self.rank, step)
            batch = self.data(step, self.batch_size // self.world, generator)
            return tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        index = _batch_index(self.n, self.batch_size, self.seed, step - 1, self.rank, self.world)
        index = index.to(self.device)  # once, where the data lives
        batch = tuple(t[index] for t in self.tensors)
        return tuple(_channels_last(t) for t in batch) if self.channels_last else batch


def train_step(
    loss_fn, batch, players: dict, optimizers: dict, *, autocast=nullcontext,
    ddp: bool = False, world: int = 1, grad_clip: float | None = None,
) -> tuple[dict[str, torch.Tensor], dict]:  # fmt: skip
    """One optimizer step of every player: each loss moves only its own player's parameters.

    Args:
        loss_fn: ``batch -> (loss, metrics)``: ``method.loss``, or its DistributedDataParallel
            or compiled wrapper. ``loss`` is a scalar, or a dict with one per player.
        batch: this step's tuple of tensors.
        players: name -> the parameters that name's loss updates (``Method.players()``).
        optimizers: name -> the optimizer of that player's parameters.
        autocast: a context factory for the forward pass (bf16 autocast on CUDA).
        ddp: ``loss_fn`` is DistributedDataParallel's, which averages the gradients across
            processes during the backward pass (one player only).
        world: the number of processes; without DDP their gradients are averaged here.
        grad_clip: clip each player's gradient norm to this value.

    Returns:
        ``(losses, metrics)``: player name -> its loss, and the method's metrics.
    """
    names = list(players)
    with autocast():
        loss, metrics = loss_fn(batch)
    losses = loss if isinstance(loss, dict) else {names[0]: loss}
    if set(losses) != set(names):
        raise ValueError(f"loss() returned losses for {sorted(losses)}, players are {names}")
    for opt in optimizers.values():
        opt.zero_grad(set_to_none=True)
    if ddp:  # one player; DDP averages the gradients while the backward pass runs
        losses[names[0]].backward()
    for i, p in enumerate([] if ddp else names):
        # Each loss updates only its own player's parameters (an encoder's loss leaves the
        # discriminator alone); the graph is kept until the last backward.
        losses[p].backward(inputs=players[p], retain_graph=i < len(names) - 1)
    for p, opt in optimizers.items():
        if world > 1 and not ddp:  # the mean gradient: the global batch's gradient
            _average_across_processes([q.grad for q in players[p] if q.grad is not None])
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(players[p], grad_clip)
        opt.step()
    return losses, metrics


class _Meter:
    """Sums of the logged numbers between history rows, and the first non-finite loss.

    Both stay on the device until a row is logged, so a GPU run does not wait for each step's
    numbers (on a CPU the check costs nothing and runs every step).
    """

    def __init__(self, device):
        self.device, self.sums, self.count = device, {}, 0
        self.first_bad = torch.tensor([-1.0, 0.0], device=device)  # (step, value); -1: none

    def add(self, step: int, losses: dict, metrics: dict) -> None:
        total = sum(loss.detach().float() for loss in losses.values())
        bad = ~torch.isfinite(total) & (self.first_bad[0] < 0)
        self.first_bad = torch.where(bad, torch.stack([total.new_tensor(step), total]),
                                     self.first_bad)  # fmt: skip
        row = {"loss": total} if len(losses) == 1 else {f"loss/{p}": v for p, v in losses.items()}
        for k, v in {**row, **metrics}.items():
            v = v.detach().float() if isinstance(v, torch.Tensor) else torch.tensor(float(v))
            self.sums[k] = self.sums.get(k, 0) + v.to(self.device)
        self.count += 1

    def check_finite(self) -> None:
        if bool(self.first_bad[0] >= 0):
            step, value = int(self.first_bad[0]), float(self.first_bad[1])
            raise NonFiniteLossError(
                f"the loss became {value} at step {step}; lower the learning rate, enable "
                "grad_clip, or check the inputs for NaN/inf"
            )

    def pop(self, world: int) -> dict[str, float]:
        """The means since the last row (over all processes), and a fresh start."""
        keys = sorted(self.sums)
        values = torch.stack([self.sums[k] for k in keys]) / self.count
        if world > 1:  # log the global batch's metrics, not one process's share
            dist.all_reduce(values)  # a sum: older gloo has no ReduceOp.AVG
            values /= world
        self.sums, self.count = {}, 0
        return dict(zip(keys, values.tolist(), strict=True))


def _place(method, device, world: int, sync_batchnorm: bool, channels_last: bool):
    """Move ``method`` to its training device and memory format; returns the device."""
    dev = torch.device(device) if device is not None else default_device()
    if dev.type == "cuda" and world > 1:
        dev = torch.device("cuda", torch.cuda.current_device())
    method.to(dev)
    if sync_batchnorm and world > 1:  # on the device (torch's fused kernels on a GPU) and
        convert_sync_batchnorm(method)  # before the optimizers see the parameters
        method.to(dev)
    if channels_last:
        method.to(memory_format=torch.channels_last)
    return dev


def _loss_function(method, dev, use_ddp: bool, compile: bool):
    if use_ddp:  # DDP hooks the module's forward: give it one whose forward is the loss
        loss_fn = DistributedDataParallel(
            _LossModule(method), device_ids=[dev.index] if dev.type == "cuda" else None,
            static_graph=True,  # the same parameters take part every step (unused ones too)
        )  # fmt: skip
    else:
        loss_fn = method.loss
    return torch.compile(loss_fn) if compile else loss_fn


def _autocast(precision: str, dev):
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got {precision!r}")
    bf16 = precision == "bf16" or (precision == "auto" and dev.type == "cuda")
    return (lambda: torch.autocast(dev.type, dtype=torch.bfloat16)) if bf16 else nullcontext


def _set_lr(optimizers: dict, lrs: dict, scale: float) -> None:
    for p, opt in optimizers.items():
        for group in opt.param_groups:
            group["lr"] = lrs[p] * scale


def fit(
    method: torch.nn.Module,
    data,
    *,
    steps: int | None = None,
    epochs: float | None = None,
    batch_size: int = 256,
    lr: float | dict[str, float] = 1e-3,
    weight_decay: float | dict[str, float] = 0.0,
    optimizer: str = "adamw",
    optimizer_options: dict | None = None,
    exclude_bias_and_norm: bool = True,
    warmup: float = 0.0,
    final_lr: float = 0.0,
    grad_clip: float | None = None,
    device: str | torch.device | None = None,
    precision: str = "auto",
    compile: bool = False,
    channels_last: bool = False,
    sync_batchnorm: bool = False,
    ddp: bool = True,
    seed: int = 0,
    log_every: int = 10,
    eval_fn: Callable[[torch.nn.Module], dict] | None = None,
    eval_every: int | None = None,
    on_log: Callable[[int, dict], None] | None = None,
    checkpoint: str | Path | None = None,
    checkpoint_every: int | None = None,
    resume: bool = True,
    stop_at: int | None = None,
    progress: bool | None = None,
) -> History:
    """Train ``method`` and return its :class:`History`.

    Args:
        method: a :class:`~sslib.methods.base.Method` (``loss(batch)``, optional ``players()``
            and ``after_step``). It is moved to ``device`` and trained in place.
        data: an :class:`~sslib.data.images.ImageSet` (batches are ``(images, labels)``), a
            tensor or tuple of tensors (batches index them alike), or a stream
            ``data(step, batch_size, generator) -> batch`` for generated data. Every batch
            reaches ``method.loss`` as a tuple of tensors; a lone tensor as ``(tensor,)``
            (:mod:`sslib.methods.base`).
        steps: number of optimizer steps (give this or ``epochs``).
        epochs: passes over finite data, converted to ``steps`` (drops the last partial batch).
        batch_size: the global batch size (split evenly across processes under ``torchrun``).
        lr: peak learning rate, or a dict per player.
        weight_decay: decoupled weight decay (biases and norms excluded), or a dict per player.
        optimizer: ``"adamw"``, ``"sgd"`` (momentum 0.9) or ``"lars"``.
        optimizer_options: the optimizer's own keyword arguments, for every player: AdamW's
            ``betas`` and ``eps`` (MAE: ``{"betas": (0.9, 0.95)}``), SGD's ``momentum`` and
            ``nesterov``, LARS's ``trust`` (η), ``clip`` and ``momentum``
            (:class:`sslib.optim.LARS`).
        exclude_bias_and_norm: biases and normalisation parameters (the 1-D ones) take no
            weight decay and, under LARS, no trust ratio (SimCLR, solo-learn, MAE do this).
        warmup: linear warm-up length: a fraction of ``steps`` if < 1, else a number of steps.
        final_lr: the cosine ends at ``final_lr * lr``; pass ``warmup=0, final_lr=1`` for a
            constant rate.
        grad_clip: clip each player's gradient norm to this value.
        device: where to train (default :func:`sslib.config.device`).
        precision: ``"auto"`` (bf16 autocast on CUDA, fp32 elsewhere), ``"bf16"`` or ``"fp32"``.
        compile: wrap ``method.loss`` in ``torch.compile``.
        channels_last: keep the method's weights and each image batch in the channels-last
            memory format (NHWC), which tensor-core convolutions run fastest in.
        sync_batchnorm: under ``torchrun``, batch norm statistics span the global batch
            (:func:`sslib.distributed.convert_sync_batchnorm`) instead of each process's share.
        ddp: under ``torchrun``, train a one-player method through ``DistributedDataParallel``
            (bucketed gradient all-reduce overlapped with the backward pass). Methods with
            several players take two backward passes over disjoint parameters per step, which
            DDP cannot express; their gradients are averaged by one flattened all-reduce per
            player after the backward. Both give the mean gradient of the global batch.
        seed: seeds batch order, stream generators and the global RNG of a fresh run.
        log_every: steps between history rows (and between finiteness checks on the GPU).
        eval_fn: ``eval_fn(method) -> dict`` of numbers, run every ``eval_every`` steps and at
            the end (with the method in eval mode and gradients off).
        eval_every: steps between evaluations (default: only at the end).
        on_log: ``on_log(step, row)`` with each history row and each evaluation's result, on
            the first process only (the command line appends them to a JSON-lines log).
        checkpoint: path of the checkpoint file (written atomically).
        checkpoint_every: steps between checkpoints (default: only at the end).
        resume: continue from ``checkpoint`` if it exists.
        stop_at: return after this step (checkpointing), as an interrupted run would.
        progress: show a progress bar (default: on unless ``SSLIB_PROGRESS=0``).

    Returns:
        The :class:`History` (also stored in the checkpoint).

    Raises:
        NonFiniteLossError: the loss became NaN or infinite (the message names the step).
        ValueError: inconsistent arguments (the message says which).
    """
    rank, world = _world()
    dev = _place(method, device, world, sync_batchnorm, channels_last)
    autocast = _autocast(precision, dev)
    batches = Batches(data, batch_size, seed=seed, device=dev, channels_last=channels_last,
                      rank=rank, world=world)  # fmt: skip
    steps = batches.count_steps(steps, epochs)
    warmup_steps = int(warmup * steps) if warmup < 1 else int(warmup)

    # A plain nn.Module with a loss() trains as one player, exactly as a Method would.
    players = method.players() if hasattr(method, "players") else Method.players(method)
    lrs = _per_player(lr, list(players), "lr")
    decays = _per_player(weight_decay, list(players), "weight_decay")
    optimizers = {
        p: _make_optimizer(optimizer, players[p], lrs[p], decays[p],
                           dict(optimizer_options or {}), exclude_bias_and_norm)
        for p in players
    }  # fmt: skip

    history, start = History(), 0
    settings = {"steps": steps, "batch_size": batch_size}  # what a resumed run must match
    if checkpoint is not None and resume and Path(checkpoint).exists():
        state, start = ckpt.load(checkpoint, method, optimizers, settings=settings, device=dev)
        history = History.from_state(state)
    else:
        torch.manual_seed(seed)
    history.total_steps = steps
    use_ddp = ddp and world > 1 and len(players) == 1
    loss_fn = _loss_function(method, dev, use_ddp, compile)
    if progress is None:
        progress = os.environ.get("SSLIB_PROGRESS", "1") != "0"
    bar = _progress_bar(steps, start, progress and rank == 0)
    meter, tic = _Meter(dev), time.perf_counter()

    def log(step: int, row: dict[str, float]) -> None:
        history.log(step, row)
        if on_log is not None and rank == 0:
            on_log(step, row)

    def save(step: int) -> None:
        nonlocal tic
        history.seconds += time.perf_counter() - tic
        tic = time.perf_counter()
        if checkpoint is not None and rank == 0:
            ckpt.save(checkpoint, method, optimizers, step=step, settings=settings, history=history)

    method.train()
    step = start
    end = steps if stop_at is None else min(steps, max(stop_at, start))  # a past stop: no step
    for step in range(start + 1, end + 1):  # steps count from 1
        _set_lr(optimizers, lrs, warmup_cosine(step - 1, steps, warmup_steps, final_lr))
        losses, metrics = train_step(loss_fn, batches(step), players, optimizers,
                                     autocast=autocast, ddp=use_ddp, world=world,
                                     grad_clip=grad_clip)  # fmt: skip
        if hasattr(method, "after_step"):
            method.after_step(step, steps)
        meter.add(step, losses, metrics)
        if dev.type == "cpu":
            meter.check_finite()
        if step % log_every == 0 or step == steps or (step == stop_at and meter.count):
            meter.check_finite()  # a stopped run keeps its partial row; resuming logs the rest
            log(step, meter.pop(world))
            if bar is not None:
                bar.set_postfix_str(f"loss {history.last(next(iter(history.metrics))):.4g}")
        if bar is not None:
            bar.update(1)
        if eval_fn is not None and eval_every and step % eval_every == 0 and step != steps:
            tic += _evaluate(method, eval_fn, step, history, on_log if rank == 0 else None)
        if checkpoint_every and step % checkpoint_every == 0 and step != steps:
            save(step)
        if stop_at is not None and step >= stop_at:
            break

    if bar is not None:
        bar.close()
    if eval_fn is not None and step == steps:
        tic += _evaluate(method, eval_fn, step, history, on_log if rank == 0 else None)
    save(step)
    method.eval()
    return history


def _evaluate(method, eval_fn, step: int, history: History, on_log) -> float:
    """Run ``eval_fn`` in eval mode without gradients and record it; returns its seconds."""
    started = time.perf_counter()
    was_training = method.training
    method.eval()
    with torch.no_grad():
        result = {k: float(v) for k, v in eval_fn(method).items()}
    method.train(was_training)
    history.evals.append((step, result))
    if on_log is not None:
        on_log(step, {f"eval/{k}": v for k, v in result.items()})
    return time.perf_counter() - started  # seconds count training, not evaluating
