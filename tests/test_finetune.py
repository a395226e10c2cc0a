import pytest
import torch
import torch.nn as nn

from sslib import probe


class _Flat(nn.Module):
    """A minimal encoder: flatten, one linear layer (``out_dim`` as the library expects)."""

    def __init__(self, pixels, out_dim=8):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(pixels, out_dim), nn.ReLU())
        self.out_dim = out_dim

    def forward(self, x):
        return self.net(x)


def _halves(n, seed=0):
    """uint8 8x8 images: class 0 bright in the top half, class 1 in the bottom half, plus noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.3
    top = labels == 0
    x[top, :, :4] += 0.6
    x[~top, :, 4:] += 0.6
    return (x.clamp(0, 1) * 255).to(torch.uint8), labels


def test_finetuning_learns_and_leaves_the_encoder_alone():
    train_x, train_y = _halves(20)
    test_x, test_y = _halves(200, seed=1)
    torch.manual_seed(0)
    encoder = _Flat(64)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    kwargs = dict(num_classes=2, steps=60, batch_size=8, lr=1e-2, weight_decay=0.0, device="cpu")
    predicted = probe.finetune_predictions(encoder, train_x, train_y, test_x, **kwargs)
    assert predicted.shape == (200,)
    assert (predicted == test_y.numpy()).mean() > 0.95
    for k, v in encoder.state_dict().items():  # a copy was trained, not the encoder given
        torch.testing.assert_close(v, before[k])
    again = probe.finetune_predictions(encoder, train_x, train_y, test_x, **kwargs)
    assert (again == predicted).all()  # the same seed gives the same run


@pytest.mark.parametrize(
    ("labels", "steps", "match"),
    [
        (torch.tensor([0, 1, 2, 1]), 5, "labels must be in"),
        (torch.tensor([0, 1]), 5, "as many"),
        (torch.tensor([0, 1, 0, 1]), 0, "steps"),
    ],
)
def test_finetuning_rejects_bad_input(labels, steps, match):
    images, _ = _halves(4)
    with pytest.raises(ValueError, match=match):
        probe.finetune_predictions(
            _Flat(64), images, labels, images, num_classes=2, steps=steps, device="cpu"
        )


def test_finetuning_passes_optimizer_options_to_adamw():
    train_x, train_y = _halves(20)
    test_x, test_y = _halves(200, seed=1)
    torch.manual_seed(0)
    kwargs = dict(num_classes=2, steps=60, batch_size=8, lr=1e-2, weight_decay=0.0, device="cpu")
    fused = probe.finetune_predictions(
        _Flat(64), train_x, train_y, test_x, optimizer_options={"fused": True}, **kwargs
    )
    assert (fused == test_y.numpy()).mean() > 0.95  # fused AdamW learns as the default does
    with pytest.raises(ValueError, match="do not fit"):  # the options reach the optimizer
        probe.finetune_predictions(
            _Flat(64), train_x, train_y, test_x, optimizer_options={"momentum": 0.9}, **kwargs
        )
