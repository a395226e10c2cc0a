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


@dataclass(frozen=True, kw_only=True)
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
    # the optimizer's own settings (train.fit's optimizer_options): LARS trust/clip, betas
    optimizer_options: dict = field(default_factory=dict)
    # NHWC convolutions (train.fit's channels_last): about a fifth faster on CPUs for the
    # digits' StridedCNN, and the layout chapters 3 and 7 train in
    channels_last: bool = False

    def fit_options(self, steps: int | None = None) -> dict:
        """The keyword arguments of :func:`sslib.train.fit` this recipe sets.

        ``steps`` replaces the recipe's epochs by a number of optimizer steps. The command
        line, :mod:`sslib.compare` and the chapters train with these, so that a recipe means
        the same loop wherever it is followed.
        """
        return {
            "epochs": None if steps else self.epochs, "steps": steps or None,
            "batch_size": self.batch_size, "optimizer": self.optimizer,
            "optimizer_options": self.optimizer_options, "lr": self.lr,
            "weight_decay": self.weight_decay, "warmup": self.warmup,
            "channels_last": self.channels_last,
        }  # fmt: skip

    def build(self, method: str, train_set, *, seed: int = 0, **overrides):
        """``method`` with this recipe's encoder, untrained, built after seeding with ``seed``.

        ``overrides`` go to the method's constructor over the recipe's ``method_kwargs``. The
        seed fixes the initial weights: an arm trained and the same arm untrained start equal.
        """
        from sslib import config, methods, nets

        config.seed_everything(seed)
        encoder = nets.make_encoder(self.encoder, train_set.shape)
        return methods.build(method, encoder, train_set, **(self.method_kwargs | overrides))


QUICK_DEFAULT = Recipe()

