"""The adversarial autoencoder: two players, each stepped by its own optimizer in fit."""

from __future__ import annotations

import torch

from sslib import nets, train
from sslib.methods.aae import AdversarialAutoencoder

IMAGES = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)


def make() -> AdversarialAutoencoder:
    torch.manual_seed(0)
    return AdversarialAutoencoder(
        nets.MLP(784, [16], 2), nets.MLPDecoder(2, hidden=[16]), adversarial_weight=0.1, hidden=8
    )


def test_players_partition_the_parameters():
    aae = make()
    players = aae.players()
    assert set(players) == {"autoencoder", "discriminator"}
    ids = [{id(p) for p in params} for params in players.values()]
    assert not ids[0] & ids[1]
    assert ids[0] | ids[1] == {id(p) for p in aae.parameters()}


def test_losses_and_shapes():
    aae = make()
    losses, metrics = aae.loss((IMAGES[:8], torch.zeros(8)))
    assert set(losses) == {"autoencoder", "discriminator"}
    assert all(v.ndim == 0 for v in losses.values())
    assert 0 <= metrics["d_accuracy"] <= 1
    assert aae.embed(IMAGES[:8]).shape == (8, 2)
    assert aae.decode(aae.embed(IMAGES[:8])).shape == (8, 1, 28, 28)
    # the discriminator's loss does not reach the encoder
    losses["discriminator"].backward()
    assert all(p.grad is None for p in aae.encoder.parameters())


def test_fit_steps_both_optimizers_and_each_only_its_own_player():
    aae = make()
    before = {n: p.detach().clone() for n, p in aae.named_parameters()}
    history = train.fit(
        aae, IMAGES, steps=3, batch_size=16, lr=1e-2, progress=False, device="cpu", log_every=1
    )
    changed = {n for n, p in aae.named_parameters() if not torch.equal(p, before[n])}
    assert any(n.startswith("discriminator.") for n in changed)
    assert any(n.startswith("encoder.") for n in changed)
    assert any(n.startswith("decoder.") for n in changed)
    assert {"loss/autoencoder", "loss/discriminator", "mse", "d_accuracy"} <= set(history.metrics)


def test_the_discriminator_alone_leaves_the_autoencoder_untouched():
    aae = make()
    before = {n: p.detach().clone() for n, p in aae.named_parameters()}
    train.fit(
        aae,
        IMAGES,
        steps=2,
        batch_size=16,
        lr={"autoencoder": 0.0, "discriminator": 1e-2},
        progress=False,
        device="cpu",
    )
    for n, p in aae.named_parameters():
        assert torch.equal(p, before[n]) != n.startswith("discriminator.")
