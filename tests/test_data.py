import dataclasses
import time

import pytest
import torch

from sslib import data


@pytest.mark.parametrize(
    "name,shape,n", [("mnist5k", (1, 28, 28), 5000), ("digits", (1, 8, 8), 1797)]
)
def test_offline_sets(name, shape, n):
    train, test = data.load(name, "train"), data.load(name, "test")
    assert train.images.dtype == torch.uint8 and train.shape == shape
    assert len(train) + len(test) == n and len(data.load(name, "all")) == n
    assert train.images.max() > 200  # real 0..255 intensities, not 0..16
    # stratified: every class in both splits, test ~20%
    assert set(test.labels.tolist()) == set(range(10))
    assert abs(len(test) / n - data.TEST_FRACTION) < 0.01
    # splits are disjoint (compare images, which are distinct)
    tr = {bytes(x.numpy()) for x in train.images}
    assert not any(bytes(x.numpy()) in tr for x in test.images[:200])


def test_mnist5k_split_is_fixed_and_balanced():
    a, b = data.load("mnist5k"), data.load("mnist5k")
    assert torch.equal(a.images, b.images)
    assert torch.bincount(a.labels).tolist() == [400] * 10
    assert len(set(a.labels[:20].tolist())) > 3  # shuffled, not sorted by label


def test_per_class_and_subset():
    from sslib.probe import per_class_index  # the one per-class sampler

    digits = data.load("digits")
    s = digits.subset(per_class_index(digits.labels, 5, seed=1))
    assert torch.bincount(s.labels).tolist() == [5] * 10
    assert len(digits.subset(slice(0, 7))) == 7
    with pytest.raises(ValueError, match="fewer than"):
        per_class_index(digits.labels, 10_000)


def test_unknown_name_and_split():
    with pytest.raises(ValueError, match="mnist5k"):
        data.load("imagenet")
    with pytest.raises(ValueError, match="choose one of"):
        data.load("digits", "validation")
    with pytest.raises(ValueError, match="unlabeled"):
        data.load("stl10", "val")


def test_missing_real_set_fails_fast_and_cleanly(tmp_path):
    root = tmp_path / "mnist"
    start = time.perf_counter()
    with pytest.raises(data.DatasetUnavailable, match="is not in"):
        data.load("mnist", root=root, download=False)
    assert time.perf_counter() - start < 5
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def test_download_failure_leaves_nothing(tmp_path, monkeypatch):
    # Simulate a failed download: the staging folder must be removed, the target not created.
    import torchvision.datasets as tvd

    def broken(root, download=False, **kw):
        if download:
            open(root + "/half.gz", "w").write("x")
            raise RuntimeError("network unreachable")
        raise RuntimeError("Dataset not found")

    monkeypatch.setattr(tvd, "MNIST", broken)
    with pytest.raises(data.DatasetUnavailable, match="network unreachable"):
        data.load("mnist", root=tmp_path / "mnist", download=True)
    assert list(tmp_path.iterdir()) == []


def test_imageset_validates():
    with pytest.raises(ValueError, match="uint8"):
        data.ImageSet(torch.zeros(2, 1, 4, 4), torch.zeros(2, dtype=torch.long), ("a",), "x", "y")
    with pytest.raises(ValueError, match="labels"):
        data.ImageSet(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.zeros(3), ("a",), "x", "y")


def test_to_float():
    x = torch.tensor([0, 255], dtype=torch.uint8)
    torch.testing.assert_close(data.to_float(x), torch.tensor([0.0, 1.0]))


# The layouts torchvision sets store images in, as the reference (N, C, H, W) array is stored.
_STORED = {
    "NHW": lambda x: x[:, 0],
    "NHWC": lambda x: x.transpose(0, 2, 3, 1),
    "NCHW": lambda x: x,
}


@pytest.mark.parametrize("layout,channels", [("NHW", 1), ("NHWC", 3), ("NCHW", 3)])
@pytest.mark.parametrize("by_name", [False, True])
def test_one_table_row_drives_a_torchvision_set(tmp_path, monkeypatch, layout, channels, by_name):
    """A set added as one row of the table loads, splits, reads and checks through it alone."""
    import numpy as np
    import torchvision.datasets as tvd

    rng = np.random.default_rng(0)
    reference = {s: rng.integers(0, 256, (n, channels, 4, 5), dtype=np.uint8) for s, n in
                 [("train", 5), ("extra", 3)]}  # fmt: skip
    built = []

    class FakeSet:  # a torchvision-like class: data in ``layout``, labels in ``.labels``
        def __init__(self, root, download=False, **kwargs):
            built.append(kwargs)
            split = kwargs["split"] if by_name else ("train" if kwargs["train"] else "extra")
            self.data = _STORED[layout](reference[split])
            self.labels = np.arange(len(self.data)) % 2 - (split == "extra")  # -1 where unlabeled
            self.classes = ["even", "odd"]

    monkeypatch.setattr(tvd, "FakeSet", FakeSet, raising=False)
    row = data.TorchvisionSet(
        "FakeSet",
        ("train", "extra", "train+extra"),
        data.split_name if by_name else data.train_flag,
        layout,
        "labels",
        channels,
    )
    monkeypatch.setitem(data.TORCHVISION, "fake", row)

    both = data.load("fake", "train+extra", root=tmp_path, download=False)
    by_flag = [{"train": True}, {"train": False}]
    assert built == ([{"split": "train"}, {"split": "extra"}] if by_name else by_flag)
    expected = torch.from_numpy(np.concatenate([reference["train"], reference["extra"]]))
    assert torch.equal(both.images, expected) and both.images.is_contiguous()
    assert both.labels.tolist() == [0, 1, 0, 1, 0, -1, 0, -1] and both.labels.dtype == torch.int64
    assert (both.classes, both.name, both.split) == (("even", "odd"), "fake", "train+extra")
    with pytest.raises(ValueError, match="choose one of"):
        data.load("fake", "test", root=tmp_path, download=False)
    # the row's channel count is checked against what the set holds
    monkeypatch.setitem(data.TORCHVISION, "fake", dataclasses.replace(row, channels=2))
    with pytest.raises(ValueError, match="channels"):
        data.load("fake", "train", root=tmp_path, download=False)


def test_table_rows_are_checked_and_listed():
    with pytest.raises(ValueError, match="layout"):
        data.TorchvisionSet("MNIST", ("train",), data.train_flag, "HWC", "targets", 1)
    assert set(data.TORCHVISION) <= set(data.DATASETS)
    assert data.split_name("test") == {"split": "test"}
    assert data.train_flag("test") == {"train": False}
