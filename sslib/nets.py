"""Networks: encoders, decoders, projection heads, critics and Transformers.

Encoders map images to a representation ``h`` (attribute ``out_dim`` gives its size);
projection heads map ``h`` to the space a loss works in, ``z = g(h)``; critics score pairs,
``scores[i, j] = f(x_i, y_j)``, for the mutual-information bounds of :mod:`sslib.bounds`.
Explained in chapter 0 (critics) and the contrastive-learning chapter (encoders and heads).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torchvision


def _norm_1d(kind: str | None, dim: int) -> nn.Module:
    if kind is None:
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm1d(dim)
    if kind == "layer":
        return nn.LayerNorm(dim)
    raise ValueError(f"norm must be 'batch', 'layer' or None, got {kind!r}")


class MLP(nn.Module):
    """A multilayer perceptron: ``Linear -> norm -> ReLU`` per hidden layer, then ``Linear``.

    Inputs with more than two axes are flattened first, so it also serves as an image encoder.

    Shape:
        ``(B, *) -> (B, out_dim)``, with ``prod(*) == in_dim``.
    """

    def __init__(
        self,
        in_dim: int,
        hidden: Sequence[int] = (256,),
        out_dim: int = 128,
        norm: str | None = None,
        activation: type[nn.Module] = nn.ReLU,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        dims = [in_dim, *hidden]
        for a, b in zip(dims[:-1], dims[1:], strict=True):
            layers += [nn.Linear(a, b), _norm_1d(norm, b), activation()]
        layers.append(nn.Linear(dims[-1], out_dim))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, *) -> (B, out_dim)``."""
        return self.net(x.flatten(1))


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class SmallCNN(nn.Module):
    """A small VGG-style CNN for 28x28 to 32x32 images (and, with ``pool`` off, 8x8 ones).

    Three stages of two 3x3 convolutions (``width``, ``2 width``, ``4 width`` channels), with
    2x2 max-pooling after the first two; the last feature map is averaged into ``h``.

    Shape:
        ``(B, C, H, W) -> (B, out_dim)`` with ``out_dim = 4 * width``;
        :meth:`feature_map` gives ``(B, 4 width, H/4, W/4)`` (the local features of Deep InfoMax).
    """

    def __init__(self, in_channels: int = 1, width: int = 32, pool: bool = True):
        super().__init__()
        down = nn.MaxPool2d(2) if pool else nn.Identity()
        self.features = nn.Sequential(
            _conv_block(in_channels, width),
            _conv_block(width, width),
            down,
            _conv_block(width, 2 * width),
            _conv_block(2 * width, 2 * width),
            nn.MaxPool2d(2) if pool else nn.Identity(),
            _conv_block(2 * width, 4 * width),
            _conv_block(4 * width, 4 * width),
        )
        self.out_dim = 4 * width

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map, ``(B, 4 width, H', W')``."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h``: the last feature map averaged over positions."""
        return self.feature_map(x).mean(dim=(-2, -1))


class StridedCNN(nn.Module):
    """A light CNN for digit-sized images: strided 3x3 convolutions, batch norm, ReLU.

    Three convolutions with ``widths`` channels (default 32, 64, 128) and ``strides`` (2, 2, 1),
    each followed by batch norm and ReLU; the last feature map (7x7 for a 28x28 digit) is
    averaged into ``h``. Striding early instead of pooling after full-resolution convolutions
    costs about a sixth of the multiply-adds of ``SmallCNN(width=32)``, so on a CPU it sees
    about five times more images per second: the book's quick-budget encoder.

    Shape:
        ``(B, C, H, W) -> (B, out_dim)`` with ``out_dim = widths[-1]``;
        :meth:`feature_map` gives ``(B, widths[-1], H', W')``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        strides: Sequence[int] = (2, 2, 1),
    ):
        super().__init__()
        if len(widths) != len(strides):
            raise ValueError(
                f"widths and strides need one entry per layer, got {widths}, {strides}"
            )
        layers: list[nn.Module] = []
        for cin, cout, stride in zip([in_channels, *widths[:-1]], widths, strides, strict=True):
            layers += [
                nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            ]
        self.features = nn.Sequential(*layers)
        self.out_dim = widths[-1]

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolutional feature map, ``(B, widths[-1], H', W')``."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h``: the last feature map averaged over positions."""
        return self.feature_map(x).mean(dim=(-2, -1))


