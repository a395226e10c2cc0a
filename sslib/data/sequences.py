"""Token sequences for masked modeling: a language with exact answers, masks, real text.

* :class:`HMM`: a hidden Markov model over a small alphabet. It samples sequences, and its
  forward-backward recursions give the exact Bayes-optimal masked predictions
  ``p(x_i | x_visible)`` and the exact ``log p(x_visible)``, so a masked language model's
  cross-entropy can be compared with the conditional entropy it can at best reach.
* :func:`choose_mask` and :func:`bert_corrupt`: which positions to predict (an exact fraction
  of the non-padding positions) and BERT's 80/10/10 corruption of the input.
* :func:`stdlib_text` and :class:`CharTokenizer`: real text that is always offline, the
  docstrings of Python's standard library, at the character level.

Token ids ``0`` and ``1`` are reserved for padding (``PAD``) and the mask (``MASK``);
symbols and characters start at ``NUM_SPECIAL``. Entropies are in nats. Explained in
chapter 4, *Masked modeling*.
"""

from __future__ import annotations

import importlib
import inspect
import re
from dataclasses import dataclass

import numpy as np
import torch

PAD, MASK = 0, 1
NUM_SPECIAL = 2  # ids below this are not symbols of the language


@dataclass
class HMM:
    """A hidden Markov model: ``z_1 ~ start``, ``z_t ~ A[z_{t-1}]``, ``x_t ~ B[z_t]``.

    Token ``x_t`` is emitted as id ``NUM_SPECIAL + symbol``, so sequences share the id space of
    :func:`choose_mask` and :func:`bert_corrupt`. Probabilities are float64 for exact answers.

    Attributes:
        start: ``(K,)`` distribution of the first hidden state.
        transition: ``A``, ``(K, K)``, row ``j`` is ``p(z_t | z_{t-1} = j)``.
        emission: ``B``, ``(K, V)``, row ``k`` is ``p(x_t | z_t = k)`` over the ``V`` symbols.
    """

    start: torch.Tensor
    transition: torch.Tensor
    emission: torch.Tensor

    @classmethod
    def random(
        cls,
        num_states: int = 4,
        num_symbols: int = 6,
        transition_concentration: float = 0.05,
        emission_concentration: float = 0.05,
        seed: int = 0,
    ) -> HMM:
        """A random HMM: Dirichlet rows, started from its stationary distribution.

        Small concentrations make near-deterministic rows, hence a language with long-range
        structure; starting at the stationary distribution makes every position's marginal
        ``p(x_t)`` the same.
        """
        rng = np.random.default_rng(seed)
        transition = rng.dirichlet(np.full(num_states, transition_concentration), num_states)
        emission = rng.dirichlet(np.full(num_symbols, emission_concentration), num_states)
        eigval, eigvec = np.linalg.eig(transition.T)  # stationary: pi A = pi
        pi = np.abs(np.real(eigvec[:, np.argmin(np.abs(eigval - 1))]))
        return cls(
            *(
                torch.as_tensor(a, dtype=torch.float64)
                for a in (pi / pi.sum(), transition, emission)
            )
        )

    @property
    def num_symbols(self) -> int:
        """``V``, the alphabet size."""
        return self.emission.shape[1]

    @property
    def vocab_size(self) -> int:
        """``V + NUM_SPECIAL``: the token ids a model must cover."""
        return self.num_symbols + NUM_SPECIAL

    def marginal(self) -> torch.Tensor:
        """``p(x_1)`` over the ``V`` symbols (every position's, when started stationary)."""
        return self.start @ self.emission

    def sample(self, n: int, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` sequences of ``length`` tokens. Shape ``(n, length)``, int64."""
        z = torch.multinomial(self.start.expand(n, -1), 1, generator=generator)[:, 0]
        tokens = []
        for t in range(length):
            if t > 0:
                z = torch.multinomial(self.transition[z], 1, generator=generator)[:, 0]
            tokens.append(torch.multinomial(self.emission[z], 1, generator=generator)[:, 0])
        return torch.stack(tokens, dim=1) + NUM_SPECIAL

    def stream(self, length: int):
        """A stream for :func:`sslib.train.fit`: ``(step, batch_size, generator) -> tokens``."""
        return lambda step, batch_size, generator: self.sample(batch_size, length, generator)

    def _likelihoods(self, tokens: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """``e[b, t, k] = p(x_t | z_t = k)`` where visible, 1 where hidden (summed out)."""
        symbols = (tokens.cpu() - NUM_SPECIAL).clamp(0, self.num_symbols - 1)
        e = self.emission.T[symbols]  # (B, T, K)
        return torch.where(visible.cpu()[..., None], e, torch.ones_like(e))

    def _forward_backward(self, tokens, visible):
        """Scaled recursions: normalised alpha, beta ``(B, T, K)``, log-normalisers ``(B, T)``."""
        e = self._likelihoods(tokens, visible)
        b, length, k = e.shape
        alpha, beta = torch.empty_like(e), torch.empty_like(e)
        log_c = torch.empty(b, length, dtype=e.dtype)
        a = self.start * e[:, 0]  # alpha_1(k) = p(z_1 = k) e_1(k)
        for t in range(length):
            if t > 0:
                a = (alpha[:, t - 1] @ self.transition) * e[:, t]
            c = a.sum(dim=1, keepdim=True)  # p(x_t visible | earlier visible ones)
            alpha[:, t], log_c[:, t] = a / c, c[:, 0].log()
        beta[:, -1] = 1.0
        for t in range(length - 2, -1, -1):
            s = (e[:, t + 1] * beta[:, t + 1]) @ self.transition.T
            beta[:, t] = s / s.sum(dim=1, keepdim=True)  # any scale works: we renormalise below
        return alpha, beta, log_c

    def log_prob(self, tokens: torch.Tensor, visible: torch.Tensor | None = None) -> torch.Tensor:
        """``log p(x_visible)`` of each sequence (hidden positions summed out), in nats.

        Shape:
            ``tokens, visible: (B, T) -> (B,)``, float64; ``visible=None`` means all visible.
        """
        if visible is None:
            visible = torch.ones_like(tokens, dtype=torch.bool)
        return self._forward_backward(tokens, visible)[2].sum(dim=1)

    def predictive(self, tokens: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """The Bayes-optimal masked prediction ``p(x_t = v | x_visible)`` at every position.

        At a hidden position ``t`` this is ``sum_k p(z_t = k | x_visible) emission[k, v]``,
        the posterior of the forward-backward algorithm pushed through the emissions. (At a
        visible position it is the prediction given the others *and* ``x_t`` itself, so only
        the hidden positions are meaningful.)

        Shape:
            ``tokens, visible: (B, T) -> (B, T, V)``, float64, rows sum to 1.
        """
        alpha, beta, _ = self._forward_backward(tokens, visible)
        posterior = alpha * beta
        posterior = posterior / posterior.sum(dim=2, keepdim=True)  # p(z_t | x_visible)
        return posterior @ self.emission

    def masked_scores(self, tokens: torch.Tensor, visible: torch.Tensor) -> dict[str, float]:
        """Exact per-token scores of the Bayes-optimal predictor on a batch, in nats.

        Averaged over the hidden positions of the batch:

        * ``"cross_entropy"``: ``-log p(x_t | x_visible)`` of the true tokens, the loss the
          best masked model achieves on these very tokens;
        * ``"entropy"``: the entropy of ``p(. | x_visible)`` (the same expectation, computed
          without the sampling noise of ``x_t``): estimates ``H(x_t | x_visible)``;
        * ``"joint"``: ``(log p(x_visible) - log p(x)) / #hidden``, whose mean is
          ``H(x_M | x_visible)`` per hidden token, a value no factorised predictor can reach.
        """
        hidden = ~visible.cpu()
        p = self.predictive(tokens, visible)
        symbols = (tokens.cpu() - NUM_SPECIAL).clamp(0, self.num_symbols - 1)
        ce = -p.gather(2, symbols[..., None])[..., 0].log()
        ent = -(p * p.clamp_min(1e-300).log()).sum(dim=2)
        joint = self.log_prob(tokens, visible) - self.log_prob(tokens)
        n = hidden.sum().item()
        return {
            "cross_entropy": ce[hidden].mean().item(),
            "entropy": ent[hidden].mean().item(),
            "joint": joint.sum().item() / n,
        }


def choose_mask(
    tokens: torch.Tensor,
    rate: float | torch.Tensor,
    generator: torch.Generator | None = None,
    pad_id: int = PAD,
) -> torch.Tensor:
    """Pick exactly ``round(rate * n)`` of each sequence's ``n`` non-padding positions.

    Positions are drawn uniformly without replacement and independently of the tokens, so the
    best prediction of a chosen token is ``p(x_i | x_visible)`` whatever the rate. Padding is
    never chosen.

    Args:
        tokens: ``(B, T)`` token ids.
        rate: fraction in [0, 1], one for all or a ``(B,)`` tensor (one per sequence).
        generator: CPU generator for the draw (default: the global RNG on ``tokens``' device).
        pad_id: the padding id.

    Returns:
        Boolean ``(B, T)``, True where a token is to be predicted.
    """
    valid = tokens != pad_id
    if generator is None:
        u = torch.rand(tokens.shape, device=tokens.device)
    else:
        u = torch.rand(tokens.shape, generator=generator).to(tokens.device)
    u = u.masked_fill(~valid, 2.0)  # padding sorts last, never among the first k
    rank = u.argsort(dim=1).argsort(dim=1)  # rank of each position's random key in its row
    rate = torch.as_tensor(rate, dtype=torch.float32, device=tokens.device)
    k = torch.round(rate * valid.sum(dim=1)).long()  # (B,)
    return rank < k.view(-1, 1)


def bert_corrupt(
    tokens: torch.Tensor,
    mask: torch.Tensor,
    vocab_size: int,
    replace: float = 0.1,
    keep: float = 0.1,
    mask_id: int = MASK,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """BERT's input corruption, the 80/10/10 recipe (Devlin et al., 2019, section 3.1).

    Of the positions to predict, 80% become ``[MASK]``, 10% a random token and 10% stay as
    they are. The random and kept tokens make the model predict every position from context, since
    fine-tuning inputs never contain ``[MASK]``; the loss is still taken on all chosen positions.

    Args:
        tokens: ``(B, T)`` ids.
        mask: ``(B, T)`` boolean, the positions to predict (from :func:`choose_mask`).
        vocab_size: random replacements are drawn uniformly from ``NUM_SPECIAL..vocab_size-1``.
        replace: fraction of chosen positions given a random token.
        keep: fraction of chosen positions left unchanged.
        mask_id: the ``[MASK]`` id.
        generator: CPU generator (default: the global RNG on ``tokens``' device).

    Returns:
        The corrupted input ids, ``(B, T)``.
    """
    if replace < 0 or keep < 0 or replace + keep > 1:
        raise ValueError(f"need replace, keep >= 0 and replace + keep <= 1, got {replace}, {keep}")
    if generator is None:
        u = torch.rand(tokens.shape, device=tokens.device)
        random_ids = torch.randint(NUM_SPECIAL, vocab_size, tokens.shape, device=tokens.device)
    else:
        u = torch.rand(tokens.shape, generator=generator).to(tokens.device)
        random_ids = torch.randint(NUM_SPECIAL, vocab_size, tokens.shape, generator=generator)
        random_ids = random_ids.to(tokens.device)
    to_mask = mask & (u < 1 - replace - keep)
    to_random = mask & (u >= 1 - replace - keep) & (u < 1 - keep)
    out = torch.where(to_mask, torch.full_like(tokens, mask_id), tokens)
    return torch.where(to_random, random_ids, out)


# Modules whose documentation makes up the offline text corpus: prose-heavy, present in every
# CPython since 3.10.
STDLIB_MODULES = (
    "abc", "argparse", "ast", "asyncio", "base64", "bisect", "calendar", "collections",
    "colorsys", "contextlib", "copy", "csv", "dataclasses", "datetime", "decimal", "difflib",
    "email.message", "enum", "fractions", "functools", "gzip", "heapq", "hashlib", "html",
    "http.client", "inspect", "io", "ipaddress", "itertools", "json", "logging", "mailbox",
    "math", "operator", "os", "pathlib", "pickle", "pprint", "queue", "random", "re", "sched",
    "secrets", "shlex", "shutil", "socket", "statistics", "string", "subprocess", "tarfile",
    "tempfile", "textwrap", "threading", "timeit", "tokenize", "typing", "unittest",
    "urllib.parse", "uuid", "warnings", "weakref", "zipfile",
)  # fmt: skip


def stdlib_text(modules=STDLIB_MODULES) -> str:
    """The docstrings of ``modules`` and of their public members, as one ASCII text.

    Each docstring is one paragraph: whitespace runs become one space, non-ASCII characters are
    dropped. The text depends only on the Python version, and needs no network.
    """
    seen, parts = set(), []
    for name in modules:
        module = importlib.import_module(name)
        objects = [module] + [
            obj
            for attr, obj in sorted(vars(module).items())
            if not attr.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
        ]
        for obj in objects:
            doc = inspect.getdoc(obj) or ""
            text = re.sub(r"\s+", " ", doc.encode("ascii", "ignore").decode()).strip()
            if len(text) >= 40 and text not in seen:  # re-exported objects repeat docstrings
                seen.add(text)
                parts.append(text)
    return "\n".join(parts)


class CharTokenizer:
    """Characters to ids and back; ids ``0, 1`` are padding and ``[MASK]``.

    Args:
        text: the characters it knows are those of ``text`` (sorted, so ids are reproducible).
    """

    def __init__(self, text: str):
        self.chars = sorted(set(text))
        self.index = {c: i + NUM_SPECIAL for i, c in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        """Number of ids, special ones included."""
        return len(self.chars) + NUM_SPECIAL

    def encode(self, text: str) -> torch.Tensor:
        """``(len(text),)`` int64 ids; unknown characters raise ``KeyError``."""
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids, mask_char: str = "_") -> str:
        """The text of ``ids``; ``[MASK]`` shows as ``mask_char``, padding as nothing."""
        specials = {PAD: "", MASK: mask_char}
        return "".join(
            specials[int(i)] if int(i) in specials else self.chars[int(i) - NUM_SPECIAL]
            for i in ids
        )


def chunks(ids: torch.Tensor, length: int) -> torch.Tensor:
    """Cut a 1-D id sequence into ``(len(ids) // length, length)`` non-overlapping windows."""
    n = len(ids) // length
    return ids[: n * length].view(n, length)


def entropy_of_counts(ids: torch.Tensor, vocab_size: int) -> float:
    """Plug-in entropy (nats) of the empirical distribution of ``ids``: a unigram baseline."""
    p = torch.bincount(ids.flatten(), minlength=vocab_size).double()
    p = p[p > 0] / p.sum()
    return float(-(p * p.log()).sum())


__all__ = [
    "HMM",
    "MASK",
    "NUM_SPECIAL",
    "PAD",
    "CharTokenizer",
    "bert_corrupt",
    "choose_mask",
    "chunks",
    "entropy_of_counts",
    "stdlib_text",
]
