"""LARS against a literal loop of its update, and the warm-up + cosine schedule."""

import math

import pytest
import torch

from sslib.optim import LARS, param_groups, warmup_cosine


def _norm(values: list[float]) -> float:
    return math.sqrt(sum(v * v for v in values))


def lars_loop(weights, grads_per_step, lr, momentum, weight_decay, trust, clip, exclude):
    """LARS (You et al. 2017) as sslib.optim documents it, one number at a time.

    For each layer w with gradient g: g' = g + wd w (no decay on excluded 1-D layers), the
    trust ratio r = trust |w| / |g'| (1 if a norm is 0; no ratio for excluded layers; with
    ``clip``, min(r / lr, 1)), the momentum buffer v = m v + r g' (v = r g' at the first step),
    then w = w - lr v.
    """
    weights = [w.flatten().tolist() for w in weights]
    buffers = [None] * len(weights)
    for grads in grads_per_step:
        for i, (w, g) in enumerate(zip(weights, grads, strict=True)):
            g = g.flatten().tolist()
            excluded = i in exclude  # the 1-D layers: biases and norms
            decay = 0.0 if excluded else weight_decay
            g = [gj + decay * wj for gj, wj in zip(g, w, strict=True)]
            ratio = 1.0
            if not excluded:
                w_norm, g_norm = _norm(w), _norm(g)
                if w_norm > 0 and g_norm > 0:
                    ratio = trust * w_norm / g_norm
                    if clip:
                        ratio = min(ratio / lr, 1.0)
            g = [ratio * gj for gj in g]
            if buffers[i] is None:
                buffers[i] = g
            else:
                buffers[i] = [momentum * vj + gj for vj, gj in zip(buffers[i], g, strict=True)]
            weights[i] = [wj - lr * vj for wj, vj in zip(w, buffers[i], strict=True)]
    return weights


@pytest.mark.parametrize("clip", [False, True], ids=["plain", "clip"])
@pytest.mark.parametrize("trust", [0.001, 0.5])
def test_lars_matches_the_literal_update(clip, trust):
    g = torch.Generator().manual_seed(0)
    shapes = [(4, 3), (4,), (2, 4), (2,)]  # weights (trust ratio, decay) and biases (neither)
    weights = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    weights[2].zero_()  # a zero layer: the ratio falls back to 1
    steps = [[torch.randn(s, generator=g, dtype=torch.float64) for s in shapes] for _ in range(5)]
    lr, momentum, decay = 0.3, 0.9, 1e-2

    params = [torch.nn.Parameter(w.clone()) for w in weights]
    opt = LARS(param_groups(params, decay), lr=lr, momentum=momentum, trust=trust, clip=clip)
    for grads in steps:
        for p, grad in zip(params, grads, strict=True):
            p.grad = grad.clone()
        opt.step()
    expected = lars_loop(weights, steps, lr, momentum, decay, trust, clip, exclude={1, 3})
    for p, e in zip(params, expected, strict=True):
        torch.testing.assert_close(p.detach().flatten(), torch.tensor(e, dtype=torch.float64))


def test_lars_trust_ratio_sets_each_layers_step_size():
    """Without momentum, one step moves each non-excluded layer by lr * trust * |w|."""
    big, small = torch.nn.Parameter(torch.ones(3, 3)), torch.nn.Parameter(torch.ones(2, 2))
    big.grad, small.grad = torch.full((3, 3), 1e3), torch.full((2, 2), 1e-3)
    LARS([big, small], lr=0.5, momentum=0.0, trust=0.01).step()
    assert torch.linalg.norm(big.detach() - 1).item() == pytest.approx(0.5 * 0.01 * 3)
    assert torch.linalg.norm(small.detach() - 1).item() == pytest.approx(0.5 * 0.01 * 2)


def test_warmup_cosine_endpoints_and_shape():
    total, warmup, final = 100, 10, 0.1
    rates = [warmup_cosine(s, total, warmup, final) for s in range(total)]
    # warm-up: linear from 1/warmup to 1, equal increments
    assert rates[0] == pytest.approx(1 / warmup) and rates[warmup - 1] == pytest.approx(1.0)
    increments = [b - a for a, b in zip(rates[:warmup], rates[1:warmup], strict=False)]
    assert increments == pytest.approx([1 / warmup] * (warmup - 1))
    # then the cosine: from 1, halfway at the middle, never rising, down to the final rate
    assert rates[warmup] == pytest.approx(1.0)
    assert warmup_cosine(warmup + (total - warmup) // 2, total, warmup, final) == pytest.approx(
        (1 + final) / 2
    )
    decay = rates[warmup:]
    assert all(b <= a for a, b in zip(decay, decay[1:], strict=False))
    assert final < rates[-1] < final + 1e-3
    assert warmup_cosine(total, total, warmup, final) == pytest.approx(final)
    assert warmup_cosine(10 * total, total, warmup, final) == pytest.approx(final)  # held


def test_warmup_cosine_without_warmup_and_constant():
    assert warmup_cosine(0, 50, 0) == 1.0
    assert warmup_cosine(50, 50, 0) == pytest.approx(0.0)
    assert all(warmup_cosine(s, 50, 0, final=1.0) == 1.0 for s in range(60))  # a constant rate
