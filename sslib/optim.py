"""Optimizers and the learning-rate schedule :func:`sslib.train.fit` uses.

* :class:`LARS`: layer-wise adaptive rate scaling (You et al., 2017), the optimizer of
  SimCLR's large-batch runs;
* :func:`warmup_cosine`: linear warm-up then cosine decay, as a multiplier of the base rate;
* :func:`param_groups`: no weight decay on biases and normalisation parameters.
"""

from __future__ import annotations

import math

import torch


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, final: float = 0.0) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based).

    Linear from ``1/warmup_steps`` to 1 over the warm-up, then a half cosine down to ``final``.
    """
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return final + (1 - final) * 0.5 * (1 + math.cos(math.pi * progress))


def param_groups(params, weight_decay: float) -> list[dict]:
    """Split parameters: matrices and kernels decay, 1-D ones (biases, norms) do not."""
    decay, no_decay = [], []
    for p in params:
        (decay if p.ndim > 1 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        # LARS skips its trust ratio for these too (SimCLR excludes biases and BN).
        groups.append({"params": no_decay, "weight_decay": 0.0, "lars_exclude": True})
    return groups


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose step for each layer is scaled by ``trust * |w| / |grad|``.

    Args:
        params: parameters or groups (a group with ``lars_exclude=True`` takes plain SGD steps).
        lr: base learning rate.
        momentum: heavy-ball momentum.
        weight_decay: L2 penalty added to the gradient before the trust ratio.
        trust: the trust coefficient (0.001 in You et al.; SimCLR uses it as is).
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust: float = 0.001,
    ):
        if lr <= 0:
            raise ValueError(f"Illegal learning rate {lr}: must be positive")
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, trust=trust, lars_exclude=False
        )
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        """One optimisation step."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                if not group["lars_exclude"]:
                    w_norm, g_norm = torch.linalg.norm(p), torch.linalg.norm(grad)
                    ratio = torch.where(
                        (w_norm > 0) & (g_norm > 0), group["trust"] * w_norm / g_norm, 1.0
                    )
                    grad = grad * ratio
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.clone(grad).detach()
                else:
                    state["momentum"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum"], alpha=-group["lr"])
        return loss
