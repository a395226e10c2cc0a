"""I-JEPA: block masks, the predictor, a frozen teacher that follows by the schedule, training."""

import json

import pytest
import torch

from sslib import methods, nets, probe, train
from sslib.methods.jepa import IJEPA, block_masks
from sslib.momentum import cosine_momentum


def _jepa(**kwargs):
    torch.manual_seed(0)
    return IJEPA(nets.TinyViT(28, 7, dim=32, depth=1), predictor_dim=16, predictor_depth=1,
                 **kwargs)  # fmt: skip


def _images(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 28, 28, generator=g) * 255).to(torch.uint8)


@pytest.mark.parametrize(
    "grid,kwargs",
    [(4, {}), (4, {"num_targets": 2, "target_scale": (0.25, 0.25)}), (8, {}), (14, {})],
)
def test_block_masks_are_blocks_disjoint_from_the_context(grid, kwargs):
    g = torch.Generator().manual_seed(0)
    for _ in range(5):  # block sizes are drawn per batch
        context, targets = block_masks(32, grid, generator=g, **kwargs)
        b, m, t = targets.shape
        assert (b, m) == (32, kwargs.get("num_targets", 4)) and context.shape[0] == 32
        assert context.shape[1] >= 2 and (context.diff(dim=1) > 0).all()  # distinct, sorted
        assert 0 <= int(context.min()) and int(context.max()) < grid * grid
        hit = torch.zeros(32, grid * grid, dtype=torch.bool)
        hit.scatter_(1, targets.flatten(1), True)
        assert not hit.gather(1, context).any()  # no context patch is a target
        rows, cols = targets // grid, targets % grid  # each target is a full h x w rectangle
        h = rows.amax(-1) - rows.amin(-1) + 1
        w = cols.amax(-1) - cols.amin(-1) + 1
        assert (h * w == t).all() and (h == h[0, 0]).all() and (w == w[0, 0]).all()
        assert (targets.diff(dim=-1) > 0).all()


def test_block_masks_are_seeded_and_reject_impossible_settings():
    a = block_masks(8, 4, generator=torch.Generator().manual_seed(3))
    b = block_masks(8, 4, generator=torch.Generator().manual_seed(3))
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    with pytest.raises(ValueError, match="context"):  # 4 full-grid targets leave nothing
        block_masks(4, 4, target_scale=(1.0, 1.0), target_aspect=(1.0, 1.0))
    with pytest.raises(ValueError, match="target_scale"):
        block_masks(4, 4, target_scale=(0.0, 0.2))
    with pytest.raises(ValueError, match="context"):  # the method checks at construction
        _jepa(target_scale=(1.0, 1.0), target_aspect=(1.0, 1.0))


def test_predictor_sees_only_the_context_and_is_one_sequence_per_block():
    jepa = _jepa().eval()
    x = torch.rand(2, 1, 28, 28)
    context, targets = block_masks(2, 4, generator=torch.Generator().manual_seed(0))
    hidden = torch.ones(2, 16, dtype=torch.bool)
    hidden.scatter_(1, context, False)
    changed = nets.unpatchify(
        torch.where(hidden[..., None], torch.rand(2, 16, 49), nets.patchify(x, 7)), 7, 28, 28
    )

    def predict(images, t):
        return jepa.predictor(jepa.encoder.encode(images, context), context, t)

    out = predict(x, targets)
    assert out.shape == (2, 4, targets.shape[2], 32)
    torch.testing.assert_close(out, predict(changed, targets))  # hidden pixels do not matter
    torch.testing.assert_close(out[:, :1], predict(x, targets[:, :1]))  # blocks are separate


def test_loss_trains_the_context_encoder_and_predictor_not_the_teacher():
    jepa = _jepa()
    loss, metrics = jepa.loss((_images(), torch.zeros(16, dtype=torch.long)))
    assert loss.ndim == 0 and torch.isfinite(loss) and metrics["context_patches"] >= 2
    loss.backward()
    for name, p in jepa.named_parameters():
        if name.startswith("teacher."):
            assert not p.requires_grad and p.grad is None, name
        else:
            assert p.requires_grad and p.grad is not None, name
    trained = {id(p) for ps in jepa.players().values() for p in ps}
    assert not trained & {id(p) for p in jepa.teacher.parameters()}
    students = [n for n, _ in jepa.named_parameters() if not n.startswith("teacher.")]
    assert len(trained) == len(students)


