import pytest
import torch

from sslib import augment


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def rgb():
    return torch.rand(6, 3, 32, 32, generator=_gen(9))


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, g: augment.random_resized_crop(x, generator=g),
        lambda x, g: augment.horizontal_flip(x, generator=g),
        lambda x, g: augment.color_jitter(x, generator=g),
        lambda x, g: augment.random_grayscale(x, p=0.5, generator=g),
        lambda x, g: augment.gaussian_blur(x, generator=g),
        lambda x, g: augment.gaussian_noise(x, generator=g),
        lambda x, g: augment.Views()(x, g),
        lambda x, g: augment.random_affine(x, generator=g),
        lambda x, g: augment.random_erasing(x, generator=g),
        lambda x, g: augment.AffineViews()(x, g),
    ],
)
def test_shape_range_and_determinism(fn, rgb):
    a, b = fn(rgb, _gen(1)), fn(rgb, _gen(1))
    assert a.shape == rgb.shape and a.dtype == rgb.dtype
    assert a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(a, b)  # same generator seed, same views


def test_two_views_differ_and_per_image_settings(rgb):
    views = augment.Views()
    x1, x2 = views(rgb, _gen(1)), views(rgb, _gen(2))
    assert not torch.allclose(x1, x2)
    # one random crop per image, not one per batch: identical inputs get different crops
    same = rgb[:1].expand(8, -1, -1, -1).contiguous()
    crops = augment.random_resized_crop(same, generator=_gen(3))
    assert not torch.allclose(crops[0], crops[1])


def test_crop_with_full_scale_is_identity():
    x = torch.rand(2, 1, 16, 16)
    y = augment.random_resized_crop(x, scale=(1.0, 1.0), ratio=(1.0, 1.0), generator=_gen())
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_crop_resizes():
    x = torch.rand(2, 3, 32, 32)
    assert augment.random_resized_crop(x, size=24, generator=_gen()).shape == (2, 3, 24, 24)


def test_flip_probabilities():
    x = torch.rand(4, 1, 5, 5)
    torch.testing.assert_close(augment.horizontal_flip(x, p=1.0), x.flip(-1))
    torch.testing.assert_close(augment.horizontal_flip(x, p=0.0), x)


def test_jitter_off_is_identity_and_hue_keeps_grey(rgb):
    torch.testing.assert_close(augment.color_jitter(rgb, p=0.0), rgb)
    grey = rgb.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    out = augment.color_jitter(grey, 0, 0, 0, 0.5, p=1.0, generator=_gen())
    torch.testing.assert_close(out, grey, atol=1e-5, rtol=0)  # hue rotation leaves grey alone


def test_blur_preserves_constant_images():
    x = torch.full((3, 3, 16, 16), 0.3)
    torch.testing.assert_close(augment.gaussian_blur(x, p=1.0, generator=_gen()), x)


def test_rotate90_matches_torch():
    x = torch.rand(4, 1, 6, 6)
    k = torch.tensor([0, 1, 2, 3])
    out = augment.rotate90(x, k)
    for i in range(4):
        torch.testing.assert_close(out[i], torch.rot90(x[i], i, dims=(-2, -1)))
    with pytest.raises(ValueError, match="square"):
        augment.rotate90(torch.rand(1, 1, 4, 5), torch.tensor([1]))


def test_rejects_uint8():
    with pytest.raises(ValueError, match="to_float"):
        augment.horizontal_flip(torch.zeros(1, 1, 4, 4, dtype=torch.uint8))


def test_digit_views():
    x = torch.rand(4, 1, 28, 28)
    y = augment.Views.for_digits()(x, _gen())
    assert y.shape == x.shape


def test_random_affine_without_randomness_is_the_identity():
    x = torch.rand(3, 1, 28, 28, generator=_gen(2))
    same = augment.random_affine(x, degrees=0, scale=(1, 1), translate=0, elastic=0)
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)


def test_random_affine_scale_shrinks_the_digit():
    x = torch.zeros(1, 1, 28, 28)
    x[..., 4:24, 4:24] = 1.0
    small = augment.random_affine(x, degrees=0, scale=(0.5, 0.5), translate=0, elastic=0)
    assert small.sum().item() == pytest.approx(x.sum().item() / 4, rel=0.05)  # area ~ s^2


def test_random_erasing_fills_one_rectangle_per_image():
    x = torch.ones(64, 1, 28, 28)
    out = augment.random_erasing(x, p=1.0, max_side=0.5, generator=_gen(3))
    erased = out == 0
    assert erased.any(dim=(1, 2, 3)).float().mean() > 0.8  # most rectangles are non-empty
    rows, cols = erased.any(dim=3), erased.any(dim=2)  # a rectangle: its area = rows x cols
    assert torch.equal(erased.sum(dim=(1, 2, 3)), (rows.sum(dim=(1, 2)) * cols.sum(dim=(1, 2))))
    assert erased.sum(dim=(1, 2, 3)).max() <= 14 * 14
    none = augment.random_erasing(x, p=0.0, generator=_gen(3))
    assert torch.equal(none, x)


def test_make_views_names_its_choices():
    assert isinstance(augment.make_views("affine"), augment.AffineViews)
    with pytest.raises(ValueError, match="choose one of"):
        augment.make_views("nope")
