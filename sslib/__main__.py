"""The command line: ``python -m sslib {env,data,train} ...``.

* ``env``: the budget, device, threads, cache folder and library versions this machine uses;
* ``data NAME``: load (downloading if allowed) a dataset and summarise it;
* ``train METHOD``: train a method with :func:`sslib.train.fit`, save its checkpoint and a JSON
  record of the run (metrics, probe accuracy, command, commit, hardware, wall time).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from sslib import config, data, distributed
from sslib.checkpoint import save_json


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block, no traceback), exit 2."""

    def error(self, message: str):
        """Print ``prog: error: message`` and exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind, minimum=None, above=None, integer_if_at_least=None):
    """An argparse ``type`` accepting finite ``kind`` values >= ``minimum`` or > ``above``."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {_KIND[kind]}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        if above is not None and value <= above:
            raise argparse.ArgumentTypeError(f"must be greater than {above}, got {text}")
        if integer_if_at_least is not None and value >= integer_if_at_least and value % 1:
            raise argparse.ArgumentTypeError(
                f"a fraction of the steps below 1 or a whole number of steps, got {text}"
            )
        return value

    parse.__name__ = _KIND[kind]  # what argparse names in its own messages
    return parse


_KIND = {int: "an integer", float: "a number"}
_POSITIVE_INT = _number(int, minimum=1)


def _name(text: str) -> str:
    """A run tag: becomes part of file names, so no path separators or leading dot."""
    if not text or "/" in text or os.sep in text or text.startswith("."):
        raise argparse.ArgumentTypeError(f"a file-name-safe word, got {text!r}")
    return text


def _git(*args: str) -> str:
    out = subprocess.run(
        ["git", *args], capture_output=True, text=True, cwd=Path(__file__).parent, timeout=5
    )
    return out.stdout.strip()


def _commit() -> str | None:
    """The repository's commit, with ``+dirty`` when tracked files differ from it."""
    try:
        commit = _git("rev-parse", "HEAD")
        if commit and _git("status", "--porcelain", "--untracked-files=no"):
            commit += "+dirty"
        return commit or None
    except (OSError, subprocess.SubprocessError):
        return None


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> str:
    """One line naming the device this process trains on."""
    dev = config.device()
    if dev.type == "cuda":
        return f"{torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    return f"CPU: {_cpu_name()}, {os.cpu_count()} cores"


def provenance(module: str, argv: list[str] | None, tic: float) -> dict:
    """Where a results record comes from, the same keys in every record the book reads.

    The command (``python -m {module}`` and ``argv``, else this process's arguments), the
    commit, the hardware, torch's threads and the wall seconds since ``tic`` (a
    ``time.perf_counter()`` reading).
    """
    args = sys.argv[1:] if argv is None else argv
    return {
        "command": " ".join(["python -m", module, *args]),
        "commit": _commit(),
        "hardware": hardware(),
        "threads": torch.get_num_threads(),
        "wall_time_s": round(time.perf_counter() - tic, 1),
    }


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


def _settings(args):
    """The run's recipe: each flag given on the command line, else the budget's recipe.

    The flags left out are filled in on ``args`` too (the checks and the record read them).
    """
    from sslib.recipes import recipe

    base = recipe(args.method, config.budget())
    given = {}
    for name in _RECIPE_FLAGS:
        if getattr(args, name) is None:
            setattr(args, name, getattr(base, name))
        else:
            given[name] = getattr(args, name)
    # the recipe's optimizer settings apply to the recipe's optimizer, not one a flag chose
    options = base.optimizer_options if args.optimizer == base.optimizer else {}
    return replace(base, optimizer_options=options, **given)


# the flags that override a field of the recipe, named as the field
_RECIPE_FLAGS = ("encoder", "epochs", "batch_size", "optimizer", "lr", "weight_decay", "warmup",
                 "channels_last")  # fmt: skip


