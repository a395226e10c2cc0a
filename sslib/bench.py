"""Benchmarks: sslib's training pipeline against the usual one, on the same model and batch.

``python -m sslib bench simclr`` trains SimCLR for a few steps in two ways and reports images
per second (each image seen as two views), step time and peak memory. The data follow the
encoder: ``resnet18`` and ``cnn`` train on synthetic CIFAR-shaped images (random uint8, so it
runs offline) with SimCLR's colour views; ``strided_cnn``, the light encoder of the book's quick
budget, trains on the 28x28 one-channel digits of ``mnist5k`` with the digit views of chapter 3
(:class:`sslib.augment.AffineViews`). With a light encoder the views are a real share of each
step, which is where making them batched pays.

* **sslib**: the whole dataset held on the device as uint8, both views made by batched tensor
  augmentations on the device (:class:`sslib.augment.Views` or
  :class:`~sslib.augment.AffineViews`), channels-last weights and
  batches, bf16 autocast where the hardware computes in bf16 natively (CUDA; CPUs with AMX or
  AVX-512 BF16, through oneDNN), optional ``torch.compile``, the loop of
  :func:`sslib.train.fit`;
* **usual**: the pipeline most SimCLR code is written as (lightly's tutorials train this way): a
  ``Dataset`` applying torchvision per-image transforms to each image twice (for digits, on
  PIL images), a ``DataLoader`` with worker processes, fp32, no compile, the plain PyTorch
  loop.

Both train the same encoder and projection head with the same loss, optimizer and batch size.
Speed goals belong here, not in timed unit tests.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass

import torch
from torch.utils.data import DataLoader, Dataset

from sslib import augment, data, nets, train
from sslib.config import device as default_device
from sslib.methods.simclr import SimCLR
from sslib.objectives import nt_xent


@dataclass
class BenchResult:
    """One pipeline's measurement. Throughput counts images (each made into two views)."""

    pipeline: str
    images_per_second: float
    step_ms: float
    peak_memory_mb: float
    steps: int
    batch_size: int


def synthetic_cifar(n: int, seed: int = 0) -> torch.Tensor:
    """``n`` random uint8 images shaped like CIFAR-10. Shape: ``(n, 3, 32, 32)``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8)


def digit_images(n: int) -> torch.Tensor:
    """``n`` real digits of ``mnist5k`` (offline), repeated if needed. Shape ``(n, 1, 28, 28)``."""
    images = data.load("mnist5k", "train").images
    return images.repeat(-(-n // len(images)), 1, 1, 1)[:n]


ENCODERS = ("resnet18", "cnn", "strided_cnn")  # the encoders benchmarked (nets.make_encoder)


def digits_setting(encoder: str) -> bool:
    """Whether ``encoder`` is benchmarked on digits (28x28, one channel) instead of CIFAR."""
    return encoder == "strided_cnn"


def _method(encoder: str) -> SimCLR:
    """SimCLR as chapter 3 trains it on digits, or with SimCLR's colour views on CIFAR."""
    if digits_setting(encoder):
        return SimCLR(nets.make_encoder(encoder, (1, 28, 28)), views=augment.AffineViews(),
                      temperature=0.3,
                      hidden_dim=256, proj_dim=128)  # fmt: skip
    return SimCLR(nets.make_encoder(encoder, (3, 32, 32)), views=augment.Views(), temperature=0.5)


def native_bf16(dev: torch.device) -> bool:
    """Whether ``dev`` computes bf16 matrix products natively (else autocast only slows it)."""
    if dev.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if dev.type == "cpu":
        return torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported()
    return False


def _reset_peak(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)


