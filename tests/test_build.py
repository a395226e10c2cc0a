"""Methods build themselves for a dataset; the command line only looks them up by name."""

import pytest
import torch

from sslib import data, methods, nets, train
from sslib.methods.base import Method, inputs_of


@pytest.fixture(scope="module")
def digits():
    return data.load("mnist5k", "train").subset(slice(0, 64))


def test_what_the_data_decides_comes_from_the_method(digits):
    sup = methods.build("supervised", nets.make_encoder("cnn", digits.shape), digits)
    assert sup.head.out_features == digits.num_classes
    ae = methods.build("autoencoder", nets.make_encoder("cnn", digits.shape), digits)
    assert ae.reconstruct(torch.zeros(2, *digits.shape)).shape == (2, *digits.shape)
    dim = methods.build("dim", nets.make_encoder("dcgan", digits.shape), digits)
    assert isinstance(dim.code_head, nets.CodeHead)  # the paper's head for the paper's encoder


@pytest.mark.parametrize(
    "name, encoder, message",
    [
        ("mae", "cnn", "Vision Transformer"),
        ("dim", "mlp", "feature map"),
        ("colorization", "cnn", "colour images"),
        ("swav", "cnn", "unknown method 'swav'"),
    ],
)
def test_a_mismatch_is_named(digits, name, encoder, message):
    with pytest.raises(ValueError, match=message):
        methods.build(name, nets.make_encoder(encoder, digits.shape), digits)


def test_unknown_encoder_lists_the_known_ones():
    with pytest.raises(ValueError, match="strided_cnn"):
        nets.make_encoder("vgg", (1, 28, 28))


class _MeanMatcher(Method):
    """A new method in one file: its embedding's mean follows the images' mean."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def loss(self, batch):
        x = inputs_of(batch).float() / 255
        return (self.encoder(x).mean() - x.mean()) ** 2, {}

    def embed(self, x):
        return self.encoder(x.float() / 255)


def test_a_new_method_needs_only_its_file_and_one_registry_line(digits, monkeypatch):
    monkeypatch.setitem(methods.METHODS, "mean_matcher", _MeanMatcher)  # the registry line
    method = methods.build("mean_matcher", nets.make_encoder("cnn", digits.shape), digits)
    history = train.fit(method, digits, steps=2, batch_size=32, progress=False, log_every=1)
    assert len(history.step) == 2