def _check_run(args, examples: int) -> str | None:
    """What is wrong with the run's settings for ``examples`` training images, or None.

    The checks each flag's type cannot make alone: they need the data or the recipe.
    """
    if args.batch_size > examples:
        return f"argument --batch-size: {args.batch_size} exceeds the {examples} training images"
    steps = int(args.epochs * (examples // args.batch_size))
    if steps < 1:
        least = args.batch_size / examples
        return f"argument --epochs: {args.epochs:g} gives no step; use at least {least:.3g}"
    warmup = int(args.warmup * steps) if args.warmup < 1 else int(args.warmup)
    if warmup >= steps:
        return f"argument --warmup: {warmup} warm-up steps leave none of the {steps} steps"
    for flag, folder in (("--out", args.out), ("--results", args.results)):
        if folder is not None and Path(folder).exists() and not Path(folder).is_dir():
            return f"argument {flag}: {folder} is a file, not a folder"
    return None


def versions() -> dict[str, str | None]:
    """The versions a record names: Python, torch, CUDA (None without it), sslib."""
    import sslib

    return {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "cuda": torch.version.cuda if torch.cuda.is_available() else None,
        "sslib": sslib.__version__,
    }


def _results_dir(args) -> Path:
    if args.results is not None:
        return Path(args.results)
    # A full-budget run from the repository's root lands where the book shows it.
    if config.budget() == "full" and Path("book").is_dir():
        return Path("book/results")
    return Path(args.out)


class _MetricsLog:
    """Each history row and evaluation as one JSON line, flushed: ``tail -f`` shows progress.

    The file is opened at the first row, so a run refused before its first step leaves none;
    a resumed run appends to it.
    """

    def __init__(self, path: Path, fresh: bool):
        self.path, self.mode, self.file = path, "w" if fresh else "a", None

    def __call__(self, step: int, row: dict) -> None:
        if self.file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.file = self.path.open(self.mode)
        self.file.write(json.dumps({"step": step, "time": round(time.time(), 3), **row}) + "\n")
        self.file.flush()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


class _Exit(Exception):
    """Stop the command: ``message`` goes to stderr and the exit status is ``code``."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def _train(args) -> int:
    from sslib import probe

    try:
        recipe, train_set, test_set, method = _build_run(args)
        tic = time.perf_counter()
        run = f"{args.method}-{args.dataset}-{args.tag}"
        checkpoint = Path(args.out) / f"{run}.pt"
        history, world, settings = _fit_run(args, recipe, method, train_set, test_set, run)
    except _Exit as stop:
        print(stop, file=sys.stderr)
        return stop.code
    if world.rank != 0:
        return 0  # the model is the same on every process; rank 0 evaluates and records
    if not history.finished:
        print(f"stopped after step {history.step[-1]}; the same command resumes from {checkpoint}")
        return 0
    scores = probe.evaluate(method, train_set, test_set)
    warnings = probe.collapse_warnings(
        probe.embed(method, test_set), scores["knn"], test_set.labels
    )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    record = {
        "method": args.method,
        "dataset": args.dataset,
        "budget": config.budget(),
        "command": args.command_line,
        "commit": _commit(),
        "hardware": hardware(),
        "versions": versions(),
        "processes": world.size,
        "settings": settings,
        "wall_time_s": round(time.perf_counter() - tic, 2),
        "train_time_s": round(history.seconds, 2),
        "steps": history.step[-1],
        "images_per_second": round(history.step[-1] * args.batch_size / history.seconds, 1),
        "final": {k: history.last(k) for k in history.metrics},
        "evals": [{"step": step, **values} for step, values in history.evals],
        "probe": scores,
        "warnings": warnings,
    }
    save_json(record, _results_dir(args) / f"{run}.json")
    print(json.dumps(record, indent=2))
    return 0


def _build_run(args):
    """The run's recipe, data and method, or :class:`_Exit` with what is wrong."""
    from sslib import methods

    if args.budget is not None:
        os.environ["SSLIB_BUDGET"] = args.budget  # before anything reads the budget
    if args.tag is None:
        args.tag = config.budget()
    if args.method not in methods.METHODS:
        raise _Exit(
            f"error: unknown method {args.method!r}; choose one of {sorted(methods.METHODS)}"
        )
    recipe = _settings(args)
    try:
        train_set = data.load(args.dataset, "train")
        test_set = data.load(args.dataset, "test")
    except (ValueError, data.DatasetUnavailable) as err:
        raise _Exit(f"error: {err}") from None
    problem = _check_run(args, len(train_set))
    if problem is not None:  # before anything is written
        raise _Exit(f"python -m sslib train: error: {problem}")
    config.set_threads()  # SSLIB_THREADS, else all cores but one, as the chapters run
    try:
        method = recipe.build(args.method, train_set, seed=args.seed)
    except ValueError as err:
        raise _Exit(f"error: {err}") from None
    return recipe, train_set, test_set, method


def _fit_run(args, recipe, method, train_set, test_set, run: str):
    """Train as the flags say, logging and checkpointing under ``--out``.

    Returns ``(history, world, settings)``: this process's place among the ``torchrun``
    processes and the settings the record names.
    """
    from sslib import probe, train

    out = Path(args.out)
    sync_bn = args.sync_bn
    if sync_bn is None:
        sync_bn = getattr(method, "global_batch_norm", False)

    def knn(m) -> dict:  # the periodic evaluation: fast, no training
        features = probe.embed(m, train_set), probe.embed(m, test_set)
        return {"knn": probe.knn_accuracy(features[0], train_set.labels, features[1],
                                          test_set.labels)}  # fmt: skip

    with distributed.process_group_from_env():  # under torchrun: one share of each batch
        rank, size = distributed.world()
        checkpoint = out / f"{run}.pt"
        fresh = not (args.resume and checkpoint.exists())
        metrics_log = _MetricsLog(out / f"{run}.metrics.jsonl", fresh) if rank == 0 else None
        try:
            history = train.fit(
                method, train_set, **recipe.fit_options(), precision=args.precision,
                compile=args.compile, sync_batchnorm=sync_bn, seed=args.seed,
                log_every=args.log_every,
                eval_fn=knn if args.eval_every else None, eval_every=args.eval_every,
                on_log=metrics_log, checkpoint=checkpoint,
                checkpoint_every=args.checkpoint_every, resume=args.resume,
                stop_at=args.stop_at,
            )  # fmt: skip
        except ValueError as err:
            raise _Exit(f"error: {err}") from None
        except train.NonFiniteLossError as err:  # a diverged run: say so, no traceback
            raise _Exit(f"error: {err} (--lr, --warmup)", code=1) from None
        finally:
            if metrics_log is not None:
                metrics_log.close()
    loop = {k: v for k, v in recipe.fit_options().items() if k != "steps"}
    settings = {
        "encoder": recipe.encoder, **loop, "precision": args.precision,
        "compile": args.compile, "sync_batchnorm": sync_bn and size > 1,
        "method": recipe.method_kwargs, "recipe": recipe.source,
    }  # fmt: skip
    return history, _World(rank, size), settings


@dataclass(frozen=True)
class _World:
    rank: int
    size: int


def _bench(args) -> int:
    from sslib import bench

    # other work on the machine slows both pipelines unequally (workers compete for cores)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    record = bench.bench_simclr(
        encoder=args.encoder, batch_size=args.batch_size, steps=args.steps, warmup=args.warmup,
        workers=args.workers, device=args.device, compile=args.compile,
        precision=args.precision, channels_last=args.channels_last,
    )  # fmt: skip
    record.update(command=args.command_line, commit=_commit(), hardware=hardware(),
                  load_average_before=load_before)  # fmt: skip
    print(bench.report(record))
    if args.json:
        save_json(record, Path(args.json))
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m sslib``."""
    p = _Parser(
        prog="python -m sslib",
        description="sslib: the library of 'Self-Supervised Learning, Executed'.",
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("env", help="show budget, device, threads, cache and versions")
    d = sub.add_parser("data", help="load (download if allowed) and summarise a dataset")
    d.add_argument("name", help=f"one of {', '.join(data.DATASETS)}")
    d.add_argument("--split", default="train")
    _add_train(sub.add_parser("train", help="train a method and write its results record"))
    _add_bench(sub.add_parser("bench", help="throughput of sslib's pipeline against the usual one"))
    return p


# the names of sslib.nets.ENCODERS and sslib.bench.ENCODERS (a test checks they agree), written
# out so that `python -m sslib --help` does not import the networks
_ENCODERS = ("cnn", "strided_cnn", "resnet18", "mlp", "dcgan", "vit", "vit_small")
_BENCH_ENCODERS = ("resnet18", "cnn", "strided_cnn")


def _add_train(t: argparse.ArgumentParser) -> None:
    """The flags of ``python -m sslib train``."""
    t.add_argument("method", help="method name (see sslib.methods.METHODS)")
    t.add_argument("--dataset", default="mnist5k", help=f"one of {', '.join(data.DATASETS)}")
    t.add_argument(
        "--budget",
        choices=["quick", "full"],
        default=None,
        help="sets SSLIB_BUDGET; the default settings follow it (sslib.recipes)",
    )
    recipe = "default: the budget's recipe (sslib.recipes)"
    t.add_argument(
        "--encoder",
        choices=_ENCODERS,
        help=recipe,
    )
    t.add_argument("--epochs", type=_number(float, above=0), help=recipe)
    t.add_argument("--batch-size", type=_POSITIVE_INT, help=f"the global batch; {recipe}")
    t.add_argument("--lr", type=_number(float, above=0), help=f"peak learning rate; {recipe}")
    t.add_argument("--weight-decay", type=_number(float, minimum=0), help=recipe)
    t.add_argument("--optimizer", choices=["adamw", "sgd", "lars"], help=recipe)
    t.add_argument(
        "--warmup",
        type=_number(float, minimum=0, integer_if_at_least=1),
        help=f"fraction of steps (< 1), or steps; {recipe}",
    )
    t.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "bf16", "fp32"],
        help="auto: bf16 autocast on CUDA, fp32 elsewhere",
    )
    t.add_argument("--compile", action="store_true", help="torch.compile the loss")
    t.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"NHWC weights and batches; {recipe}",
    )
    t.add_argument(
        "--sync-bn",
        dest="sync_bn",
        action="store_true",
        default=None,
        help="under torchrun, batch norm over the global batch (default: where the "
        "method needs it, as SimCLR does)",
    )
    t.add_argument("--no-sync-bn", dest="sync_bn", action="store_false")
    t.add_argument("--seed", type=_number(int, minimum=0), default=0)
    t.add_argument(
        "--log-every", type=_POSITIVE_INT, default=50, help="steps between metrics-log rows"
    )
    t.add_argument(
        "--eval-every",
        type=_POSITIVE_INT,
        default=None,
        help="steps between kNN evaluations on the test split (default: at the end)",
    )
    t.add_argument("--checkpoint-every", type=_POSITIVE_INT, default=None)
    t.add_argument(
        "--stop-at",
        type=_POSITIVE_INT,
        default=None,
        help="checkpoint and stop after this step (a run split over sessions)",
    )
    t.add_argument(
        "--resume",
        dest="resume",
        action="store_true",
        default=True,
        help="continue from the run's checkpoint if there is one (the default)",
    )
    t.add_argument("--no-resume", dest="resume", action="store_false", help="start over")
    t.add_argument("--tag", type=_name, default=None, help="names the run (default: the budget)")
    t.add_argument("--out", default="runs", help="folder for the checkpoint and metrics log")
    t.add_argument(
        "--results",
        default=None,
        help="folder for the results record (default: book/results at the full "
        "budget from the repository's root, else --out)",
    )


def _add_bench(b: argparse.ArgumentParser) -> None:
    """The flags of ``python -m sslib bench``."""
    b.add_argument("benchmark", choices=["simclr"])
    b.add_argument(
        "--encoder",
        default="resnet18",
        choices=_BENCH_ENCODERS,
        help="strided_cnn: the digit setting (28x28 mnist5k digits, chapter 3's views)",
    )
    b.add_argument("--batch-size", type=int, default=256)
    b.add_argument("--steps", type=int, default=20, help="timed steps")
    b.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    b.add_argument("--workers", type=int, default=4, help="DataLoader workers (usual pipeline)")
    b.add_argument("--device", default=None, help="default: cuda > mps > cpu")
    b.add_argument("--compile", action="store_true", help="torch.compile sslib's loss")
    b.add_argument(
        "--precision",
        default="auto",
        choices=["auto", "bf16", "fp32"],
        help="sslib's pipeline; auto: bf16 where the hardware has it natively",
    )
    b.add_argument(
        "--no-channels-last",
        dest="channels_last",
        action="store_false",
        help="sslib's pipeline in NCHW instead of channels-last",
    )
    b.add_argument("--json", default=None, help="also write the record to this file")


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    args.command_line = "python -m sslib " + " ".join(argv)  # for the records
    return {"env": _env, "data": _data, "train": _train, "bench": _bench}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
