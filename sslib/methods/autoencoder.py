"""Autoencoders: reconstruct the input through a code, optionally from a corrupted copy.

An encoder ``f`` maps an image ``x`` to a code ``h = f(x)`` and a decoder ``g`` maps it back;
training minimises the reconstruction error ``||g(f(x)) - x||^2``. What the code learns depends
on what stops the pair from copying: a bottleneck narrower than the input (a linear autoencoder
then finds the principal subspace, Baldi and Hornik, 1989), or noise on the input, which the
*denoising* autoencoder must remove (Vincent et al., 2008). :class:`SkipAutoencoder` trains a
U-Net, whose skip connections go around the bottleneck.

Explained in chapter 2, *Autoencoders*.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method
from sslib.nets import MLPDecoder, UNet

NOISES = ("mask", "gaussian")


def corrupt(
    x: torch.Tensor, kind: str, level: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The corrupted input of a denoising autoencoder.

    ``"mask"`` zeroes each pixel independently with probability ``level`` (the masking noise of
    Vincent et al., 2008); ``"gaussian"`` adds noise of standard deviation ``level``.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``, float images in [0, 1].
    """
    if kind not in NOISES:
        raise ValueError(f"noise must be one of {NOISES}, got {kind!r}")
    if level == 0:
        return x
    noise = torch.rand if kind == "mask" else torch.randn
    draw = noise(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return x * (draw >= level) if kind == "mask" else x + level * draw


class Autoencoder(Method):
    """A (denoising) autoencoder trained on the mean squared error per pixel.

    ``loss(batch)`` encodes a corrupted copy ``x~`` of the images (no corruption when
    ``noise_level`` is 0) and compares the decoder's output with the clean ``x``.

    Explained in chapter 2, *Autoencoders*.

    Args:
        encoder: maps images ``(B, C, H, W)`` to codes ``(B, encoder.out_dim)``.
        decoder: maps codes back to pixel values or logits ``(B, C, H, W)``; default an
            :class:`~sslib.nets.MLPDecoder` of ``image_shape``.
        image_shape: ``(C, H, W)`` of the images, for the default decoder.
        noise: ``"mask"`` or ``"gaussian"``, see :func:`corrupt`.
        noise_level: masking probability or noise standard deviation; 0 for a plain autoencoder.
        sigmoid: squash the decoder's output into [0, 1]; off for a linear autoencoder.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module | None = None,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        noise: str = "mask",
        noise_level: float = 0.0,
        sigmoid: bool = True,
    ):
        super().__init__()
        if noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {noise!r}")
        self.encoder = encoder
        self.decoder = decoder if decoder is not None else MLPDecoder(encoder.out_dim, image_shape)
        self.noise, self.noise_level, self.sigmoid = noise, noise_level, sigmoid

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Images from codes, ``(B, D) -> (B, C, H, W)``."""
        out = self.decoder(h)
        return torch.sigmoid(out) if self.sigmoid else out

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``g(f(x))`` of uint8 or float images, without corruption. Shape: unchanged."""
        x = to_float(x)
        return self.decode(self.encoder(x)).view_as(x)

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """Mean squared error per pixel of the reconstruction of ``images`` or ``(images, _)``."""
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = to_float(images)
        x_hat = self.decode(self.encoder(corrupt(x, self.noise, self.noise_level))).view_as(x)
        mse = F.mse_loss(x_hat, x)
        return mse, {"mse": mse.detach()}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``h = f(x)`` of clean images, ``(B, encoder.out_dim)``."""
        return self.encoder(to_float(x))


class SkipAutoencoder(Method):
    """A U-Net (:class:`~sslib.nets.UNet`) trained to reconstruct, and probed through its code.

    ``reconstruct(x, code_scale=0.0)`` zeroes the bottleneck code at test time: with skip
    connections the reconstruction survives, which shows that the code is not where the image
    goes through. Explained in chapter 2, *Autoencoders*.

    Args:
        unet: a :class:`~sslib.nets.UNet` (with or without skips).
    """

    def __init__(self, unet: UNet):
        super().__init__()
        self.unet = unet

    def reconstruct(self, x: torch.Tensor, code_scale: float = 1.0) -> torch.Tensor:
        """The reconstruction, with the code multiplied by ``code_scale``.

        The output is linear, not squashed by a sigmoid: a U-Net's sigmoid output saturates
        at the all-black background early in training and its gradients vanish.

        Shape:
            ``(B, C, H, W) -> (B, C, H, W)``.
        """
        h, features = self.unet.encode(to_float(x))
        return self.unet.decode(code_scale * h, features)

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """Mean squared error per pixel, on ``images`` or ``(images, labels)``."""
        images = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = to_float(images)
        mse = F.mse_loss(self.reconstruct(x), x)
        return mse, {"mse": mse.detach()}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck code, ``(B, unet.code_dim)``."""
        return self.unet.encode(to_float(x))[0]
