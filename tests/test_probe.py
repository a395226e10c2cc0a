import numpy as np
import pytest
import torch

from sslib import data, nets, probe
from sslib.methods import Supervised


def _blobs(n, d=8, classes=3, seed=0, spread=0.3):
    """Gaussian blobs around centres fixed by seed 0; ``seed`` draws the points."""
    centres = np.random.default_rng(0).normal(size=(classes, d)) * 3
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = centres[y] + spread * rng.normal(size=(n, d))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def test_linear_and_knn_separate_blobs():
    xtr, ytr = _blobs(300)
    xte, yte = _blobs(100, seed=1)
    assert probe.linear_probe(xtr, ytr, xte, yte) > 0.95
    assert probe.knn_accuracy(xtr, ytr, xte, yte, k=5) > 0.95


def test_probes_are_at_chance_on_noise():
    x, y = torch.randn(400, 16), torch.randint(0, 4, (400,))
    acc = probe.linear_probe(x[:300], y[:300], x[300:], y[300:])
    assert acc < 0.45  # chance is 0.25; 100 test points
    assert probe.knn_accuracy(x[:300], y[:300], x[300:], y[300:]) < 0.45


def test_knn_rejects_bad_k():
    x, y = torch.randn(10, 3), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="k must be"):
        probe.knn_accuracy(x, y, x, y, k=11)


def test_linear_probe_checks_shapes():
    with pytest.raises(ValueError, match="features"):
        probe.linear_probe(torch.randn(5, 3), torch.zeros(5), torch.randn(5, 4), torch.zeros(5))


def test_embed_raw_pixels_and_random_init():
    ds = data.load("digits", "test")
    m = Supervised(nets.MLP(64, (16,), 8), 10)
    feats = probe.embed(m, ds, batch_size=100)
    assert feats.shape == (len(ds), 8) and m.training  # training mode restored
    assert probe.raw_pixels(ds).shape == (len(ds), 64)
    assert float(probe.raw_pixels(ds).max()) <= 1.0
    fresh = probe.random_init(m, seed=1)
    assert not torch.equal(fresh.encoder.net[0].weight, m.encoder.net[0].weight)
    assert fresh is not m


def test_evaluate_on_raw_digits_beats_chance():
    tr, te = data.load("digits"), data.load("digits", "test")
    scores = probe.evaluate(Supervised(nets.MLP(64, (64,), 64), 10), tr, te)
    assert set(scores) == {"linear", "knn"}
    assert scores["linear"] > 0.5  # a random MLP already keeps most of the digit information


def test_correctness_agrees_with_evaluate_and_feeds_stats():
    from sslib import stats

    tr, te = data.load("digits"), data.load("digits", "test")
    method = Supervised(nets.MLP(64, (64,), 64), 10)
    scores = probe.evaluate(method, tr, te)
    correct = probe.correctness(method, tr, te)
    assert set(correct) == {"linear", "knn"} and correct["linear"].shape == (len(te),)
    assert correct["linear"].mean() == pytest.approx(scores["linear"])
    assert correct["knn"].mean() == pytest.approx(scores["knn"])
    pixels = probe.features_correctness(
        probe.raw_pixels(tr), tr.labels, probe.raw_pixels(te), te.labels
    )
    iv = stats.paired_difference(pixels["linear"], correct["linear"])
    assert iv.low <= iv.estimate <= iv.high


def test_mlp_correctness_reads_what_a_linear_probe_cannot():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1200, 2, generator=g) * 2 - 1
    y = ((x[:, 0] * x[:, 1]) > 0).long()  # XOR of the signs: no line separates it
    correct = probe.mlp_correctness(x[:1000], y[:1000], x[1000:], y[1000:], steps=300)
    assert correct.shape == (200,) and set(np.unique(correct)) <= {0.0, 1.0}
    linear = probe.features_correctness(x[:1000], y[:1000], x[1000:], y[1000:])["linear"]
    assert correct.mean() > 0.9 > 0.7 > linear.mean()
    again = probe.mlp_correctness(x[:1000], y[:1000], x[1000:], y[1000:], steps=300)
    assert np.array_equal(correct, again)  # seeded
