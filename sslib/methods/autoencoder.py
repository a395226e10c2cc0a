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
from sslib.methods.base import Method, inputs_of
from sslib.nets import ConvDecoder, MLPDecoder, UNet

RECONSTRUCTIONS = ("mse", "bce")


def corrupt(
    x: torch.Tensor,
    mask: float = 0.0,
    noise_std: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The corrupted input ``x~ ~ c(x~ | x)`` of a denoising autoencoder.

    Each pixel is zeroed independently with probability ``mask`` (the masking noise of Vincent
    et al., 2008), then Gaussian noise of standard deviation ``noise_std`` is added to every
    pixel. Neither is clipped: the target stays the clean ``x``.

    Shape:
        ``(B, C, H, W) -> (B, C, H, W)``, float images in [0, 1].
    """
    if not 0 <= mask < 1:
        raise ValueError(f"mask must be a probability in [0, 1), got {mask}")
    if noise_std < 0:
        raise ValueError(f"noise_std must be >= 0, got {noise_std}")
    if mask > 0:
        keep = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) >= mask
        x = x * keep
    if noise_std > 0:
        x = x + noise_std * torch.randn(
            x.shape, generator=generator, device=x.device, dtype=x.dtype
        )
    return x


def _decoder(decoder, code_dim: int, image_shape: Sequence[int]) -> nn.Module:
    """A decoder module from a module, ``"mlp"`` (:class:`MLPDecoder`) or ``"conv"``."""
    if isinstance(decoder, nn.Module):
        return decoder
    if decoder in (None, "mlp"):
        return MLPDecoder(code_dim, image_shape)
    if decoder == "conv":
        channels, size = image_shape[0], image_shape[-1]
        return ConvDecoder(code_dim, channels, width=32, size=size)
    raise ValueError(f"decoder must be an nn.Module, 'mlp' or 'conv', got {decoder!r}")


@torch.no_grad()
def _feature_size(encoder: nn.Module, image_shape: Sequence[int]) -> int:
    """Numbers in ``encoder.feature_map`` of one image of ``image_shape``."""
    if not hasattr(encoder, "feature_map"):
        raise ValueError(f"flatten_map needs an encoder with feature_map, not {type(encoder)}")
    was_training = encoder.training
    encoder.eval()  # leave batch-norm statistics alone
    size = encoder.feature_map(torch.zeros(1, *image_shape)).numel()
    encoder.train(was_training)
    return size


class Autoencoder(Method):
    """A (denoising) autoencoder: reconstruct the clean ``x`` from a corrupted copy's code.

    ``loss(batch)`` encodes ``x~ = corrupt(x)`` (``x~ = x`` when ``mask`` and ``noise_std``
    are 0), decodes, and compares the output with the clean ``x``: by the mean squared error
    per pixel, or by the binary cross-entropy per pixel of the decoder's logits (nats, with the
    grey levels as soft targets).

    Explained in chapter 2, *Autoencoders*.

    Args:
        encoder: maps images ``(B, C, H, W)`` to features ``(B, encoder.out_dim)``.
        decoder: maps codes back to pixel values or logits ``(B, C, H, W)``: a module, or
            ``"mlp"`` (default, :class:`~sslib.nets.MLPDecoder`) or ``"conv"``
            (:class:`~sslib.nets.ConvDecoder`) built for ``image_shape``.
        image_shape: ``(C, H, W)`` of the images, for a decoder built here.
        code_dim: if given, a linear map from the encoder's features to a code of this size
            (the bottleneck); else the code is the encoder's output.
        flatten_map: with ``code_dim``, map the encoder's whole last feature map
            (``encoder.feature_map(x)``, flattened) to the code instead of its pooled output:
            average pooling forgets where the strokes are, which the decoder needs.
        mask: probability of zeroing each input pixel, see :func:`corrupt`.
        noise_std: standard deviation of the Gaussian noise added to the input.
        reconstruction: ``"mse"`` or ``"bce"`` (binary cross-entropy on logits).
        sigmoid: squash the decoder's output into [0, 1]; off for a linear autoencoder. A
            ``"bce"`` decoder outputs logits, so it needs the sigmoid.
    """

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module | str | None = None,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        code_dim: int | None = None,
        flatten_map: bool = False,
        mask: float = 0.0,
        noise_std: float = 0.0,
        reconstruction: str = "mse",
        sigmoid: bool = True,
    ):
        super().__init__()
        if reconstruction not in RECONSTRUCTIONS:
            raise ValueError(
                f"reconstruction must be one of {RECONSTRUCTIONS}, got {reconstruction!r}"
            )
        if reconstruction == "bce" and not sigmoid:
            raise ValueError("a 'bce' reconstruction reads the decoder's output as logits")
        corrupt(torch.zeros(1), mask, noise_std)  # the same checks as at training time
        self.encoder, self.flatten_map = encoder, flatten_map
        features = _feature_size(encoder, image_shape) if flatten_map else encoder.out_dim
        if flatten_map and code_dim is None:
            raise ValueError("flatten_map needs a code_dim for the linear map to the code")
        self.to_code = nn.Identity() if code_dim is None else nn.Linear(features, code_dim)
        self.code_dim = encoder.out_dim if code_dim is None else code_dim
        self.decoder = _decoder(decoder, self.code_dim, image_shape)
        self.mask, self.noise_std = mask, noise_std
        self.reconstruction, self.sigmoid = reconstruction, sigmoid

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``h = f(x)`` of float images, ``(B, C, H, W) -> (B, code_dim)``."""
        if self.flatten_map:
            return self.to_code(self.encoder.feature_map(x).flatten(1))  # (B, C' H' W') -> code
        return self.to_code(self.encoder(x))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """Images from codes, ``(B, code_dim) -> (B, C, H, W)``."""
        out = self.decoder(h)
        return torch.sigmoid(out) if self.sigmoid else out

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """``dec(f(x))`` of uint8 or float images, without corruption. Shape: unchanged."""
        x = to_float(x)
        return self.decode(self.encode(x)).view_as(x)

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> Autoencoder:
        """A decoder back to the image shape of ``train_set``."""
        return cls(encoder, image_shape=train_set.shape, **kwargs)

    def loss(self, batch) -> tuple[torch.Tensor, dict]:
        """Reconstruction error per pixel of a batch ``(images, ...)`` from their corruption.

        Logs ``mse`` (per pixel, on [0, 1] images) and, for ``"bce"``, ``bce`` (nats per pixel).
        """
        images = inputs_of(batch)
        x = to_float(images)
        out = self.decoder(self.encode(corrupt(x, self.mask, self.noise_std))).view_as(x)
        if self.reconstruction == "bce":
            bce = F.binary_cross_entropy_with_logits(out, x)
            return bce, {"bce": bce.detach(), "mse": F.mse_loss(torch.sigmoid(out), x).detach()}
        mse = F.mse_loss(torch.sigmoid(out) if self.sigmoid else out, x)
        return mse, {"mse": mse.detach()}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``h = f(x)`` of clean images, ``(B, code_dim)``."""
        return self.encode(to_float(x))


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
        """Mean squared error per pixel, on ``(images,)`` or ``(images, labels)``."""
        images = inputs_of(batch)
        x = to_float(images)
        mse = F.mse_loss(self.reconstruct(x), x)
        return mse, {"mse": mse.detach()}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The bottleneck code, ``(B, unet.code_dim)``."""
        return self.unet.encode(to_float(x))[0]
