import json
import os
import subprocess
import sys

import numpy as np
import pytest

from sslib import probe
from sslib.__main__ import main
from sslib.methods import METHODS


def test_help_runs_as_a_module():
    out = subprocess.run(
        [sys.executable, "-m", "sslib", "--help"], capture_output=True, text=True, check=True
    )
    assert "train" in out.stdout and "data" in out.stdout


def test_env_and_data(capsys):
    assert main(["env"]) == 0
    assert "budget" in capsys.readouterr().out
    assert main(["data", "digits", "--split", "test"]) == 0
    assert "359 images" in capsys.readouterr().out


def test_unknown_names_exit_nonzero(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("SSLIB_CACHE", str(tmp_path))
    monkeypatch.setenv("SSLIB_DOWNLOAD", "0")
    assert main(["train", "nosuchmethod"]) == 2
    assert "choose one of" in capsys.readouterr().err
    assert main(["data", "imagenet"]) == 2
    assert main(["train", "supervised", "--dataset", "cifar10"]) == 2
    assert "is not in" in capsys.readouterr().err


def test_train_writes_record_and_resumes(tmp_path, capsys):
    args = [
        "train",
        "supervised",
        "--dataset",
        "digits",
        "--encoder",
        "mlp",
        "--epochs",
        "1",
        "--batch-size",
        "128",
        "--out",
        str(tmp_path),
        "--tag",
        "t",
    ]
    assert main(args) == 0
    record = json.loads((tmp_path / "supervised-digits-t.json").read_text())
    assert record["steps"] == 11 and record["probe"]["linear"] > 0.5
    assert {"command", "commit", "hardware", "wall_time_s"} <= set(record)
    # a second run finds the finished checkpoint and resumes at its end
    assert main(args) == 0
    assert sorted(os.listdir(tmp_path)) == [
        "supervised-digits-t.json", "supervised-digits-t.metrics.jsonl", "supervised-digits-t.pt"
    ]  # fmt: skip
    with pytest.raises(SystemExit):
        main(["train", "supervised", "--encoder", "transformer"])


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_builds_and_takes_a_step_from_the_command_line(name):
    """Each name `python -m sslib train NAME` accepts builds for 28x28 digits and trains."""
    from sslib import data, train
    from sslib.__main__ import _encoder, build_method

    digits = data.load("mnist5k", "train").subset(slice(0, 64))
    encoder = _encoder("vit" if name == "mae" else "cnn", digits.shape)
    if name == "colorization":
        with pytest.raises(ValueError, match="colour images"):
            build_method(name, encoder, digits)
        return
    method = build_method(name, encoder, digits)
    history = train.fit(method, digits, steps=1, batch_size=32, log_every=1, progress=False)
    assert all(np.isfinite(v).all() for v in history.metrics.values())
    assert probe.embed(method, digits.images[:4]).shape[0] == 4


def _read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize("name", sorted(set(METHODS) - {"colorization"}))
def test_every_method_stops_resumes_and_records_from_the_command_line(name, tmp_path, capsys):
    """Stop after 2 of 5 steps (as a session ends), resume, finish: one record, one log.

    In channels-last memory format, which every method's convolutions and reshapes must take.
    """
    dataset = "mnist5k" if name == "relative_position" else "digits"  # three patches need 28x28
    epochs = "0.085" if dataset == "mnist5k" else "0.25"  # 5 steps of 64 either way
    args = ["train", name, "--dataset", dataset, "--epochs", epochs, "--batch-size", "64",
            "--log-every", "1", "--eval-every", "2", "--out", str(tmp_path), "--tag", "t",
            "--seed", "1", "--channels-last"]  # fmt: skip
    args += ["--encoder", "vit"] if name == "mae" else []
    assert main([*args, "--stop-at", "2"]) == 0
    assert "resumes from" in capsys.readouterr().out
    assert not (tmp_path / f"{name}-{dataset}-t.json").exists()  # no record of an unfinished run
    assert main(args) == 0
    record = json.loads((tmp_path / f"{name}-{dataset}-t.json").read_text())
    assert record["steps"] == 5 and record["settings"]["batch_size"] == 64
    assert [e["step"] for e in record["evals"]] == [2, 4, 5]
    assert 0 <= record["probe"]["linear"] <= 1 and record["images_per_second"] > 0
    rows = _read_jsonl(tmp_path / f"{name}-{dataset}-t.metrics.jsonl")
    assert [r["step"] for r in rows if "eval/knn" not in r] == [1, 2, 3, 4, 5]  # appended
    assert all(np.isfinite(v) for r in rows for k, v in r.items() if k != "step")


def test_full_budget_takes_the_methods_recipe_and_flags_override_it(tmp_path, monkeypatch):
    from sslib.recipes import FULL

    monkeypatch.setenv("SSLIB_BUDGET", "quick")  # restored after the test; --budget sets it
    args = ["train", "simclr", "--budget", "full", "--dataset", "digits", "--encoder", "cnn",
            "--epochs", "0.1", "--batch-size", "64", "--out", str(tmp_path), "--results",
            str(tmp_path / "results"), "--channels-last"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((tmp_path / "results" / "simclr-digits-full.json").read_text())
    settings, recipe = record["settings"], FULL["simclr"]
    assert record["budget"] == "full" and settings["recipe"] == recipe.source
    assert settings["optimizer"] == recipe.optimizer and settings["lr"] == recipe.lr
    assert settings["method"]["temperature"] == recipe.method_kwargs["temperature"]
    assert settings["encoder"] == "cnn" and settings["batch_size"] == 64  # the flags win
    assert settings["channels_last"] is True


def test_batch_size_must_split_over_the_processes(monkeypatch, tmp_path, capsys):
    from sslib import train

    monkeypatch.setattr(train, "_world", lambda: (0, 3))  # as if under torchrun with 3
    args = ["train", "supervised", "--dataset", "digits", "--batch-size", "64", "--out",
            str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "divisible by the 3 processes" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no record, checkpoint or empty log
