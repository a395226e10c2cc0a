import numpy as np
import pytest
import torch

from sslib import nets, probe, train
from sslib.data import render3d, sample_photos, video
from sslib.methods import pretext
from sslib.methods.pretext import (
    colorization,
    relative_position,
    relative_rotation,
    rotation,
)


def _images(n=8, size=28, channels=1, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), generator=g, dtype=torch.uint8)


# --- rotation -------------------------------------------------------------------------------


def test_all_rotations_labels_match_the_turn_applied():
    x = torch.rand(5, 1, 6, 6)
    rotated, labels = rotation.all_rotations(x)
    assert rotated.shape == (20, 1, 6, 6) and labels.shape == (20,)
    for row in range(20):
        k, i = divmod(row, 5)
        assert labels[row] == k
        torch.testing.assert_close(rotated[row], torch.rot90(x[i], k, dims=(-2, -1)))
    with pytest.raises(ValueError, match="square"):
        rotation.all_rotations(torch.rand(2, 1, 4, 5))


def test_rotation_method_trains_and_predicts():
    method = pretext.RotationPrediction(nets.SmallCNN(1, 4))
    history = train.fit(method, _images(16), steps=2, batch_size=8, progress=False)
    assert np.isfinite(history["loss"]).all()
    pred = method.predictions(_images(3))
    assert pred.shape == (3, 4) and pred.dtype == torch.int64
    assert method.embed(_images(3)).shape == (3, 16)


# --- relative patch position ----------------------------------------------------------------


def _coordinate_images(n, size=28):
    rows, cols = torch.meshgrid(torch.arange(float(size)), torch.arange(float(size)), indexing="ij")
    return torch.stack([rows, cols]).expand(n, 2, size, size)


@pytest.mark.parametrize("patch,gap,jitter", [(7, 3, 1), (9, 0, 0), (5, 2, 3)])
def test_patch_pair_labels_match_where_the_patch_was_cut(patch, gap, jitter):
    x = _coordinate_images(200)
    g = torch.Generator().manual_seed(0)
    centre, neighbour, labels = relative_position.patch_pair(x, patch, gap, jitter, g)
    assert centre.shape == neighbour.shape == (200, 2, patch, patch)
    offset = ((neighbour[:, :, 0, 0] - centre[:, :, 0, 0]) / (patch + gap)).round().long()
    expected = torch.tensor(relative_position.NEIGHBOURS)[labels] - 1
    assert torch.equal(offset, expected)
    # patches are contiguous crops: coordinates step by one pixel
    assert (centre[:, 0, 1:, 0] - centre[:, 0, :-1, 0] == 1).all()
    assert set(labels.tolist()) == set(range(8))


def test_patch_pair_is_deterministic_under_a_seed_and_checks_its_fit():
    x = torch.rand(10, 1, 28, 28)
    a = relative_position.patch_pair(x, 7, 3, 1, torch.Generator().manual_seed(5))
    b = relative_position.patch_pair(x, 7, 3, 1, torch.Generator().manual_seed(5))
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)
    with pytest.raises(ValueError, match="exceeds"):
        relative_position.patch_pair(x, 9, 1, 0)


def test_relative_position_trains():
    method = pretext.RelativePosition(nets.SmallCNN(1, 4))
    history = train.fit(method, _images(16), steps=2, batch_size=8, progress=False)
    assert np.isfinite(history["loss"]).all() and "accuracy" in history.metrics
    correct, labels = method.accuracy(_images(4))
    assert correct.shape == labels.shape == (4,)


# --- 3D turntable -------------------------------------------------------------------------


def test_turn_pair_labels_count_turns_from_first_to_second():
    views = torch.arange(4).view(1, 4, 1, 1, 1).expand(50, 4, 1, 2, 2)  # view k holds k
    x1, x2, labels = relative_rotation.turn_pair(views, torch.Generator().manual_seed(0))
    assert x1.shape == (50, 1, 2, 2)
    assert torch.equal((x2[:, 0, 0, 0] - x1[:, 0, 0, 0]) % 4, labels)
    again = relative_rotation.turn_pair(views, torch.Generator().manual_seed(0))[2]
    assert torch.equal(labels, again)


def test_turntable_views_are_turns_of_one_object():
    views, labels = render3d.turntable(1, turns=4, size=16, shapes=("cube", "cone"))
    assert views.shape == (2, 4, 1, 16, 16) and views.dtype == torch.uint8
    assert labels.tolist() == [0, 1]
    assert not torch.equal(views[1, 0], views[1, 1])  # a cone changes when turned


def test_relative_rotation_trains():
    views, _ = render3d.turntable(2, size=16)
    method = pretext.RelativeRotation3D(nets.SmallCNN(1, 4))
    history = train.fit(method, views, steps=2, batch_size=8, progress=False)
    assert np.isfinite(history["loss"]).all()
    assert method.embed(views[:3, 0]).shape == (3, 16)


# --- colorization -------------------------------------------------------------------------


def test_yiq_round_trip_and_chroma_bins():
    x = torch.rand(3, 3, 4, 4)
    torch.testing.assert_close(colorization.yiq_to_rgb(colorization.rgb_to_yiq(x)), x)
    grey = colorization.rgb_to_yiq(torch.full((1, 3, 2, 2), 0.5))[:, 1:]
    centre = colorization.chroma_bins(grey, 15, 0.3)
    assert (centre == 7 * 15 + 7).all()  # grey falls in the middle cell
    centres = colorization.bin_centres(15, 0.3)  # (225, 2)
    bins = colorization.chroma_bins(centres.T.reshape(1, 2, 15, 15), 15, 0.3)
    assert torch.equal(bins.flatten(), torch.arange(225))  # each centre lies in its own cell


