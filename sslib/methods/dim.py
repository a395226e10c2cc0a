"""Deep InfoMax: maximise the information between an image's feature map and its code.

An encoder computes a feature map ``f(x)`` of shape ``(C, M, M)`` and a global code
``y = h(f(x))``. A critic scores pairs of (feature, code); a variational bound of
:mod:`sslib.bounds` turns the scores into an estimate of mutual information that the encoder
and the critic maximise together (Hjelm et al., 2019, "Learning deep representations by mutual
information estimation and maximization", ICLR):

* global DIM, ``I(f(x); y)``: the whole feature map, summarised to a vector, against the code;
* local DIM, ``(1 / M^2) sum_m I(f(x)_m; y)``: every location of the feature map against the
  code, the bound averaged over the ``M^2`` locations;
* prior matching: a discriminator tells prior draws from codes and the encoder learns to fool
  it, as in an adversarial autoencoder.

Negatives are the codes of the other images of the batch; ``num_negatives`` splits the batch
into blocks of ``num_negatives + 1`` images so that each positive pair has exactly that many.

Explained in chapter 5, *Deep InfoMax*.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib import bounds
from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import MLP
from sslib.objectives import check_temperature

ESTIMATORS = ("dv", "jsd", "infonce")
PRIORS = ("uniform", "gaussian")


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


class MovingAverageDV(nn.Module):
    """MINE's Donsker-Varadhan bound with its bias-corrected gradient (Belghazi et al., 2018).

    The value is :func:`sslib.bounds.dv`. Its gradient has ``E_q[e^T grad T] / E_q[e^T]``, a
    ratio of batch means and so biased; MINE divides by a moving average ``ma`` of
    ``E_q[e^T]`` instead. Written as ``mean_i T_ii - exp(log_mean_q e^T - log ma)`` with ``ma``
    held fixed, the second term has exactly that gradient. ``ma`` is kept in log space (no
    overflow) and updated in training mode only.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        rate: weight of the newest batch in the moving average, in (0, 1].

    Shape:
        ``scores (B, n, n) -> (B,)``: one estimate per score matrix, in nats.
    """

    def __init__(self, rate: float = 0.01):
        super().__init__()
        if not 0 < rate <= 1:
            raise ValueError(f"rate must be in (0, 1], got {rate}")
        self.rate = rate
        self.register_buffer("log_ma", torch.tensor(float("nan")))  # nan: not started

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        """The DV value of each matrix, carrying the moving-average gradient.

        Shape: ``(B, n, n) -> (B,)``, or ``(n, n) ->`` a scalar.
        """
        if scores.ndim == 2:
            return self(scores[None])[0]
        value = torch.vmap(bounds.dv)(scores)  # (B,)
        lme = torch.vmap(bounds.logmeanexp_nodiag)(scores)  # (B,) log mean_q e^T
        if self.training:
            with torch.no_grad():
                pooled = torch.logsumexp(lme, 0) - math.log(len(lme))  # log of E_q[e^T]
                if torch.isnan(self.log_ma) or self.rate == 1:
                    self.log_ma.copy_(pooled)
                else:  # log((1 - r) ma + r E_q[e^T])
                    old = self.log_ma + math.log1p(-self.rate)
                    self.log_ma.copy_(torch.logaddexp(old, pooled + math.log(self.rate)))
        diag = scores.diagonal(dim1=-2, dim2=-1).mean(-1)  # (B,)
        corrected = diag - torch.exp(lme - self.log_ma.detach())
        return corrected + (value - corrected).detach()  # value of DV, MINE's gradient


def bound_per_matrix(estimator: str | nn.Module, scores: torch.Tensor) -> torch.Tensor:
    """The bound ``estimator`` on each ``(b, b)`` matrix of ``scores``, in nats.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        estimator: ``"jsd"``, ``"infonce"`` or ``"dv"`` (plain :mod:`sslib.bounds`), or a
            module such as :class:`MovingAverageDV`.
        scores: Shape: ``(..., b, b)``, positives on the diagonal of each matrix.

    Returns:
        The bounds, shape ``scores.shape[:-2]``.
    """
    flat = scores.reshape(-1, *scores.shape[-2:]).float()  # (B, b, b)
    fn = estimator if isinstance(estimator, nn.Module) else torch.vmap(bounds.BOUNDS[estimator])
    return fn(flat).view(scores.shape[:-2])


def all_locations_bound(estimator: str, scores: torch.Tensor) -> torch.Tensor:
    """A bound whose negatives are all locations of all other images, as the authors' code.

    In each block of ``b`` images the positives are the ``b L`` pairs (location ``m`` of
    image ``i``, code of image ``i``); the negatives of code ``j`` are the ``K = (b - 1) L``
    features at every location of the other images. Following the authors' code
    (``cortex_DIM``, ``dim_losses.py``), with no moving average:

    * ``"dv"``: ``mean(positives) - log mean(exp(negatives))``, the negatives of all codes
      pooled: plain batch Donsker-Varadhan;
    * ``"jsd"``: the JSD objective's gradient on the same pools; the value is NWJ at ``T + 1``,
      as :func:`sslib.bounds.jsd`;
    * ``"infonce"``: for each positive, a softmax over it and the ``K`` negatives of its code,
      plus ``log(K + 1)`` so that the value is a bound in nats, capped at ``log(K + 1)``.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        estimator: ``"dv"``, ``"jsd"`` or ``"infonce"``.
        scores: ``scores[g, m, i, j] = T(feature of image i at location m, code of image j)``
            in block ``g``. Shape: ``(G, L, b, b)`` with ``b >= 2``.

    Returns:
        The bound of each block in nats, shape ``(G,)``.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if scores.ndim != 4 or scores.shape[-1] != scores.shape[-2] or scores.shape[-1] < 2:
        raise ValueError(f"scores must have shape (G, L, b, b) with b >= 2, got {scores.shape}")
    scores = scores.float()
    g, n_loc, b, _ = scores.shape
    pos = scores.diagonal(dim1=-2, dim2=-1)  # (G, L, b): location m of image i with code i
    off = ~torch.eye(b, dtype=torch.bool, device=scores.device)  # (b, b): i != j
    neg = scores.masked_fill(~off, float("-inf"))  # (G, L, b, b), positives masked out
    if estimator == "infonce":
        num = (b - 1) * n_loc  # negatives of each code
        lse_neg = torch.logsumexp(neg.transpose(1, 3).reshape(g, b, -1), dim=-1)  # (G, b) per j
        log_softmax = pos - torch.logaddexp(pos, lse_neg[:, None, :])  # (G, L, b)
        return math.log(num + 1) + log_softmax.mean(dim=(1, 2))
    negs = scores[:, :, off]  # (G, L, b (b - 1)): every negative pair of the block
    log_mean_exp = torch.logsumexp(negs.flatten(1), dim=1) - math.log(negs[0].numel())  # (G,)
    if estimator == "dv":
        return pos.mean(dim=(1, 2)) - log_mean_exp
    js = -F.softplus(-pos).mean(dim=(1, 2)) - F.softplus(negs).mean(dim=(1, 2))
    mi = (pos + 1).mean(dim=(1, 2)) - torch.exp(log_mean_exp)  # NWJ at T + 1
    return js + (mi - js).detach()  # value of NWJ, gradient of JS


