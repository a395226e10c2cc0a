r"""Few labels: a frozen encoder's linear probe against end-to-end training, recorded.

The comparison: a self-supervised encoder, frozen, with a linear probe, against the same
network trained end to end on the same labelled images, with the per-example outcomes.

Label efficiency is where self-supervision is supposed to pay: with one labelled digit per class
a network trained from scratch has almost nothing to learn from, while a probe on pretrained
features has the whole unlabelled set behind it. With more labels the supervised network
catches up, *if it is trained to convergence*; an end-to-end arm stopped early flatters the
pretrained one. So the record holds, for the largest label count, the supervised arm at two
step counts, and the book checks from it that doubling the steps no longer helps.

The chapters run the small label counts at the quick budget; this module runs the sweep whose
large end does not fit a chapter's budget and writes a JSON record that the book reads::

    python -m sslib.few_labels simclr --per-class 1 10 100 --draws 3 \
        --supervised-steps 100 200 1600 --json book/results/few-labels-simclr-mnist5k.json

Correctness is stored per test example (packed bits, hex), so the book computes its paired
intervals (:func:`sslib.stats.paired_difference`) from the record, not from a typed summary.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from sslib import augment, config, data, nets, probe, train
from sslib.checkpoint import save_json


def pack(correct: np.ndarray) -> str:
    """``(M,)`` 0/1 outcomes as hex text (``M`` bits, zero-padded to whole bytes)."""
    return np.packbits(np.asarray(correct, dtype=bool)).tobytes().hex()


def unpack(text: str, m: int) -> np.ndarray:
    """The ``(m,)`` float 0/1 outcomes that :func:`pack` wrote."""
    bits = np.unpackbits(np.frombuffer(bytes.fromhex(text), dtype=np.uint8))[:m]
    return bits.astype(float)


def outcomes(record: dict, n: int, arm: str) -> np.ndarray:
    """``(draws, M)`` test outcomes of ``arm`` at ``n`` labels per class from a record.

    ``arm`` is ``"probe"`` (the frozen encoder) or ``"supervised@STEPS"``.
    """
    row = record["per_class"][str(n)]
    if arm not in row:
        raise KeyError(f"no arm {arm!r} at {n} labels per class; the record has {sorted(row)}")
    return np.stack([unpack(t, record["test_examples"]) for t in row[arm]])


def sweep(features, make_encoder, train_set, test_set, per_class, draws, supervised_steps,
          **fit_options) -> dict:  # fmt: skip
    """The packed outcomes of every arm: ``{n: {"probe": [...], "supervised@S": [...]}}``.

    ``features`` is ``(train (N, D), test (M, D))`` of the frozen encoder; each draw picks the
    same labelled images for both arms (:func:`sslib.probe.per_class_index`, seed = draw).
    The end-to-end arm is ``make_encoder()``, built with the global seed set to the draw, plus
    a linear head, trained by :func:`sslib.probe.finetune_predictions` (seed = draw) with
    ``fit_options`` (``batch_size``, ``lr``, ``weight_decay``, ``warmup``, ``views``);
    ``supervised_steps[n]`` is a list of step counts to train it for.
    """
    (h_train, h_test), y_test = features, test_set.labels.numpy()
    result = {}
    for n in per_class:
        row: dict[str, list[str]] = {"probe": []}
        for draw in range(draws):
            index = probe.per_class_index(train_set.labels, n, seed=draw)
            guess = probe.linear_predictions(h_train[index], train_set.labels[index], h_test)
            row["probe"].append(pack(guess == y_test))
            for steps in supervised_steps[n]:
                config.seed_everything(draw)  # the untrained network's weights
                guess = probe.finetune_predictions(
                    make_encoder(), train_set.images[index], train_set.labels[index],
                    test_set.images, num_classes=train_set.num_classes, steps=steps, seed=draw,
                    **fit_options)  # fmt: skip
                row.setdefault(f"supervised@{steps}", []).append(pack(guess == y_test))
        result[str(n)] = row
        print(f"{n} labels per class: " + ", ".join(
            f"{arm} {np.mean([unpack(t, len(y_test)).mean() for t in ts]):.1%}"
            for arm, ts in row.items()), flush=True)  # fmt: skip
    return result


def _parser() -> argparse.ArgumentParser:
    """The command line of ``python -m sslib.few_labels``."""
    p = argparse.ArgumentParser(
        prog="python -m sslib.few_labels", description=__doc__.split(".")[0]
    )
    p.add_argument("method", help="the self-supervised method, trained with its quick recipe")
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--per-class", type=int, nargs="+", default=[1, 10, 100])
    p.add_argument("--draws", type=int, default=3, help="labelled subsets drawn per count")
    p.add_argument(
        "--supervised-steps",
        type=int,
        nargs="+",
        default=[100, 200, 1600],
        help="end-to-end steps, one per --per-class entry",
    )
    p.add_argument("--supervised-batch", type=int, default=32)
    p.add_argument(
        "--check-steps",
        type=int,
        default=2,
        help="also train the largest count's supervised arm this many times as long",
    )
    p.add_argument(
        "--ssl-steps",
        type=int,
        default=None,
        help="the self-supervised run's steps (default: its quick recipe's)",
    )
    p.add_argument("--json", required=True, help="where the record goes (written atomically)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train the method with its quick recipe, run the sweep, write the record; 2 on bad input."""
    from pathlib import Path

    from sslib.__main__ import provenance
    from sslib.recipes import recipe

    args = _parser().parse_args(argv)
    if len(args.supervised_steps) != len(args.per_class):
        print("error: give one --supervised-steps entry per --per-class entry", file=sys.stderr)
        return 2
    config.set_threads()
    tic = time.perf_counter()
    train_set, test_set = data.load(args.dataset, "train"), data.load(args.dataset, "test")
    ssl = recipe(args.method, "quick")
    method = ssl.build(args.method, train_set, seed=0)
    steps = args.ssl_steps or int(ssl.epochs * (len(train_set) // ssl.batch_size))
    train.fit(method, train_set, progress=False, **ssl.fit_options(steps))
    features = probe.embed(method, train_set), probe.embed(method, test_set)
    sup = recipe("supervised", "quick")
    steps_for = {n: [s] for n, s in zip(args.per_class, args.supervised_steps, strict=True)}
    largest = max(args.per_class)
    steps_for[largest].append(steps_for[largest][0] * args.check_steps)
    per_class = sweep(features, lambda: nets.make_encoder(sup.encoder, train_set.shape), train_set,
                      test_set, args.per_class, args.draws, steps_for,
                      batch_size=args.supervised_batch, lr=sup.lr,
                      weight_decay=sup.weight_decay, warmup=sup.warmup,
                      views=augment.AffineViews(elastic=0, erase=0, noise=0))  # fmt: skip
    record = {
        "experiment": "few_labels",
        "method": args.method,
        "dataset": args.dataset,
        **provenance("sslib.few_labels", argv, tic),
        "self_supervised": {"recipe": ssl.source, "steps": steps, "batch_size": ssl.batch_size,
                            "channels_last": ssl.channels_last},
        "supervised": {"views": "affine only", "batch_size": args.supervised_batch,
                       "lr": sup.lr, "weight_decay": sup.weight_decay, "steps": steps_for},
        "draws": args.draws,
        "test_examples": len(test_set),
        "per_class": per_class,
    }  # fmt: skip
    save_json(record, Path(args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