def _peak_mb(dev: torch.device) -> float:
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20
    # CPU: the process's peak resident set (kilobytes on Linux), a coarse upper bound
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_sslib(
    images: torch.Tensor,
    *,
    encoder: str,
    batch_size: int,
    steps: int,
    warmup: int,
    dev: torch.device,
    compile: bool = False,
    precision: str = "bf16",
    channels_last: bool = True,
) -> BenchResult:
    """The sslib pipeline, timed by :func:`sslib.train.fit` after ``warmup`` untimed steps."""
    torch.manual_seed(0)
    method = _method(encoder).to(dev)
    on_device = images.to(dev)  # the dataset lives on the device, as uint8
    kwargs = dict(batch_size=batch_size, lr=1e-3, device=dev, compile=compile, progress=False,
                  precision=precision, channels_last=channels_last)  # fmt: skip
    train.fit(method, on_device, steps=warmup, **kwargs)  # compile, cudnn autotune, allocator
    _reset_peak(dev)
    history = train.fit(method, on_device, steps=steps, log_every=steps, **kwargs)
    seconds = history.seconds
    return BenchResult(
        "sslib", steps * batch_size / seconds, 1e3 * seconds / steps, _peak_mb(dev), steps,
        batch_size,
    )  # fmt: skip


class _TwoViews(Dataset):
    """The usual SimCLR dataset: each item is two independently transformed copies."""

    def __init__(self, images: torch.Tensor, transform):
        self.images, self.transform = images, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        x = self.images[i]
        return self.transform(x), self.transform(x)


