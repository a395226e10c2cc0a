"""Deep InfoMax: critics, the local average, the estimators, prior matching inside fit."""

import math

import pytest
import torch

from sslib import bounds, train
from sslib.bounds import MovingAverageDV, all_locations_bound, bound_per_matrix
from sslib.critics import ConcatConvCritic, DotProductCritic
from sslib.dependence import neural_dependency_measure, shuffle_dimensions
from sslib.methods.dim import DeepInfoMax
from sslib.nets import CodeHead, DCGANEncoder


def _tiny(**kw) -> DeepInfoMax:
    torch.manual_seed(0)
    enc = DCGANEncoder(1, 4)  # (B, 8, 7, 7) on 28x28 inputs
    head = CodeHead(enc.out_dim, code_dim=6, hidden=16, conv_channels=8, grid=3)
    return DeepInfoMax(enc, code_head=head, critic_dim=8, **kw)


@pytest.mark.parametrize("critic_cls", [DotProductCritic, ConcatConvCritic])
@pytest.mark.parametrize("size", [7, 1])  # local (7 x 7 map) and global (one "location")
@pytest.mark.parametrize("block", [None, 4])
def test_critic_shapes(critic_cls, size, block):
    torch.manual_seed(0)
    critic = critic_cls(5, 3, 16)
    local, code = torch.randn(12, 5, size, size), torch.randn(12, 3)
    scores = critic(local, code, block)
    b = 12 if block is None else block
    assert scores.shape == (12 // b, size * size, b, b)


def test_concat_critic_is_a_1x1_conv_on_the_concatenation():
    torch.manual_seed(0)
    critic = ConcatConvCritic(5, 3, 16)
    local, code = torch.randn(4, 5, 2, 2), torch.randn(4, 3)
    scores = critic(local, code)  # (1, 4, 4, 4)
    # the literal version: replicate y_j over the map, concatenate, one conv of all channels
    weight = torch.cat([critic.local_in.weight[:, :, 0, 0], critic.code_in.weight], dim=1)
    for i in range(4):
        for j in range(4):
            tiled = code[j][:, None, None].expand(3, 2, 2)
            pair = torch.cat([local[i], tiled])  # (8, 2, 2)
            h = torch.einsum("oc,chw->hwo", weight, pair) + critic.local_in.bias
            expected = critic.rest(h).flatten()  # (4,) locations in row-major order
            torch.testing.assert_close(scores[0, :, i, j], expected)


def test_dot_critic_is_a_dot_product_of_embeddings():
    torch.manual_seed(0)
    critic = DotProductCritic(5, 3, 16).eval()
    local, code = torch.randn(6, 5, 3, 3), torch.randn(6, 3)
    scores = critic(local, code)
    phi = critic.local_net(local)  # (6, 16, 3, 3)
    psi = critic.code_net(code[:, :, None, None])[:, :, 0, 0]  # (6, 16)
    torch.testing.assert_close(scores[0, 4, 2, 5], phi[2, :, 1, 1] @ psi[5] / 4.0)  # sqrt(16)


@pytest.mark.parametrize("name", ["jsd", "infonce", "dv"])
def test_estimators_agree_with_sslib_bounds(name):
    scores = torch.randn(3, 5, 6, 6, generator=torch.Generator().manual_seed(1))
    got = bound_per_matrix(name, scores)
    expected = torch.stack([bounds.BOUNDS[name](s) for s in scores.reshape(-1, 6, 6)])
    torch.testing.assert_close(got, expected.view(3, 5))


@pytest.mark.parametrize("name", ["jsd", "infonce", "dv"])
def test_local_loss_averages_over_locations(name):
    method = _tiny(estimator=name)
    method.train()
    scores = torch.randn(2, 49, 8, 8, generator=torch.Generator().manual_seed(2))
    per_location = [bounds.BOUNDS[name](scores[g, m]) for g in range(2) for m in range(49)]
    torch.testing.assert_close(method.mutual_information(scores), torch.stack(per_location).mean())
    # the loss of a batch is minus that average, over the 7 x 7 locations of its feature map
    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    loss, metrics = method.loss((x,))
    torch.testing.assert_close(loss, -metrics["mi_local"])


def test_moving_average_dv_value_and_gradient():
    scores = torch.randn(6, 6, generator=torch.Generator().manual_seed(3), requires_grad=True)
    mine = MovingAverageDV(rate=1.0)  # the average is this batch's mean: exactly DV's gradient
    value = mine(scores)
    torch.testing.assert_close(value, bounds.dv(scores))
    (g_mine,) = torch.autograd.grad(value, scores)
    (g_dv,) = torch.autograd.grad(bounds.dv(scores), scores)
    torch.testing.assert_close(g_mine, g_dv)
    # with a stale average the value is still DV's but the gradient is rescaled by MINE
    slow = MovingAverageDV(rate=0.01)
    slow(scores.detach() - 3.0)  # the average remembers a batch with e^T 20 times smaller
    value = slow(scores)
    torch.testing.assert_close(value, bounds.dv(scores))
    (g_slow,) = torch.autograd.grad(value, scores)
    assert not torch.allclose(g_slow, g_dv)


def test_num_negatives_blocks_and_infonce_ceiling():
    method = _tiny(estimator="infonce", num_negatives=3)
    x = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    f = method.encoder.feature_map(x.float() / 255)
    scores = method.local_critic(f, method.code_head(f), method._block())
    assert scores.shape == (4, 49, 4, 4)  # 4 blocks of 1 positive + 3 negatives
    _, metrics = method.loss((x,))
    assert metrics["mi_local"] <= math.log(4) + 1e-6


def test_global_and_local_together():
    method = _tiny(alpha=0.5, beta=1.0)
    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    loss, metrics = method.loss((x,))
    torch.testing.assert_close(loss, -0.5 * metrics["mi_global"] - metrics["mi_local"])
    assert method.embed(x).shape == (8, 6)
    reps = method.representations(x)
    assert {k: v.shape[1] for k, v in reps.items()} == {"conv": 8, "fc": 16, "y": 6}


def test_adversarial_step_updates_each_player_in_turn():
    x = torch.randint(0, 256, (32, 1, 28, 28), dtype=torch.uint8)
    for frozen in ["encoder", "discriminator"]:
        method = _tiny(gamma=1.0)
        assert set(method.players()) == {"encoder", "discriminator"}
        before = {k: v.clone() for k, v in method.state_dict().items()}
        lr = {"encoder": 1e-2, "discriminator": 1e-2, frozen: 0.0}
        history = train.fit(
            method, x, steps=2, batch_size=16, lr=lr, device="cpu", progress=False, log_every=1
        )
        assert {"loss/encoder", "loss/discriminator", "d_accuracy"} <= set(history.metrics)
        after = method.state_dict()
        moved = {
            k.split(".")[0]
            for k in before
            if not torch.equal(before[k], after[k])
            and after[k].is_floating_point()
            and "running" not in k
        }
        # only the other player's weights move (batch-norm running stats aside)
        if frozen == "encoder":
            assert moved == {"discriminator"}
        else:
            assert "discriminator" not in moved and {"encoder", "code_head"} <= moved


def test_shuffle_and_ndm():
    g = torch.Generator().manual_seed(4)
    codes = torch.randn(1000, 4, generator=g)
    shuffled = shuffle_dimensions(codes, torch.Generator().manual_seed(5))
    torch.testing.assert_close(shuffled.sort(0).values, codes.sort(0).values)
    dependent = torch.cat([codes[:, :2], codes[:, :2] + 0.1 * codes[:, 2:]], dim=1)
    ndm_indep = neural_dependency_measure(codes, steps=150, hidden=64)
    ndm_dep = neural_dependency_measure(dependent, steps=150, hidden=64)
    assert ndm_dep > ndm_indep + 0.5
    assert abs(ndm_indep) < 0.1


def test_bad_arguments():
    with pytest.raises(ValueError, match="estimator"):
        _tiny(estimator="mine")
    with pytest.raises(ValueError, match="alpha"):
        _tiny(alpha=0.0, beta=0.0)
    with pytest.raises(ValueError, match="block"):
        DotProductCritic(2, 2, 4)(torch.randn(3, 2, 1, 1), torch.randn(3, 2), 4)


def _hand_all_locations(s: torch.Tensor) -> dict[str, float]:
    """The three bounds of one block ``s (L, b, b)`` by explicit loops over pairs."""
    n_loc, b, _ = s.shape
    pos = [s[m, i, i].item() for m in range(n_loc) for i in range(b)]
    neg = [s[m, i, j].item() for m in range(n_loc) for i in range(b) for j in range(b) if i != j]
    sp = lambda z: math.log1p(math.exp(z))  # noqa: E731
    lme = math.log(sum(math.exp(v) for v in neg) / len(neg))
    nce = []
    for m in range(n_loc):
        for i in range(b):  # negatives of code i: every location of every other image
            others = [s[mm, ii, i].item() for mm in range(n_loc) for ii in range(b) if ii != i]
            denom = math.exp(s[m, i, i].item()) + sum(math.exp(v) for v in others)
            nce.append(s[m, i, i].item() - math.log(denom))
    return {
        "dv": sum(pos) / len(pos) - lme,
        "jsd": sum(p + 1 for p in pos) / len(pos) - sum(math.exp(v) for v in neg) / len(neg),
        "infonce": math.log((b - 1) * n_loc + 1) + sum(nce) / len(nce),
        "js_objective": -sum(sp(-p) for p in pos) / len(pos) - sum(sp(v) for v in neg) / len(neg),
    }


@pytest.mark.parametrize("name", ["dv", "jsd", "infonce"])
def test_all_locations_bound_by_hand(name):
    scores = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(7))
    got = all_locations_bound(name, scores)
    assert got.shape == (2,)
    for g in range(2):
        assert got[g].item() == pytest.approx(_hand_all_locations(scores[g])[name], abs=1e-5)


