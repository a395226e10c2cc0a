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
    assert sorted(os.listdir(tmp_path)) == ["supervised-digits-t.json", "supervised-digits-t.pt"]
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
