"""Momentum teachers: a frozen copy of a network that follows it by exponential averaging.

BYOL (Grill et al. 2020), DINO (Caron et al. 2021) and I-JEPA (Assran et al. 2023) compute
their targets with a *teacher*: a copy of the student's networks whose weights are not
trained by gradients but follow the student's, ``teacher <- m teacher + (1 - m) student``
after each optimizer step, with ``m`` rising from a base value to 1 on a cosine schedule
(BYOL, section 3.2). A method keeps its teacher as a submodule (so :func:`sslib.train.fit`
checkpoints it) and calls :func:`ema_update` from its ``after_step``.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every parameter frozen (``requires_grad=False``).

    Frozen parameters are left out of the optimizers (:meth:`sslib.methods.base.Method.players`
    keeps only trainable ones) and of gradient averaging across processes.
    """
    teacher = copy.deepcopy(module)
    for p in teacher.parameters():
        p.requires_grad_(False)
    return teacher


def cosine_momentum(step: int, total_steps: int, base: float) -> float:
    """BYOL's schedule: ``1 - (1 - base) (cos(pi step / total_steps) + 1) / 2``.

    ``base`` at step 0, rising to 1 at ``total_steps`` (BYOL, section 3.2: base 0.996).
    """
    if not 0.0 <= base <= 1.0:
        raise ValueError(f"momentum base must be in [0, 1], got {base}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps}")
    progress = min(max(step / total_steps, 0.0), 1.0)
    return 1.0 - (1.0 - base) * (math.cos(math.pi * progress) + 1.0) / 2.0


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """``teacher <- momentum * teacher + (1 - momentum) * student``, parameter by parameter.

    Buffers (batch-norm running statistics) are copied from the student: the teacher's
    forward passes run in training mode with batch statistics, and the copies keep its
    evaluation mode in step with the student's. The two modules must have the same structure.
    """
    if not 0.0 <= momentum <= 1.0:
        raise ValueError(f"momentum must be in [0, 1], got {momentum}")
    t_params, s_params = list(teacher.parameters()), list(student.parameters())
    if len(t_params) != len(s_params):
        raise ValueError(
            f"teacher has {len(t_params)} parameter tensors, student {len(s_params)}: "
            "make the teacher with frozen_copy(student)"
        )
    for t, s in zip(t_params, s_params, strict=True):
        t.lerp_(s.detach(), 1.0 - momentum)
    for t, s in zip(teacher.buffers(), student.buffers(), strict=True):
        t.copy_(s)