# The quick budget: each chapter's calibrated recipe for the offline digits (mnist5k), so that
# `python -m sslib train METHOD --dataset mnist5k` reaches the chapter's number. One entry per
# method, grouped by chapter; a method without one trains with QUICK_DEFAULT.
QUICK: dict[str, Recipe] = {
    # chapter 1: pretext tasks (and the supervised reference). The chapter's steps: 250 at
    # batch 64 and lr 1e-2 for rotation (each digit in four turns, 256 images a step) and for
    # supervised, 100 for relative position; steps = int(epochs * (4000 // batch_size)).
    # 400 steps at lr 5e-3 gave rotation 96.8 / 96.7 / 96.1% over seeds 0-2 and supervised kNN
    # a thin lead over pixels, but cost ~50 CPU s more than the chapter's 150 s budget allows.
    # The chapter trains relative position in the channels-last layout (a tenth faster on CPUs,
    # other roundings; --channels-last here), rotation and supervised in the default one.
    "rotation": Recipe(encoder="strided_cnn", epochs=250 / 62, batch_size=64, optimizer="adamw",
                       lr=1e-2, weight_decay=1e-4, warmup=0.05, method_kwargs={"views": "affine"},
                       source="chapter 1, rotation prediction (on mnist5k)"),
    "supervised": Recipe(encoder="strided_cnn", epochs=250 / 62, batch_size=64, optimizer="adamw",
                         lr=1e-2, weight_decay=1e-4, warmup=0.05, method_kwargs={"views": "affine"},
                         source="chapter 1, the supervised reference"),
    "relative_position": Recipe(encoder="strided_cnn", epochs=100 / 62, batch_size=64,
                                optimizer="adamw", lr=5e-3, weight_decay=1e-4, warmup=0.05,
                                method_kwargs={"patch": 7, "gap": 3, "jitter": 1},
                                source="chapter 1, relative patch position with gaps"),

    # chapter 2: autoencoders
    # The denoising convolutional autoencoder of chapter 2: StridedCNN's flattened 7x7 map ->
    # a 64-number code, a ConvDecoder, 30% of the pixels masked plus noise 0.2, cross-entropy;
    # 12.8 epochs of 4,000 digits = the 400 steps of the chapter, which trains with fused AdamW
    # in the channels-last layout (~15% faster a step on one CPU thread; other roundings).
    "autoencoder": Recipe(encoder="strided_cnn", epochs=12.8, batch_size=128, optimizer="adamw",
                          lr=5e-3, weight_decay=1e-4, warmup=0.05,
                          method_kwargs={"code_dim": 64, "flatten_map": True, "decoder": "conv",
                                         "mask": 0.3, "noise_std": 0.2, "reconstruction": "bce"},
                          optimizer_options={"fused": True}, channels_last=True,
                          source="chapter 2, the denoising autoencoder"),

    # chapter 3: contrastive learning
    # SimCLR as chapter 3 trains it: StridedCNN, the digit views (AffineViews), temperature 0.3,
    # head 128 -> 256 -> BN -> ReLU -> 128, AdamW 5e-3, 400 steps of 128 (mnist5k's 4,000
    # training images make 31 full batches an epoch). At equal images seen, batches of 128
    # beat the reference's 256 in our calibration (98.4% against 97.5% linear probe at 500
    # steps). 400 steps, seeds 0, 1, 2: 97.4%, 98.0%, 97.8% (one thread); 500 steps gave
    # 98.4%, 97.7%, 98.0% and did not fit the chapter's time budget.
    "simclr": Recipe(encoder="strided_cnn", epochs=400 / 31, batch_size=128, optimizer="adamw",
                     lr=5e-3, weight_decay=1e-4, warmup=0.05,
                     method_kwargs={"views": "affine", "temperature": 0.3, "hidden_dim": 256,
                                    "proj_dim": 128},
                     channels_last=True,
                     source="chapter 3, SimCLR on the digits (calibrated at the quick budget)"),

    # chapter 7: learning without negatives. One budget for all five and SimCLR: 120 steps of
    # 64 (mnist5k's 4,000 digits make 62 full batches an epoch), AdamW 5e-3, weight decay 1e-4,
    # StridedCNN, the digits' views; 10-15 CPU s of training each at one thread. At equal
    # images seen, batches of 64 beat 60 steps of 128 for every method tried (VICReg 95.6%
    # against 94.8% linear, 88.1% against 83.3% kNN), as they did for SimCLR in chapter 3.
    # lr 1e-2 was worse for all six (VICReg 89.9%, Barlow 93.7%, SimSiam 91.3% at 60 x 128).
    # Calibrated, like every run of the chapter, in the channels-last layout (channels_last):
    # NCHW gives other roundings, e.g. VICReg 95.3% linear at seed 0.
    # Calibration (linear / kNN probe on the 1,000 test digits, effective rank of the test
    # h, CPU s of training at one thread; raw pixels: 87.6% / 94.8%; SimCLR with chapter 3's
    # settings at this budget, seeds 0 / 1: 95.9 / 96.1% linear, 87.1 / 89.4% kNN, rank 36 / 39,
    # 11 CPU s):
    # VICReg: expander 512 -> 512, weights 25 / 25 / 1. Seeds 0 / 1: 95.6 / 96.1% linear,
    # 88.1 / 90.1% kNN, rank 42 / 44, 12-13 CPU s.
    "vicreg": Recipe(encoder="strided_cnn", epochs=120 / 62, batch_size=64, optimizer="adamw",
                     lr=5e-3, weight_decay=1e-4, warmup=0.05,
                     method_kwargs={"views": "affine", "hidden_dim": 512, "proj_dim": 512,
                                    "sim_weight": 25.0, "var_weight": 25.0, "cov_weight": 1.0},
                     channels_last=True,
                     source="chapter 7, VICReg on the digits (calibrated at the quick budget)"),
    # Barlow Twins: projector 512 -> 512, lambda 5e-3 (2e-3: 94.3% / 77.1%). Seeds 0 / 1:
    # 95.5 / 96.2% linear, 82.8 / 81.4% kNN, rank 37 / 37, 13 CPU s.
    "barlow_twins": Recipe(encoder="strided_cnn", epochs=120 / 62, batch_size=64,
                           optimizer="adamw", lr=5e-3, weight_decay=1e-4, warmup=0.05,
                           method_kwargs={"views": "affine", "hidden_dim": 512, "proj_dim": 512,
                                          "lambda_offdiag": 5e-3},
                           channels_last=True,
                           source="chapter 7, Barlow Twins on the digits (calibrated)"),
    # DINO: head 512 -> 512 -> 128, 256 prototypes, temperatures 0.1 / 0.04, centre momentum
    # 0.9, teacher momentum 0.996 -> 1 (64 prototypes: 94.1%; teacher temperature 0.02:
    # 93.5%, 0.07: 93.4% at 60 x 128). Seeds 0 / 1: 94.8 / 93.8% linear, 76.7 / 76.5% kNN,
    # rank 37 / 39, 13-16 CPU s.
    "dino": Recipe(encoder="strided_cnn", epochs=120 / 62, batch_size=64, optimizer="adamw",
                   lr=5e-3, weight_decay=1e-4, warmup=0.05,
                   method_kwargs={"views": "affine", "hidden_dim": 512, "bottleneck_dim": 128,
                                  "num_prototypes": 256, "student_temperature": 0.1,
                                  "teacher_temperature": 0.04, "center_momentum": 0.9,
                                  "momentum_base": 0.996},
                   channels_last=True,
                   source="chapter 7, DINO on the digits (calibrated at the quick budget)"),
    # BYOL: projector 128 -> 256 -> 128, predictor 256 wide, teacher momentum 0.96 -> 1
    # (0.99: 92.7%, 0.9: 93.3%, predictor 64 wide: 91.0%). Seeds 0 / 1: 93.9 / 93.3%
    # linear, 73.3 / 73.3% kNN, rank 28 / 25, 14-15 CPU s (the teacher's forward pass).
    "byol": Recipe(encoder="strided_cnn", epochs=120 / 62, batch_size=64, optimizer="adamw",
                   lr=5e-3, weight_decay=1e-4, warmup=0.05,
                   method_kwargs={"views": "affine", "hidden_dim": 256, "proj_dim": 128,
                                  "pred_hidden_dim": 256, "momentum_base": 0.96},
                   channels_last=True,
                   source="chapter 7, BYOL on the digits (calibrated at the quick budget)"),
    # SimSiam: projector 128 -> 256 -> 128, predictor 128 -> 64 -> 128 (the paper's
    # bottleneck; 256 wide: 92.3% / 68.8%; a 3-layer projector: 92.0%). Seeds 0 / 1: 92.4 /
    # 92.6% linear, 73.8 / 72.0% kNN, rank 24 / 19, 11 CPU s.
    "simsiam": Recipe(encoder="strided_cnn", epochs=120 / 62, batch_size=64, optimizer="adamw",
                      lr=5e-3, weight_decay=1e-4, warmup=0.05,
                      method_kwargs={"views": "affine", "hidden_dim": 256, "proj_dim": 128,
                                     "pred_hidden_dim": 64},
                      channels_last=True,
                      source="chapter 7, SimSiam on the digits (calibrated at the quick budget)"),
    # chapters 4 to 6

    # Local Deep InfoMax as chapter 5 trains it: InfoNCE with negatives from every location of
    # the other images (the authors' code), a cosine dot critic at temperature 0.1, AdamW 2e-3
    # without weight decay or warm-up, 250 steps of 64 (mnist5k's 4,000 digits make 62 full
    # batches an epoch). The command line builds the paper's DCGAN encoder at width 64 with a
    # 1024-unit head; the chapter runs a width-16 copy with a 256-unit head to fit its budget.
    "dim": Recipe(encoder="dcgan", epochs=250 / 62, batch_size=64, optimizer="adamw", lr=2e-3,
                  weight_decay=0.0, warmup=0.0,
                  method_kwargs={"estimator": "infonce", "temperature": 0.1,
                                 "negatives": "all_locations", "critic_dim": 64},
                  source="chapter 5, local Deep InfoMax on the digits"),

    # MAE as chapter 4 trains it: TinyViT width 64, 2 blocks, 7x7 patches (--encoder vit_small),
    # 75% hidden, decoder width 64 and 1 block, AdamW 1e-3, weight decay 0.05, 5,000 steps of
    # 16 (20 epochs of 250 batches): many small steps get the ViT past the mean image. Chapter
    # 4 now trains the same model 2,750 steps of 32 at 2e-3 with fused AdamW, which fits its
    # CPU budget and ends at the same hidden-patch error (0.75-0.77 of the mean image's over
    # seeds 0-2 against 0.76-0.77 here); this entry stays as chapter 7's I-JEPA record trained it.
    "mae": Recipe(encoder="vit_small", epochs=20, batch_size=16, optimizer="adamw", lr=1e-3,
                  weight_decay=0.05, warmup=0.05,
                  method_kwargs={"mask_ratio": 0.75, "decoder_dim": 64},
                  source="chapter 4, the masked autoencoder on the digits"),

    # I-JEPA (chapter 7) on chapter 4's encoder (TinyViT 64 wide, 2 blocks, a 4x4 grid of 7x7
    # patches) at the budget of one of the chapter's arms, ~13 CPU s at one thread: 560 steps
    # of 16 (a JEPA step costs 23 ms against the MAE's 14.6, timed side by side, so the MAE
    # gets 890). Masks for a 4x4 grid: one target block of 0.35-0.5 of the patches (2x2 to
    # 3x3; the paper's four of 0.15-0.2 are 1-4 patches here and were easier to predict and
    # worse: 62-66% linear), the context the rest of a 0.85-1.0 block (8-12 patches);
    # teacher momentum 0.999 (0.996 and 0.99 collapsed towards position-only targets, loss
    # 0.004-0.02), predictor 32 wide and 2 deep, AdamW 2e-3. Tuned on seed 0 over 14 runs
    # (lr 3e-4-3e-3, momentum 0.99-1, 1-4 targets, predictor depth 1-2, width 32-64).
    # Seeds 0-2 on mnist5k's 1,000 test digits: linear 70.1 / 69.1 / 69.6%, kNN 56.2 / 51.8 /
    # 58.0%; chapter 4's MAE at the same cost (mask 0.75, lr 1e-3, which beat 3e-3; 890
    # steps) 67.7 / 70.4 / 69.7%, kNN 54.6 / 56.7 / 56.3%: JEPA - MAE +0.3 [-2.3, 3.1] linear,
    # -0.5 [-4.4, 3.3] kNN (paired bootstrap over digits and seeds), within noise; both
    # +6.5 points over a random ViT (62.8 / 65.3 / 60.5%) on linear, none on kNN, far below
    # raw pixels (87.6%, kNN 94.8%): at this budget the MAE is still at the mean image and
    # neither moves the ViT far. At ~40 CPU s (1,720 against 2,740 steps, seed 0) the MAE
    # leaves the mean image and leads: 70.9 against 77.5% linear, -6.6 [-9.7, -3.7]; kNN
    # 62.1 against 72.1%, -10.0 [-13.3, -6.7] (test digits only): I-JEPA's lead over the MAE
    # on ImageNet linear probes (Assran et al., table 1) does not appear on the digits.
    # Chapter 7 reads the 3-seed record of that longer comparison (1,800 against 2,800 steps,
    # ~37 and ~35 CPU s): book/results/jepa-vs-mae-mnist5k.json, from python -m sslib.compare.
    "jepa": Recipe(encoder="vit_small", epochs=560 / 250, batch_size=16, optimizer="adamw",
                   lr=2e-3, weight_decay=0.05, warmup=0.05,
                   method_kwargs={"momentum": 0.999, "num_targets": 1, "target_scale": (0.35, 0.5),
                                  "predictor_dim": 32, "predictor_depth": 2},
                   source="chapter 7, I-JEPA on the digits (against chapter 4's MAE)"),

}  # fmt: skip

