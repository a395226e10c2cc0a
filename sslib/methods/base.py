"""The contract every method keeps, so one training loop (:func:`sslib.train.fit`) fits all.

A method is an ``nn.Module`` with

* ``loss(batch) -> (loss, metrics)``, where ``batch`` is a tuple of tensors with the same
  rows: ``(inputs,)`` or ``(inputs, labels)`` (:func:`sslib.train.fit` hands over an
  :class:`~sslib.data.images.ImageSet`'s ``(images, labels)``, a tuple of tensors as given, and a
  lone tensor, or a stream's lone tensor, as ``(tensor,)``; :func:`inputs_of` reads the
  inputs). ``loss`` is a scalar tensor, or a dict of scalar
  tensors keyed by *player* for methods with several optimizers (an adversarial prior's
  discriminator, say); ``metrics`` maps names to numbers or 0-d tensors for the history;
* ``embed(x) -> h``: the frozen representation that probes evaluate;
* optionally ``players() -> {name: parameters}``: which parameters each loss updates (default:
  one player, ``"model"``, owning every trainable parameter);
* optionally ``after_step(step, total_steps)``: a hook after each optimizer step (momentum
  encoders, moving averages).
"""

from __future__ import annotations

import torch
import torch.nn as nn


def inputs_of(batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """The inputs of a batch, its first tensor; a clear error for anything but a tuple."""
    if not isinstance(batch, (tuple, list)) or not batch or not torch.is_tensor(batch[0]):
        raise TypeError(
            "a batch is a tuple of tensors, (inputs,) or (inputs, labels); got "
            f"{type(batch).__name__}. Wrap a lone tensor x as (x,)"
        )
    return batch[0]


class Method(nn.Module):
    """Base class of the methods in :mod:`sslib.methods` (see the module docstring)."""

    #: Under ``torchrun``, batch norm must see the global batch (``sslib.train.fit``'s
    #: ``sync_batchnorm``); the command line follows it unless told otherwise.
    global_batch_norm: bool = False

    @classmethod
    def for_data(cls, encoder: nn.Module, train_set, **kwargs) -> Method:
        """This method around ``encoder``, with what ``train_set`` decides (classes, shape).

        The command line builds every method through this (:func:`sslib.methods.build`), so
        what a method needs from the data lives in the method's own file. The default passes
        ``kwargs`` through; a method that needs the number of classes or the image shape, or
        that only fits some encoders or data, overrides it and says so in a clear error.
        """
        return cls(encoder, **kwargs)

    def loss(
        self, batch: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor | dict[str, torch.Tensor], dict]:
        """The training loss of one batch ``(inputs,)`` or ``(inputs, labels)``, and metrics."""
        raise NotImplementedError(f"{type(self).__name__} must define loss(batch)")

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The representation ``h`` of a batch of inputs, shape ``(B, D)``."""
        raise NotImplementedError(f"{type(self).__name__} must define embed(x)")

    def players(self) -> dict[str, list[nn.Parameter]]:
        """Parameters each loss updates; one optimizer is made per player."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def after_step(self, step: int, total_steps: int) -> None:
        """Called after every optimizer step (``step`` counts from 1)."""
