"""Masked autoencoders (MAE): hide most patches of an image, reconstruct them from the rest.

The encoder (a ViT) sees only the visible patches; a light decoder receives their codes plus
a shared learned ``[MASK]`` token at every hidden position, and predicts the pixels of the
hidden patches. The loss is the mean squared error on hidden patches only::

    L = E_{x, M} [ 1/|M| sum_{i in M} || x_i - d(f(x_visible))_i ||^2 / (C p^2) ].

Reference: He, Chen, Xie, Li, Dollar and Girshick (2022), "Masked Autoencoders Are Scalable
Vision Learners", CVPR. Explained in chapter 4, *Masked modeling*.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import TransformerBlock, patchify, sincos_positions_2d, unpatchify


def random_patch_mask(
    batch_size: int,
    num_patches: int,
    ratio: float,
    generator: torch.Generator | None = None,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Hide ``round(ratio * num_patches)`` patches of each image, chosen uniformly.

    Args:
        batch_size: number of images ``B``.
        num_patches: patches per image ``N``.
        ratio: fraction hidden, in [0, 1); at least one patch stays visible.
        generator: CPU generator (default: the global RNG on ``device``).
        device: where the indices live.

    Returns:
        ``keep``: ``(B, N - n_hidden)`` indices of the visible patches, in increasing order;
        ``hidden``: ``(B, N)`` boolean, True at hidden patches.
    """
    n_hidden = min(round(ratio * num_patches), num_patches - 1)
    if generator is None:
        noise = torch.rand(batch_size, num_patches, device=device)
    else:
        noise = torch.rand(batch_size, num_patches, generator=generator).to(device)
    keep = noise.argsort(dim=1)[:, : num_patches - n_hidden].sort(dim=1).values
    hidden = torch.ones(batch_size, num_patches, dtype=torch.bool, device=keep.device)
    hidden.scatter_(1, keep, False)
    return keep, hidden


class MAE(Method):
    """A masked autoencoder around a :class:`sslib.nets.TinyViT` encoder.

    Args:
        encoder: a :class:`~sslib.nets.TinyViT` (``encode(x, keep)``, ``num_patches``, ...).
        mask_ratio: fraction of patches hidden in training (He et al.: 0.75).
        decoder_dim: width of the decoder.
        decoder_depth: Transformer blocks in the decoder.
        decoder_heads: attention heads in the decoder.
        norm_pix_loss: predict each patch standardised by its own mean and variance, as He et
            al. do for their best representations.
        views: optional augmentation ``views(x) -> x'`` on float images (e.g.
            :class:`sslib.augment.AffineViews`), applied to each training batch before masking:
            the encoder then sees each digit in many poses, as in chapter 3.
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        mask_ratio: float = 0.75,
        decoder_dim: int = 64,
        decoder_depth: int = 1,
        decoder_heads: int = 4,
        norm_pix_loss: bool = False,
        views=None,
    ):
        super().__init__()
        if not 0 <= mask_ratio < 1:
            raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
        self.encoder = encoder
        if decoder_depth < 1:
            raise ValueError(f"decoder_depth must be at least 1, got {decoder_depth}")
        self.mask_ratio, self.norm_pix_loss, self.views = mask_ratio, norm_pix_loss, views
        self.to_decoder = nn.Linear(encoder.out_dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(decoder_dim))
        nn.init.normal_(self.mask_token, std=0.02)
        grid = encoder.grid
        self.register_buffer("positions", sincos_positions_2d(grid, grid, decoder_dim))
        self.decoder = nn.ModuleList(
            TransformerBlock(decoder_dim, decoder_heads) for _ in range(decoder_depth)
        )
        self.norm = nn.LayerNorm(decoder_dim)
        self.to_pixels = nn.Linear(decoder_dim, encoder.patch_dim)

    def forward(self, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """Predicted pixels of every patch from the visible ones at ``keep``.

        Shape:
            ``x: (B, C, H, W)`` float, ``keep: (B, n_keep) -> (B, N, C p p)``.
        """
        codes = self.to_decoder(self.encoder.encode(x, keep))  # (B, n_keep, decoder_dim)
        b, n = len(x), self.encoder.num_patches
        tokens = self.mask_token.expand(b, n, -1).clone()  # [MASK] everywhere ...
        tokens.scatter_(1, keep[..., None].expand_as(codes), codes)  # ... but the visible ones
        tokens = tokens + self.positions
        for block in self.decoder:
            tokens = block(tokens)
        return self.to_pixels(self.norm(tokens))

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """The patches to predict, ``(B, N, C p p)`` (standardised if ``norm_pix_loss``)."""
        patches = patchify(x, self.encoder.patch_size)
        if self.norm_pix_loss:
            mean, var = patches.mean(dim=-1, keepdim=True), patches.var(dim=-1, keepdim=True)
            patches = (patches - mean) / (var + 1e-6).sqrt()
        return patches

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> MAE:
        """An MAE needs a Vision Transformer (an encoder of patches)."""
        if not hasattr(encoder, "num_patches"):
            raise ValueError("mae needs a Vision Transformer: pass --encoder vit")
        return cls(encoder, **kwargs)

    def loss(self, batch):
        """Mean squared error per pixel on the hidden patches of ``(images, ...)``."""
        images = inputs_of(batch)
        x = to_float(images)
        if self.views is not None:
            x = self.views(x)
        keep, hidden = random_patch_mask(
            len(x), self.encoder.num_patches, self.mask_ratio, device=x.device
        )
        error = (self(x, keep).float() - self.target(x)).pow(2).mean(dim=-1)  # (B, N)
        loss = error[hidden].mean()
        return loss, {"visible_mse": error[~hidden].mean().detach()}

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """The image with hidden patches replaced by their predictions, ``(B, C, H, W)``.

        Only meaningful with ``norm_pix_loss=False`` (pixels, not standardised patches).
        """
        x = to_float(images)
        patches = patchify(x, self.encoder.patch_size)
        pred = self(x, keep).float().clamp(0, 1)
        visible = torch.zeros(patches.shape[:2], dtype=torch.bool, device=x.device)
        visible.scatter_(1, keep, True)
        merged = torch.where(visible[..., None], patches, pred)
        return unpatchify(merged, self.encoder.patch_size, *x.shape[-2:])

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder's ``h`` with every patch visible, ``(B, encoder.out_dim)``."""
        return self.encoder(to_float(x))