# Each entry follows the source it names; where it departs, the comment says how and why.
# Precision: bf16 autocast on CUDA throughout (the sources use fp16 or fp32).
FULL: dict[str, Recipe] = {
    # solo-learn's scripts/pretrain/cifar/simclr.yaml, as it is: ResNet-18, batch 256, LARS
    # with lr 0.4 (solo-learn scales lr x batch / 256: 0.4 here), eta 0.02, clip_lr and
    # biases and norms excluded, weight decay 1e-4, warmup_cosine with 10 warm-up epochs of
    # 1000, projector 2048 -> 256, temperature 0.2. One departure: sslib's LARS divides by
    # |g + wd w| (SimCLR's form), solo-learn's by |g| + wd |w|.
    "simclr": Recipe(encoder="resnet18", epochs=1000, batch_size=256, optimizer="lars", lr=0.4,
                     weight_decay=1e-4, warmup=0.01,
                     method_kwargs={"temperature": 0.2, "hidden_dim": 2048, "proj_dim": 256},
                     source="solo-learn scripts/pretrain/cifar/simclr.yaml (CIFAR-10)",
                     optimizer_options={"trust": 0.02, "clip": True}),
    # MAE's pre-training recipe (He et al. 2022, table 8): AdamW with betas (0.9, 0.95), base
    # lr 1.5e-4 x B / 256, weight decay 0.05, cosine, 40 warm-up epochs, mask ratio 0.75, the
    # normalised-pixel target. Changed, for a small ViT on 32x32 images and one GPU: batch 512
    # (the paper: 4096), hence lr 3e-4 by the same scaling; 400 epochs (the paper pre-trains
    # ViTs on ImageNet for 800 or 1600), with its 40 warm-up epochs (0.1 of them).
    "mae": Recipe(encoder="vit", epochs=400, batch_size=512, optimizer="adamw", lr=3e-4,
                  weight_decay=0.05, warmup=0.1,
                  method_kwargs={"mask_ratio": 0.75, "norm_pix_loss": True},
                  source="He et al. 2022, table 8", optimizer_options={"betas": (0.9, 0.95)}),
    # I-JEPA's ViT-H/14 recipe (Assran et al. 2023; github.com/facebookresearch/ijepa,
    # configs/in1k_vith14_ep300.yaml): AdamW, lr 1e-3 at batch 2048, 300 epochs with 40 of
    # warm-up, weight decay 0.04, teacher momentum 0.996 -> 1, 4 target blocks of 0.15-0.2 of
    # the image at aspect 0.75-1.5, one context block of 0.85-1.0, a predictor 12 blocks deep
    # and 384 wide. Scaled like the MAE entry, for a small ViT on 32x32 images and one GPU:
    # --encoder vit (192 wide, 6 deep, an 8x8 grid of 4x4 patches), batch 512, hence lr 2.5e-4
    # by linear scaling; the predictor a third of the encoder's width as in the paper
    # (384/1280), 64, and as deep as the encoder, 6. Departures: weight decay stays at 0.04
    # (the paper raises it to 0.4 on a cosine; fit has no weight-decay schedule), and the
    # momentum rises on BYOL's cosine instead of linearly (sslib.momentum).
    "jepa": Recipe(encoder="vit", epochs=300, batch_size=512, optimizer="adamw", lr=2.5e-4,
                   weight_decay=0.04, warmup=40 / 300,
                   method_kwargs={"momentum": 0.996, "predictor_dim": 64, "predictor_depth": 6,
                                  "num_targets": 4, "target_scale": (0.15, 0.2),
                                  "target_aspect": (0.75, 1.5), "context_scale": (0.85, 1.0)},
                   source="Assran et al. 2023, configs/in1k_vith14_ep300.yaml, scaled"),
    # Deep InfoMax (Hjelm et al. 2019) on CIFAR-10: the paper's DCGAN-like encoder (two 4x4
    # stride-2 convolutions to an 8x8x128 map, then a 4x4x256 convolution, 1024 units and a
    # 64-d code: --encoder dcgan), Adam at 1e-4, batch 64, no weight decay or warm-up. Changed:
    # 200 epochs where the paper trains 1000, to fit a run on one GPU in a working day.
    "dim": Recipe(encoder="dcgan", epochs=200, batch_size=64, optimizer="adamw", lr=1e-4,
                  weight_decay=0.0, warmup=0.0, method_kwargs={},
                  source="Hjelm et al. 2019, experiment details"),
    # RotNet on CIFAR-10 (Gidaris et al. 2018): SGD, lr 0.1, decay 5e-4, batch 128, 100 epochs.
    # Changed: a ResNet-18 instead of the paper's Network-In-Network, so that every method of
    # the book is compared on one encoder.
    "rotation": Recipe(encoder="resnet18", epochs=100, batch_size=128, optimizer="sgd", lr=0.1,
                       weight_decay=5e-4, warmup=0.0, method_kwargs={},
                       source="Gidaris et al. 2018, CIFAR-10 experiments"),
    # Chapter 7's methods, each from solo-learn's scripts/pretrain/cifar/NAME.yaml as written:
    # ResNet-18, batch 256, 1000 epochs, warmup_cosine with solo-learn's default 10 warm-up
    # epochs (0.01), lr as in the file (solo-learn scales lr x batch / 256: unchanged at 256).
    # Departures for all five: sslib's LARS divides by |g + wd w| (SimCLR's form), solo-learn's
    # by |g| + wd |w|; the views are sslib's Views (solo-learn's asymmetric.yaml has
    # solarization and per-view blur probabilities that sslib does not).
    # byol.yaml: projector 4096 -> 256, predictor 4096, momentum 0.99 -> 1, LARS lr 1.0, eta
    # 0.02, clip_lr, weight decay 1e-5.
    "byol": Recipe(encoder="resnet18", epochs=1000, batch_size=256, optimizer="lars", lr=1.0,
                   weight_decay=1e-5, warmup=0.01,
                   method_kwargs={"hidden_dim": 4096, "proj_dim": 256, "pred_hidden_dim": 4096,
                                  "momentum_base": 0.99},
                   source="solo-learn scripts/pretrain/cifar/byol.yaml (CIFAR-10)",
                   optimizer_options={"trust": 0.02, "clip": True}),
    # simsiam.yaml: a 3-layer projector 2048 -> 2048, predictor 512, SGD lr 0.5, weight decay
    # 1e-5 (its "temperature: 0.2" is unused by SimSiam). Departure: solo-learn's projector
    # ends in a batch norm without affine parameters and has no biases before its norms;
    # sslib's ProjectionHead has neither.
    "simsiam": Recipe(encoder="resnet18", epochs=1000, batch_size=256, optimizer="sgd", lr=0.5,
                      weight_decay=1e-5, warmup=0.01,
                      method_kwargs={"hidden_dim": 2048, "proj_dim": 2048,
                                     "pred_hidden_dim": 512, "num_layers": 3},
                      source="solo-learn scripts/pretrain/cifar/simsiam.yaml (CIFAR-10)"),
    # barlow.yaml: a 3-layer projector 2048 -> 2048, scale_loss 0.1, lambda solo-learn's
    # default 0.0051, LARS lr 0.3, eta 0.02, clip_lr, weight decay 1e-4.
    "barlow_twins": Recipe(encoder="resnet18", epochs=1000, batch_size=256, optimizer="lars",
                           lr=0.3, weight_decay=1e-4, warmup=0.01,
                           method_kwargs={"hidden_dim": 2048, "proj_dim": 2048, "num_layers": 3,
                                          "lambda_offdiag": 0.0051, "scale_loss": 0.1},
                           source="solo-learn scripts/pretrain/cifar/barlow.yaml (CIFAR-10)",
                           optimizer_options={"trust": 0.02, "clip": True}),
    # vicreg.yaml: a 3-layer projector 2048 -> 2048, weights 25 / 25 / 1, LARS lr 0.3, eta
    # 0.02, clip_lr, weight decay 1e-4 (its own views: crops from 0.2, solarization 0.1).
    "vicreg": Recipe(encoder="resnet18", epochs=1000, batch_size=256, optimizer="lars", lr=0.3,
                     weight_decay=1e-4, warmup=0.01,
                     method_kwargs={"hidden_dim": 2048, "proj_dim": 2048, "num_layers": 3,
                                    "sim_weight": 25.0, "var_weight": 25.0, "cov_weight": 1.0},
                     source="solo-learn scripts/pretrain/cifar/vicreg.yaml (CIFAR-10)",
                     optimizer_options={"trust": 0.02, "clip": True}),
    # dino.yaml: head 2048 -> 256 -> 4096 prototypes, momentum 0.9995 -> 1, LARS lr 0.3, eta
    # 0.02, clip_lr, weight decay 1e-6; solo-learn's defaults: temperatures 0.1 (student) and
    # 0.07 (teacher, no warm-up), centre momentum 0.9. Departures: sslib's head has batch norm
    # (solo-learn's use_bn_in_head is False) and does not freeze the last layer in epoch 1.
    "dino": Recipe(encoder="resnet18", epochs=1000, batch_size=256, optimizer="lars", lr=0.3,
                   weight_decay=1e-6, warmup=0.01,
                   method_kwargs={"hidden_dim": 2048, "bottleneck_dim": 256,
                                  "num_prototypes": 4096, "student_temperature": 0.1,
                                  "teacher_temperature": 0.07, "center_momentum": 0.9,
                                  "momentum_base": 0.9995},
                   source="solo-learn scripts/pretrain/cifar/dino.yaml (CIFAR-10)",
                   optimizer_options={"trust": 0.02, "clip": True}),
    # The supervised baseline trained as long as the self-supervised encoders usually are.
    "supervised": Recipe(encoder="resnet18", epochs=200, batch_size=256, optimizer="sgd", lr=0.1,
                         weight_decay=5e-4, warmup=0.0, method_kwargs={},
                         source="standard CIFAR-10 ResNet-18 schedule"),
    # VIB (Alemi et al. 2017): MLP encoder, Adam at 1e-4, batch 100, 200 epochs.
    "vib": Recipe(encoder="mlp", epochs=200, batch_size=100, optimizer="adamw", lr=1e-4,
                  weight_decay=0.0, warmup=0.0, method_kwargs={},
                  source="Alemi et al. 2017, MNIST experiments"),
    "autoencoder": Recipe(encoder="cnn", epochs=100, batch_size=256, optimizer="adamw", lr=1e-3,
                          weight_decay=0.0, warmup=0.02, method_kwargs={}, source="sslib"),
    "vae": Recipe(encoder="cnn", epochs=100, batch_size=256, optimizer="adamw", lr=1e-3,
                  weight_decay=0.0, warmup=0.02, method_kwargs={}, source="sslib"),
    "aae": Recipe(encoder="cnn", epochs=100, batch_size=256, optimizer="adamw", lr=1e-3,
                  weight_decay=0.0, warmup=0.02, method_kwargs={}, source="sslib"),
    "relative_position": Recipe(encoder="cnn", epochs=100, batch_size=256, optimizer="adamw",
                                lr=1e-3, weight_decay=1e-4, warmup=0.02, method_kwargs={},
                                source="sslib"),
    "colorization": Recipe(encoder="cnn", epochs=100, batch_size=256, optimizer="adamw", lr=1e-3,
                           weight_decay=1e-4, warmup=0.02, method_kwargs={}, source="sslib"),
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
    options = "".join(f" {k} {v}" for k, v in r.optimizer_options.items())
    options = f" ({options.strip()})" if options else ""
    layout = ", channels-last" if r.channels_last else ""
    return (
        f"{method}: {r.encoder} encoder, {r.epochs:g} epochs, batch {r.batch_size}, "
        f"{r.optimizer}{options} at lr {r.lr:g}, weight decay {r.weight_decay:g}, warm-up "
        f"{r.warmup:g} of the steps{layout}{extra} ({r.source})"
    )
