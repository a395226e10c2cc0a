"""Masked language modeling (BERT): predict hidden tokens from the visible ones.

For a sequence ``x`` and a random set ``M`` of positions, the input shows ``x`` with the
positions in ``M`` corrupted (BERT's 80/10/10 recipe) and the loss is the cross-entropy of the
true tokens at ``M``::

    L = E_{x, M} [ -1/|M| sum_{i in M} log q(x_i | corrupted x) ],

which, with ``[MASK]`` everywhere in ``M``, is at least the conditional entropy per token
``1/|M| sum_i H(x_i | x_visible)``. Reference: Devlin, Chang, Lee and Toutanova (2019), "BERT:
Pre-training of Deep Bidirectional Transformers for Language Understanding", NAACL.
Explained in chapter 4, *Masked modeling*.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sslib.data.sequences import MASK, PAD, bert_corrupt, choose_mask
from sslib.methods.base import Method, inputs_of


class MLM(Method):
    """A masked language model: a token encoder and a linear head over the vocabulary.

    Args:
        encoder: maps ids ``(B, T)`` to states ``(B, T, encoder.out_dim)`` and has
            ``vocab_size`` (e.g. :class:`sslib.nets.TokenTransformer`).
        rate: fraction of non-padding positions to predict in each sequence.
        rate_range: if given, ``(low, high)``: each sequence draws its own rate uniformly from
            it (one model then serves every rate in the range).
        replace: fraction of the chosen positions shown as a random token (BERT: 0.1).
        keep: fraction shown unchanged (BERT: 0.1); the rest show ``[MASK]``.
        mask_id: id of ``[MASK]``.
        pad_id: id of padding, never chosen.
    """

    def __init__(
        self,
        encoder: nn.Module,
        *,
        rate: float = 0.15,
        rate_range: tuple[float, float] | None = None,
        replace: float = 0.1,
        keep: float = 0.1,
        mask_id: int = MASK,
        pad_id: int = PAD,
    ):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.out_dim, encoder.vocab_size)
        self.rate, self.rate_range = rate, rate_range
        self.replace, self.keep = replace, keep
        self.mask_id, self.pad_id = mask_id, pad_id

    def logits(self, inputs: torch.Tensor) -> torch.Tensor:
        """Scores of every id at every position, ``(B, T) -> (B, T, vocab_size)``."""
        return self.head(self.encoder(inputs))

    def loss(self, batch):
        """Masked cross-entropy of a batch of ids ``(B, T)`` (or ``(ids, ...)``), in nats/token."""
        tokens = inputs_of(batch)
        tokens = tokens.to(self.head.weight.device)  # generated streams may come from the CPU
        rate = self.rate
        if self.rate_range is not None:
            low, high = self.rate_range
            rate = low + (high - low) * torch.rand(len(tokens), device=tokens.device)
        mask = choose_mask(tokens, rate, pad_id=self.pad_id)
        inputs = bert_corrupt(
            tokens, mask, self.encoder.vocab_size, self.replace, self.keep, self.mask_id
        )
        logits = self.logits(inputs)[mask]  # (number of masked positions, vocab_size)
        loss = F.cross_entropy(logits.float(), tokens[mask])
        accuracy = (logits.argmax(dim=1) == tokens[mask]).float().mean()
        return loss, {"accuracy": accuracy}

    @torch.no_grad()
    def masked_cross_entropy(self, tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``-log q(x_i | x_visible)`` at every masked position, with ``[MASK]`` at all of them.

        Shape:
            ``tokens, mask: (B, T) -> (number of True in mask,)``, nats.
        """
        inputs = tokens.masked_fill(mask, self.mask_id)
        logits = self.logits(inputs)[mask].float()
        return F.cross_entropy(logits, tokens[mask], reduction="none")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """One vector per sequence: the mean state over non-padding positions, ``(B, dim)``."""
        return self.encoder.pooled(x)