class ResNet18(nn.Module):
    """ResNet-18 adapted to 32x32 images, as in SimCLR's CIFAR-10 experiments.

    The 7x7 stride-2 stem and the max-pool are replaced by one 3x3 stride-1 convolution, so a
    32x32 image keeps enough resolution; the classifier is removed.

    Shape:
        ``(B, C, H, W) -> (B, 512)``.
    """

    def __init__(self, in_channels: int = 3):
        super().__init__()
        net = torchvision.models.resnet18(weights=None)
        net.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
        net.fc = nn.Identity()
        self.net = net
        self.out_dim = 512

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The last residual stage's output, ``(B, 512, H/8, W/8)``."""
        n = self.net
        x = n.relu(n.bn1(n.conv1(x)))
        return n.layer4(n.layer3(n.layer2(n.layer1(x))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h``: the last feature map averaged over positions."""
        return self.feature_map(x).mean(dim=(-2, -1))


class ProjectionHead(nn.Module):
    """SimCLR's projection head ``g``: ``num_layers`` linear layers with BN and ReLU between.

    Shape:
        ``(B, in_dim) -> (B, out_dim)``.
    """

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128, num_layers: int = 2):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        hidden = [hidden_dim] * (num_layers - 1)
        self.net = MLP(in_dim, hidden, out_dim, norm="batch")
        self.out_dim = out_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """``z = g(h)``."""
        return self.net(h)


class SeparableCritic(nn.Module):
    """``f(x, y) = g(x) . h(y)``: one network per variable and a dot product.

    All ``N^2`` scores cost two forward passes of ``N`` rows, which is why contrastive learning
    uses critics of this form.

    Shape:
        ``x: (N, x_dim), y: (N, y_dim) -> scores (N, N)``, ``scores[i, j] = f(x_i, y_j)``.
    """

    def __init__(
        self, x_dim: int, y_dim: int, hidden: int = 256, embed_dim: int = 32, layers: int = 2
    ):
        super().__init__()
        self.g = MLP(x_dim, [hidden] * layers, embed_dim)
        self.h = MLP(y_dim, [hidden] * layers, embed_dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores ``(N, N)`` of every ``x_i`` with every ``y_j``."""
        return self.g(x) @ self.h(y).T  # (N, N)


class ConcatCritic(nn.Module):
    """``f(x, y) = MLP([x, y])``: the most expressive critic, at ``N^2`` forward rows.

    Shape:
        ``x: (N, x_dim), y: (N, y_dim) -> scores (N, N)``, ``scores[i, j] = f(x_i, y_j)``.
    """

    def __init__(self, x_dim: int, y_dim: int, hidden: int = 256, layers: int = 2):
        super().__init__()
        self.f = MLP(x_dim + y_dim, [hidden] * layers, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Scores ``(N, N)`` of every ``x_i`` with every ``y_j``."""
        n = len(x)
        pairs = torch.cat(
            [x.unsqueeze(1).expand(n, n, -1), y.unsqueeze(0).expand(n, n, -1)], dim=-1
        )  # (N, N, x_dim + y_dim): row i pairs x_i with every y_j
        return self.f(pairs.reshape(n * n, -1)).view(n, n)


class MLPDecoder(nn.Module):
    """The mirror of an MLP encoder: a code back to an image of logits.

    The output is a logit per pixel (no sigmoid), so that a method can pick its likelihood:
    ``sigmoid`` for a mean-squared error on [0, 1] images, a Bernoulli cross-entropy for a VAE.
    Explained in chapter 2, *Autoencoders*.

    Shape:
        ``(B, code_dim) -> (B, C, H, W)`` with ``(C, H, W) = image_shape``.
    """

    def __init__(
        self,
        code_dim: int,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (256,),
    ):
        super().__init__()
        self.image_shape = tuple(image_shape)
        self.net = MLP(code_dim, hidden, int(torch.tensor(self.image_shape).prod()))
        self.code_dim = code_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``(B, C, H, W)``."""
        return self.net(h).view(len(h), *self.image_shape)


class ConvEncoder(nn.Module):
    """Two stride-2 convolutions and a linear map to a code of ``out_dim`` numbers.

    The encoder half of the convolutional autoencoder of chapter 2 (*Autoencoders*): with
    ``padding=1`` a 3x3 stride-2 convolution halves an even side exactly, 28 -> 14 -> 7.

    Shape:
        ``(B, C, size, size) -> (B, out_dim)``, ``size`` divisible by 4.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, out_dim: int = 16, size: int = 28):
        super().__init__()
        if size % 4:
            raise ValueError(f"ConvEncoder needs a side divisible by 4, got {size}")
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, stride=2, padding=1),  # size/2
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 3, stride=2, padding=1),  # size/4
            nn.ReLU(inplace=True),
            nn.Flatten(),
        )
        self.head = nn.Linear(2 * width * (size // 4) ** 2, out_dim)
        self.out_dim = out_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``h``, ``(B, out_dim)``."""
        return self.head(self.features(x))


class ConvDecoder(nn.Module):
    """The mirror of :class:`ConvEncoder`: a code back to a ``size`` x ``size`` image.

    A linear map to a ``size/4`` grid, then two transposed convolutions that each double the
    side (pixel logits, no sigmoid).
    A 4x4 transposed convolution with stride 2 and padding 1 doubles a side exactly,
    ``(n - 1) * 2 - 2 + 4 = 2n``; the 3x3 "valid" ones of Keras add one pixel per stage instead,
    the bug of seed 004 (28x28 in, 31x31 out). Explained in chapter 2, *Autoencoders*.

    Shape:
        ``(B, code_dim) -> (B, out_channels, size, size)``.
    """

    def __init__(self, code_dim: int, out_channels: int = 1, width: int = 32, size: int = 28):
        super().__init__()
        if size % 4:
            raise ValueError(f"ConvDecoder needs a side divisible by 4, got {size}")
        s = size // 4
        self.net = nn.Sequential(
            nn.Linear(code_dim, 2 * width * s * s),
            nn.ReLU(inplace=True),
            nn.Unflatten(1, (2 * width, s, s)),
            nn.ConvTranspose2d(2 * width, width, 4, stride=2, padding=1),  # size/2
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(width, out_channels, 4, stride=2, padding=1),  # size
        )
        self.code_dim = code_dim

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """Pixel logits ``(B, out_channels, size, size)``."""
        return self.net(h)


class UNet(nn.Module):
    """A small U-Net autoencoder: a ``code_dim`` bottleneck, plus skip connections around it.

    Down path: 3x3 convolutions at full, half and quarter resolution; the quarter-resolution
    map is flattened into the code ``h`` (``code_dim`` numbers) and mapped back. With ``skips``
    the up path concatenates the down path's feature maps at each resolution
    (Ronneberger et al., 2015), which lets the decoder rebuild the image without the code:
    chapter 2 (*Autoencoders*) ablates the code at test time to show it. With ``skips=False``
    it is a plain convolutional autoencoder of the same shape.

    Shape:
        ``(B, C, size, size) -> (B, C, size, size)`` pixel logits; :meth:`encode` gives the
        code ``(B, code_dim)`` and the skipped maps.
    """

    def __init__(
        self,
        in_channels: int = 1,
        width: int = 16,
        code_dim: int = 16,
        size: int = 28,
        skips: bool = True,
    ):
        super().__init__()
        if size % 4:
            raise ValueError(f"UNet needs a side divisible by 4, got {size}")
        w, s, self.skips = width, size // 4, skips

        def conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, padding=1), nn.ReLU(inplace=True))

        def up(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(nn.ConvTranspose2d(cin, cout, 4, 2, padding=1), nn.ReLU(True))

        m = 2 if skips else 1  # decoder inputs are twice as wide when skips are concatenated
        self.down1 = conv(in_channels, w)  # size
        self.down2 = conv(w, 2 * w, 2)  # size/2
        self.down3 = conv(2 * w, 4 * w, 2)  # size/4
        self.to_code = nn.Linear(4 * w * s * s, code_dim)
        self.from_code = nn.Sequential(nn.Linear(code_dim, 4 * w * s * s), nn.ReLU(inplace=True))
        self.up3, self.up2 = up(4 * w * m, 2 * w), up(2 * w * m, w)
        self.out = nn.Conv2d(w * m, in_channels, 3, padding=1)
        self.grid, self.code_dim, self.out_dim = (4 * w, s, s), code_dim, code_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The code ``(B, code_dim)`` and the maps the skips carry (full, 1/2, 1/4 size)."""
        f1 = self.down1(x)  # (B, w, size, size)
        f2 = self.down2(f1)  # (B, 2w, size/2, size/2)
        f3 = self.down3(f2)  # (B, 4w, size/4, size/4)
        return self.to_code(f3.flatten(1)), [f1, f2, f3]

    def decode(self, h: torch.Tensor, features: list[torch.Tensor]) -> torch.Tensor:
        """Pixel logits from the code and, if ``skips``, the encoder's maps."""
        g = self.from_code(h).view(len(h), *self.grid)

        def join(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return torch.cat([a, b], dim=1) if self.skips else a

        g = self.up3(join(g, features[2]))  # (B, 2w, size/2, size/2)
        g = self.up2(join(g, features[1]))  # (B, w, size, size)
        return self.out(join(g, features[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel logits of the reconstruction, ``(B, C, size, size)``."""
        h, features = self.encode(x)
        return self.decode(h, features)


# ---------------------------------------------------------------------------------------------
# Transformers for masked modeling (chapter 4): a token encoder for masked language models and
# a tiny ViT for masked autoencoders. Every parameter lives in a Linear, LayerNorm or Embedding,
# so :func:`sslib.probe.random_init` re-initialises all of them.
# ---------------------------------------------------------------------------------------------


class TransformerBlock(nn.Module):
    """A pre-norm Transformer block: ``x + attention(norm(x))``, then ``x + mlp(norm(x))``.

    Shape:
        ``(B, T, dim) -> (B, T, dim)``; ``padding`` is ``(B, T)``, True at positions no token
        may attend to.
    """

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: int = 4):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim={dim} must be divisible by heads={heads}")
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim)
        )

    def forward(self, x: torch.Tensor, padding: torch.Tensor | None = None) -> torch.Tensor:
        """One block; no causal mask: every token sees the whole sequence (it is an encoder)."""
        b, t, c = x.shape
        qkv = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, T, head_dim)
        allowed = None if padding is None else ~padding[:, None, None, :]  # (B, 1, 1, T)
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        x = x + self.proj(y.transpose(1, 2).reshape(b, t, c))  # heads back to (B, T, dim)
        return x + self.mlp(self.norm2(x))


class TokenTransformer(nn.Module):
    """A Transformer encoder over token ids, the network of a masked language model.

    Token and learned position embeddings, ``depth`` :class:`TransformerBlock` s, a final
    LayerNorm. Padding (``pad_id``) is neither attended to nor, in :meth:`pooled`, averaged.

    Shape:
        ``(B, T) int64 -> (B, T, dim)`` with ``T <= max_len``; ``out_dim = dim``.
    """

    def __init__(
        self,
        vocab_size: int,
        max_len: int = 128,
        dim: int = 64,
        depth: int = 2,
        heads: int = 4,
        mlp_ratio: int = 4,
        pad_id: int = 0,
    ):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, dim)
        self.positions = nn.Embedding(max_len, dim)
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.vocab_size, self.max_len, self.pad_id, self.out_dim = vocab_size, max_len, pad_id, dim

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Contextual states of every position, ``(B, T, dim)``."""
        if ids.shape[1] > self.max_len:
            raise ValueError(f"sequences of {ids.shape[1]} tokens exceed max_len={self.max_len}")
        padding = ids == self.pad_id
        x = self.tokens(ids) + self.positions.weight[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, padding if padding.any() else None)
        return self.norm(x)

    def pooled(self, ids: torch.Tensor) -> torch.Tensor:
        """The mean state over non-padding positions, ``(B, dim)``: one vector per sequence."""
        keep = (ids != self.pad_id).unsqueeze(-1).float()
        return (self(ids) * keep).sum(dim=1) / keep.sum(dim=1).clamp_min(1)


def patchify(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches, in row-major order.

    Shape:
        ``(B, C, H, W) -> (B, (H/p) (W/p), C p p)``, each row one patch flattened as (C, p, p).
    """
    b, c, h, w = x.shape
    p = patch_size
    if h % p or w % p:
        raise ValueError(f"image size {h}x{w} is not a multiple of patch_size={p}")
    x = x.view(b, c, h // p, p, w // p, p)  # (B, C, gh, p, gw, p)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)


def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """Inverse of :func:`patchify`.

    Shape:
        ``(B, N, C p p) -> (B, C, height, width)``.
    """
    b, n, d = patches.shape
    p = patch_size
    gh, gw = height // p, width // p
    c = d // (p * p)
    if gh * gw != n or c * p * p != d:
        raise ValueError(f"{n} patches of {d} values do not tile a {height}x{width} image")
    x = patches.view(b, gh, gw, c, p, p).permute(0, 3, 1, 4, 2, 5)  # (B, C, gh, p, gw, p)
    return x.reshape(b, c, height, width)


def select_tokens(tokens: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The tokens of each sequence at ``index``: a ViT's visible patches, a JEPA's targets.

    Shape:
        ``tokens: (B, N, D)``, ``index: (B, ...)`` int64 in ``[0, N)`` -> ``(B, ..., D)``.
    """
    rows = torch.arange(len(tokens), device=tokens.device).view(-1, *[1] * (index.ndim - 1))
    return tokens[rows, index]


def sincos_positions_2d(grid_h: int, grid_w: int, dim: int) -> torch.Tensor:
    """Fixed 2-D sine-cosine position embeddings, as in MAE (He et al., 2022).

    Half the channels encode the row, half the column, each with sines and cosines of
    geometrically spaced frequencies (Vaswani et al., 2017).

    Shape:
        ``(grid_h * grid_w, dim)`` in row-major patch order; ``dim`` divisible by 4.
    """
    if dim % 4:
        raise ValueError(f"dim must be divisible by 4, got {dim}")
    freq = 1.0 / 10000 ** (torch.arange(dim // 4, dtype=torch.float64) / (dim // 4))
    rows, cols = torch.meshgrid(
        torch.arange(grid_h, dtype=torch.float64),
        torch.arange(grid_w, dtype=torch.float64),
        indexing="ij",
    )
    angles = [pos.flatten()[:, None] * freq for pos in (rows, cols)]  # 2 x (N, dim/4)
    return torch.cat([f(a) for a in angles for f in (torch.sin, torch.cos)], dim=1).float()


class TinyViT(nn.Module):
    """A small Vision Transformer (Dosovitskiy et al., 2021) that can encode a subset of patches.

    Patches are embedded linearly, given fixed 2-D sine-cosine positions, and passed through
    ``depth`` :class:`TransformerBlock` s. :meth:`encode` takes ``keep``, the indices of the
    visible patches, which is all a masked autoencoder's encoder ever sees; ``forward`` encodes
    every patch and averages them into ``h``.

    Shape:
        ``(B, C, H, W) -> (B, dim)``; :meth:`encode` gives ``(B, len(keep[0]), dim)``.
    """

    def __init__(
        self,
        image_size: int = 28,
        patch_size: int = 7,
        in_channels: int = 1,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: int = 4,
    ):
        super().__init__()
        if image_size % patch_size:
            raise ValueError(f"image_size={image_size} is not a multiple of {patch_size}")
        self.image_size, self.patch_size, self.in_channels = image_size, patch_size, in_channels
        self.grid = image_size // patch_size
        self.num_patches = self.grid**2
        self.patch_dim = in_channels * patch_size**2
        self.patch_embed = nn.Linear(self.patch_dim, dim)
        self.register_buffer("positions", sincos_positions_2d(self.grid, self.grid, dim))
        self.blocks = nn.ModuleList(TransformerBlock(dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.out_dim = dim

    def encode(self, x: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        """Encode the patches at ``keep`` (``(B, n_keep)`` indices; all when None)."""
        tokens = self.patch_embed(patchify(x, self.patch_size)) + self.positions  # (B, N, dim)
        if keep is not None:
            tokens = select_tokens(tokens, keep)  # (B, n_keep, dim)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h``: every patch encoded, then averaged, ``(B, dim)``."""
        return self.encode(x).mean(dim=1)


# --- Deep InfoMax's encoder for 32x32 images and its code head (chapter 5) ---


class DCGANEncoder(nn.Module):
    """The local part of the DCGAN-like encoder Hjelm et al. use for 32x32 images.

    Two 4x4 stride-2 convolutions (64 and 128 channels) with batch norm and ReLU; the paper's
    local feature map is their output, ``128 x 8 x 8`` for CIFAR-10. The rest of the paper's
    encoder (a third convolution, a 1024-unit layer, the 64-dimensional code) is
    ``CodeHead(128, code_dim=64, hidden=1024, conv_channels=256)``.

    Explained in chapter 5, *Deep InfoMax*.

    Shape:
        :meth:`feature_map`: ``(B, C, H, W) -> (B, 128, H/4, W/4)``; forward: ``(B, 128)``.
    """

    def __init__(self, in_channels: int = 3, width: int = 64):
        super().__init__()

        def down(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)
            )

        self.features = nn.Sequential(down(in_channels, width), down(width, 2 * width))
        self.out_dim = 2 * width

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """The local features, ``(B, 2 width, H/4, W/4)``."""
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The feature map averaged over positions, ``(B, 2 width)``."""
        return self.feature_map(x).mean(dim=(-2, -1))


class CodeHead(nn.Module):
    """``h``: from the feature map to the global code ``y`` (and the layer before it).

    An optional 4x4 stride-2 convolution, average pooling to a ``grid x grid`` map (the
    identity when the map already has that size), a hidden layer with batch norm and ReLU (the
    paper's "fc" features), then a linear layer to the code (the paper's "Y").

    Explained in chapter 5, *Deep InfoMax*.

    Shape:
        ``(B, in_channels, M, M) -> (B, code_dim)``; :meth:`hidden_features`: ``(B, hidden)``.
    """

    def __init__(
        self,
        in_channels: int,
        code_dim: int = 64,
        hidden: int = 1024,
        conv_channels: int | None = None,
        grid: int = 4,
    ):
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        if conv_channels is not None:
            layers += [
                nn.Conv2d(in_channels, conv_channels, 4, 2, 1, bias=False),
                nn.BatchNorm2d(conv_channels),
                nn.ReLU(True),
            ]
            channels = conv_channels
        layers += [
            nn.AdaptiveAvgPool2d(grid),
            nn.Flatten(),
            nn.Linear(channels * grid * grid, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(True),
        ]
        self.trunk = nn.Sequential(*layers)
        self.out = nn.Linear(hidden, code_dim)
        self.out_dim = code_dim

    def hidden_features(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The hidden layer, ``(B, hidden)``."""
        return self.trunk(feature_map)

    def forward(self, feature_map: torch.Tensor) -> torch.Tensor:
        """The code ``y``, ``(B, code_dim)``."""
        return self.out(self.trunk(feature_map))


#: The encoders the command line and the benchmark build by name (:func:`make_encoder`).
ENCODERS = ("cnn", "strided_cnn", "resnet18", "mlp", "dcgan", "vit", "vit_small")


def make_encoder(name: str, shape) -> nn.Module:
    """The encoder ``name`` of :data:`ENCODERS` for images of ``shape`` ``(C, H, W)``.

    ``cnn`` is :class:`SmallCNN` width 32 (pooled from 16x16 up); ``strided_cnn``
    :class:`StridedCNN`; ``resnet18`` :class:`ResNet18`; ``mlp`` a batch-normed MLP to 256;
    ``dcgan`` Deep InfoMax's :class:`DCGANEncoder` (width 64); ``vit`` a :class:`TinyViT` of
    width 192 and depth 6, ``vit_small`` chapter 4's of width 64 and depth 2 (patches of 7 on
    28x28 digits, of 4 on 32x32 and 96x96 images).
    """
    c, h, _ = shape
    if name == "cnn":
        return SmallCNN(c, 32, pool=h >= 16)
    if name == "resnet18":
        return ResNet18(c)
    if name == "strided_cnn":
        return StridedCNN(c)
    if name == "mlp":
        return MLP(c * h * h, (512, 512), 256, norm="batch")
    if name == "dcgan":
        return DCGANEncoder(c, 64)
    if name in ("vit", "vit_small"):
        patch = 7 if h % 7 == 0 else 4
        dim, depth = (192, 6) if name == "vit" else (64, 2)
        return TinyViT(image_size=h, patch_size=patch, in_channels=c, dim=dim, depth=depth)
    raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
