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


def test_corruption():
    x = torch.rand(64, 1, 28, 28) + 0.1  # no exact zeros
    masked = corrupt(x, "mask", 0.5, torch.Generator().manual_seed(0))
    zeroed = (masked == 0).float().mean()
    assert 0.45 < zeroed < 0.55 and torch.equal(masked[masked != 0], x[masked != 0])
    noisy = corrupt(x, "gaussian", 0.1, torch.Generator().manual_seed(0))
    assert 0.09 < (noisy - x).std() < 0.11
    assert corrupt(x, "mask", 0.0) is x
    with pytest.raises(ValueError, match="noise"):
        corrupt(x, "salt", 0.1)
    with pytest.raises(ValueError, match="noise"):
        Autoencoder(nets.MLP(784, [], 4), noise="salt")


def test_denoising_loss_compares_with_the_clean_input():
    torch.manual_seed(0)
    method = Autoencoder(nets.MLP(784, [], 4), noise_level=0.5)
    loss_a, _ = method.loss(IMAGES)
    loss_b, _ = method.loss(IMAGES)
    assert loss_a != loss_b  # fresh corruption each call


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
