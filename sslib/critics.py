"""Critics that score (feature-map location, code) pairs, for local Deep InfoMax.

A critic takes a batch's feature map ``(N, C, M, M)`` and codes ``(N, K)``, splits the batch
into blocks of ``b`` images, and scores every location of every image against every code of
its block: ``(G, M*M, b, b)`` for ``G = N // b`` blocks. The diagonal of each ``b x b`` matrix
holds the positive pairs (a location and its own image's code). A bound of
:mod:`sslib.bounds` turns the scores into an estimate of mutual information
(:func:`sslib.bounds.bound_per_matrix`, :func:`sslib.bounds.all_locations_bound`).

Explained in chapter 5, *Deep InfoMax*.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.objectives import check_temperature


class _Conv1x1Net(nn.Module):
    """A 1x1-convolution MLP with a linear shortcut and layer norm, as in the authors' code."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
            nn.Conv2d(out_channels, out_channels, 1),
        )
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.block(x) + self.shortcut(x)  # (B, out, M, M)
        return self.norm(h.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)  # norm over channels


def _blocks(n: int, block: int | None) -> tuple[int, int]:
    """``(groups, block size)`` for a batch of ``n`` split into blocks (the rest is dropped)."""
    b = n if block is None else block
    if not 2 <= b <= n:
        raise ValueError(f"block size must be in 2..{n} (the batch), got {b}")
    return n // b, b


class DotProductCritic(nn.Module):
    """Encode-and-dot-product: ``T(l, y) = phi(l) . psi(y)`` at every location.

    ``phi`` is a 1x1-convolution network on the feature map and ``psi`` the same on the code
    seen as a 1x1 map; all scores of a block cost one pass of each network and a product.
    Both end in layer norm, so the product is divided by ``sqrt(embed_dim)`` to start the
    scores at a scale of one (the authors' code leaves it out). With ``temperature`` the
    embeddings are L2-normalised instead and the score is their cosine divided by it, as in
    SimCLR: scores lie in ``[-1 / temperature, 1 / temperature]``.

    Explained in chapter 5, *Deep InfoMax*.

    Shape:
        ``local (N, C, M, M), code (N, K) -> scores (G, M*M, b, b)`` with blocks of ``b``
        images (``G = N // b``), ``scores[g, m, i, j] = T(local[g b + i] at m, code[g b + j])``.
    """

    def __init__(
        self,
        local_channels: int,
        code_dim: int,
        embed_dim: int = 128,
        temperature: float | None = None,
    ):
        super().__init__()
        if temperature is not None:
            check_temperature(temperature)
        self.local_net = _Conv1x1Net(local_channels, embed_dim)
        self.code_net = _Conv1x1Net(code_dim, embed_dim)
        self.temperature = temperature

    def forward(
        self, local: torch.Tensor, code: torch.Tensor, block: int | None = None
    ) -> torch.Tensor:
        """Scores of every local feature with every code of its block, ``(G, M*M, b, b)``."""
        g, b = _blocks(len(local), block)
        phi = self.local_net(local).flatten(2)[: g * b]  # (N, E, M*M)
        psi = self.code_net(code[:, :, None, None]).flatten(1)[: g * b]  # (N, E)
        phi, psi = phi.view(g, b, *phi.shape[1:]), psi.view(g, b, -1)
        if self.temperature is not None:  # cosine similarity over the temperature
            phi, psi = F.normalize(phi, dim=2), F.normalize(psi, dim=2)
            scale = 1.0 / self.temperature
        else:  # layer-normed embeddings have dot products of size sqrt(E): scale back to O(1)
            scale = 1.0 / math.sqrt(phi.shape[2])
        # g = group, i = image of the local feature, j = image of the code, e = embedding
        return torch.einsum("giem,gje->gmij", phi, psi) * scale


class ConcatConvCritic(nn.Module):
    """Concat-and-convolve: the code replicated over the map, concatenated, 1x1 convolutions.

    The first 1x1 convolution of ``[l; y]`` is ``W_l l + W_y y``; computing the two parts
    once and adding them for every pair gives the same scores as concatenating, without
    materialising the ``b^2`` concatenated maps.

    Explained in chapter 5, *Deep InfoMax*.

    Shape:
        ``local (N, C, M, M), code (N, K) -> scores (G, M*M, b, b)``, as
        :class:`DotProductCritic`.
    """

    def __init__(self, local_channels: int, code_dim: int, hidden: int = 512):
        super().__init__()
        self.local_in = nn.Conv2d(local_channels, hidden, 1)
        self.code_in = nn.Linear(code_dim, hidden, bias=False)
        # 1x1 convolutions on a (.., hidden) tensor are linear layers on its last axis
        self.rest = nn.Sequential(
            nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
        )

    def forward(
        self, local: torch.Tensor, code: torch.Tensor, block: int | None = None
    ) -> torch.Tensor:
        """Scores of every local feature with every code of its block, ``(G, M*M, b, b)``."""
        g, b = _blocks(len(local), block)
        a = self.local_in(local).flatten(2).transpose(1, 2)[: g * b]  # (N, M*M, H)
        c = self.code_in(code)[: g * b]  # (N, H)
        a, c = a.view(g, b, 1, *a.shape[1:]), c.view(g, 1, b, 1, -1)
        h = a + c  # (G, b_local, b_code, M*M, H): W [l_i^m; y_j]
        return self.rest(h).squeeze(-1).permute(0, 3, 1, 2)  # (G, M*M, b, b)


CRITICS = {"dot": DotProductCritic, "concat": ConcatConvCritic}
