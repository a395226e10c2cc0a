"""The methods of learning without negatives (chapter 7): BYOL, SimSiam, Barlow Twins,
VICReg and DINO train, their teachers follow the schedule, their ablations do what they say."""

from __future__ import annotations

import math

import pytest
import torch

from sslib import augment, data, methods, nets, train
from sslib.methods import BYOL, DINO, BarlowTwins, SimSiam, VICReg
from sslib.momentum import cosine_momentum

SMALL = {
    "byol": dict(hidden_dim=16, proj_dim=8, pred_hidden_dim=16, momentum_base=0.9),
    "simsiam": dict(hidden_dim=16, proj_dim=8, pred_hidden_dim=16),
    "barlow_twins": dict(hidden_dim=16, proj_dim=8),
    "vicreg": dict(hidden_dim=16, proj_dim=8),
    "dino": dict(hidden_dim=16, bottleneck_dim=8, num_prototypes=12, momentum_base=0.9),
}


def _method(name, **kwargs):
    torch.manual_seed(0)
    return methods.METHODS[name](nets.SmallCNN(1, width=4), **(SMALL[name] | kwargs))


def _images(n=16, size=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, size, size, generator=g) * 255).to(torch.uint8)


def _tiny_set(n=32):
    return data.ImageSet(_images(n), torch.arange(n) % 4, tuple("abcd"), "tiny", "train")


@pytest.mark.parametrize("name", sorted(SMALL))
def test_loss_is_finite_and_reaches_the_encoder(name):
    method = _method(name)
    loss, metrics = method.loss((_images(), torch.zeros(16, dtype=torch.long)))
    loss.backward()
    assert loss.ndim == 0 and torch.isfinite(loss)
    assert all(math.isfinite(float(v)) for v in metrics.values())
    assert "z_std" in metrics
    grads = [p.grad for p in method.encoder.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert type(method.views) is augment.AffineViews  # one channel: the digits' views
    method.eval()
    assert method.embed(_images(5)).shape == (5, method.encoder.out_dim)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_fit_trains_a_few_steps(name):
    method = _method(name)
    history = train.fit(method, _tiny_set(), steps=3, batch_size=8, progress=False, device="cpu")
    assert math.isfinite(history.last("loss")) and len(history["loss"]) >= 1


@pytest.mark.parametrize("name", ["byol", "dino"])
def test_the_teacher_follows_the_schedule_and_is_not_trained(name):
    method = _method(name)
    teacher = dict(method.teacher_encoder.named_parameters())
    trained = {id(p) for ps in method.players().values() for p in ps}
    assert not any(id(p) in trained for p in method.teacher_encoder.parameters())
    head = method.teacher_projector if name == "byol" else method.teacher_head
    assert not any(id(p) in trained for p in head.parameters())
    before = {k: p.clone() for k, p in teacher.items()}
    with torch.no_grad():  # as if an optimizer step had moved the student
        for p in method.encoder.parameters():
            p.add_(1.0)
    method.after_step(3, 10)
    m = cosine_momentum(3, 10, 0.9)
    assert method.momentum == pytest.approx(m)
    student = dict(method.encoder.named_parameters())
    for k, p in teacher.items():
        torch.testing.assert_close(p, m * before[k] + (1 - m) * student[k])
    method.after_step(10, 10)  # momentum 1 at the end: the teacher stays put
    frozen = {k: p.clone() for k, p in teacher.items()}
    with torch.no_grad():
        for p in method.encoder.parameters():
            p.add_(1.0)
    method.after_step(10, 10)
    assert all(torch.equal(p, frozen[k]) for k, p in teacher.items())


def test_byol_without_predictor_has_no_predictor_parameters():
    with_predictor, without = _method("byol"), _method("byol", predictor=False)
    assert without.predictor is None
    assert not any("predictor" in k for k, _ in without.named_parameters())
    n_with = sum(p.numel() for p in with_predictor.players()["model"])
    n_without = sum(p.numel() for p in without.players()["model"])
    assert n_without == n_with - sum(p.numel() for p in with_predictor.predictor.parameters())
    loss, _ = without.loss((_images(),))
    assert torch.isfinite(loss)


def test_simsiam_stop_gradient_blocks_the_target_branch():
    """With the stop-gradient, the loss reaches z only through p: z2's own gradient is 0 when
    only D(p1, z2) is kept. Without it, the target branch carries gradient too."""
    for stop, expect_flow in [(True, False), (False, True)]:
        method = _method("simsiam", stop_gradient=stop)
        z2 = torch.randn(6, 8, requires_grad=True)
        p1 = torch.randn(6, 8, requires_grad=True)
        method._distance(p1, z2).backward()
        assert p1.grad is not None
        assert (z2.grad is not None and z2.grad.abs().sum() > 0) == expect_flow


def test_simsiam_without_stop_gradient_sends_more_gradient_to_the_projector():
    grads = {}
    for stop in (True, False):
        method = _method("simsiam", stop_gradient=stop)
        torch.manual_seed(1)
        loss, _ = method.loss((_images(),))
        loss.backward()
        grads[stop] = torch.cat([p.grad.flatten() for p in method.projector.parameters()])
    assert not torch.allclose(grads[True], grads[False])


def test_vicreg_logs_its_terms_and_weight_zero_drops_the_variance():
    method = _method("vicreg", var_weight=0.0)
    loss, metrics = method.loss((_images(),))
    expected = 25 * metrics["invariance"] + metrics["covariance"]
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert {"invariance", "variance", "covariance", "z_std"} <= set(metrics)


def test_dino_centre_is_a_buffer_that_moves_checkpoints_and_resumes(tmp_path):
    method = _method("dino")
    assert "center" in method.state_dict() and "center" in dict(method.named_buffers())
    assert torch.equal(method.center, torch.zeros(1, 12))
    method.loss((_images(),))  # training mode: the centre moves
    assert method.center.abs().sum() > 0
    eval_centre = method.center.clone()
    method.eval()
    method.loss((_images(),))
    assert torch.equal(method.center, eval_centre)  # evaluation leaves it alone

    ckpt = tmp_path / "dino.pt"
    full = _method("dino")
    train.fit(full, _tiny_set(), steps=4, batch_size=8, progress=False, device="cpu")
    stopped = _method("dino")
    train.fit(stopped, _tiny_set(), steps=4, batch_size=8, progress=False, device="cpu",
              checkpoint=ckpt, checkpoint_every=1, stop_at=2)  # fmt: skip
    resumed = _method("dino")
    train.fit(resumed, _tiny_set(), steps=4, batch_size=8, progress=False, device="cpu",
              checkpoint=ckpt, checkpoint_every=1)  # fmt: skip
    assert resumed.center.abs().sum() > 0
    torch.testing.assert_close(resumed.center, full.center)
    torch.testing.assert_close(resumed.teacher_head.prototypes, full.teacher_head.prototypes)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda e: DINO(e, student_temperature=0.0), "Illegal temperature"),
        (lambda e: DINO(e, teacher_temperature=-1), "Illegal temperature"),
        (lambda e: DINO(e, center_momentum=1.0), "center_momentum"),
        (lambda e: DINO(e, num_prototypes=1), "num_prototypes"),
        (lambda e: BYOL(e, momentum_base=1.5), "momentum base"),
        (lambda e: VICReg(e, var_weight=-1.0), "var_weight"),
        (lambda e: BarlowTwins(e, lambda_offdiag=-1.0), "lambda_offdiag"),
        (lambda e: BarlowTwins(e, scale_loss=0.0), "scale_loss"),
    ],
)
def test_bad_settings_raise(make, match):
    with pytest.raises(ValueError, match=match):
        make(nets.SmallCNN(1, width=4))


