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
    from sslib import data, methods, nets, train

    digits = data.load("mnist5k", "train").subset(slice(0, 64))
    encoder = nets.make_encoder("vit" if name in ("mae", "jepa") else "cnn", digits.shape)
    if name == "colorization":
        with pytest.raises(ValueError, match="colour images"):
            methods.build(name, encoder, digits)
        return
    method = methods.build(name, encoder, digits)
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
    # three patches (relative position) and a 4x4 grid of blocks (jepa) need 28x28 images
    dataset = "mnist5k" if name in ("relative_position", "jepa") else "digits"
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


def test_channels_last_comes_from_the_recipe_unless_a_flag_says(tmp_path):
    from sslib.recipes import QUICK

    assert QUICK["vicreg"].channels_last and not QUICK["rotation"].channels_last
    base = ["train", "vicreg", "--dataset", "digits", "--encoder", "cnn", "--epochs", "0.1",
            "--batch-size", "64", "--budget", "quick"]  # fmt: skip
    for flags, expected in [([], True), (["--no-channels-last"], False)]:
        run = tmp_path / f"run{len(flags)}"  # a fresh run each: no resume from the other
        assert main([*base, "--out", str(run), "--results", str(run), *flags]) == 0
        record = json.loads((run / "vicreg-digits-quick.json").read_text())
        assert record["settings"]["channels_last"] is expected


def test_batch_size_must_split_over_the_processes(monkeypatch, tmp_path, capsys):
    from sslib import train

    monkeypatch.setattr(train, "_world", lambda: (0, 3))  # as if under torchrun with 3
    args = ["train", "supervised", "--dataset", "digits", "--batch-size", "64", "--out",
            str(tmp_path)]  # fmt: skip
    assert main(args) == 2
    assert "divisible by the 3 processes" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())  # no record, checkpoint or empty log


BAD_FLAGS = [
    (["--batch-size", "0"], "--batch-size"),
    (["--batch-size", "-4"], "--batch-size"),
    (["--batch-size", "2.5"], "--batch-size"),
    (["--batch-size", "100000"], "--batch-size"),  # more than the images
    (["--epochs", "-1"], "--epochs"),
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "nan"], "--epochs"),
    (["--epochs", "0.0001"], "--epochs"),  # no whole step
    (["--lr", "0"], "--lr"),
    (["--lr", "-1e-3"], "--lr"),
    (["--lr", "inf"], "--lr"),
    (["--lr", "fast"], "--lr"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--warmup", "-0.1"], "--warmup"),
    (["--warmup", "2.5"], "--warmup"),  # neither a fraction nor whole steps
    (["--warmup", "500"], "--warmup"),  # longer than the run
    (["--eval-every", "0"], "--eval-every"),
    (["--stop-at", "0"], "--stop-at"),
    (["--checkpoint-every", "-5"], "--checkpoint-every"),
    (["--log-every", "0"], "--log-every"),
    (["--seed", "-1"], "--seed"),
    (["--tag", "../elsewhere"], "--tag"),
    (["--optimizer", "adam"], "--optimizer"),
    (["--precision", "fp16"], "--precision"),
    (["--encoder", "transformer"], "--encoder"),
]


@pytest.mark.parametrize(
    ("flags", "flag"), BAD_FLAGS, ids=lambda v: " ".join(v) if isinstance(v, list) else None
)
def test_a_bad_flag_exits_2_with_one_line_and_writes_nothing(flags, flag, tmp_path, capsys):
    out = tmp_path / "runs"
    args = ["train", "supervised", "--dataset", "digits", "--encoder", "mlp", "--epochs", "1",
            "--batch-size", "128", "--out", str(out), "--results", str(tmp_path / "results"),
            *flags]  # fmt: skip
    try:
        code = main(args)
    except SystemExit as exit:  # argparse refuses it while parsing
        code = exit.code
    captured = capsys.readouterr()
    assert code == 2, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and flag in lines[0], captured.err
    assert lines[0].startswith("python -m sslib train: error: argument " + flag)
    assert captured.out == ""
    assert not out.exists() and not (tmp_path / "results").exists()  # nothing written


def test_a_bad_flag_from_a_shell_is_one_line_without_traceback(tmp_path):
    command = [sys.executable, "-m", "sslib", "train", "supervised", "--batch-size", "0"]
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert run.returncode == 2 and run.stdout == "" and not list(tmp_path.iterdir())
    assert run.stderr.splitlines() == [
        "python -m sslib train: error: argument --batch-size: must be at least 1, got 0"
    ]


def test_out_must_be_a_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    args = ["train", "supervised", "--dataset", "digits", "--out", str(tmp_path / "file")]
    assert main(args) == 2
    assert "--out" in capsys.readouterr().err


