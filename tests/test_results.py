"""``sslib.results`` reads the records the command line writes; ``sslib.recipes`` names them."""

import json

import pytest

from sslib import recipes, results
from sslib.__main__ import main
from sslib.methods import METHODS


def test_a_recorded_run_and_benchmark_become_tables(tmp_path):
    assert main(["train", "supervised", "--dataset", "digits", "--encoder", "mlp", "--epochs",
                 "1", "--batch-size", "128", "--out", str(tmp_path)]) == 0  # fmt: skip
    (tmp_path / "bench.json").write_text(json.dumps({
        "benchmark": "simclr", "device": "cpu", "encoder": "cnn", "precision": "fp32",
        "channels_last": False, "speedup": 1.5, "hardware": "a CPU",
        "results": [{"pipeline": "sslib", "images_per_second": 30.0},
                    {"pipeline": "usual", "images_per_second": 20.0}],
    }))  # fmt: skip
    (tmp_path / "few.json").write_text(json.dumps({"experiment": "few_labels", "method": "simclr"}))
    assert [r["file"] for r in results.experiments("few_labels", tmp_path)] == ["few.json"]
    (run,) = results.runs("supervised", tmp_path)
    assert run["file"] == "supervised-digits-quick.json" and results.runs("simclr", tmp_path) == []
    table = results.runs_table([run])
    assert f"{run['probe']['linear']:.1%}" in table and table.count("\n") == 2
    table = results.benchmarks_table(results.benchmarks(tmp_path))
    assert "1.50x" in table and "| – |" in table  # no usual-no-elastic pipeline in this record
    # a quick run is not a full-budget record
    assert "No full-budget run of `supervised`" in results.show("supervised", folder=tmp_path).data


def test_missing_folder_has_no_records_and_bad_json_is_named(tmp_path):
    assert results.load(tmp_path / "nowhere") == []
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="broken.json"):
        results.load(tmp_path)


def test_every_full_recipe_names_a_method_and_a_source():
    assert set(recipes.FULL) <= set(METHODS)
    for name, recipe in recipes.FULL.items():
        assert recipe.source and recipe.epochs > 0
        assert name in recipes.describe(name)
    assert recipes.recipe("simclr", "quick") is recipes.QUICK.get("simclr", recipes.QUICK_DEFAULT)
    with pytest.raises(ValueError, match="budget"):
        recipes.recipe("simclr", "medium")
