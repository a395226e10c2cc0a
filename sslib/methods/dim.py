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

The critics are in :mod:`sslib.critics`, their bounds in :mod:`sslib.bounds`, the paper's
encoder and code head in :mod:`sslib.nets`, and the MINE and NDM evaluations in
:mod:`sslib.dependence`. Explained in chapter 5, *Deep InfoMax*.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from sslib.bounds import BLOCK_ESTIMATORS as ESTIMATORS
from sslib.bounds import MovingAverageDV, all_locations_bound, bound_per_matrix
from sslib.critics import CRITICS
from sslib.data import to_float
from sslib.methods.base import Method, inputs_of
from sslib.nets import MLP, CodeHead, DCGANEncoder
from sslib.objectives import adversarial_prior

PRIORS = ("uniform", "gaussian")
NEGATIVES = ("same_location", "all_locations")


class DeepInfoMax(Method):
    """Deep InfoMax: global and local MI maximisation, with optional prior matching.

    The encoder must have ``feature_map(x) -> (B, C, M, M)`` and ``out_dim == C`` (e.g.
    :class:`~sslib.nets.SmallCNN`, :class:`~sslib.nets.DCGANEncoder`). The objective maximised
    by the encoder, the code head and the critics is ``alpha I_global + beta I_local``, minus
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
            (:func:`sslib.bounds.all_locations_bound`).
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

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> DeepInfoMax:
        """Deep InfoMax needs a feature map; the paper's encoder gets the paper's code head.

        With :class:`~sslib.nets.DCGANEncoder` and no ``code_head``: a 4x4 convolution (3x3 on
        28x28 digits), 1024 units and a 64-number code, as Hjelm et al. build it.
        """
        if not hasattr(encoder, "feature_map"):
            raise ValueError(
                "dim needs an encoder with a feature map: --encoder dcgan, cnn or resnet18"
            )
        if isinstance(encoder, DCGANEncoder) and "code_head" not in kwargs:
            grid = 4 if train_set.shape[1] % 8 == 0 else 3
            head = CodeHead(encoder.out_dim, 64, 1024, 2 * encoder.out_dim, grid=grid)
            kwargs = {**kwargs, "code_head": head}
        return cls(encoder, **kwargs)

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
        generator, disc, metrics["d_accuracy"] = adversarial_prior(
            self.discriminator, z, self._prior_sample(z)
        )
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
