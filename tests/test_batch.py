"""The batch contract: ``fit`` hands every method a tuple of tensors, and a bare tensor is named."""

import pytest
import torch

from sslib import nets, train
from sslib.methods.base import Method, inputs_of
from sslib.methods.pretext import RotationPrediction


class _Recorder(Method):
    """Records the type and length of every batch ``fit`` hands to ``loss``."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.seen = []

    def loss(self, batch):
        self.seen.append((type(batch), len(batch)))
        return (self.weight - inputs_of(batch).float().mean()) ** 2, {}


@pytest.mark.parametrize(
    "data, length",
    [
        (torch.rand(16, 3), 1),  # a lone tensor
        ((torch.rand(16, 3), torch.zeros(16)), 2),  # inputs and labels
        (lambda step, batch_size, generator: torch.rand(batch_size, 3, generator=generator), 1),
        (lambda step, n, g: (torch.rand(n, 3, generator=g), torch.zeros(n)), 2),  # a stream's pair
    ],
)
def test_fit_hands_every_method_a_tuple(data, length):
    method = _Recorder()
    train.fit(method, data, steps=3, batch_size=4, progress=False)
    assert method.seen == [(tuple, length)] * 3


def test_a_bare_tensor_is_named_with_the_fix():
    method = RotationPrediction(nets.StridedCNN(1, widths=(4, 4, 4)))
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"Wrap a lone tensor x as \(x,\)"):
        method.loss(images)
    loss, _ = method.loss((images,))  # the same images as a batch
    assert loss.ndim == 0