def test_colorization_trains_and_colorizes():
    method = pretext.Colorization(nets.SmallCNN(1, 4))
    images = _images(16, size=16, channels=3)
    history = train.fit(method, images, steps=2, batch_size=8, progress=False)
    assert np.isfinite(history["loss"]).all()
    logits, targets = method.logits_and_targets(images[:2])
    assert logits.shape == (2, 225, 4, 4) and targets.shape == (2, 4, 4)
    out = method.colorize(images[:2])
    assert out.shape == (2, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="odd"):
        pretext.Colorization(nets.SmallCNN(1, 4), bins_per_axis=10)


def test_photo_patches_are_offline_colour_and_split():
    train_patches = sample_photos.photo_patches(6, size=16, split="train")
    test_patches = sample_photos.photo_patches(6, size=16, split="test")
    assert train_patches.shape == (6, 3, 16, 16) and train_patches.dtype == torch.uint8
    assert not torch.equal(train_patches, test_patches)
    assert torch.equal(train_patches, sample_photos.photo_patches(6, size=16, split="train"))


def test_photo_patches_train_share_is_where_train_patches_come_from(monkeypatch):
    from sklearn.datasets import load_sample_images

    # the train columns end (size + 0.5) / width along: every train patch starts at column 0
    width = load_sample_images().images[0].shape[1] // 2  # shrunk by scale 2
    monkeypatch.setattr(sample_photos, "TRAIN_SHARE", (16 + 0.5) / width)
    patches = sample_photos.photo_patches(4, size=16, split="train").float()
    photo = torch.from_numpy(load_sample_images().images[0].copy()).permute(2, 0, 1).float()
    left = torch.nn.functional.avg_pool2d(photo[None], 2)[0][:, :, :16].round()  # (3, H, 16)
    for patch in patches[:2]:  # the first photo's
        assert any(torch.equal(patch, left[:, t : t + 16]) for t in range(left.shape[1] - 15))


# --- next frame ---------------------------------------------------------------------------


def test_moving_digits_move_in_straight_lines():
    digit = torch.zeros(1, 1, 6, 6, dtype=torch.uint8)
    digit[0, 0, 2:4, 2:4] = 255
    videos, which = video.moving_digits(
        digit, 20, frames=5, size=20, num_digits=1, speed=(2.0, 2.0), seed=0
    )
    assert videos.shape == (20, 5, 1, 20, 20) and which.shape == (20, 1)
    mass = videos.float().sum(dim=(2, 3, 4))
    assert (mass == mass[:, :1]).all()  # the digit never leaves the canvas
    ys, xs = torch.meshgrid(torch.arange(20.0), torch.arange(20.0), indexing="ij")
    w = videos[:, :, 0].float()
    centre = (
        torch.stack([(w * ys).sum((-2, -1)), (w * xs).sum((-2, -1))], -1)
        / w.sum((-2, -1))[..., None]
    )
    step = (centre[:, 1:] - centre[:, :-1]).norm(dim=-1)
    assert (step <= 2.0 + 1.5).all()  # speed 2 px/frame, plus rounding
    again = video.moving_digits(digit, 20, frames=5, size=20, num_digits=1, seed=0)[0]
    assert torch.equal(
        video.moving_digits(digit, 20, frames=5, size=20, num_digits=1, seed=0)[0], again
    )


def test_next_frame_trains_on_videos():
    digits = _images(4, size=8)
    videos, _ = video.moving_digits(digits, 16, frames=3, size=16)
    method = pretext.NextFramePrediction(nets.SmallCNN(2, 4))
    context, target = method.split(videos[:2])
    assert context.shape == (2, 2, 16, 16) and target.shape == (2, 1, 16, 16)
    assert method.predict(context).shape == (2, 1, 16, 16)
    history = train.fit(method, videos, steps=2, batch_size=8, progress=False)
    assert np.isfinite(history["loss"]).all()
    assert method.embed(videos[:3, 0]).shape == (3, 16)


# --- evaluation protocol ------------------------------------------------------------------


def test_label_efficiency_draws_paired_subsets():
    g = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    x = g.normal(size=(60, 4)) + 3 * np.eye(4)[y]
    curve = probe.label_efficiency(x, y, x, y, per_class=[1, 5, 20], repeats=3)
    assert list(curve) == [1, 5, 20]
    assert curve[1].shape == (3,) and curve[20].shape == (1,)  # all the data: probed once
    assert curve[20][0] > 0.9
    again = probe.label_efficiency(x, y, x, y, per_class=[1, 5, 20], repeats=3)
    for n in curve:
        np.testing.assert_array_equal(curve[n], again[n])
    knn = probe.label_efficiency(x, y, x, y, per_class=[1], repeats=2, probe="knn")
    assert knn[1].shape == (2,)
    idx = probe.per_class_index(y, 5, seed=1)
    assert np.array_equal(np.bincount(y[idx]), [5, 5, 5])
    with pytest.raises(ValueError, match="fewer than"):
        probe.per_class_index(y, 21)


def test_compare_makes_a_table():
    text = probe.compare({"raw pixels": {"linear": 0.5, "knn": 0.25}, "rotation": {"linear": 1}})
    lines = text.splitlines()
    assert lines[0].split() == ["encoder", "linear", "knn"]
    assert lines[1].split() == ["raw", "pixels", "50.0%", "25.0%"]
    assert lines[2].split() == ["rotation", "100.0%", "-"]