def test_all_locations_jsd_gradient_is_the_js_objective():
    scores = torch.randn(1, 3, 4, 4, generator=torch.Generator().manual_seed(8))
    scores.requires_grad_(True)
    (grad,) = torch.autograd.grad(all_locations_bound("jsd", scores).sum(), scores)
    # the JS objective on the same pools, computed from its definition
    pos = scores.diagonal(dim1=-2, dim2=-1)
    off = ~torch.eye(4, dtype=torch.bool)
    js = (
        -torch.nn.functional.softplus(-pos).mean()
        - torch.nn.functional.softplus(scores[:, :, off]).mean()
    )
    (expected,) = torch.autograd.grad(js, scores)
    torch.testing.assert_close(grad, expected)


def test_all_locations_with_one_location_is_the_matrix_bound():
    scores = torch.randn(3, 1, 5, 5, generator=torch.Generator().manual_seed(9))
    for name in ["dv", "jsd"]:
        expected = torch.stack([bounds.BOUNDS[name](s[0]) for s in scores])
        torch.testing.assert_close(all_locations_bound(name, scores), expected)
    # InfoNCE's softmax runs over the features scored against one code: the transposed matrix
    expected = torch.stack([bounds.infonce(s[0].T) for s in scores])
    torch.testing.assert_close(all_locations_bound("infonce", scores), expected)


