"""The command line: ``python -m sslib {env,data,train} ...``.

* ``env``: the budget, device, threads, cache folder and library versions this machine uses;
* ``data NAME``: load (downloading if allowed) a dataset and summarise it;
* ``train METHOD``: train a method with :func:`sslib.train.fit`, save its checkpoint and a JSON
  record of the run (metrics, probe accuracy, command, commit, hardware, wall time).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch

from sslib import config, data, distributed


def _commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def hardware() -> str:
    """One line naming the device this process trains on."""
    dev = config.device()
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    return f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def _env(args) -> int:
    import numpy
    import torchvision

    print(f"budget      {config.budget()}")
    print(f"device      {config.device()}  [{hardware()}]")
    print(f"threads     {torch.get_num_threads()}")
    print(f"cache       {config.cache_dir()}")
    print(f"python      {sys.version.split()[0]}")
    print(
        f"torch       {torch.__version__}  torchvision {torchvision.__version__}  "
        f"numpy {numpy.__version__}"
    )
    return 0


def _data(args) -> int:
    try:
        ds = data.load(args.name, args.split)
    except (ValueError, data.DatasetUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    counts = torch.bincount(ds.labels[ds.labels >= 0], minlength=ds.num_classes).tolist()
    print(
        f"{ds.name}/{ds.split}: {len(ds)} images of shape {ds.shape}, uint8; "
        f"{ds.num_classes} classes; per class {counts}"
    )
    return 0


def _encoder(name: str, shape):
    from sslib import nets

    c, h, _ = shape
    if name == "cnn":
        return nets.SmallCNN(c, 32, pool=h >= 16)
    if name == "resnet18":
        return nets.ResNet18(c)
    if name == "mlp":
        return nets.MLP(c * h * h, (512, 512), 256, norm="batch")
    if name == "vit":  # patches of 7 (28x28 digits) or 4 (32x32, 96x96 photos)
        patch = 7 if h % 7 == 0 else 4
        return nets.TinyViT(image_size=h, patch_size=patch, in_channels=c, dim=192, depth=6)
    raise ValueError(f"unknown encoder {name!r}; choose cnn, resnet18, mlp or vit")


def build_method(name: str, encoder, train_set):
    """The method ``name`` of :data:`sslib.methods.METHODS` around ``encoder``, for this data.

    Each method gets what the data decides (classes, image shape); everything else keeps the
    defaults its chapter explains.
    """
    from sslib.methods import METHODS

    cls = METHODS[name]
    if name == "supervised":
        return cls(encoder, train_set.num_classes)
    if name == "vib":
        return cls(encoder, num_classes=train_set.num_classes)
    if name in ("autoencoder", "vae", "aae"):
        return cls(encoder, image_shape=train_set.shape)
    if name == "colorization" and train_set.shape[0] != 3:
        raise ValueError(f"colorization needs colour images; {train_set.name} has one channel")
    if name == "mae" and not hasattr(encoder, "num_patches"):
        raise ValueError("mae needs a Vision Transformer: pass --encoder vit")
    if name == "dim" and not hasattr(encoder, "feature_map"):
        raise ValueError("dim needs an encoder with a feature map: --encoder cnn or resnet18")
    return cls(encoder)


def _train(args) -> int:
    from sslib import probe, train
    from sslib.methods import METHODS

    if args.method not in METHODS:
        print(
            f"error: unknown method {args.method!r}; choose one of {sorted(METHODS)}",
            file=sys.stderr,
        )
        return 2
    try:
        train_set = data.load(args.dataset, "train")
        test_set = data.load(args.dataset, "test")
    except (ValueError, data.DatasetUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    config.seed_everything(args.seed)
    try:
        encoder = _encoder(args.encoder, train_set.shape)
        method = build_method(args.method, encoder, train_set)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    run = f"{args.method}-{args.dataset}-{args.tag}"
    out = Path(args.out)
    tic = time.perf_counter()
    with distributed.process_group_from_env():  # under torchrun: one share of each batch
        try:
            history = train.fit(
                method,
                train_set,
                epochs=args.epochs,
                batch_size=args.batch_size,
                lr=args.lr,
                weight_decay=args.weight_decay,
                optimizer=args.optimizer,
                warmup=args.warmup,
                compile=args.compile,
                seed=args.seed,
                checkpoint=out / f"{run}.pt",
                checkpoint_every=args.checkpoint_every,
                resume=args.resume,
            )
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        rank, world = distributed.world()
    if rank != 0:
        return 0  # the model is the same on every process; rank 0 evaluates and records
    scores = probe.evaluate(method, train_set, test_set)
    record = {
        "method": args.method,
        "dataset": args.dataset,
        "budget": config.budget(),
        "command": args.command_line,
        "commit": _commit(),
        "hardware": hardware(),
        "processes": world,
        "wall_time_s": round(time.perf_counter() - tic, 2),
        "train_time_s": round(history.seconds, 2),
        "steps": history.step[-1],
        "final": {k: history.last(k) for k in history.metrics},
        "probe": scores,
    }
    save_json_atomic(record, out / f"{run}.json")
    print(json.dumps(record, indent=2))
    return 0


def save_json_atomic(record: dict, path: Path) -> None:
    """Write ``record`` as JSON through a temporary file: never a half-written record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)


