"""The adversarial autoencoder: a discriminator pushes the codes to look like prior draws.

An autoencoder whose aggregate posterior ``q(h) = E_x [delta(h - f(x))]`` is matched to a
prior ``p(h)`` by a GAN in code space (Makhzani et al., 2016): a discriminator ``d`` learns to
tell prior draws from codes, and the encoder, as the generator, learns to fool it while the
decoder reconstructs. Two players, two optimizers, both stepped by :func:`sslib.train.fit`.

Explained in chapter 2, *Autoencoders*.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import MLP, MLPDecoder
from sslib.objectives import adversarial_prior


class AdversarialAutoencoder(Method):
    """Reconstruction + adversarial matching of the codes to ``N(0, I)``.

    ``loss`` returns one loss per player:

    * ``"autoencoder"`` (encoder and decoder): ``mse + adversarial_weight * g``, where ``g`` is
      the non-saturating generator loss ``-log d(f(x))``;
    * ``"discriminator"``: the logistic loss of telling prior draws (label 1) from codes (0).

    Explained in chapter 2, *Autoencoders*.

    Args:
        encoder: maps images to codes ``(B, encoder.out_dim)``.
        decoder: maps codes to pixel logits; default an :class:`~sslib.nets.MLPDecoder`.
        image_shape: ``(C, H, W)``, for the default decoder.
        adversarial_weight: weight of the generator loss against the per-pixel MSE.
        hidden: hidden width of the discriminator (an MLP with two hidden layers).
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module | None = None,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        adversarial_weight: float = 0.005,
        hidden: int = 128,
    ):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder if decoder is not None else MLPDecoder(encoder.out_dim, image_shape)
        self.discriminator = MLP(encoder.out_dim, [hidden, hidden], 1)
        self.adversarial_weight = adversarial_weight

    def players(self) -> dict[str, list[nn.Parameter]]:
        """``"autoencoder"``: encoder and decoder; ``"discriminator"``: the discriminator."""
        autoencoder = [*self.encoder.parameters(), *self.decoder.parameters()]
        return {"autoencoder": autoencoder, "discriminator": list(self.discriminator.parameters())}

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> AdversarialAutoencoder:
        """A decoder back to the image shape of ``train_set``."""
        return cls(encoder, image_shape=train_set.shape, **kwargs)

    def loss(self, batch) -> tuple[dict[str, torch.Tensor], dict]:
        """The two players' losses on ``(images,)`` or ``(images, labels)``.

        Logs the reconstruction MSE and the discriminator's accuracy.
        """
        images = inputs_of(batch)
        x = to_float(images)
        h = self.encoder(x)  # (B, D)
        mse = F.mse_loss(torch.sigmoid(self.decoder(h)).view_as(x), x)
        prior = torch.randn_like(h)  # draws of p(h) = N(0, I)
        generator, discriminator, accuracy = adversarial_prior(self.discriminator, h, prior)
        losses = {
            "autoencoder": mse + self.adversarial_weight * generator,
            "discriminator": discriminator,
        }
        return losses, {"mse": mse.detach(), "d_accuracy": accuracy.detach()}

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] from codes, ``(B, D) -> (B, C, H, W)``."""
        return torch.sigmoid(self.decoder(h))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``h = f(x)``, ``(B, encoder.out_dim)``."""
        return self.encoder(to_float(x))
