"""Two CPU processes (gloo) must train exactly like one process with the global batch."""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from sslib import data, nets, train
from sslib.methods import Supervised


def _method():
    torch.manual_seed(0)
    # No batch norm: its statistics are per process unless synchronised, which is the
    # method's choice (SyncBatchNorm), not the loop's.
    return Supervised(nets.MLP(64, (32,), 16), 10)


def _digits():
    return data.load("digits").subset(slice(0, 256))


def _worker(rank, world, init_file, out, ddp=True):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        m = _method()
        h = train.fit(m, _digits(), steps=12, batch_size=32, lr=1e-2, log_every=1,
                      progress=False, ddp=ddp)  # fmt: skip
        if rank == 0:
            torch.save({"state": m.state_dict(), "loss": h["loss"].tolist()}, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
@pytest.mark.parametrize("ddp", [True, False], ids=["DistributedDataParallel", "all-reduce"])
def test_two_processes_match_one_process_with_the_global_batch(tmp_path, ddp):
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out), ddp), nprocs=2, join=True)
    two = torch.load(out)
    m = _method()
    one = train.fit(m, _digits(), steps=12, batch_size=32, lr=1e-2, log_every=1, progress=False)
    for name, value in m.state_dict().items():
        torch.testing.assert_close(two["state"][name], value, rtol=1e-5, atol=1e-6, msg=name)
    # the history holds the global batch's loss, averaged over the processes
    torch.testing.assert_close(torch.tensor(two["loss"]), torch.tensor(one["loss"].tolist()))


def test_batch_must_split_evenly(monkeypatch):
    monkeypatch.setattr(train, "_world", lambda: (0, 3))
    with pytest.raises(ValueError, match="divisible"):
        train.fit(_method(), _digits(), steps=1, batch_size=32, progress=False)


def _nt_xent_worker(rank, world, init_file, out, functional=True):
    from sslib import distributed
    from sslib.objectives import nt_xent

    distributed.FUNCTIONAL_GATHER = functional  # False: the public all-gather of older torch
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        weight, z1, z2 = _contrastive_problem()
        n = z1.shape[0] // world
        share = slice(rank * n, (rank + 1) * n)
        loss = nt_xent(z1[share] @ weight, z2[share] @ weight, temperature=0.3)
        loss.backward()
        # what fit does: average the gradients (and the logged losses) over the processes
        dist.all_reduce(weight.grad, op=dist.ReduceOp.AVG)
        mean_loss = loss.detach().clone()
        dist.all_reduce(mean_loss, op=dist.ReduceOp.AVG)
        if rank == 0:
            torch.save({"loss": mean_loss, "grad": weight.grad}, out)
    finally:
        dist.destroy_process_group()


def _contrastive_problem():
    g = torch.Generator().manual_seed(0)
    weight = torch.randn(6, 4, generator=g, dtype=torch.float64).requires_grad_()
    z1 = torch.randn(8, 6, generator=g, dtype=torch.float64)
    z2 = z1 + 0.3 * torch.randn(8, 6, generator=g, dtype=torch.float64)
    return weight, z1, z2


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
@pytest.mark.parametrize("functional", [True, False], ids=["functional", "public-fallback"])
def test_nt_xent_gathers_negatives_with_exact_gradients(tmp_path, functional):
    """Two processes with 4 pairs each = one process with the 8 pairs: loss and gradient.

    With torch's functional all-gather, and with the public one sslib falls back to on torch
    without it.
    """
    from sslib.objectives import nt_xent

    out = tmp_path / "rank0.pt"
    args = (2, str(tmp_path / "init"), str(out), functional)
    mp.spawn(_nt_xent_worker, args=args, nprocs=2, join=True)
    two = torch.load(out)
    weight, z1, z2 = _contrastive_problem()
    loss = nt_xent(z1 @ weight, z2 @ weight, temperature=0.3)
    loss.backward()
    torch.testing.assert_close(two["loss"], loss.detach())
    torch.testing.assert_close(two["grad"], weight.grad)
    # and without the gather, each process would see only its own 6 negatives: not the same
    local = nt_xent(z1[:4] @ weight, z2[:4] @ weight, temperature=0.3, across_ranks=False)
    assert not torch.isclose(local, loss)


