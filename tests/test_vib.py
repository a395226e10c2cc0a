"""The variational information bottleneck (sslib.methods.vib, chapter 6)."""

import pytest
import torch
import torch.nn.functional as F

from sslib import nets, train
from sslib.methods.vib import VIB
from sslib.objectives import gaussian_kl


def toy_images(n=256, seed=0):
    """Two classes of 1x4x4 uint8 images: bright top half or bright bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    images = torch.randint(0, 60, (n, 1, 4, 4), generator=g)
    images[labels == 0, :, :2] += 180
    images[labels == 1, :, 2:] += 180
    return images.to(torch.uint8), labels


def test_builds_from_the_encoder_alone_and_shapes():
    vib = VIB(nets.MLP(16, (8,), 12))
    images, labels = toy_images(10)
    mu, logvar = vib.encode(images)
    assert mu.shape == logvar.shape == (10, vib.code_dim)
    ce, rate, logits = vib.terms(images, labels)
    assert ce.shape == rate.shape == (10,) and logits.shape == (10, 10)
    assert vib.embed(images).shape == (10, vib.code_dim)


def test_loss_is_cross_entropy_plus_beta_rate():
    torch.manual_seed(0)
    vib = VIB(nets.MLP(16, (8,), 12), num_classes=2, code_dim=3, beta=0.25)
    images, labels = toy_images(32)
    torch.manual_seed(1)
    loss, metrics = vib.loss((images, labels))
    torch.manual_seed(1)  # the same noise: recompute the terms by hand
    mu, logvar = vib.encode(images)
    z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape)
    ce = F.cross_entropy(vib.decoder(z), labels)
    rate = gaussian_kl(mu, logvar).mean()
    torch.testing.assert_close(loss, ce + 0.25 * rate)
    torch.testing.assert_close(metrics["rate"], rate.detach())
    loss.backward()
    assert vib.encoder.net[0].weight.grad.abs().sum() > 0  # the rate and CE reach the encoder


def test_training_learns_and_beta_prices_the_rate():
    images, labels = toy_images(512)
    results = {}
    for beta in [1e-3, 1.0]:
        torch.manual_seed(0)
        vib = VIB(nets.MLP(16, (16,), 16), num_classes=2, code_dim=4, beta=beta)
        train.fit(
            vib, (images, labels), steps=150, batch_size=64, lr=3e-3, progress=False, device="cpu"
        )
        results[beta] = vib.evaluate(images, labels)
    assert results[1e-3]["accuracy"] > 0.95
    assert results[1.0]["rate"] < results[1e-3]["rate"]
    for r in results.values():
        assert r["rate"] >= 0 and r["ce"] >= 0 and 0 <= r["sample_accuracy"] <= 1


def test_negative_beta_is_refused():
    with pytest.raises(ValueError, match="beta"):
        VIB(nets.MLP(16, (8,), 12), beta=-1.0)
