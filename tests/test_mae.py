import pytest
import torch

from sslib import nets, probe, train
from sslib.methods.mae import MAE, random_patch_mask


@pytest.mark.parametrize("size,patch,channels", [(28, 7, 1), (28, 4, 1), (32, 8, 3)])
def test_patchify_round_trip(size, patch, channels):
    x = torch.rand(2, channels, size, size)
    patches = nets.patchify(x, patch)
    assert patches.shape == (2, (size // patch) ** 2, channels * patch * patch)
    assert torch.equal(nets.unpatchify(patches, patch, size, size), x)
    grid = size // patch
    for i in (0, grid + 1, grid**2 - 1):  # patch i is row i // grid, column i % grid
        r, c = divmod(i, grid)
        block = x[1, :, r * patch : (r + 1) * patch, c * patch : (c + 1) * patch]
        assert torch.equal(patches[1, i], block.flatten())
    with pytest.raises(ValueError):
        nets.patchify(x, 5)


def test_random_patch_mask_ratio():
    keep, hidden = random_patch_mask(10, 49, 0.75, torch.Generator().manual_seed(0))
    assert keep.shape == (10, 12) and hidden.shape == (10, 49)
    assert (hidden.sum(1) == 37).all()
    assert not hidden.gather(1, keep).any()  # kept patches are visible
    assert (keep.diff(dim=1) > 0).all()


def test_sincos_positions_are_distinct():
    pos = nets.sincos_positions_2d(4, 4, 16)
    assert pos.shape == (16, 16)
    assert torch.cdist(pos, pos).add(torch.eye(16)).min() > 0.1


def test_encoder_sees_only_kept_patches():
    vit = nets.TinyViT(28, 7, dim=32, depth=1).eval()
    x = torch.rand(2, 1, 28, 28)
    keep, hidden = random_patch_mask(2, 16, 0.75, torch.Generator().manual_seed(0))
    changed = nets.unpatchify(
        torch.where(hidden[..., None], torch.rand(2, 16, 49), nets.patchify(x, 7)), 7, 28, 28
    )
    torch.testing.assert_close(vit.encode(x, keep), vit.encode(changed, keep))


def test_mae_trains_and_reconstructs():
    torch.manual_seed(0)
    images = (torch.rand(64, 1, 28, 28) * 255).to(torch.uint8)
    images[:, :, 10:18] = 255  # a shared stripe the decoder can learn
    mae = MAE(nets.TinyViT(28, 7, dim=32, depth=1), mask_ratio=0.5, decoder_dim=32)
    history = train.fit(mae, images, steps=40, batch_size=32, lr=3e-3, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    keep, _ = random_patch_mask(4, 16, 0.5, torch.Generator().manual_seed(0))
    rec = mae.reconstruct(images[:4], keep)
    assert rec.shape == (4, 1, 28, 28) and 0 <= rec.min() and rec.max() <= 1
    assert mae.embed(images[:4]).shape == (4, 32)


def test_random_init_resets_every_vit_weight():
    vit = nets.TinyViT(28, 7, dim=32, depth=1)
    fresh = probe.random_init(vit, seed=1)
    for (name, a), b in zip(vit.named_parameters(), fresh.parameters(), strict=True):
        if a.numel() > 1 and "norm" not in name:  # LayerNorms reset to the same 1s and 0s
            assert not torch.equal(a, b), name


def test_norm_pix_target_is_standardised_per_patch():
    mae = MAE(nets.TinyViT(28, 7, dim=32, depth=1), norm_pix_loss=True, decoder_dim=32)
    x = torch.rand(3, 1, 28, 28)
    target = mae.target(x)  # (B, N, p p)
    assert target.shape == (3, 16, 49)
    torch.testing.assert_close(target.mean(-1), torch.zeros(3, 16), atol=1e-5, rtol=0)
    torch.testing.assert_close(target.var(-1), torch.ones(3, 16), atol=1e-3, rtol=0)
    blank = mae.target(torch.zeros(1, 1, 28, 28))  # an empty patch stays 0, not NaN
    assert torch.equal(blank, torch.zeros_like(blank))


def test_mae_applies_views_before_masking():
    seen = []

    def views(x):
        seen.append(x.shape)
        return x.flip(-1)

    mae = MAE(nets.TinyViT(28, 7, dim=32, depth=1), decoder_dim=32, views=views)
    images = (torch.rand(4, 1, 28, 28) * 255).to(torch.uint8)
    loss, _ = mae.loss((images, torch.zeros(4, dtype=torch.long)))
    assert seen == [(4, 1, 28, 28)] and loss.ndim == 0
    mae.embed(images)  # the representation is of the image itself: no views
    assert len(seen) == 1


@pytest.mark.parametrize(
    "kwargs", [{"mask_ratio": 1.0}, {"mask_ratio": -0.1}, {"decoder_depth": 0}]
)
def test_mae_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        MAE(nets.TinyViT(28, 7, dim=32, depth=1), decoder_dim=32, **kwargs)


def test_quick_recipe_builds_the_chapters_mae():
    from sslib import methods, nets
    from sslib.recipes import QUICK

    recipe = QUICK["mae"]
    assert recipe.encoder == "vit_small" and recipe.batch_size == 16 and recipe.lr == 1e-3
    assert int(recipe.epochs * (4000 // recipe.batch_size)) == 5000  # mnist5k: the chapter's steps
    method = methods.build("mae", nets.make_encoder(recipe.encoder, (1, 28, 28)), None,
                          **recipe.method_kwargs)  # fmt: skip
    vit = method.encoder
    assert (vit.out_dim, len(vit.blocks), vit.patch_size, vit.num_patches) == (64, 2, 7, 16)
    assert method.mask_ratio == 0.75 and len(method.decoder) == 1
    assert method.to_pixels.out_features == 49 and method.mask_token.shape == (64,)
