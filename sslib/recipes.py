"""Training settings per method and budget: what ``python -m sslib train`` uses by default.

At the ``quick`` budget each method of chapters 1 to 3 trains with its chapter's calibrated
recipe (the others with one small default). At the ``full`` budget each method gets the
settings of its paper or of the best public reproduction on CIFAR-10-sized data, noted
beside it; a flag on the command line overrides any of them. These are starting points with
their sources, not tuned results: the records under ``book/results/`` say what each one
reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Recipe:
    """How to train one method: the loop's settings and the method's own keyword arguments."""

    encoder: str = "cnn"
    epochs: float = 10
    batch_size: int = 256
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup: float = 0.05  # a fraction of the steps
    method_kwargs: dict = field(default_factory=dict)
    source: str = "sslib's quick default"


QUICK_DEFAULT = Recipe()

# The quick budget: each chapter's calibrated recipe for the offline digits (mnist5k), so that
# `python -m sslib train METHOD --dataset mnist5k` reaches the chapter's number. One entry per
# method, grouped by chapter; a method without one trains with QUICK_DEFAULT.
QUICK: dict[str, Recipe] = {
    # chapter 1: pretext tasks (and the supervised reference). The chapter's steps: 400 for
    # rotation at batch 64 (each digit in four turns, 256 images a step) and for supervised at
    # batch 128, 150 for relative position; steps = int(epochs * (4000 // batch_size)).
    "rotation": Recipe("strided_cnn", 6.46, 64, "adamw", 5e-3, 1e-4, 0.05, {"views": "affine"},
                       "chapter 1, rotation prediction (calibrated on mnist5k)"),
    "supervised": Recipe("strided_cnn", 12.91, 128, "adamw", 5e-3, 1e-4, 0.05,
                         {"views": "affine"}, "chapter 1, the supervised reference"),
    "relative_position": Recipe("strided_cnn", 2.42, 64, "adamw", 5e-3, 1e-4, 0.05,
                                {"patch": 7, "gap": 3, "jitter": 1},
                                "chapter 1, relative patch position with gaps"),

    # chapter 2: autoencoders


    # chapter 3: contrastive learning


    # chapters 4 to 6


}  # fmt: skip

FULL: dict[str, Recipe] = {
    # SimCLR on CIFAR-10 as solo-learn trains it (LARS, temperature 0.2, 10 warm-up epochs of
    # 1000; linear lr scaling 0.4 x B / 256), over 200 epochs.
    "simclr": Recipe("resnet18", 200, 512, "lars", 0.8, 1e-5, 0.05,
                     {"temperature": 0.2, "hidden_dim": 2048, "proj_dim": 256},
                     "solo-learn simclr.yaml (CIFAR-10)"),
    # MAE's recipe (He et al. 2022, table 8): AdamW, base lr 1.5e-4 x B / 256, decay 0.05,
    # 40 warm-up epochs, mask ratio 0.75; 400 epochs on the small ViT.
    "mae": Recipe("vit", 400, 512, "adamw", 3e-4, 0.05, 0.1, {}, "He et al. 2022, table 8"),
    # Deep InfoMax (Hjelm et al. 2019): Adam at 1e-4; the paper trains 1000 epochs on CIFAR-10.
    "dim": Recipe("resnet18", 200, 64, "adamw", 1e-4, 0.0, 0.0, {},
                  "Hjelm et al. 2019, experiment details"),
    # RotNet on CIFAR-10 (Gidaris et al. 2018): SGD, lr 0.1, decay 5e-4, batch 128, 100 epochs.
    "rotation": Recipe("resnet18", 100, 128, "sgd", 0.1, 5e-4, 0.0, {},
                       "Gidaris et al. 2018, CIFAR-10 experiments"),
    # The supervised baseline trained as long as the self-supervised encoders usually are.
    "supervised": Recipe("resnet18", 200, 256, "sgd", 0.1, 5e-4, 0.0, {},
                         "standard CIFAR-10 ResNet-18 schedule"),
    # VIB (Alemi et al. 2017): MLP encoder, Adam at 1e-4, batch 100, 200 epochs.
    "vib": Recipe("mlp", 200, 100, "adamw", 1e-4, 0.0, 0.0, {},
                  "Alemi et al. 2017, MNIST experiments"),
    "autoencoder": Recipe("cnn", 100, 256, "adamw", 1e-3, 0.0, 0.02, {}, "sslib"),
    "vae": Recipe("cnn", 100, 256, "adamw", 1e-3, 0.0, 0.02, {}, "sslib"),
    "aae": Recipe("cnn", 100, 256, "adamw", 1e-3, 0.0, 0.02, {}, "sslib"),
    "relative_position": Recipe("cnn", 100, 256, "adamw", 1e-3, 1e-4, 0.02, {}, "sslib"),
    "colorization": Recipe("cnn", 100, 256, "adamw", 1e-3, 1e-4, 0.02, {}, "sslib"),
}  # fmt: skip


def recipe(method: str, budget: str) -> Recipe:
    """The settings ``method`` trains with at ``budget`` (``"quick"`` or ``"full"``)."""
    if budget == "quick":
        return QUICK.get(method, QUICK_DEFAULT)
    if budget != "full":
        raise ValueError(f"budget must be 'quick' or 'full', got {budget!r}")
    return FULL.get(method, replace(QUICK_DEFAULT, epochs=100, source="sslib (no full recipe yet)"))


def describe(method: str, budget: str = "full") -> str:
    """One line: the settings ``method`` trains with at ``budget``, and their source."""
    r = recipe(method, budget)
    extra = "".join(f", {k} {v}" for k, v in r.method_kwargs.items())
    return (
        f"{method}: {r.encoder} encoder, {r.epochs:g} epochs, batch {r.batch_size}, "
        f"{r.optimizer} at lr {r.lr:g}, weight decay {r.weight_decay:g}, warm-up "
        f"{r.warmup:g} of the steps{extra} ({r.source})"
    )
