import json

import numpy as np
import pytest

from sslib import config, data, few_labels, nets, probe, stats


def test_pack_round_trip_keeps_every_outcome():
    rng = np.random.default_rng(0)
    correct = rng.random(1001) < 0.7  # not a whole number of bytes
    text = few_labels.pack(correct)
    assert len(text) == 2 * 126
    np.testing.assert_array_equal(few_labels.unpack(text, 1001), correct.astype(float))


def test_record_arms_give_paired_intervals(tmp_path):
    path = tmp_path / "few.json"
    code = few_labels.main(["simclr", "--dataset", "digits", "--per-class", "1", "2",
                            "--draws", "2", "--supervised-steps", "2", "3", "--ssl-steps", "2",
                            "--json", str(path)])  # fmt: skip
    assert code == 0
    record = json.loads(path.read_text())
    assert record["command"].startswith("python -m sslib.few_labels simclr --dataset digits ")
    assert record["supervised"]["steps"] == {"1": [2], "2": [3, 6]}  # the largest, twice as long
    ssl = few_labels.outcomes(record, 2, "probe")
    sup = few_labels.outcomes(record, 2, "supervised@6")
    assert ssl.shape == sup.shape == (2, record["test_examples"])
    assert set(np.unique(ssl)) <= {0.0, 1.0}
    iv = stats.paired_difference(ssl, sup)
    assert iv.low <= iv.estimate <= iv.high
    with pytest.raises(KeyError, match="supervised@6"):
        few_labels.outcomes(record, 1, "supervised@6")
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically


def test_steps_must_match_the_counts(tmp_path, capsys):
    code = few_labels.main(["simclr", "--per-class", "1", "10", "--supervised-steps", "5",
                            "--json", str(tmp_path / "x.json")])  # fmt: skip
    assert code == 2
    assert "one --supervised-steps entry per --per-class entry" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_the_end_to_end_arm_is_finetune_predictions_on_a_network_built_under_the_draw():
    train_set, test_set = data.load("digits", "train"), data.load("digits", "test")
    features = probe.raw_pixels(train_set), probe.raw_pixels(test_set)
    fit = dict(batch_size=8, lr=1e-2, weight_decay=0.0, warmup=0.0, views=None, device="cpu")
    make = lambda: nets.make_encoder("strided_cnn", train_set.shape)  # noqa: E731
    row = few_labels.sweep(features, make, train_set, test_set, [2], 2, {2: [5]}, **fit)["2"]
    y = test_set.labels.numpy()
    for draw in range(2):  # draw d: the labelled images of seed d, the network of seed d
        index = probe.per_class_index(train_set.labels, 2, seed=draw)
        config.seed_everything(draw)
        expected = probe.finetune_predictions(
            make(), train_set.images[index], train_set.labels[index], test_set.images,
            num_classes=10, steps=5, seed=draw, **fit)  # fmt: skip
        got = few_labels.unpack(row["supervised@5"][draw], len(y))
        np.testing.assert_array_equal(got, (expected == y).astype(float))
