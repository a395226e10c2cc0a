"""SimCLR and the contrastive objectives of chapter 3 against literal reference versions."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from sslib import augment, nets, train
from sslib.methods.simclr import SimCLR
from sslib.objectives import alignment, multiview_nt_xent, nt_xent, uniformity


def multiview_loop(zs: list[torch.Tensor], temperature: float) -> float:
    """Multi-view NT-Xent, one anchor and one positive at a time."""
    z = [torch.nn.functional.normalize(v, dim=1) for v in zs]
    k, n = len(z), len(z[0])
    total, count = 0.0, 0
    for a, i in itertools.product(range(k), range(n)):
        others = [(b, j) for b, j in itertools.product(range(k), range(n)) if (b, j) != (a, i)]
        denominator = sum(math.exp(float(z[a][i] @ z[b][j]) / temperature) for b, j in others)
        for b in range(k):
            if b != a:  # every other view of input i is a positive
                total -= math.log(math.exp(float(z[a][i] @ z[b][i]) / temperature) / denominator)
                count += 1
    return total / count


@pytest.mark.parametrize("k", [2, 3, 4])
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_multiview_nt_xent_matches_the_loop(k, temperature):
    g = torch.Generator().manual_seed(k)
    zs = [torch.randn(5, 3, generator=g, dtype=torch.float64) for _ in range(k)]
    expected = multiview_loop(zs, temperature)
    assert multiview_nt_xent(zs, temperature).item() == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("n", [2, 7])
@pytest.mark.parametrize("temperature", [0.05, 0.5, 2.0])
def test_multiview_with_two_views_is_nt_xent(n, temperature):
    g = torch.Generator().manual_seed(n)
    z1, z2 = torch.randn(n, 4, generator=g), torch.randn(n, 4, generator=g)
    torch.testing.assert_close(
        multiview_nt_xent([z1, z2], temperature), nt_xent(z1, z2, temperature)
    )


def test_multiview_rejects_a_single_view_and_bad_temperatures():
    z = torch.randn(4, 3)
    with pytest.raises(ValueError, match="K >= 2"):
        multiview_nt_xent([z])
    with pytest.raises(ValueError, match="temperature"):
        multiview_nt_xent([z, z], temperature=0.0)


def test_alignment_and_uniformity_match_their_formulas():
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g)
    z2 = z2.double()
    u, v = z1 / z1.norm(dim=1, keepdim=True), z2 / z2.norm(dim=1, keepdim=True)
    align = sum(float((u[i] - v[i]).norm()) ** 2 for i in range(6)) / 6
    assert alignment(z1, z2).item() == pytest.approx(align, rel=1e-12)
    pairs = [(i, j) for i in range(6) for j in range(6) if i < j]
    unif = math.log(sum(math.exp(-2 * float((u[i] - u[j]).norm()) ** 2) for i, j in pairs) / 15)
    assert uniformity(z1).item() == pytest.approx(unif, rel=1e-12)
    # scale-free (cosine), and identical pairs are perfectly aligned
    torch.testing.assert_close(alignment(3 * z1, z2), alignment(z1, z2))
    assert alignment(z1, 5 * z1).item() == pytest.approx(0.0, abs=1e-12)


def test_uniformity_prefers_spread_points():
    spread = torch.eye(4)  # orthogonal unit vectors: every squared distance is 2
    clumped = torch.ones(4, 4) + 0.01 * torch.eye(4)
    assert uniformity(spread).item() == pytest.approx(-4.0, rel=1e-6)  # log exp(-2 * 2)
    assert uniformity(spread) < uniformity(clumped)


def test_views_are_different_but_reproducible_under_a_seed():
    images = torch.rand(8, 1, 28, 28)
    views = augment.Views.for_digits()
    g = torch.Generator().manual_seed(0)
    x1, x2 = views(images, generator=g), views(images, generator=g)
    assert x1.shape == x2.shape == images.shape
    assert (x1 - x2).abs().amax(dim=(1, 2, 3)).min() > 0.05  # every image: two different views
    g = torch.Generator().manual_seed(0)
    torch.testing.assert_close(views(images, generator=g), x1)  # same seed, same first view


def _method(**kwargs) -> SimCLR:
    torch.manual_seed(0)
    return SimCLR(nets.SmallCNN(1, width=4), hidden_dim=16, proj_dim=8, **kwargs)


def test_loss_metrics_and_gradients():
    method = _method()
    images = (torch.rand(16, 1, 12, 12) * 255).to(torch.uint8)
    loss, metrics = method.loss((images, torch.zeros(16, dtype=torch.long)))
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert set(metrics) == {"infonce", "log_n", "top1", "alignment", "uniformity"}
    assert metrics["infonce"] <= math.log(16) + 1e-6
    assert metrics["log_n"].item() == pytest.approx(math.log(16))
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_embed_before_and_after_the_projection():
    method = _method()
    images = torch.rand(5, 1, 12, 12)
    method.eval()
    assert method.embed(images).shape == (5, method.encoder.out_dim)
    method.embed_projection = True
    assert method.embed(images).shape == (5, 8)


@pytest.mark.parametrize("channels, expected", [(1, augment.AffineViews), (3, augment.Views)])
def test_default_views_follow_the_channel_count(channels, expected):
    method = _method() if channels == 1 else SimCLR(nets.SmallCNN(3, width=4), hidden_dim=8)
    images = (torch.rand(8, channels, 12, 12) * 255).to(torch.uint8)
    method.loss((images,))
    assert type(method.views) is expected


def test_three_views_train_and_bad_arguments_raise():
    method = _method(num_views=3)
    images = (torch.rand(32, 1, 12, 12) * 255).to(torch.uint8)
    history = train.fit(method, images, steps=3, batch_size=8, progress=False, device="cpu")
    assert math.isfinite(history.last("loss"))
    with pytest.raises(ValueError, match="num_views"):
        _method(num_views=1)
    with pytest.raises(ValueError, match="temperature"):
        _method(temperature=-1.0)


def test_quick_recipe_builds_the_chapters_simclr():
    from sslib import methods, nets
    from sslib.recipes import QUICK

    recipe = QUICK["simclr"]
    assert recipe.encoder == "strided_cnn" and recipe.batch_size == 128
    assert int(recipe.epochs * (4000 // recipe.batch_size)) == 400  # mnist5k: the chapter's steps
    method = methods.build("simclr", nets.make_encoder(recipe.encoder, (1, 28, 28)), None,
                          **recipe.method_kwargs)  # fmt: skip
    assert isinstance(method.views, augment.AffineViews) and method.temperature == 0.3
    assert isinstance(method.encoder, nets.StridedCNN)
    assert method.head(torch.zeros(2, 128)).shape == (2, 128)