def usual_transform():
    """SimCLR's CIFAR augmentation as torchvision per-image v2 transforms, to float in [0, 1]."""
    from torchvision.transforms import v2

    return v2.Compose(
        [
            v2.RandomResizedCrop(32, scale=(0.08, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomApply([v2.ColorJitter(0.8, 0.8, 0.8, 0.2)], p=0.8),
            v2.RandomGrayscale(p=0.2),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )


class _GaussianNoise:
    """Add N(0, sigma^2) to a float tensor and clamp to [0, 1] (a picklable transform)."""

    def __init__(self, sigma: float):
        self.sigma = sigma

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.sigma * torch.randn_like(x)).clamp(0, 1)


def usual_digit_transform(elastic: bool = True):
    """Chapter 3's digit views as the usual per-image pipeline: PIL, then tensor, per image.

    The steps of :class:`sslib.augment.AffineViews` with torchvision's transforms: a random
    affine map (its ``translate`` is a fraction of the width, half of AffineViews' fraction of
    the half-width), an elastic warp, random erasing and Gaussian noise. torchvision's
    ``ElasticTransform`` blurs a full-resolution displacement field per image and costs about
    ten times the rest together on a 28x28 digit; ``elastic=False`` leaves it out, the cheapest
    per-image pipeline of this family, so the benchmark can show what is left without it.
    """
    from torchvision import transforms as T

    affine = T.RandomAffine(
        15, translate=(0.075, 0.075), scale=(0.8, 1.2), interpolation=T.InterpolationMode.BILINEAR
    )
    warp = [T.ElasticTransform(alpha=5.0, sigma=4.0)] if elastic else []
    return T.Compose(
        [
            T.ToPILImage(),  # as a Dataset over image files would hand them over
            affine,
            *warp,
            T.ToTensor(),
            T.RandomErasing(p=0.5, scale=(0.01, 0.35**2), ratio=(0.3, 3.3), value=0),
            _GaussianNoise(0.1),
        ]
    )


def bench_usual(
    images: torch.Tensor,
    *,
    encoder: str,
    batch_size: int,
    steps: int,
    warmup: int,
    dev: torch.device,
    workers: int,
    elastic: bool = True,
) -> BenchResult:
    """The usual pipeline: per-image transforms in DataLoader workers, fp32, eager.

    ``elastic=False`` (digits only) drops torchvision's elastic warp: pipeline "usual-no-elastic".
    """
    torch.manual_seed(0)
    model = _method(encoder).to(dev)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    digits = digits_setting(encoder)
    transform = usual_digit_transform(elastic) if digits else usual_transform()
    loader = DataLoader(
        _TwoViews(images, transform), batch_size=batch_size, shuffle=True,
        drop_last=True, num_workers=workers, pin_memory=dev.type == "cuda",
        persistent_workers=workers > 0,
    )  # fmt: skip

    def batches():
        while True:
            yield from loader

    it = batches()
    tic = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            _reset_peak(dev)
            tic = time.perf_counter()
        x1, x2 = next(it)
        x1, x2 = x1.to(dev, non_blocking=True), x2.to(dev, non_blocking=True)
        z1, z2 = model.project(torch.cat([x1, x2])).chunk(2)
        loss = nt_xent(z1, z2, model.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = time.perf_counter() - tic
    name = "usual" if elastic or not digits else "usual-no-elastic"
    return BenchResult(
        name, steps * batch_size / seconds, 1e3 * seconds / steps, _peak_mb(dev), steps,
        batch_size,
    )  # fmt: skip


def bench_simclr(
    *,
    encoder: str = "resnet18",
    batch_size: int = 256,
    steps: int = 20,
    warmup: int = 5,
    workers: int = 4,
    device: str | None = None,
    compile: bool = False,
    precision: str = "auto",
    channels_last: bool = True,
    dataset_size: int = 4096,
) -> dict:
    """Both pipelines on the same synthetic data; returns a JSON-ready record with the ratio.

    ``precision="auto"`` gives sslib's pipeline bf16 autocast where :func:`native_bf16` holds
    and fp32 elsewhere; the usual pipeline always trains in fp32, as most code does.
    ``encoder="strided_cnn"`` benchmarks the digit setting (:func:`digits_setting`).
    """
    dev = torch.device(device) if device is not None else default_device()
    if precision == "auto":
        precision = "bf16" if native_bf16(dev) else "fp32"
    n = max(dataset_size, batch_size)
    images = digit_images(n) if digits_setting(encoder) else synthetic_cifar(n)
    common = dict(encoder=encoder, batch_size=batch_size, steps=steps, warmup=warmup, dev=dev)
    ours = bench_sslib(images, compile=compile, precision=precision,
                       channels_last=channels_last, **common)  # fmt: skip
    usual = bench_usual(images, workers=workers, **common)
    results = [asdict(ours), asdict(usual)]
    if digits_setting(encoder):  # the same views without torchvision's costly elastic warp
        results.append(asdict(bench_usual(images, workers=workers, elastic=False, **common)))
    return {
        "benchmark": "simclr",
        "device": str(dev),
        "encoder": encoder,
        "images": "mnist5k digits (1, 28, 28)"
        if digits_setting(encoder)
        else "synthetic (3, 32, 32)",
        "compile": compile,
        "precision": precision,
        "channels_last": channels_last,
        "workers": workers,
        "threads": torch.get_num_threads(),
        "results": results,
        "speedup": ours.images_per_second / usual.images_per_second,
    }


def report(record: dict) -> str:
    """A small table of a :func:`bench_simclr` record."""
    lines = [
        f"simclr on {record['device']}, encoder {record['encoder']}, "
        f"{record.get('images', 'synthetic (3, 32, 32)')}, "
        f"{record['threads']} threads, {record['workers']} DataLoader workers; sslib in "
        f"{record['precision']}{', channels-last' if record['channels_last'] else ''}, "
        "usual in fp32"
    ]
    lines.append(f"{'pipeline':16s} {'images/s':>10s} {'step ms':>9s} {'peak MB':>9s}")
    for r in record["results"]:
        lines.append(
            f"{r['pipeline']:16s} {r['images_per_second']:10.1f} {r['step_ms']:9.1f} "
            f"{r['peak_memory_mb']:9.0f}"
        )
    lines.append(f"speedup of sslib over the usual pipeline: {record['speedup']:.2f}x")
    light = [r for r in record["results"] if r["pipeline"] == "usual-no-elastic"]
    if light:
        ratio = record["results"][0]["images_per_second"] / light[0]["images_per_second"]
        lines.append(f"speedup of sslib over the usual pipeline without its elastic warp: "
                     f"{ratio:.2f}x")  # fmt: skip
    return "\n".join(lines)
