"""Networks: encoders, projection heads and critics.

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
