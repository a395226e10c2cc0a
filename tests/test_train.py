import math
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib import augment, checkpoint, data, nets, train
from sslib.methods import Method, Supervised
from sslib.optim import LARS, warmup_cosine


@pytest.fixture(scope="module")
def digits():
    return data.load("digits").subset(slice(0, 256))


def _method(seed=0, views=True):
    torch.manual_seed(seed)
    enc = nets.MLP(64, (32,), 16, norm="batch")
    # Dropout and random views use the global RNG: resume must restore it exactly.
    enc.net.insert(2, nn.Dropout(0.1))
    return Supervised(enc, 10, views=augment.Views.for_digits() if views else None)


def test_fit_learns(digits):
    m = _method(views=False)
    h = train.fit(m, digits, steps=60, batch_size=32, lr=1e-2, progress=False)
    assert h["loss"][-1] < 0.5 * h["loss"][0]
    assert h.step[-1] == 60 and len(h.step) == 6 and not m.training


def test_resume_continues_exactly(digits, tmp_path):
    kw = dict(steps=30, batch_size=32, lr=1e-2, log_every=1, warmup=5, progress=False)
    full = train.fit(_method(), digits, **kw)
    ckpt = tmp_path / "run.pt"
    part = train.fit(_method(), digits, checkpoint=ckpt, stop_at=13, **kw)
    assert part.step[-1] == 13 and ckpt.exists()
    # a fresh process would rebuild the method from scratch (different init) and resume
    resumed_method = _method(seed=123)
    resumed = train.fit(resumed_method, digits, checkpoint=ckpt, **kw)
    assert resumed.step == full.step
    assert resumed["loss"].tolist() == full["loss"].tolist()  # bit-for-bit the same losses
    assert not list(tmp_path.glob(".*tmp"))  # atomic writes leave no temporary files


class _NoisyEverywhere(Method):
    """A loss that draws from Python's, NumPy's and torch's global generators each step."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = nn.Linear(3, 1)

    def loss(self, batch):
        (x,) = batch
        noise = random.gauss(0, 1) + float(np.random.standard_normal()) + torch.randn(())
        return (self.layer(x).squeeze(1) - noise).pow(2).mean(), {}


def test_checkpoint_is_plain_data_and_every_generator_resumes_exactly(tmp_path):
    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    kw = dict(steps=12, batch_size=16, lr=1e-2, log_every=1, progress=False)

    def run(**more):
        random.seed(1)
        np.random.seed(1)
        return train.fit(_NoisyEverywhere(), x, **kw, **more)

    full = run()
    ckpt = tmp_path / "run.pt"
    run(checkpoint=ckpt, stop_at=5)
    state = torch.load(ckpt, weights_only=True)  # no arbitrary objects to unpickle
    assert state["step"] == 5 and set(state["rng"]) >= {"python", "numpy", "torch"}
    random.seed(2)  # the resumed process starts from other generator states
    np.random.seed(2)
    torch.manual_seed(2)
    resumed = train.fit(_NoisyEverywhere(), x, checkpoint=ckpt, **kw)
    assert resumed["loss"].tolist() == full["loss"].tolist()  # bit for bit
    # a checkpoint with arbitrary objects (an older sslib pickled NumPy's state) is refused
    state["rng"]["numpy"] = np.random.get_state()
    torch.save(state, ckpt)
    with pytest.raises(ValueError, match="resume=False"):
        train.fit(_NoisyEverywhere(), x, checkpoint=ckpt, **kw)


def test_resume_refuses_other_settings(digits, tmp_path):
    ckpt = tmp_path / "run.pt"
    train.fit(_method(), digits, steps=4, batch_size=32, checkpoint=ckpt, progress=False)
    with pytest.raises(ValueError, match="resume=False"):
        train.fit(_method(), digits, steps=8, batch_size=32, checkpoint=ckpt, progress=False)
    h = train.fit(
        _method(), digits, steps=8, batch_size=32, checkpoint=ckpt, resume=False, progress=False
    )
    assert h.step[-1] == 8


class _Exploding(Method):
    def __init__(self, at):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.at, self.calls = at, 0

    def loss(self, batch):
        self.calls += 1
        scale = math.inf if self.calls >= self.at else 1.0
        return (self.w * scale).sum(), {}


def test_non_finite_loss_names_the_step():
    x = torch.zeros(64, 2)
    with pytest.raises(train.NonFiniteLossError, match="at step 7"):
        train.fit(_Exploding(at=7), x, steps=20, batch_size=8, progress=False)


class _TwoPlayers(Method):
    """A toy adversarial game: the generator's loss must not move the discriminator."""

    def __init__(self):
        super().__init__()
        self.generator = nn.Linear(2, 2)
        self.discriminator = nn.Linear(2, 1)

    def players(self):
        return {
            "discriminator": list(self.discriminator.parameters()),
            "generator": list(self.generator.parameters()),
        }

    def loss(self, batch):
        (x,) = batch
        fake = self.generator(x)
        real = x + 3.0
        d_loss = (
            F.softplus(-self.discriminator(real)).mean()
            + F.softplus(self.discriminator(fake.detach())).mean()
        )
        g_loss = F.softplus(-self.discriminator(fake)).mean()
        return {"discriminator": d_loss, "generator": g_loss}, {}