def test_torchrun_trains_from_the_command_line(tmp_path):
    """`torchrun --nproc_per_node=2 -m sslib train simclr ...` on CPUs: one run, one record.

    SimCLR under torchrun: DistributedDataParallel, negatives gathered from both processes,
    batch norm over the global batch (the method asks for it).
    """
    import json
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--standalone", "-m", "sslib", "train", "simclr", "--dataset", "digits",
               "--epochs", "1", "--batch-size", "128", "--out", str(tmp_path),
               "--tag", "t"]  # fmt: skip
    env = dict(os.environ, SSLIB_THREADS="1", SSLIB_PROGRESS="0")
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads((tmp_path / "simclr-digits-t.json").read_text())
    assert record["processes"] == 2 and record["steps"] == 11
    assert record["settings"]["sync_batchnorm"] is True
    assert record["probe"]["linear"] > 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "simclr-digits-t.json", "simclr-digits-t.metrics.jsonl", "simclr-digits-t.pt"
    ]  # fmt: skip


class _FlipEveryOtherCall:
    """Deterministic 'augmentation' for exactness tests: x, then x mirrored, then x, ..."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x):
        self.calls += 1
        return x if self.calls % 2 else x.flip(-1)


def _simclr():
    from sslib.methods import SimCLR

    torch.manual_seed(0)
    return SimCLR(nets.MLP(64, (64,), 32, norm="batch"), views=_FlipEveryOtherCall(), hidden_dim=32,
                  proj_dim=16)  # fmt: skip


def _simclr_worker(rank, world, init_file, out, sync):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        m = _simclr()
        h = train.fit(m, _digits(), steps=3, batch_size=32, lr=0.1, optimizer="sgd",
                      log_every=1, progress=False, sync_batchnorm=sync)  # fmt: skip
        if rank == 0:
            torch.save({"state": m.state_dict(), "loss": h["loss"].tolist()}, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_simclr_training_steps_with_global_batch_norm_match_one_process(tmp_path):
    """SimCLR with batch norm, negatives gathered and BN synchronised: 2 processes = 1.

    Three full steps of fit: the losses, every weight after the SGD updates and the running
    statistics. (An MLP encoder: a convolutional one on 8x8 digits at initialisation amplifies
    rounding so much that one process on one and on two threads already part by 1e-3.)
    """
    m = _simclr()
    one = train.fit(m, _digits(), steps=3, batch_size=32, lr=0.1, optimizer="sgd", log_every=1,
                    progress=False)  # fmt: skip
    results = {}
    for sync in (True, False):
        out = tmp_path / f"rank0-{sync}.pt"
        init = str(tmp_path / f"init-{sync}")
        mp.spawn(_simclr_worker, args=(2, init, str(out), sync), nprocs=2, join=True)
        results[sync] = torch.load(out)
    two = results[True]
    torch.testing.assert_close(torch.tensor(two["loss"]), torch.tensor(one["loss"].tolist()))
    for name, value in m.state_dict().items():  # weights and running statistics
        torch.testing.assert_close(
            two["state"][name], value, rtol=1e-4, atol=1e-5, msg=lambda m, name=name: f"{name}: {m}"
        )
    # per-process statistics are another computation: the first loss already differs
    assert abs(results[False]["loss"][0] - one["loss"][0]) > 1e-4


def test_global_batch_norm_is_batch_norm_on_one_process():
    from sslib.distributed import GlobalBatchNorm, convert_sync_batchnorm

    net = nets.SmallCNN(1, 8, pool=False)
    converted = convert_sync_batchnorm(nets.SmallCNN(1, 8, pool=False))
    converted.load_state_dict(net.state_dict())
    assert any(isinstance(mod, GlobalBatchNorm) for mod in converted.modules())
    assert not any(type(mod) is torch.nn.BatchNorm2d for mod in converted.modules())
    x = torch.randn(6, 1, 12, 12)
    torch.testing.assert_close(converted(x), net(x))
    assert converted.state_dict().keys() == net.state_dict().keys()


def _batch_norm_worker(rank, world, init_file, out):
    from sslib.distributed import GlobalBatchNorm

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        x, weight = _batch_norm_problem()
        bn = GlobalBatchNorm(3).double()
        share = x[rank * 5 : (rank + 1) * 5].clone().requires_grad_()
        (bn(share) * weight[rank * 5 : (rank + 1) * 5]).sum().backward()
        for p in bn.parameters():  # what fit does with parameter gradients
            dist.all_reduce(p.grad)
        torch.save({"x_grad": share.grad, "weight_grad": bn.weight.grad,
                    "running_var": bn.running_var}, f"{out}.{rank}")  # fmt: skip
    finally:
        dist.destroy_process_group()


def _batch_norm_problem():
    g = torch.Generator().manual_seed(0)
    x = 3 + 2 * torch.randn(10, 3, 4, 4, generator=g, dtype=torch.float64)
    return x, torch.randn(10, 3, 4, 4, generator=g, dtype=torch.float64)


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_global_batch_norm_gradients_on_two_processes(tmp_path):
    """Float64, 4-d input: each process's input gradient and the summed weight gradient."""
    out = tmp_path / "bn"
    mp.spawn(_batch_norm_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    x, weight = _batch_norm_problem()
    x.requires_grad_()
    bn = torch.nn.BatchNorm2d(3).double()
    (bn(x) * weight).sum().backward()
    ranks = [torch.load(f"{out}.{r}") for r in range(2)]
    torch.testing.assert_close(torch.cat([r["x_grad"] for r in ranks]), x.grad)
    for r in ranks:
        torch.testing.assert_close(r["weight_grad"], bn.weight.grad)
        torch.testing.assert_close(r["running_var"], bn.running_var)


@pytest.mark.parametrize("shape", [(8, 3), (8, 3, 5), (8, 3, 4, 4), (8, 3, 2, 2, 2)])
@pytest.mark.parametrize(
    "settings",
    [{}, {"momentum": None}, {"affine": False}, {"track_running_stats": False}],
    ids=["default", "cumulative", "no-affine", "untracked"],
)
def test_global_batch_norm_on_one_process_is_torchs_batch_norm(shape, settings):
    """Training steps then eval, bit for bit: outputs, gradients, running statistics."""
    from sslib.distributed import GlobalBatchNorm

    torch_bn = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d,
                5: torch.nn.BatchNorm3d}[len(shape)](3, **settings)  # fmt: skip
    ours = GlobalBatchNorm(3, **settings)
    assert ours.state_dict().keys() == torch_bn.state_dict().keys()
    g = torch.Generator().manual_seed(0)
    for step in range(3):
        x = (2 + 3 * torch.randn(shape, generator=g)).requires_grad_()
        y = [bn(x) for bn in (torch_bn, ours)]
        assert torch.equal(y[0], y[1]), step
        grads = [torch.autograd.grad((out * x).sum(), x)[0] for out in y]
        assert torch.equal(grads[0], grads[1]), step
    for a, b in zip(torch_bn.state_dict().values(), ours.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x = torch.randn(shape, generator=g)
    assert torch.equal(torch_bn.eval()(x), ours.eval()(x))
    torch_bn.load_state_dict(ours.state_dict())  # state dicts load into one another


def test_average_across_processes_keeps_shapes_and_layouts(monkeypatch):
    """One flat all-reduce per dtype; each gradient gets back its own values (a fake sum of 2)."""
    grads = [torch.randn(3, 4), torch.randn(5, dtype=torch.float64),
             torch.randn(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)]  # fmt: skip
    before = [g.clone() for g in grads]
    calls = []
    monkeypatch.setattr(dist, "all_reduce", lambda t: (calls.append(t.dtype), t.mul_(2)))
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)
    train._average_across_processes(grads)
    assert sorted(calls, key=str) == [torch.float32, torch.float64]
    for g, b in zip(grads, before, strict=True):
        assert torch.equal(g, b) and g.shape == b.shape
    assert grads[2].is_contiguous(memory_format=torch.channels_last)