def test_a_batch_of_one_image_is_refused():
    with pytest.raises(ValueError, match=">= 2 images"):
        _method("vicreg").loss((_images(1),))
    assert isinstance(_method("simsiam"), SimSiam)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_quick_recipe_builds_for_the_digits_and_trains_from_the_command_line(name, tmp_path):
    """`python -m sslib train NAME --dataset mnist5k` with the quick recipe, cut to 5 steps."""
    import json

    from sslib.__main__ import main
    from sslib.recipes import QUICK

    recipe = QUICK[name]
    assert recipe.encoder == "strided_cnn" and recipe.method_kwargs["views"] == "affine"
    method = methods.build(name, nets.make_encoder(recipe.encoder, (1, 28, 28)), None,
                           **recipe.method_kwargs)  # fmt: skip
    assert isinstance(method.views, augment.AffineViews)
    steps_per_epoch = 4000 // recipe.batch_size  # mnist5k's 4,000 training digits
    args = ["train", name, "--dataset", "mnist5k", "--epochs", str(5.5 / steps_per_epoch),
            "--out", str(tmp_path), "--tag", "t"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((tmp_path / f"{name}-mnist5k-t.json").read_text())
    assert record["steps"] == 5 and record["settings"]["encoder"] == "strided_cnn"
    assert 0 <= record["probe"]["linear"] <= 1


@pytest.mark.parametrize("name", sorted(SMALL))
def test_full_recipe_follows_solo_learn_and_builds(name):
    from sslib.recipes import FULL

    recipe = FULL[name]
    assert "solo-learn" in recipe.source and recipe.encoder == "resnet18"
    assert recipe.epochs == 1000 and recipe.batch_size == 256
    encoder = nets.make_encoder(recipe.encoder, (3, 32, 32))
    method = methods.build(name, encoder, None, **recipe.method_kwargs)
    assert isinstance(method, methods.Method)