def test_each_player_steps_its_own_parameters():
    m = _TwoPlayers()
    x = torch.randn(256, 2)
    g0 = [p.clone() for p in m.generator.parameters()]
    d0 = [p.clone() for p in m.discriminator.parameters()]
    h = train.fit(
        m, x, steps=5, batch_size=32, lr={"discriminator": 1e-2, "generator": 0.0}, progress=False
    )
    assert set(h.metrics) == {"loss/discriminator", "loss/generator"}
    # generator lr 0: unchanged, although its loss has gradients wrt the discriminator
    assert all(torch.equal(a, b) for a, b in zip(g0, m.generator.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(d0, m.discriminator.parameters(), strict=True))
    # and the generator alone: the discriminator's loss must not move it either
    m2 = _TwoPlayers()
    d0 = [p.clone() for p in m2.discriminator.parameters()]
    train.fit(
        m2, x, steps=5, batch_size=32, lr={"discriminator": 0.0, "generator": 1e-2}, progress=False
    )
    assert all(torch.equal(a, b) for a, b in zip(d0, m2.discriminator.parameters(), strict=True))


class _Regress(Method):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(3))

    def loss(self, batch):
        x, y = batch
        return F.mse_loss(x @ self.w, y), {"w0": self.w[0]}


def test_stream_data_and_eval_fn():
    w_true = torch.tensor([1.0, -2.0, 0.5])

    def stream(step, n, generator):
        x = torch.randn(n, 3, generator=generator)
        return x, x @ w_true

    m = _Regress()
    h = train.fit(
        m,
        stream,
        steps=200,
        batch_size=16,
        lr=0.05,
        progress=False,
        eval_every=100,
        eval_fn=lambda method: {"err": (method.w - w_true).norm()},
    )
    assert [s for s, _ in h.evals] == [100, 200]
    assert h.evals[-1][1]["err"] < 0.05
    assert abs(h.last("w0") - 1.0) < 0.05
    # streams are reproducible: batches come from (seed, step)
    a = stream(5, 4, train._step_generator(0, 5))
    b = stream(5, 4, train._step_generator(0, 5))
    torch.testing.assert_close(a, b)


def test_argument_errors(digits):
    m = _method()
    with pytest.raises(ValueError, match="exactly one"):
        train.fit(m, digits, batch_size=32, progress=False)
    with pytest.raises(ValueError, match="exceeds"):
        train.fit(m, digits, steps=1, batch_size=10_000, progress=False)
    with pytest.raises(ValueError, match="optimizer"):
        train.fit(m, digits, steps=1, batch_size=32, optimizer="adam", progress=False)
    with pytest.raises(ValueError, match="precision"):
        train.fit(m, digits, steps=1, batch_size=32, precision="fp8", progress=False)
    with pytest.raises(TypeError, match="ImageSet"):
        train.fit(m, "digits", steps=1, batch_size=32, progress=False)
    with pytest.raises(ValueError, match="finite data"):
        train.fit(m, lambda s, n, g: None, epochs=1, batch_size=32, progress=False)


def test_epochs_cover_the_data_once_per_epoch():
    n, bs = 40, 8
    seen = []

    class Record(Method):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def loss(self, batch):
            seen.extend(batch[0].tolist())
            return self.w.sum() * 0, {}

    train.fit(Record(), torch.arange(n), epochs=2, batch_size=bs, progress=False)
    assert sorted(seen[:n]) == list(range(n)) and sorted(seen[n:]) == list(range(n))
    assert seen[:n] != seen[n:]  # reshuffled each epoch


def test_schedule_and_lars():
    assert warmup_cosine(0, 100, 10) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10) == pytest.approx(1.0)
    assert warmup_cosine(99, 100, 10) < 0.01
    assert warmup_cosine(55, 100, 10) == pytest.approx(0.5)
    w = nn.Parameter(torch.ones(4, 4))
    opt = LARS([w], lr=1.0, trust=0.01, momentum=0.0)
    w.grad = torch.full((4, 4), 100.0)
    opt.step()
    # the step's norm is trust * |w| whatever the gradient's size
    assert torch.linalg.norm(w.detach() - 1) == pytest.approx(0.01 * 4, rel=1e-5)
    with pytest.raises(ValueError, match="learning rate"):
        LARS([w], lr=0)


def test_bf16_autocast_runs(digits):
    m = _method(views=False)
    h = train.fit(m, digits, steps=20, batch_size=32, lr=1e-2, precision="bf16", progress=False)
    assert h["loss"][-1] < h["loss"][0]
    assert next(m.parameters()).dtype == torch.float32  # autocast: fp32 master weights


