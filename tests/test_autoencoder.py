"""Autoencoders: shapes of every encoder/decoder pair, the loss, corruption, the U-Net's code."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sslib import nets, train
from sslib.methods.autoencoder import Autoencoder, SkipAutoencoder, corrupt

IMAGES = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)


@pytest.mark.parametrize(
    "encoder, decoder",
    [
        (nets.MLP(784, [32], 5), nets.MLPDecoder(5, (1, 28, 28), hidden=[32])),
        (nets.ConvEncoder(1, width=4, out_dim=5), nets.ConvDecoder(5, 1, width=4)),
        (nets.ConvEncoder(3, width=4, out_dim=5, size=32), nets.ConvDecoder(5, 3, 4, size=32)),
        (nets.MLP(64, [], 3), nets.MLPDecoder(3, (1, 8, 8), hidden=[])),
    ],
)
def test_encoder_decoder_pairs_map_images_to_codes_and_back(encoder, decoder):
    shape = (4, *decoder(torch.zeros(1, encoder.out_dim)).shape[1:])
    x = torch.rand(shape)
    h = encoder(x)
    assert h.shape == (4, encoder.out_dim)
    assert decoder(h).shape == shape
    method = Autoencoder(encoder, decoder)
    assert method.reconstruct(x).shape == shape
    assert method.embed(x).shape == (4, encoder.out_dim)


@pytest.mark.parametrize("skips", [True, False])
@pytest.mark.parametrize("size, channels", [(28, 1), (32, 3)])
def test_unet_shapes(skips, size, channels):
    unet = nets.UNet(channels, width=4, code_dim=6, size=size, skips=skips)
    x = torch.rand(2, channels, size, size)
    h, features = unet.encode(x)
    assert h.shape == (2, 6) and unet(x).shape == x.shape
    assert [f.shape[-1] for f in features] == [size, size // 2, size // 4]
    method = SkipAutoencoder(unet)
    assert method.embed(x).shape == (2, 6)


def test_sizes_not_divisible_by_four_are_refused():
    for make in (nets.ConvEncoder, nets.UNet):
        with pytest.raises(ValueError, match="divisible by 4"):
            make(size=30)
    with pytest.raises(ValueError, match="divisible by 4"):
        nets.ConvDecoder(4, size=30)


def test_loss_is_the_mean_squared_error_of_the_clean_reconstruction():
    method = Autoencoder(nets.MLP(784, [16], 4))
    loss, metrics = method.loss((IMAGES, torch.zeros(8)))
    x = IMAGES.float() / 255
    torch.testing.assert_close(loss, F.mse_loss(method.reconstruct(IMAGES), x))
    torch.testing.assert_close(metrics["mse"], loss.detach())
    assert method.reconstruct(IMAGES).min() >= 0 and method.reconstruct(IMAGES).max() <= 1


def test_corruption_masks_then_adds_noise():
    x = torch.rand(64, 1, 28, 28) + 0.1  # no exact zeros
    masked = corrupt(x, mask=0.5, generator=torch.Generator().manual_seed(0))
    zeroed = (masked == 0).float().mean()
    assert 0.45 < zeroed < 0.55 and torch.equal(masked[masked != 0], x[masked != 0])
    noisy = corrupt(x, noise_std=0.1, generator=torch.Generator().manual_seed(0))
    assert 0.09 < (noisy - x).std() < 0.11
    both = corrupt(x, mask=0.3, noise_std=0.2, generator=torch.Generator().manual_seed(0))
    kept = both - x  # noise alone where a pixel was kept, noise minus the pixel where masked
    assert 0.18 < kept.std() < 0.4 and (both - x).abs().max() > 0
    assert corrupt(x) is x
    with pytest.raises(ValueError, match="mask"):
        corrupt(x, mask=1.0)
    with pytest.raises(ValueError, match="noise_std"):
        Autoencoder(nets.MLP(784, [], 4), noise_std=-0.1)


def test_corruption_matches_a_literal_version_with_the_same_draws():
    x = torch.rand(4, 1, 8, 8)
    g = torch.Generator().manual_seed(1)
    keep = torch.rand(x.shape, generator=g) >= 0.3
    expected = x * keep + 0.2 * torch.randn(x.shape, generator=g)
    torch.testing.assert_close(corrupt(x, 0.3, 0.2, torch.Generator().manual_seed(1)), expected)


def test_denoising_loss_compares_with_the_clean_input():
    torch.manual_seed(0)
    method = Autoencoder(nets.MLP(784, [], 4), mask=0.5)
    loss_a, _ = method.loss((IMAGES,))
    loss_b, _ = method.loss((IMAGES,))
    assert loss_a != loss_b  # fresh corruption each call


def test_bce_loss_is_the_cross_entropy_of_the_logits_with_the_clean_grey_levels():
    torch.manual_seed(0)
    method = Autoencoder(nets.MLP(784, [16], 4), reconstruction="bce")
    loss, metrics = method.loss((IMAGES,))
    x = IMAGES.float() / 255
    logits = method.decoder(method.encode(x)).view_as(x)
    p = torch.sigmoid(logits)
    literal = -(x * torch.log(p) + (1 - x) * torch.log(1 - p)).mean()
    torch.testing.assert_close(loss, literal, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(metrics["mse"], F.mse_loss(method.reconstruct(IMAGES), x))
    with pytest.raises(ValueError, match="logits"):
        Autoencoder(nets.MLP(784, [], 4), reconstruction="bce", sigmoid=False)
    with pytest.raises(ValueError, match="reconstruction"):
        Autoencoder(nets.MLP(784, [], 4), reconstruction="l1")


def test_code_dim_adds_a_linear_bottleneck_and_a_conv_decoder_is_built_for_the_image():
    method = Autoencoder(
        nets.StridedCNN(1), "conv", image_shape=(1, 28, 28), code_dim=6, mask=0.3, noise_std=0.2
    )
    assert isinstance(method.decoder, nets.ConvDecoder) and method.code_dim == 6
    assert method.embed(IMAGES).shape == (8, 6)
    assert method.reconstruct(IMAGES).shape == IMAGES.shape
    assert Autoencoder(nets.MLP(784, [], 4)).embed(IMAGES).shape == (8, 4)  # no code_dim
    with pytest.raises(ValueError, match="decoder"):
        Autoencoder(nets.MLP(784, [], 4), "deconv")


def test_the_command_line_builds_the_chapter_recipe():
    from sslib import methods, nets
    from sslib.data import load
    from sslib.recipes import QUICK

    recipe = QUICK["autoencoder"]
    train_set = load("mnist5k", "train")
    method = methods.build(
        "autoencoder",
        nets.make_encoder(recipe.encoder, train_set.shape),
        train_set,
        **recipe.method_kwargs,
    )
    assert method.mask > 0 and method.noise_std > 0 and method.reconstruction == "bce"
    assert method.embed(train_set.images[:2]).shape == (2, recipe.method_kwargs["code_dim"])


def test_without_skips_a_zeroed_code_gives_every_image_the_same_output():
    unet = nets.UNet(1, width=4, code_dim=3, skips=False)
    method = SkipAutoencoder(unet)
    x = torch.rand(2, 1, 28, 28)
    zero = method.reconstruct(x, code_scale=0.0)
    other = method.reconstruct(torch.rand(2, 1, 28, 28), code_scale=0.0)
    torch.testing.assert_close(zero, other)  # without skips the code is the only path


def test_fit_lowers_the_reconstruction_error():
    torch.manual_seed(0)
    method = Autoencoder(nets.MLP(784, [32], 8), nets.MLPDecoder(8, hidden=[32]))
    history = train.fit(
        method,
        IMAGES.repeat(8, 1, 1, 1),
        steps=30,
        batch_size=16,
        lr=1e-2,
        progress=False,
        device="cpu",
    )
    assert history["mse"][-1] < history["mse"][0]
