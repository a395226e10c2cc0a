import pytest
import torch

from sslib import nets


@pytest.mark.parametrize(
    "net,shape,out",
    [
        (nets.MLP(784, (64,), 32, norm="batch"), (4, 1, 28, 28), 32),
        (nets.SmallCNN(1, 8), (4, 1, 28, 28), 32),
        (nets.SmallCNN(3, 8), (4, 3, 32, 32), 32),
        (nets.SmallCNN(1, 8, pool=False), (4, 1, 8, 8), 32),
        (nets.ResNet18(3), (2, 3, 32, 32), 512),
        (nets.StridedCNN(1), (4, 1, 28, 28), 128),
        (nets.StridedCNN(3, (8, 16), (2, 2)), (4, 3, 32, 32), 16),
    ],
)
def test_encoder_shapes(net, shape, out):
    h = net(torch.rand(shape))
    assert h.shape == (shape[0], out) and net.out_dim == out


def test_feature_maps():
    assert nets.SmallCNN(1, 8).feature_map(torch.rand(2, 1, 28, 28)).shape == (2, 32, 7, 7)
    assert nets.ResNet18(3).feature_map(torch.rand(2, 3, 32, 32)).shape == (2, 512, 4, 4)


def test_projection_head():
    head = nets.ProjectionHead(32, 64, 16, num_layers=3)
    assert head(torch.rand(5, 32)).shape == (5, 16)
    with pytest.raises(ValueError):
        nets.ProjectionHead(32, num_layers=0)


@pytest.mark.parametrize("critic_cls", [nets.SeparableCritic, nets.ConcatCritic])
def test_critic_scores_pair_rows(critic_cls):
    critic = critic_cls(3, 2, hidden=16)
    x, y = torch.rand(5, 3), torch.rand(5, 2)
    scores = critic(x, y)
    assert scores.shape == (5, 5)
    # scores[i, j] = f(x_i, y_j): evaluating one pair alone gives the same number
    i, j = 1, 3
    single = critic(x[[i, i]], y[[j, j]])[0, 0]
    torch.testing.assert_close(scores[i, j], single)


def test_mlp_rejects_unknown_norm():
    with pytest.raises(ValueError, match="norm"):
        nets.MLP(3, (4,), 2, norm="group")


def test_strided_cnn_feature_map_and_bad_widths():
    net = nets.StridedCNN(1)
    assert net.feature_map(torch.rand(2, 1, 28, 28)).shape == (2, 128, 7, 7)
    with pytest.raises(ValueError, match="one entry per layer"):
        nets.StridedCNN(1, (8, 16), (2,))