def test_record_names_versions_and_warns_when_the_embedding_collapses(
    tmp_path, capsys, monkeypatch
):
    import torch

    import sslib

    args = ["train", "supervised", "--dataset", "digits", "--encoder", "mlp", "--epochs", "1",
            "--batch-size", "128", "--out", str(tmp_path), "--tag", "t"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((tmp_path / "supervised-digits-t.json").read_text())
    assert record["versions"]["torch"] == torch.__version__
    assert record["versions"]["sslib"] == sslib.__version__
    assert record["versions"]["python"] == sys.version.split()[0]
    assert "cuda" in record["versions"] and record["warnings"] == []
    # a run whose encoder maps every image to one vector: it completes, and says so
    capsys.readouterr()
    monkeypatch.setattr(probe, "embed", lambda method, images: torch.ones(len(images), 8))
    monkeypatch.setattr(probe, "evaluate", lambda *a, **k: {"linear": 0.1, "knn": 0.1})
    assert main([*args, "--tag", "collapsed"]) == 0
    err = capsys.readouterr().err
    record = json.loads((tmp_path / "supervised-digits-collapsed.json").read_text())
    assert len(record["warnings"]) == 2 and "collapsed" in record["warnings"][0]
    assert all(f"warning: {w}" in err for w in record["warnings"])


def test_a_diverging_run_ends_with_one_line(tmp_path, capsys):
    args = ["train", "supervised", "--dataset", "digits", "--encoder", "mlp", "--epochs", "1",
            "--batch-size", "128", "--out", str(tmp_path), "--lr", "1e6",
            "--optimizer", "sgd"]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "loss became nan" in err[0] and "--lr" in err[0]


def test_collapse_warnings():
    labels = np.arange(1000) % 10
    rng = np.random.default_rng(0)
    assert probe.collapse_warnings(rng.normal(size=(1000, 8)), 0.9, labels) == []
    constant = np.ones((1000, 8)) + 1e-6 * rng.normal(size=(1000, 8))
    [variance, chance] = probe.collapse_warnings(constant, 0.1, labels)
    assert "collapsed" in variance and "chance" in chance
    [chance] = probe.collapse_warnings(rng.normal(size=(1000, 8)), 0.12, labels)
    assert "at chance" in chance


def test_full_recipes_follow_their_sources():
    from sslib.recipes import FULL

    simclr = FULL["simclr"]  # solo-learn's scripts/pretrain/cifar/simclr.yaml
    assert (simclr.optimizer, simclr.lr, simclr.weight_decay, simclr.batch_size) == (
        "lars", 0.4, 1e-4, 256)  # fmt: skip
    assert simclr.optimizer_options == {"trust": 0.02, "clip": True} and simclr.epochs == 1000
    mae = FULL["mae"]  # He et al. table 8
    assert mae.optimizer_options == {"betas": (0.9, 0.95)} and mae.weight_decay == 0.05
    assert mae.method_kwargs == {"mask_ratio": 0.75, "norm_pix_loss": True}
    assert FULL["dim"].encoder == "dcgan" and FULL["dim"].batch_size == 64


def test_dim_trains_with_the_papers_encoder_from_the_command_line(tmp_path):
    args = ["train", "dim", "--dataset", "digits", "--encoder", "dcgan", "--epochs", "0.25",
            "--batch-size", "64", "--out", str(tmp_path), "--tag", "t"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((tmp_path / "dim-digits-t.json").read_text())
    assert record["settings"]["encoder"] == "dcgan" and record["steps"] == 5


def test_the_flags_name_the_encoders_the_factories_build():
    from sslib import __main__ as cli
    from sslib import bench, nets

    assert set(cli._ENCODERS) == set(nets.ENCODERS)
    assert set(cli._BENCH_ENCODERS) == set(bench.ENCODERS)


def test_a_recipe_builds_the_same_network_for_a_seed_and_sets_the_loop():
    import inspect

    import torch

    from sslib import data, train
    from sslib.recipes import recipe

    vicreg = recipe("vicreg", "quick")
    options = vicreg.fit_options()
    assert set(options) <= set(inspect.signature(train.fit).parameters)
    assert options["epochs"] == vicreg.epochs and options["steps"] is None
    assert options["lr"] == vicreg.lr and options["channels_last"] == vicreg.channels_last
    assert vicreg.fit_options(7)["steps"] == 7 and vicreg.fit_options(7)["epochs"] is None
    images = data.load("digits", "train")
    a, b = (vicreg.build("vicreg", images, seed=3) for _ in range(2))
    c = vicreg.build("vicreg", images, seed=4, var_weight=0.0)
    same = zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    assert all(torch.equal(x, y) for x, y in same)
    assert not torch.equal(next(a.parameters()), next(c.parameters()))  # another seed
    assert c.weights[1] == 0.0 and a.weights[1] == vicreg.method_kwargs["var_weight"]