def _bench(args) -> int:
    from sslib import bench

    record = bench.bench_simclr(
        encoder=args.encoder, batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
        workers=args.workers, device=args.device, compile=args.compile,
    )  # fmt: skip
    record.update(command=args.command_line, commit=_commit(), hardware=hardware())
    print(bench.report(record))
    if args.json:
        save_json_atomic(record, Path(args.json))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m sslib``."""
    p = argparse.ArgumentParser(
        prog="python -m sslib",
        description="sslib: the library of 'Self-Supervised Learning, Executed'.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="show budget, device, threads, cache and versions")
    d = sub.add_parser("data", help="load (download if allowed) and summarise a dataset")
    d.add_argument("name", help=f"one of {', '.join(data.DATASETS)}")
    d.add_argument("--split", default="train")
    t = sub.add_parser("train", help="train a method and write its results record")
    t.add_argument("method", help="method name (see sslib.methods.METHODS)")
    t.add_argument("--dataset", default="mnist5k", help=f"one of {', '.join(data.DATASETS)}")
    t.add_argument("--encoder", default="cnn", choices=["cnn", "resnet18", "mlp", "vit"])
    t.add_argument("--epochs", type=float, default=10)
    t.add_argument("--batch-size", type=int, default=256)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--weight-decay", type=float, default=1e-4)
    t.add_argument("--optimizer", default="adamw", choices=["adamw", "sgd", "lars"])
    t.add_argument("--warmup", type=float, default=0.05, help="fraction of steps, or steps")
    t.add_argument("--compile", action="store_true", help="torch.compile the loss")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--checkpoint-every", type=int, default=None)
    t.add_argument("--no-resume", dest="resume", action="store_false")
    t.add_argument("--tag", default=config.budget())
    t.add_argument("--out", default="runs", help="folder for the checkpoint and the record")
    b = sub.add_parser("bench", help="throughput of sslib's pipeline against the usual one")
    b.add_argument("benchmark", choices=["simclr"])
    b.add_argument("--encoder", default="resnet18", choices=["resnet18", "cnn"])
    b.add_argument("--batch-size", type=int, default=256)
    b.add_argument("--steps", type=int, default=20, help="timed steps")
    b.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    b.add_argument("--workers", type=int, default=4, help="DataLoader workers (usual pipeline)")
    b.add_argument("--device", default=None, help="default: cuda > mps > cpu")
    b.add_argument("--compile", action="store_true", help="torch.compile sslib's loss")
    b.add_argument("--json", default=None, help="also write the record to this file")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.command_line = "python -m sslib " + " ".join(argv)  # for the records
    return {"env": _env, "data": _data, "train": _train, "bench": _bench}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
