import json
import os
import subprocess
import sys

import pytest

from sslib.__main__ import main


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