def test_targets_are_the_teachers_layer_normalised_codes():
    jepa = _jepa()
    x = torch.rand(3, 1, 28, 28)
    _, targets = block_masks(3, 4, generator=torch.Generator().manual_seed(1))
    target = jepa.target(x, targets)  # (B, M, T, D)
    assert target.shape == (*targets.shape, 32)
    torch.testing.assert_close(target.mean(-1), torch.zeros(targets.shape), atol=1e-5, rtol=0)
    codes = jepa.teacher.encode(x)
    b, m, t = 2, 1, 0  # one entry by hand
    expected = torch.nn.functional.layer_norm(codes[b, targets[b, m, t]], (32,))
    torch.testing.assert_close(target[b, m, t], expected)


def test_teacher_follows_the_encoder_by_the_cosine_schedule():
    jepa = _jepa(momentum=0.9)
    student, teacher = jepa.encoder.patch_embed.weight, jepa.teacher.patch_embed.weight
    assert torch.equal(student, teacher)
    with torch.no_grad():
        student.add_(1.0)
    before = teacher.clone()
    jepa.after_step(3, 10)
    m = cosine_momentum(3, 10, 0.9)
    assert 0.9 < m < 1
    torch.testing.assert_close(teacher, m * before + (1 - m) * student)
    jepa.after_step(10, 10)  # momentum 1 at the end: the teacher stays
    torch.testing.assert_close(teacher, m * before + (1 - m) * student)


def test_fit_trains_a_few_steps_and_resumes_exactly(tmp_path):
    images = _images(64)
    kw = dict(steps=8, batch_size=16, lr=3e-3, log_every=1, warmup=2, progress=False, seed=0)
    full = _jepa()
    history = train.fit(full, images, **kw)
    assert torch.isfinite(torch.as_tensor(history["loss"])).all()
    assert not torch.equal(full.teacher.patch_embed.weight, _jepa().teacher.patch_embed.weight)
    ckpt = tmp_path / "jepa.pt"
    train.fit(_jepa(), images, checkpoint=ckpt, stop_at=3, **kw)
    resumed = _jepa()
    again = train.fit(resumed, images, checkpoint=ckpt, **kw)
    assert again["loss"].tolist() == history["loss"].tolist()  # teacher and masks resume too
    torch.testing.assert_close(resumed.teacher.state_dict(), full.teacher.state_dict())
    assert resumed.embed(images[:4]).shape == (4, 32)


def test_embed_pools_the_context_encoder_over_every_patch_as_mae_does():
    jepa = _jepa().eval()
    x = _images(4)
    torch.testing.assert_close(jepa.embed(x), jepa.encoder.encode(x.float() / 255).mean(1))
    assert probe.embed(jepa, x).shape == (4, 32)


def test_build_needs_a_vision_transformer():
    with pytest.raises(ValueError, match="Vision Transformer"):
        methods.build("jepa", nets.make_encoder("cnn", (1, 28, 28)), None)
    with pytest.raises(ValueError, match="momentum"):
        _jepa(momentum=1.5)


def test_quick_recipe_is_chapter_4s_encoder():
    from sslib.recipes import FULL, QUICK

    recipe = QUICK["jepa"]
    assert recipe.encoder == QUICK["mae"].encoder == "vit_small"
    assert int(recipe.epochs * (4000 // recipe.batch_size)) == 560  # mnist5k: the calibrated steps
    method = methods.build("jepa", nets.make_encoder(recipe.encoder, (1, 28, 28)), None,
                           **recipe.method_kwargs)  # fmt: skip
    vit = method.encoder
    assert (vit.out_dim, len(vit.blocks), vit.patch_size, vit.num_patches) == (64, 2, 7, 16)
    assert method.masks["num_targets"] == 1 and method.momentum == 0.999
    full = FULL["jepa"]  # the paper's ViT-H/14 recipe, scaled as the MAE's is
    assert full.encoder == FULL["mae"].encoder == "vit" and full.batch_size == 512
    assert full.lr == 1e-3 * 512 / 2048 and full.method_kwargs["num_targets"] == 4
    big = methods.build("jepa", nets.make_encoder(full.encoder, (3, 32, 32)), None,
                        **full.method_kwargs)  # fmt: skip
    context, targets = block_masks(64, big.encoder.grid, **big.masks)  # an 8x8 grid
    assert targets.shape[:2] == (64, 4) and context.shape[1] >= 2


def test_command_line_trains_and_records(tmp_path):
    from sslib.__main__ import main

    args = ["train", "jepa", "--dataset", "mnist5k", "--epochs", "0.02", "--batch-size", "64",
            "--out", str(tmp_path), "--tag", "t"]  # fmt: skip
    assert main(args) == 0
    record = json.loads((tmp_path / "jepa-mnist5k-t.json").read_text())
    assert record["steps"] == 1 and record["settings"]["encoder"] == "vit_small"
    assert 0 <= record["probe"]["linear"] <= 1
