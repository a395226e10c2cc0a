import numpy as np
import pytest
import torch

from sslib import config


def test_budget_default_and_env(monkeypatch):
    monkeypatch.delenv("SSLIB_BUDGET", raising=False)
    assert config.budget() == "quick"
    monkeypatch.setenv("SSLIB_BUDGET", "FULL")
    assert config.budget() == "full"


def test_budget_rejects_unknown(monkeypatch):
    monkeypatch.setenv("SSLIB_BUDGET", "medium")
    with pytest.raises(ValueError, match="not a budget"):
        config.budget()


@pytest.mark.parametrize(
    "cuda, mps, expected", [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_device_prefers_cuda_then_mps_then_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert config.device() == torch.device(expected)


def test_seed_everything_repeats_draws():
    g = config.seed_everything(3)
    a = (torch.rand(3), np.random.rand(3), torch.rand(3, generator=g))
    g = config.seed_everything(3)
    b = (torch.rand(3), np.random.rand(3), torch.rand(3, generator=g))
    torch.testing.assert_close(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    torch.testing.assert_close(a[2], b[2])
    with pytest.raises(ValueError):
        config.seed_everything(-1)


def test_cache_dir_from_env(monkeypatch, tmp_path):
    monkeypatch.setenv("SSLIB_CACHE", str(tmp_path / "c"))
    assert config.cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()


def test_set_threads():
    before = torch.get_num_threads()
    assert config.set_threads(1) == 1 and torch.get_num_threads() == 1
    import threadpoolctl

    pools = threadpoolctl.threadpool_info()
    assert all(pool["num_threads"] == 1 for pool in pools), pools  # numpy/sklearn too
    torch.set_num_threads(before)
    with pytest.raises(ValueError):
        config.set_threads(0)