def test_lars_clip_caps_each_layers_rate_at_the_global_one():
    """solo-learn's clip_lr: the step is min(trust ratio, lr) x gradient, not lr x ratio."""
    for lr, trust in [(0.5, 0.01), (0.01, 10.0)]:
        w = torch.nn.Parameter(torch.full((4, 4), 2.0))
        w.grad = torch.full((4, 4), 0.5)
        ratio = trust * 8.0 / 2.0  # |w| = 8, |g| = 2
        LARS([w], lr=lr, trust=trust, momentum=0.0, clip=True).step()
        torch.testing.assert_close(w.detach(), torch.full((4, 4), 2.0 - min(ratio, lr) * 0.5))
    with pytest.raises(ValueError, match="trust"):
        LARS([w], lr=0.1, trust=0)


def test_fit_passes_the_optimizers_own_settings(monkeypatch):
    from sslib import train

    made = {}
    real = train._make_optimizer

    def spy(*args):
        made["opt"] = real(*args)
        return made["opt"]

    monkeypatch.setattr(train, "_make_optimizer", spy)
    x = torch.randn(64, 3)
    model = _Linear()
    train.fit(model, x, steps=1, batch_size=32, optimizer="adamw", progress=False,
              optimizer_options={"betas": (0.9, 0.95)}, weight_decay=0.1)  # fmt: skip
    groups = made["opt"].param_groups
    assert all(g["betas"] == (0.9, 0.95) for g in groups)
    assert [g["weight_decay"] for g in groups] == [0.1, 0.0]  # the bias takes none
    train.fit(_Linear(), x, steps=1, batch_size=32, optimizer="lars", progress=False,
              optimizer_options={"trust": 0.02, "clip": True}, exclude_bias_and_norm=False,
              weight_decay=0.1)  # fmt: skip
    [group] = made["opt"].param_groups  # one group: the bias decays and takes the ratio too
    assert group["trust"] == 0.02 and group["clip"] and group["weight_decay"] == 0.1
    with pytest.raises(ValueError, match="do not fit sgd"):
        train.fit(_Linear(), x, steps=1, batch_size=32, optimizer="sgd", progress=False,
                  optimizer_options={"trust": 0.02})  # fmt: skip


class _Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(3, 2)

    def loss(self, batch):
        (x,) = batch
        return self.layer(x).pow(2).mean(), {}


def test_adamw_uses_foreach_kernels_that_change_no_number():
    from sslib.train import _make_optimizer

    def trained(options):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        opt = _make_optimizer("adamw", net.parameters(), 1e-2, 1e-4, options, exclude=True)
        x = torch.randn(32, 5, generator=torch.Generator().manual_seed(1))
        for _ in range(20):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
        return opt, torch.cat([p.detach().flatten() for p in net.parameters()])

    default, fast = trained({})
    assert all(group["foreach"] for group in default.param_groups)
    _, loop = trained({"foreach": False})
    assert torch.equal(fast, loop)  # the same numbers, bit for bit
    fused, _ = trained({"fused": True})  # a caller's choice wins over the default
    assert all(group["fused"] and not group["foreach"] for group in fused.param_groups)


def test_write_atomic_replaces_whole_files_and_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "record.json"
    checkpoint.write_atomic(path, '{"a": 1}\n')
    checkpoint.write_atomic(path, b'{"a": 2}\n')  # bytes too; the old file replaced whole
    assert path.read_text() == '{"a": 2}\n'
    checkpoint.save_atomic({"w": torch.arange(3)}, tmp_path / "c.pt")
    assert torch.equal(torch.load(tmp_path / "c.pt", weights_only=True)["w"], torch.arange(3))

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint.os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        checkpoint.write_atomic(path, "half")
    assert path.read_text() == '{"a": 2}\n'  # the old record is intact
    assert sorted(p.name for p in path.parent.iterdir()) == ["record.json"]  # no temporary


class _CountsSteps(Method):
    """Records each after_step call and whether the optimizer had already stepped."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))
        self.calls, self.seen_in_loss = [], None

    def loss(self, batch):
        self.seen_in_loss = self.w.detach().clone()
        return (self.w - batch[0].mean()).pow(2).sum(), {}

    def after_step(self, step, total_steps):
        moved = not torch.equal(self.w.detach(), self.seen_in_loss)
        self.calls.append((step, total_steps, moved))


def test_fit_calls_after_step_once_per_step_after_the_update(tmp_path):
    x = torch.ones(32, 1)
    m = _CountsSteps()
    train.fit(m, x, steps=7, batch_size=8, lr=0.1, progress=False)
    assert m.calls == [(s, 7, True) for s in range(1, 8)]  # after the optimizer's step
    # across an interrupted and resumed run: each step once, none repeated
    ckpt = tmp_path / "run.pt"
    first, second = _CountsSteps(), _CountsSteps()
    train.fit(first, x, steps=7, batch_size=8, lr=0.1, checkpoint=ckpt, stop_at=3, progress=False)
    train.fit(second, x, steps=7, batch_size=8, lr=0.1, checkpoint=ckpt, progress=False)
    assert [c[0] for c in first.calls + second.calls] == list(range(1, 8))