NEGATIVES = ("same_location", "all_locations")


class DeepInfoMax(Method):
    """Deep InfoMax: global and local MI maximisation, with optional prior matching.

    The encoder must have ``feature_map(x) -> (B, C, M, M)`` and ``out_dim == C`` (e.g.
    :class:`~sslib.nets.SmallCNN`, :class:`DCGANEncoder`). The objective maximised by the
    encoder, the code head and the critics is ``alpha I_global + beta I_local``, minus
    ``gamma`` times the generator loss of prior matching.

    ``loss`` returns one loss when ``gamma == 0``, else one per player: ``"encoder"``
    (encoder, code head and critics) and ``"discriminator"`` (the prior discriminator).

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        encoder: the network with ``feature_map``.
        code_head: ``h``, feature map to code; default ``CodeHead(encoder.out_dim, code_dim,
            head_hidden)``.
        code_dim: size of the code ``y`` (when ``code_head`` is built here).
        head_hidden: hidden width of the default code head.
        alpha: weight of global MI.
        beta: weight of local MI (the average over locations).
        gamma: weight of prior matching; 0 builds no discriminator.
        estimator: ``"jsd"``, ``"infonce"`` or ``"dv"`` (with ``"same_location"`` negatives,
            DV with MINE's moving average; with ``"all_locations"``, plain batch DV).
        critic: ``"dot"`` (encode-and-dot-product) or ``"concat"`` (concat-and-convolve).
        critic_dim: embedding width (dot) or hidden width (concat) of the critics.
        temperature: dot critic only: score with the cosine of the embeddings over this
            temperature (default: the scaled dot product).
        num_negatives: negative *images* per positive pair (blocks of ``num_negatives + 1``
            images); default: the rest of the batch.
        negatives: ``"same_location"``: a local feature is contrasted with the same location
            of the other images (``num_negatives`` negatives); ``"all_locations"``: with every
            location of the other images (``num_negatives * M^2``), as the authors' code
            (:func:`all_locations_bound`).
        prior: ``"uniform"`` (codes squashed by a sigmoid, matched to U(0, 1), as in the
            authors' code) or ``"gaussian"`` (codes matched to N(0, I)).
        disc_hidden: hidden widths of the prior discriminator.
        ma_rate: rate of DV's moving average.
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        code_head: nn.Module | None = None,
        code_dim: int = 64,
        head_hidden: int = 1024,
        alpha: float = 0.0,
        beta: float = 1.0,
        gamma: float = 0.0,
        estimator: str = "jsd",
        critic: str = "dot",
        critic_dim: int = 128,
        temperature: float | None = None,
        num_negatives: int | None = None,
        negatives: str = "same_location",
        prior: str = "uniform",
        disc_hidden: tuple[int, ...] = (256, 64),
        ma_rate: float = 0.01,
    ):
        super().__init__()
        if estimator not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
        if critic not in CRITICS:
            raise ValueError(f"critic must be one of {tuple(CRITICS)}, got {critic!r}")
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        if alpha <= 0 and beta <= 0:
            raise ValueError("give alpha > 0 (global MI) or beta > 0 (local MI), or both")
        if num_negatives is not None and num_negatives < 1:
            raise ValueError(f"num_negatives must be >= 1, got {num_negatives}")
        if negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {negatives!r}")
        if temperature is not None and critic != "dot":
            raise ValueError("temperature applies to the dot critic only")
        self.encoder = encoder
        channels = encoder.out_dim
        self.code_head = (
            code_head if code_head is not None else CodeHead(channels, code_dim, head_hidden)
        )
        code_dim = self.code_head.out_dim
        self.alpha, self.beta, self.gamma = alpha, beta, gamma
        self.estimator, self.prior, self.num_negatives = estimator, prior, num_negatives
        self.negatives = negatives
        extra = {} if temperature is None else {"temperature": temperature}

        def make(channels_in: int, code: int, width: int) -> nn.Module:
            return CRITICS[critic](channels_in, code, width, **extra)

        if beta > 0:
            self.local_critic = make(channels, code_dim, critic_dim)
        if alpha > 0:
            # global: the whole map summarised to a vector, then scored as a 1x1 map
            self.map_encoder = CodeHead(channels, critic_dim, head_hidden)
            self.global_critic = make(critic_dim, code_dim, critic_dim)
        moving = estimator == "dv" and negatives == "same_location"
        self.dv = MovingAverageDV(ma_rate) if moving else None
        if gamma > 0:
            self.discriminator = MLP(code_dim, list(disc_hidden), 1)

    def players(self) -> dict[str, list[nn.Parameter]]:
        """One player without prior matching; else ``"encoder"`` and ``"discriminator"``."""
        if self.gamma <= 0:
            return super().players()
        disc = set(map(id, self.discriminator.parameters()))
        encoder = [p for p in self.parameters() if id(p) not in disc]
        return {"encoder": encoder, "discriminator": list(self.discriminator.parameters())}

    def mutual_information(self, scores: torch.Tensor) -> torch.Tensor:
        """The estimator on ``scores (G, L, b, b)``, averaged over blocks and locations, nats."""
        if self.negatives == "all_locations":
            return all_locations_bound(self.estimator, scores).mean()
        return bound_per_matrix(self.dv if self.dv is not None else self.estimator, scores).mean()

    def _block(self) -> int | None:
        return None if self.num_negatives is None else self.num_negatives + 1

    def _squash(self, y: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(y) if self.prior == "uniform" else y

    def _prior_sample(self, z: torch.Tensor) -> torch.Tensor:
        return torch.rand_like(z) if self.prior == "uniform" else torch.randn_like(z)

    def loss(self, batch):
        """Minus the weighted MI estimates (and the prior-matching losses) of a batch.

        Args:
            batch: ``(images,)`` or ``(images, labels)``, images ``(B, C, H, W)``; labels are
                ignored.

        Returns:
            ``(loss, metrics)``; ``loss`` is a tensor, or a dict with ``"encoder"`` and
            ``"discriminator"`` when ``gamma > 0``. Metrics: ``mi_local``, ``mi_global`` (nats)
            and the discriminator's accuracy ``d_accuracy``.
        """
        images = inputs_of(batch)
        f = self.encoder.feature_map(to_float(images))  # (B, C, M, M)
        y = self.code_head(f)  # (B, K)
        total, metrics = f.new_zeros(()), {}
        if self.beta > 0:
            mi = self.mutual_information(self.local_critic(f, y, self._block()))
            total = total - self.beta * mi
            metrics["mi_local"] = mi.detach()
        if self.alpha > 0:
            g = self.map_encoder(f)[:, :, None, None]  # (B, D, 1, 1): one "location"
            mi = self.mutual_information(self.global_critic(g, y, self._block()))
            total = total - self.alpha * mi
            metrics["mi_global"] = mi.detach()
        if self.gamma <= 0:
            return total, metrics
        z = self._squash(y)
        real = self.discriminator(self._prior_sample(z))  # (B, 1)
        fake = self.discriminator(z.detach())  # the discriminator's loss leaves y alone
        disc = F.softplus(-real).mean() + F.softplus(fake).mean()  # -log D(p) - log(1 - D(q))
        generator = F.softplus(-self.discriminator(z)).mean()  # non-saturating: -log D(q)
        metrics["d_accuracy"] = ((real > 0).float().mean() + (fake < 0).float().mean()) / 2
        return {"encoder": total + self.gamma * generator, "discriminator": disc}, metrics

    def representations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The three representations the paper probes: ``conv``, ``fc`` and ``y``.

        ``conv`` is the feature map averaged over locations (``(B, C)``), ``fc`` the code
        head's hidden layer, ``y`` the code.
        """
        f = self.encoder.feature_map(to_float(x))
        fc = self.code_head.hidden_features(f)
        return {"conv": f.mean(dim=(-2, -1)), "fc": fc, "y": self.code_head.out(fc)}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``y = h(f(x))``, ``(B, code_dim)``."""
        return self.code_head(self.encoder.feature_map(to_float(x)))


# --- Evaluation: the neural dependency measure and a MINE estimate of I(X; Y) ---


class _ShuffleDiscriminator(Method):
    """Tells codes (label 1) from codes shuffled per dimension (label 0)."""

    def __init__(self, code_dim: int, hidden: int = 256):
        super().__init__()
        self.net = MLP(code_dim, [hidden, hidden], 1)

    def loss(self, batch):
        codes = inputs_of(batch)
        real, fake = self.net(codes), self.net(shuffle_dimensions(codes))
        return F.softplus(-real).mean() + F.softplus(fake).mean(), {}


def shuffle_dimensions(codes: torch.Tensor, generator: torch.Generator | None = None):
    """Each column permuted independently: a sample of the product of the code's marginals.

    Shape:
        ``(N, K) -> (N, K)``.
    """
    n, k = codes.shape
    order = torch.rand(n, k, generator=generator, device=codes.device).argsort(dim=0)
    return codes.gather(0, order)


def neural_dependency_measure(
    codes: torch.Tensor,
    *,
    steps: int = 500,
    batch_size: int = 256,
    hidden: int = 256,
    lr: float = 1e-3,
    seed: int = 0,
) -> float:
    """NDM (Hjelm et al., 2019): how far a code is from having independent dimensions, nats.

    A discriminator learns to tell codes from codes shuffled per dimension (the product of
    the marginals) on the first half of ``codes``; NDM is the Donsker-Varadhan estimate of
    ``KL(q(y) || prod_k q(y_k))`` from its logits on the second half. Independent dimensions
    give about 0; dependent ones more.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        codes: Shape: ``(N, K)``; they are standardised per dimension first.
        steps: training steps of the discriminator.
        batch_size: its batch size.
        hidden: its hidden width (an MLP with two hidden layers).
        lr: its learning rate.
        seed: seeds its initialisation, batches and the held-out shuffle.

    Returns:
        The estimate in nats.
    """
    from sslib.train import fit  # here: sslib.train imports the methods package

    codes = codes.detach().float()
    codes = (codes - codes.mean(0)) / (codes.std(0) + 1e-6)
    half = len(codes) // 2
    torch.manual_seed(seed)
    disc = _ShuffleDiscriminator(codes.shape[1], hidden)
    fit(
        disc,
        codes[:half],
        steps=steps,
        batch_size=min(batch_size, half),
        lr=lr,
        seed=seed,
        device=codes.device,
        precision="fp32",
        progress=False,
        log_every=steps,
    )
    with torch.no_grad():
        held = codes[half:]
        g = torch.Generator(device=codes.device).manual_seed(seed)
        real = disc.net(held).squeeze(1)
        fake = disc.net(shuffle_dimensions(held, g)).squeeze(1)
        return float(real.mean() - (torch.logsumexp(fake, 0) - math.log(len(fake))))


def mine_estimate(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    steps: int = 500,
    batch_size: int = 256,
    hidden: int = 256,
    embed_dim: int = 64,
    lr: float = 1e-4,
    seed: int = 0,
) -> float:
    """A MINE estimate of I(X; Y) in nats, as the paper uses to evaluate an encoder.

    A separable critic is trained with :class:`MovingAverageDV` on the first half of the
    pairs; the estimate is the mean DV bound over batches of the second half.

    Explained in chapter 5, *Deep InfoMax*.

    Args:
        x: inputs, flattened. Shape: ``(N, x_dim)``.
        y: their codes. Shape: ``(N, y_dim)``; standardised per dimension first.
        steps: training steps of the critic.
        batch_size: its batch size (also of the held-out batches).
        hidden: hidden width of the critic's two MLPs.
        embed_dim: the dimension in which the critic takes its dot product.
        lr: its learning rate.
        seed: seeds its initialisation and batches.

    Returns:
        The held-out estimate in nats.
    """
    from sslib.methods.critic import CriticEstimator
    from sslib.nets import SeparableCritic
    from sslib.train import fit

    x, y = x.detach().flatten(1).float(), y.detach().float()
    y = (y - y.mean(0)) / (y.std(0) + 1e-6)
    half = len(x) // 2
    torch.manual_seed(seed)
    critic = SeparableCritic(x.shape[1], y.shape[1], hidden=hidden, embed_dim=embed_dim)
    mine = CriticEstimator(critic, MovingAverageDV())
    fit(
        mine,
        (x[:half], y[:half]),
        steps=steps,
        batch_size=min(batch_size, half),
        lr=lr,
        seed=seed,
        device=x.device,
        precision="fp32",
        progress=False,
        log_every=steps,
    )
    xs, ys = x[half:], y[half:]
    n = len(xs) // batch_size * batch_size or len(xs)
    estimates = [
        mine.estimate(xs[i : i + batch_size], ys[i : i + batch_size])
        for i in range(0, n, batch_size)
    ]
    return float(sum(estimates) / len(estimates))
