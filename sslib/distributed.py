"""Training on several processes: who am I, and the global batch seen from one process.

:func:`sslib.train.fit` runs unchanged under ``torchrun --nproc_per_node=K``: each process
takes its share of every global batch and gradients are averaged across processes. Losses that
compare an example with the *whole* batch (contrastive negatives) need the other processes'
embeddings too: :func:`gather` concatenates them with gradients that flow back to the process
that computed each row.

Why the gradients come out right: process ``r`` computes the mean loss ``L_r`` of its own
anchors against all rows. The backward of an all-gather is a reduce-scatter, so process ``j``
receives ``sum_r dL_r/dz_j`` for its rows ``z_j``; averaging parameter gradients over the K
processes then gives ``d/dtheta (1/K) sum_r L_r``, the gradient of the global mean loss. Two
known bugs this avoids: a gather layer whose backward keeps only the local slice of the
gathered gradient instead of summing it over the processes (lightly's ``GatherLayer``,
lightly issue #1528, fixed in #1531), and gradients that come out exactly 1/world_size
too small (lightly's SIGReg and Barlow Twins losses with ``gather_distributed=True``, lightly
issues #1920 and #1977). ``tests/test_distributed.py`` checks two gloo processes against one
process holding the global batch, with both all-gathers below.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

# torch has no public, non-deprecated differentiable all-gather: the public
# torch.distributed.nn.functional.all_gather warns (FutureWarning) that it is deprecated in
# favour of the functional collectives, whose autograd-aware all-gather is private. So the
# private one is used only where this torch has it (a feature check, FUNCTIONAL_GATHER), the
# public one otherwise; tests/test_distributed.py checks both against one process.
try:
    from torch.distributed import _functional_collectives as funcol
except ImportError:  # a build without torch.distributed
    funcol = None

#: Whether :func:`gather` uses torch's functional all-gather (recent torch) or, on older torch,
#: the public ``torch.distributed.nn.functional.all_gather``. Both are autograd-aware.
FUNCTIONAL_GATHER = hasattr(funcol, "all_gather_single_autograd")


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


@contextmanager
def process_group_from_env() -> Iterator[None]:
    """Join the process group ``torchrun`` describes in the environment, for a ``with`` block.

    ``torchrun --nproc_per_node=K`` starts K processes with ``WORLD_SIZE``, ``RANK``,
    ``LOCAL_RANK`` and the rendezvous address set; each joins with NCCL on its own GPU
    (``LOCAL_RANK``) or with gloo on CPUs, and leaves at the end. Without ``torchrun``
    (``WORLD_SIZE`` unset or 1), or inside a group already joined, it does nothing.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1 or (dist.is_available() and dist.is_initialized()):
        yield
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def gather(x: torch.Tensor) -> torch.Tensor:
    """All processes' ``x`` concatenated along dim 0, in rank order, differentiably.

    Uses torch's autograd-aware functional collective where torch has it
    (:data:`FUNCTIONAL_GATHER`; ``torch.distributed.nn.functional.all_gather`` is deprecated
    in the torch versions that have it), else that public function. Both backpropagate the
    sum over processes of each row's gradient (a reduce-scatter). Returns ``x`` itself when
    not distributed.

    Shape:
        ``(n, ...) -> (world_size * n, ...)``; every process must pass the same shape.
    """
    _, size = world()
    if size == 1:
        return x
    if not FUNCTIONAL_GATHER:
        from torch.distributed.nn.functional import all_gather

        with warnings.catch_warnings():  # deprecated only where the functional one exists
            warnings.simplefilter("ignore", FutureWarning)
            return torch.cat(all_gather(x.contiguous()), dim=0)
    gathered = funcol.all_gather_single_autograd(x.contiguous(), 0, dist.group.WORLD)
    if isinstance(gathered, funcol.AsyncCollectiveTensor):
        gathered = gathered.wait()  # the plain tensor, still attached to the autograd graph
    return gathered


@torch.no_grad()
def global_mean(x: torch.Tensor) -> torch.Tensor:
    """The mean over dim 0 of every process's ``x`` together, on every process; no gradient.

    For running statistics that must follow the global batch, not one process's share of it
    (DINO's centre): each process sends its row sum and row count, so shares of different
    sizes are weighted by their rows. Returns ``x.mean(0, keepdim=True)`` when not distributed.

    Shape:
        ``(n, ...) -> (1, ...)``.
    """
    _, size = world()
    if size == 1:
        return x.mean(0, keepdim=True)
    total = torch.cat([x.sum(0).flatten(), x.new_tensor([x.shape[0]])])
    dist.all_reduce(total)
    return (total[:-1] / total[-1]).reshape(1, *x.shape[1:])


