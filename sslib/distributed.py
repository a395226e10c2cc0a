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
known bugs this avoids: keeping only the local slice of the gathered gradient (solo-learn
#253) and scaling it once more by the world size (lightly's gradients were off by exactly
1/world_size, fixed in lightly PR #2035). ``tests/test_distributed.py`` checks two gloo
processes against one process holding the global batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch.distributed import _functional_collectives as funcol


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

    Uses torch's autograd-aware functional collective (``torch.distributed.nn.functional``'s
    ``all_gather`` is deprecated in torch 2.14). Returns ``x`` itself when not distributed.

    Shape:
        ``(n, ...) -> (world_size * n, ...)``; every process must pass the same shape.
    """
    _, size = world()
    if size == 1:
        return x
    gathered = funcol.all_gather_tensor_autograd(x.contiguous(), 0, dist.group.WORLD)
    if isinstance(gathered, funcol.AsyncCollectiveTensor):
        gathered = gathered.wait()  # the plain tensor, still attached to the autograd graph
    return gathered
