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


def _worker(rank, world, init_file, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        m = _method()
        h = train.fit(m, _digits(), steps=12, batch_size=32, lr=1e-2, log_every=1,
                      progress=False)  # fmt: skip
        if rank == 0:
            torch.save({"state": m.state_dict(), "loss": h["loss"].tolist()}, out)
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not built")
def test_two_processes_match_one_process_with_the_global_batch(tmp_path):
    out = tmp_path / "rank0.pt"
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
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


def _nt_xent_worker(rank, world, init_file, out):
    from sslib.objectives import nt_xent

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
def test_nt_xent_gathers_negatives_with_exact_gradients(tmp_path):
    """Two processes with 4 pairs each = one process with the 8 pairs: loss and gradient."""
    from sslib.objectives import nt_xent

    out = tmp_path / "rank0.pt"
    mp.spawn(_nt_xent_worker, args=(2, str(tmp_path / "init"), str(out)), nprocs=2, join=True)
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
    """`torchrun --nproc_per_node=2 -m sslib train ...` on CPUs: one run, one record."""
    import json
    import os
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--standalone", "-m", "sslib", "train", "supervised", "--dataset", "digits",
               "--encoder", "mlp", "--epochs", "1", "--batch-size", "128", "--out",
               str(tmp_path), "--tag", "t"]  # fmt: skip
    env = dict(os.environ, SSLIB_THREADS="1", SSLIB_PROGRESS="0")
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    record = json.loads((tmp_path / "supervised-digits-t.json").read_text())
    assert record["processes"] == 2 and record["steps"] == 11
    assert record["probe"]["linear"] > 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "supervised-digits-t.json", "supervised-digits-t.pt"
    ]  # fmt: skip
