"""``python -m sslib bench simclr``: both pipelines run and the record is complete."""

import json

import torch

from sslib import bench
from sslib.__main__ import main


def test_bench_simclr_record_and_cli(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["bench", "simclr", "--encoder", "cnn", "--batch-size", "8", "--steps", "2",
            "--warmup", "1", "--workers", "0", "--device", "cpu", "--json", str(out)]  # fmt: skip
    assert main(argv) == 0
    record = json.loads(out.read_text())
    assert [r["pipeline"] for r in record["results"]] == ["sslib", "usual"]
    for r in record["results"]:
        assert r["images_per_second"] > 0 and r["step_ms"] > 0 and r["steps"] == 2
    ratio = record["results"][0]["images_per_second"] / record["results"][1]["images_per_second"]
    assert abs(record["speedup"] - ratio) < 1e-9
    assert record["command"].startswith("python -m sslib bench simclr") and record["hardware"]
    assert "speedup of sslib" in capsys.readouterr().out


def test_usual_transform_makes_float_views_of_uint8_images():
    images = bench.synthetic_cifar(2)
    view = bench.usual_transform()(images[0])
    assert view.shape == (3, 32, 32) and view.dtype.is_floating_point
    assert 0.0 <= view.min() and view.max() <= 1.0


def test_digit_setting_trains_the_strided_cnn_on_real_digits(tmp_path):
    record = bench.bench_simclr(encoder="strided_cnn", batch_size=8, steps=1, warmup=1,
                                workers=0, device="cpu", dataset_size=16)  # fmt: skip
    assert record["encoder"] == "strided_cnn" and "(1, 28, 28)" in record["images"]
    pipelines = [r["pipeline"] for r in record["results"]]
    assert pipelines == ["sslib", "usual", "usual-no-elastic"]
    assert all(r["images_per_second"] > 0 for r in record["results"])
    text = bench.report(record)
    assert "(1, 28, 28)" in text and "without its elastic warp" in text


def test_usual_digit_transform_makes_one_channel_views_in_the_unit_interval():
    image = bench.digit_images(1)[0]
    views = [bench.usual_digit_transform()(image) for _ in range(2)]
    assert all(v.shape == (1, 28, 28) and v.dtype == torch.float32 for v in views)
    assert all(0.0 <= v.min() and v.max() <= 1.0 for v in views)
    assert (views[0] - views[1]).abs().max() > 0.05  # random: two different views


def test_usual_digit_transform_without_elastic_leaves_out_only_the_warp():
    from torchvision import transforms as T

    names = [type(t).__name__ for t in bench.usual_digit_transform(elastic=False).transforms]
    full = [type(t).__name__ for t in bench.usual_digit_transform().transforms]
    assert T.ElasticTransform.__name__ not in names
    assert [n for n in full if n != T.ElasticTransform.__name__] == names