def _dino():
    from sslib.methods import DINO

    torch.manual_seed(0)
    return DINO(nets.MLP(64, (32,), 16), hidden_dim=16, bottleneck_dim=8, num_prototypes=12)


def _teacher_logits():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(8, 12, generator=g) + k for k in range(3)]  # three global batches


def _center_worker(rank, world, init_file, out):
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        dino = _dino()
        for logits in _teacher_logits():
            dino.update_center(logits[rank * 4 : (rank + 1) * 4])
        torch.save(dino.center, f"{out}.{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_dino_centre_follows_the_global_batch_on_two_processes(tmp_path):
    """Each process's centre equals one process's with the global batch (DINO's all-reduce)."""
    out = tmp_path / "center"
    mp.spawn(_center_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
    one, local = _dino(), _dino()
    for logits in _teacher_logits():
        one.update_center(logits)
        local.update_center(logits[:4])  # what rank 0 alone would have computed
    for rank in range(2):
        torch.testing.assert_close(torch.load(f"{out}.{rank}"), one.center)
    assert not torch.allclose(local.center, one.center)


def test_global_mean_is_the_mean_on_one_process():
    from sslib.distributed import global_mean

    x = torch.randn(5, 3, 2)
    torch.testing.assert_close(global_mean(x), x.mean(0, keepdim=True))
