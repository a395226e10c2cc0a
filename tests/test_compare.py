import json

import numpy as np
import pytest

from sslib import compare, data, recipes, stats


def test_arm_specs_parse_into_method_overrides_and_steps():
    arm = compare.parse_arm("simsiam:stop_gradient=false@480")
    assert (arm.method, arm.overrides, arm.steps, arm.trained) == (
        "simsiam", {"stop_gradient": False}, 480, True)  # fmt: skip
    assert compare.parse_arm("vicreg:var_weight=0").overrides == {"var_weight": 0}
    assert compare.parse_arm("byol:predictor=false,momentum_base=0.9").overrides == {
        "predictor": False, "momentum_base": 0.9}  # fmt: skip
    assert compare.parse_arm("pixels").method is None
    random = compare.parse_arm("random:jepa")
    assert (random.method, random.trained, random.steps) == ("jepa", False, None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("simclrr", "unknown method 'simclrr'"),
        ("simsiam:stop_grad=false", "simsiam takes no ['stop_grad']"),
        ("simsiam:stop_gradient", "KEY=VALUE"),
        ("mae@0", "positive integer"),
        ("mae@ten", "positive integer"),
        ("random:mae@5", "not trained"),
    ],
)
def test_bad_arm_specs_say_what_is_wrong(spec, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compare.parse_arm(spec)


def test_bad_arm_spec_on_the_command_line_exits_2(tmp_path, capsys):
    code = compare.main(["nonsense", "--name", "x", "--json", str(tmp_path / "x.json")])
    assert code == 2
    assert "unknown method 'nonsense'" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_like_and_scale_set_the_budget():
    r = compare.arm_recipe(compare.parse_arm("simclr"), like="vicreg", scale=4)
    vicreg = recipes.recipe("vicreg", "quick")
    assert r.batch_size == vicreg.batch_size and r.epochs == pytest.approx(4 * vicreg.epochs)
    assert r.method_kwargs == recipes.recipe("simclr", "quick").method_kwargs


def test_overrides_reach_the_method(monkeypatch):
    built = []
    original = compare.methods.build
    monkeypatch.setattr(compare.methods, "build", lambda *a, **kw: built.append(original(*a, **kw))
                        or built[-1])  # fmt: skip
    train_set, test_set = data.load("digits", "train"), data.load("digits", "test")
    for spec in [
        "simsiam:stop_gradient=false@2",
        "vicreg:var_weight=0@2",
        "byol:predictor=false@2",
    ]:
        arm = compare.parse_arm(spec)
        compare.run_arm(arm, compare.arm_recipe(arm), 0, train_set, test_set)
    assert built[0].stop_gradient is False
    assert built[1].weights[1] == 0
    assert built[2].predictor is None


def test_record_schema_and_outcomes_round_trip(tmp_path):
    path = tmp_path / "cmp.json"
    arms = ["simsiam@3", "simsiam:stop_gradient=false@2", "random:vicreg", "mae@2", "pixels"]
    code = compare.main([*arms, "--dataset", "digits", "--seeds", "0", "1", "--probe-z",
                         "--name", "tiny", "--json", str(path)])  # fmt: skip
    assert code == 0
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically
    record = json.loads(path.read_text())
    assert record["experiment"] == "compare" and record["name"] == "tiny"
    for key in ["command", "commit", "hardware", "threads", "wall_time_s", "cpu_time_s"]:
        assert key in record
    assert record["command"].startswith("python -m sslib.compare simsiam@3 ")
    assert record["command"].endswith(f"--json {path}")
    assert list(record["arms"]) == arms and record["seeds"] == [0, 1]
    m = record["test_examples"]
    intact = record["arms"]["simsiam@3"]
    assert intact["overrides"] == {} and [r["steps"] for r in intact["runs"]] == [3, 3]
    assert record["arms"]["simsiam:stop_gradient=false@2"]["overrides"] == {"stop_gradient": False}
    assert all(r["cpu_s"] > 0 for r in intact["runs"])
    assert record["arms"]["random:vicreg"]["runs"][0]["steps"] == 0
    for spec in ["simsiam@3", "random:vicreg"]:  # projector arms: z probed and ranked
        assert {"erank_z", "z_linear", "z_knn"} <= set(record["arms"][spec]["runs"][0])
    assert "erank_z" not in record["arms"]["mae@2"]["runs"][0]  # no projector
    pixels = compare.outcomes(record, "pixels", "knn")
    assert pixels.shape == (1, m)  # no seed: one row
    z = compare.outcomes(record, "simsiam@3", "z_linear")
    assert z.shape == (2, m) and set(np.unique(z)) <= {0.0, 1.0}
    iv = stats.paired_difference(compare.outcomes(record, "simsiam@3"), pixels)
    assert iv.low <= iv.estimate <= iv.high
    with pytest.raises(KeyError, match="no 'z_linear'"):
        compare.outcomes(record, "mae@2", "z_linear")
    with pytest.raises(KeyError, match="no arm 'byol'"):
        compare.outcomes(record, "byol")


def test_outcomes_are_the_probes_of_the_trained_network():
    """The packed bits are features_correctness of the run's own h (seeded: reproducible)."""
    train_set, test_set = data.load("digits", "train"), data.load("digits", "test")
    arm = compare.parse_arm("vicreg@2")
    a = compare.run_arm(arm, compare.arm_recipe(arm), 1, train_set, test_set)
    b = compare.run_arm(arm, compare.arm_recipe(arm), 1, train_set, test_set)
    assert (a["linear"], a["knn"], a["erank_h"]) == (b["linear"], b["knn"], b["erank_h"])
