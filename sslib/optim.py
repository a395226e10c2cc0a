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


def param_groups(params, weight_decay: float, exclude_bias_and_norm: bool = True) -> list[dict]:
    """Split parameters: matrices and kernels decay, 1-D ones (biases, norms) do not.

    With ``exclude_bias_and_norm=False`` every parameter decays (and takes LARS's trust ratio).
    """
    decay, no_decay = [], []
    for p in params:
        (decay if p.ndim > 1 or not exclude_bias_and_norm else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        # LARS skips its trust ratio for these too (SimCLR excludes biases and BN).
        groups.append({"params": no_decay, "weight_decay": 0.0, "lars_exclude": True})
    return groups


class LARS(torch.optim.Optimizer):
    """SGD with momentum whose step for each layer is scaled by ``trust * |w| / |grad|``.

    ``grad`` includes the weight decay, as in SimCLR's LARS (``|g + wd w|``; solo-learn's,
    after You et al. eq. 6, divides by ``|g| + wd |w|`` instead, which is never smaller).

    Args:
        params: parameters or groups (a group with ``lars_exclude=True`` takes plain SGD steps).
        lr: base learning rate.
        momentum: heavy-ball momentum.
        weight_decay: L2 penalty added to the gradient before the trust ratio.
        trust: the trust coefficient η (0.001 in You et al. and SimCLR; solo-learn's CIFAR
            recipes use 0.02).
        clip: clip each layer's rate at the global one: the step is ``min(trust ratio, lr)``
            times the gradient instead of ``lr * trust ratio`` (solo-learn's ``clip_lr``).
    """

    def __init__(
        self,
        params,
        lr: float,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        trust: float = 0.001,
        clip: bool = False,
    ):
        if lr <= 0:
            raise ValueError(f"Illegal learning rate {lr}: must be positive")
        if trust <= 0:
            raise ValueError(f"trust must be positive, got {trust}")
        defaults = dict(
            lr=lr, momentum=momentum, weight_decay=weight_decay, trust=trust, clip=clip,
            lars_exclude=False,
        )  # fmt: skip
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
                    ratio = group["trust"] * w_norm / g_norm
                    if group.get("clip", False):  # (absent from older checkpoints)
                        #  # the layer's step lr * (ratio / lr), ratio / lr <= 1
                        ratio = torch.clamp(ratio / group["lr"], max=1.0)
                    ratio = torch.where((w_norm > 0) & (g_norm > 0), ratio, 1.0)
                    grad = grad * ratio
                state = self.state[p]
                if "momentum" not in state:
                    state["momentum"] = torch.clone(grad).detach()
                else:
                    state["momentum"].mul_(group["momentum"]).add_(grad)
                p.add_(state["momentum"], alpha=-group["lr"])
        return loss