def test_all_locations_infonce_ceiling_and_method():
    blocks = 30 * torch.randn(4, 49, 2, 2, generator=torch.Generator().manual_seed(10))
    assert all_locations_bound("infonce", blocks).max() <= math.log(49 + 1) + 1e-5
    method = _tiny(estimator="dv", negatives="all_locations", num_negatives=1, temperature=0.1)
    assert method.dv is None  # plain batch DV: no moving average
    x = torch.randint(0, 256, (8, 1, 28, 28), dtype=torch.uint8)
    f = method.encoder.feature_map(x.float() / 255)
    scores = method.local_critic(f, method.code_head(f), method._block())
    assert scores.shape == (4, 49, 2, 2) and scores.abs().max() <= 10 + 1e-4  # cosine / 0.1
    loss, metrics = method.loss((x,))
    torch.testing.assert_close(loss, -metrics["mi_local"])
    torch.testing.assert_close(metrics["mi_local"], all_locations_bound("dv", scores).mean())


def test_all_locations_bad_arguments():
    with pytest.raises(ValueError, match="estimator"):
        all_locations_bound("nwj", torch.randn(1, 2, 3, 3))
    with pytest.raises(ValueError, match="shape"):
        all_locations_bound("dv", torch.randn(2, 3, 3))
    with pytest.raises(ValueError, match="shape"):
        all_locations_bound("dv", torch.randn(1, 2, 1, 1))
    with pytest.raises(ValueError, match="negatives"):
        _tiny(negatives="everywhere")
    with pytest.raises(ValueError, match="dot critic"):
        _tiny(critic="concat", temperature=0.1)
    with pytest.raises(ValueError, match="temperature"):
        DotProductCritic(2, 2, 4, temperature=0.0)


def test_quick_recipe_builds_the_chapters_dim():
    from types import SimpleNamespace

    from sslib import methods, nets
    from sslib.recipes import QUICK

    recipe = QUICK["dim"]
    assert recipe.encoder == "dcgan" and recipe.batch_size == 64 and recipe.lr == 2e-3
    assert int(recipe.epochs * (4000 // recipe.batch_size)) == 250  # mnist5k: the chapter's steps
    digits = SimpleNamespace(shape=(1, 28, 28))
    method = methods.build("dim", nets.make_encoder(recipe.encoder, digits.shape), digits,
                          **recipe.method_kwargs)  # fmt: skip
    assert method.estimator == "infonce" and method.negatives == "all_locations"
    assert method.local_critic.temperature == 0.1 and method.dv is None
    loss, metrics = method.loss((torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8),))
    assert math.isfinite(loss.item()) and metrics["mi_local"] <= math.log(3 * 49 + 1)


def test_no_module_imports_train_back():
    """sslib.train imports the methods package; no method may import sslib.train (a cycle)."""
    import ast
    import pathlib

    import sslib.methods

    for path in pathlib.Path(sslib.methods.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            assert not any(n == "sslib.train" for n in names), f"{path} imports sslib.train"