class GlobalBatchNorm(nn.Module):
    """Batch norm whose training statistics span every process's share of the global batch.

    One process holding the global batch and K processes holding a share each then compute the
    same normalisation, running statistics and gradients. Each process sends its per-channel
    ``(count, mean, biased variance)``; the global moments combine them exactly (the parallel
    form of the variance, stable where ``E[x^2] - E[x]^2`` is not), and :func:`gather`'s
    backward brings every process its share of the gradient. It runs on any device and
    backend, gloo on CPUs included, where :class:`torch.nn.SyncBatchNorm` refuses CPU tensors;
    :func:`convert_sync_batchnorm` uses torch's fused kernels on GPUs.

    Why contrastive methods need it: with per-process statistics, a view's normalisation
    carries information about the other views on its process, which the loss can exploit
    instead of learning (SimCLR's "global BN", Chen et al. 2020, section 2.2).

    Its arguments, parameters and buffers are those of :class:`torch.nn.BatchNorm2d` (state
    dicts load into one another); on one process, or in eval mode, it computes exactly what
    :class:`torch.nn.BatchNorm2d` does, for inputs of any number of dimensions.

    Shape:
        ``(N, C, ...) -> (N, C, ...)``; statistics are over every dimension but ``C``.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        for name, init in (("weight", torch.ones), ("bias", torch.zeros)):
            self.register_parameter(name, nn.Parameter(init(num_features)) if affine else None)
        tracked = track_running_stats
        self.register_buffer("running_mean", torch.zeros(num_features) if tracked else None)
        self.register_buffer("running_var", torch.ones(num_features) if tracked else None)
        count = torch.tensor(0, dtype=torch.long) if tracked else None
        self.register_buffer("num_batches_tracked", count)

    def extra_repr(self) -> str:
        """The settings, as :class:`torch.nn.BatchNorm2d` prints them."""
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, track_running_stats={self.track_running_stats}"
        )

    def _running_average_factor(self) -> float:
        """Count a training batch; the weight of its statistics in the running ones."""
        self.num_batches_tracked.add_(1)
        if self.momentum is None:  # a cumulative average, as torch's batch norm keeps it
            return 1 / float(self.num_batches_tracked)
        return self.momentum

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise with the global batch's statistics (training) or the running ones."""
        if x.dim() < 2:
            raise ValueError(f"expected a (N, C, ...) input, got {x.dim()} dimensions")
        if not self.training or world()[1] == 1:  # eval mode, or one process: batch norm
            update = self.training and self.track_running_stats
            factor = self._running_average_factor() if update else 0.0
            use_running = not self.training or self.track_running_stats
            return F.batch_norm(
                x, self.running_mean if use_running else None,
                self.running_var if use_running else None, self.weight, self.bias,
                self.training or self.running_mean is None, factor, self.eps,
            )  # fmt: skip
        dims = [0, *range(2, x.dim())]
        # statistics at least in fp32 under bf16 autocast, as cuDNN's batch norm keeps them
        x32 = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        mean = x32.mean(dims)
        var = x32.var(dims, correction=0)
        count = torch.full_like(mean[:1], x.numel() / x.shape[1])
        stats = gather(torch.cat([count, mean, var])[None])  # (K, 1 + 2C)
        counts, means, variances = stats[:, :1], *stats[:, 1:].chunk(2, dim=1)
        total = counts.sum()
        global_mean = (counts * means).sum(0) / total
        global_var = (counts * (variances + (means - global_mean) ** 2)).sum(0) / total
        if self.track_running_stats:
            with torch.no_grad():
                m = self._running_average_factor()
                unbiased = global_var * total / (total - 1)  # as nn.BatchNorm keeps it
                self.running_mean.lerp_(global_mean.to(self.running_mean.dtype), m)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), m)
        shape = [1, -1] + [1] * (x.dim() - 2)
        y = (x32 - global_mean.view(shape)) * torch.rsqrt(global_var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y.to(x.dtype)


# The batch norms convert_sync_batchnorm replaces (torch's public classes).
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def convert_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Make every batch norm in ``module`` use the statistics of the global batch, in place.

    On CUDA this is ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` (torch's fused
    kernels); elsewhere each layer becomes a :class:`GlobalBatchNorm`. Parameters and buffers
    are kept (the same objects), so state dicts load into the unconverted model.
    """
    if any(p.is_cuda for p in module.parameters()):
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if isinstance(child, _BATCH_NORMS):  # (SyncBatchNorm and ours are not among them)
            glob = GlobalBatchNorm(
                child.num_features, child.eps, child.momentum, child.affine,
                child.track_running_stats,
            )  # fmt: skip
            glob.weight, glob.bias = child.weight, child.bias
            glob.running_mean, glob.running_var = child.running_mean, child.running_var
            glob.num_batches_tracked = child.num_batches_tracked
            glob.train(child.training)
            setattr(module, name, glob)
        else:
            convert_sync_batchnorm(child)
    return module
