"""I-JEPA: predict the representations of hidden image blocks, not their pixels.

A *context encoder* (a ViT) sees one large block of patches with some smaller *target*
blocks cut out of it; a narrow Transformer *predictor* receives its codes plus a shared
learned mask token at each target position (with that position's embedding) and predicts
what a *target encoder* makes of those patches when it sees the whole image. The target
encoder is a momentum teacher: a frozen copy of the context encoder that follows it by
exponential averaging (:mod:`sslib.momentum`), never by gradients. With ``s_y`` the teacher's
layer-normalised token embeddings and ``B_1 .. B_M`` the target blocks, the loss is::

    L = 1/M sum_i 1/|B_i| sum_{j in B_i} || s_hat_j - s_y_j ||^2 / D,

the paper's average L2 distance (Assran et al., eq. 1) divided by the width ``D``, i.e. a
mean squared error per coordinate. (The authors' code uses a smooth L1 loss instead.)

Against a masked autoencoder (:mod:`sslib.methods.mae`) the only change in *what* is
predicted is the target: the teacher's embedding of a patch instead of its pixels. The
paper's claim is that this yields more semantic features: on ImageNet its linear probes beat
MAE's, after fewer pre-training epochs and GPU hours (its table 1 and figure 1).

Reference: Assran, Duval, Misra, Bojanowski, Vincent, Rabbat, LeCun and Ballas (2023),
"Self-Supervised Learning from Images with a Joint-Embedding Predictive Architecture",
CVPR; code github.com/facebookresearch/ijepa (``src/masks/multiblock.py``, ``src/train.py``).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.momentum import cosine_momentum, ema_update, frozen_copy
from sslib.nets import TransformerBlock, select_tokens, sincos_positions_2d


def _block_size(grid: int, scale: tuple[float, float], aspect: tuple[float, float], g):
    """A block's ``(height, width)`` in patches: ``scale`` of the grid at aspect ``aspect``.

    The paper's rule (``_sample_block_size``): ``k = int(N s)`` patches, then
    ``h = round(sqrt(k a))``, ``w = round(sqrt(k / a))``; here clamped to ``[1, grid]``.
    """
    s = scale[0] + torch.rand(1, generator=g).item() * (scale[1] - scale[0])
    a = aspect[0] + torch.rand(1, generator=g).item() * (aspect[1] - aspect[0])
    k = max(int(grid * grid * s), 1)
    h, w = round(math.sqrt(k * a)), round(math.sqrt(k / a))
    return min(max(h, 1), grid), min(max(w, 1), grid)


def _place_blocks(count: int, shape: tuple[int, int], size: tuple[int, int], grid: int, g):
    """``(B, count, grid * grid)`` boolean: ``count`` blocks of ``size`` at random places."""
    b, (h, w) = shape[0], size
    top = torch.randint(0, grid - h + 1, (b, count, 1, 1), generator=g)
    left = torch.randint(0, grid - w + 1, (b, count, 1, 1), generator=g)
    r = torch.arange(grid).view(1, 1, grid, 1)
    c = torch.arange(grid).view(1, 1, 1, grid)
    inside = (r >= top) & (r < top + h) & (c >= left) & (c < left + w)  # (B, count, g, g)
    return inside.flatten(2)


def block_masks(
    batch_size: int,
    grid: int,
    *,
    num_targets: int = 4,
    target_scale: tuple[float, float] = (0.15, 0.2),
    target_aspect: tuple[float, float] = (0.75, 1.5),
    context_scale: tuple[float, float] = (0.85, 1.0),
    min_context: int = 2,
    generator: torch.Generator | None = None,
    device=None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """I-JEPA's multi-block masks on a ``grid`` x ``grid`` patch grid (Assran et al., sec. 3).

    Each batch draws one target block size (``target_scale`` of the patches, aspect ratio in
    ``target_aspect``) and one square context block size (``context_scale``); each image then
    places ``num_targets`` target blocks (they may overlap one another) and one context block
    at random, and removes every target patch from its context. As in the authors'
    collator, every image keeps the batch's smallest context count, so the context is a
    tensor: here a *random* subset of each image's context patches (the authors keep the
    first ones in raster order). Images left with fewer than ``min_context`` context patches
    are drawn again. Departures from the authors' code, which matter on a small grid: a
    block may span the whole grid and sit at every position (theirs stops one patch short),
    and scale and aspect are drawn independently (theirs uses one random number for both).
    The defaults are the paper's (made for 14x14 to 16x16 grids); on the digits' 4x4 grid
    they give targets of 1 to 4 patches, and the quick recipe (``sslib.recipes.QUICK``)
    predicts one block of 0.35-0.5 of the patches instead (2x2 to 3x3).

    Args:
        batch_size: images ``B``.
        grid: patches per side (4 for 28x28 digits in 7x7 patches).
        num_targets: target blocks ``M`` per image (paper: 4).
        target_scale: range of a target block's share of the patches (paper: 0.15-0.2).
        target_aspect: range of a target block's height / width (paper: 0.75-1.5).
        context_scale: range of the context block's share, before targets are removed
            (paper: 0.85-1.0).
        min_context: fewest context patches an image may have.
        generator: a CPU generator (default: torch's global one).
        device: where the returned indices live.

    Returns:
        ``context``: ``(B, n_context)`` int64 patch indices, increasing in each row;
        ``targets``: ``(B, M, h w)`` int64 patch indices of each target block, raster order.

    Raises:
        ValueError: settings that leave no room for a context in 20 draws.
    """
    if num_targets < 1 or min_context < 1:
        raise ValueError(f"num_targets and min_context must be >= 1: {num_targets}, {min_context}")
    for name, (lo, hi) in {"target_scale": target_scale, "context_scale": context_scale}.items():
        if not 0 < lo <= hi <= 1:
            raise ValueError(f"{name} must satisfy 0 < low <= high <= 1, got {(lo, hi)}")
    n = grid * grid
    t_size = _block_size(grid, target_scale, target_aspect, generator)
    c_size = _block_size(grid, context_scale, (1.0, 1.0), generator)
    targets = torch.zeros(batch_size, num_targets, n, dtype=torch.bool)
    context = torch.zeros(batch_size, n, dtype=torch.bool)
    redo = torch.ones(batch_size, dtype=torch.bool)
    for _ in range(20):  # draw again where targets left too little context
        k = int(redo.sum())
        targets[redo] = _place_blocks(num_targets, (k,), t_size, grid, generator)
        block = _place_blocks(1, (k,), c_size, grid, generator)[:, 0]
        context[redo] = block & ~targets[redo].any(dim=1)
        redo = context.sum(dim=1) < min_context
        if not redo.any():
            break
    else:
        raise ValueError(
            f"{num_targets} target blocks of {t_size[0]}x{t_size[1]} patches leave fewer than "
            f"{min_context} context patches of a {c_size[0]}x{c_size[1]} block on a {grid}x{grid} "
            "grid: use fewer or smaller targets, or a larger context_scale"
        )
    n_context = int(context.sum(dim=1).min())
    noise = torch.rand(batch_size, n, generator=generator).masked_fill(~context, 2.0)
    keep = noise.argsort(dim=1)[:, :n_context].sort(dim=1).values  # a random subset of each
    target_index = targets.nonzero()[:, 2].view(batch_size, num_targets, -1)
    return keep.to(device), target_index.to(device)


class Predictor(nn.Module):
    """I-JEPA's predictor: a narrow ViT from the context codes to the target blocks' codes.

    The context codes are mapped to ``dim`` and given their positions again; each target
    block gets a learned mask token plus its positions; the context and *one* block form a
    sequence (the paper predicts each block separately, so blocks do not see one another);
    after ``depth`` blocks, a final norm and a linear map back to the encoder's width.

    Shape:
        ``codes: (B, n_context, D)``, ``context: (B, n_context)``, ``targets: (B, M, T)``
        -> ``(B, M, T, D)``.
    """

    def __init__(self, encoder_dim: int, grid: int, dim: int = 32, depth: int = 2, heads: int = 4):
        super().__init__()
        if depth < 1:
            raise ValueError(f"predictor depth must be at least 1, got {depth}")
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.register_buffer("positions", sincos_positions_2d(grid, grid, dim))
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.proj = nn.Linear(dim, encoder_dim)

    def forward(
        self, codes: torch.Tensor, context: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        """Predicted target codes ``(B, M, T, D)``; see the class docstring."""
        b, m, t = targets.shape
        x = self.embed(codes) + self.positions[context]  # (B, n_context, dim)
        x = x.unsqueeze(1).expand(-1, m, -1, -1).flatten(0, 1)  # (B M, n_context, dim)
        queries = self.mask_token + self.positions[targets].flatten(0, 1)  # (B M, T, dim)
        x = torch.cat([x, queries], dim=1)
        for block in self.blocks:
            x = block(x)
        return self.proj(self.norm(x[:, -t:])).view(b, m, t, -1)


class IJEPA(Method):
    """I-JEPA around a :class:`sslib.nets.TinyViT` context encoder (see the module docstring).

    Args:
        encoder: a :class:`~sslib.nets.TinyViT` (``encode(x, keep)``, ``grid``, ``out_dim``).
        momentum: the teacher's momentum at step 0, rising to 1 on BYOL's cosine schedule
            (:func:`sslib.momentum.cosine_momentum`; the paper: 0.996 rising linearly).
        predictor_dim: the predictor's width (the paper: 384 for ViT-H's 1280).
        predictor_depth: its Transformer blocks (the paper: 12).
        predictor_heads: its attention heads.
        num_targets: target blocks per image (the paper: 4); this and the next four are the
            settings of :func:`sslib.methods.jepa.block_masks`.
        target_scale: range of a target block's share of the patches (the paper: 0.15-0.2).
        target_aspect: range of a target block's height / width (the paper: 0.75-1.5).
        context_scale: range of the context block's share (the paper: 0.85-1.0).
        min_context: fewest context patches an image may keep.
        views: optional augmentation ``views(x) -> x'`` on float images, applied to each
            training batch before masking (the paper uses none beyond random crops).
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        momentum: float = 0.996,
        predictor_dim: int = 32,
        predictor_depth: int = 2,
        predictor_heads: int = 4,
        num_targets: int = 4,
        target_scale: tuple[float, float] = (0.15, 0.2),
        target_aspect: tuple[float, float] = (0.75, 1.5),
        context_scale: tuple[float, float] = (0.85, 1.0),
        min_context: int = 2,
        views=None,
    ):
        super().__init__()
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum}")
        self.encoder, self.momentum, self.views = encoder, momentum, views
        self.teacher = frozen_copy(encoder)  # a submodule: fit checkpoints it
        self.predictor = Predictor(
            encoder.out_dim, encoder.grid, predictor_dim, predictor_depth, predictor_heads
        )
        self.masks = dict(num_targets=num_targets, target_scale=tuple(target_scale),
                          target_aspect=tuple(target_aspect), context_scale=tuple(context_scale),
                          min_context=min_context)  # fmt: skip
        block_masks(1, encoder.grid, **self.masks)  # bad mask settings fail here, not in fit

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> IJEPA:
        """An I-JEPA needs a Vision Transformer (an encoder of patches)."""
        if not hasattr(encoder, "num_patches"):
            raise ValueError("jepa needs a Vision Transformer: pass --encoder vit or vit_small")
        if encoder.grid < 4:  # blocks need room: on 2x2 patches targets leave no context
            raise ValueError(f"jepa needs a grid of at least 4x4 patches, got {encoder.grid}x"
                             f"{encoder.grid}: use larger images or smaller patches")  # fmt: skip
        return cls(encoder, **kwargs)

    @torch.no_grad()
    def target(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The teacher's layer-normalised codes of the target blocks, ``(B, M, T, D)``.

        The teacher sees every patch; its codes are normalised over features (no affine) as
        in the paper, then the target blocks are read out.
        """
        codes = self.teacher.encode(x)  # (B, N, D)
        return select_tokens(F.layer_norm(codes, codes.shape[-1:]), targets)

    def loss(self, batch):
        """Mean squared error per coordinate between predicted and teacher target codes."""
        x = to_float(inputs_of(batch))
        if self.views is not None:
            x = self.views(x)
        context, targets = block_masks(len(x), self.encoder.grid, device=x.device, **self.masks)
        predicted = self.predictor(self.encoder.encode(x, context), context, targets)
        loss = (predicted.float() - self.target(x, targets).float()).pow(2).mean()
        return loss, {"context_patches": context.shape[1], "target_patches": targets.shape[2]}

    def after_step(self, step: int, total_steps: int) -> None:
        """The teacher follows the context encoder: ``m`` on the cosine schedule to 1."""
        ema_update(self.teacher, self.encoder, cosine_momentum(step, total_steps, self.momentum))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The context encoder's tokens of every patch, averaged, ``(B, encoder.out_dim)``.

        As :meth:`sslib.methods.mae.MAE.embed`, so the two compare on equal terms (the paper
        evaluates the teacher's average-pooled tokens instead).
        """
        return self.encoder(to_float(x))
