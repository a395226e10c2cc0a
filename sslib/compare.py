r"""Arms trained at one budget and probed, with per-test-example outcomes, recorded.

A chapter compares methods at the budget it can afford; some comparisons need more (longer
runs, more seeds, equal CPU time for methods whose steps cost differently). This module trains
a list of *arms* on one dataset over several seeds, probes each as the chapters do (a linear
probe and a kNN vote on the frozen ``h``, :func:`sslib.probe.features_correctness`; optionally
the same on the projector's output ``z``), measures the effective rank
(:func:`sslib.collapse.effective_rank`) and the CPU seconds of training, and writes one JSON
record that the book reads::

    python -m sslib.compare simsiam simsiam:stop_gradient=false pixels --seeds 0 1 \
        --like vicreg --scale 4 --probe-z --name no-negatives-long \
        --json book/results/no-negatives-long-mnist5k.json

An arm is ``NAME[:KEY=VALUE,...][@STEPS]``: a method of ``sslib.methods.METHODS`` trained
with its quick recipe (:func:`sslib.recipes.recipe`), ``KEY=VALUE`` overriding the method's
constructor arguments (``true``/``false``, numbers, else text), ``@STEPS`` the number of
steps (else the recipe's epochs, times ``--scale``). ``pixels`` is the raw-pixel baseline and
``random:NAME`` the method's network at the initialisation its training starts from.

Correctness is stored per test example (packed bits, hex, :func:`sslib.few_labels.pack`), so
the book computes paired intervals (:func:`sslib.stats.paired_difference`) from the record.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from sslib import collapse, config, data, methods, probe, train
from sslib.checkpoint import save_json
from sslib.few_labels import pack, unpack


@dataclass(frozen=True)
class Arm:
    """One arm of a comparison, parsed from its spec (see :func:`parse_arm`)."""

    spec: str  # as written on the command line: the record's key
    method: str | None  # a name in sslib.methods.METHODS; None for raw pixels
    overrides: dict = field(default_factory=dict)  # the method's constructor arguments
    steps: int | None = None  # None: the recipe's epochs (times --scale)
    trained: bool = True  # False: the untrained network (random:NAME)


def _value(text: str):
    """``true``/``false`` as booleans, numbers as int or float, anything else as text."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_arm(spec: str) -> Arm:
    """The :class:`Arm` that ``spec`` names; a ``ValueError`` that says what is wrong.

    ``pixels``; ``random:NAME``; ``NAME[:KEY=VALUE,...][@STEPS]``, e.g. ``simsiam``,
    ``simsiam:stop_gradient=false``, ``mae@2740``, ``vicreg:var_weight=0@480``.
    """
    if spec == "pixels":
        return Arm(spec, None, trained=False)
    body, _, steps_text = spec.partition("@")
    steps = None
    if steps_text:
        if not steps_text.isdigit() or int(steps_text) < 1:
            raise ValueError(f"arm {spec!r}: steps after '@' must be a positive integer")
        steps = int(steps_text)
    name, _, rest = body.partition(":")
    trained = name != "random"
    if not trained:
        name, rest = rest, ""
        if steps is not None:
            raise ValueError(f"arm {spec!r}: a random:NAME arm is not trained, drop '@'")
    if name not in methods.METHODS:
        raise ValueError(
            f"arm {spec!r}: unknown method {name!r}; choose one of {', '.join(methods.METHODS)}, "
            "'pixels' or 'random:NAME'"
        )
    overrides = {}
    for item in filter(None, rest.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(f"arm {spec!r}: write overrides as KEY=VALUE, got {item!r}")
        overrides[key] = _value(value)
    accepted = inspect.signature(methods.METHODS[name].__init__).parameters
    unknown = sorted(set(overrides) - set(accepted))
    if unknown:
        choices = ", ".join(p for p in accepted if p not in ("self", "encoder"))
        raise ValueError(f"arm {spec!r}: {name} takes no {unknown}; it takes {choices}")
    return Arm(spec, name, overrides, steps, trained)


def projector(method) -> torch.nn.Module | None:
    """The module that maps ``h`` to the loss's ``z``, or None where there is none to probe.

    The two-view methods' ``projector`` and SimCLR's ``head``; DINO's head ends in prototype
    scores and the masked models have no projector, so they have none here.
    """
    if isinstance(getattr(method, "projector", None), torch.nn.Module):
        return method.projector
    if hasattr(method, "embed_projection"):  # SimCLR: embed returns z when this is set
        return method.head
    return None


def measure(features, train_set, test_set, *, k: int = 20) -> dict:
    """Probe one representation: packed linear and kNN outcomes and the test effective rank.

    ``features`` is ``(train (N, D), test (M, D))`` on the CPU.
    """
    f_train, f_test = features
    correct = probe.features_correctness(f_train, train_set.labels.cpu(), f_test,
                                         test_set.labels.cpu(), k=k)  # fmt: skip
    return {"linear": pack(correct["linear"]), "knn": pack(correct["knn"]),
            "erank": collapse.effective_rank(f_test.double())}  # fmt: skip


@torch.no_grad()
def projections(method, h: torch.Tensor) -> torch.Tensor:
    """``z = g(h)`` of a trained method, in eval mode. Shape ``(N, D) -> (N, proj_dim)``."""
    head = projector(method)
    was_training = method.training
    method.eval()
    device = next(head.parameters()).device
    z = torch.cat([head(h[i : i + 1024].to(device)) for i in range(0, len(h), 1024)])
    method.train(was_training)
    return z.float().cpu()


def run_arm(arm: Arm, recipe, seed: int, train_set, test_set, *, k: int = 20,
            probe_z: bool = False) -> dict:  # fmt: skip
    """Train (unless untrained) and probe one arm at one seed; the record's entry for it.

    ``recipe`` is a :class:`sslib.recipes.Recipe` (its epochs already scaled), which builds the
    network after seeding with ``seed`` and sets the loop, as in chapter 7. Returns
    ``{"seed", "steps", "cpu_s", "linear", "knn", "erank_h"}`` plus ``"erank_z"`` where the
    method has a projector and ``"z_linear"``, ``"z_knn"`` with ``probe_z``.
    """
    if arm.method is None:  # raw pixels: no network, no seed
        pixels = probe.raw_pixels(train_set).cpu(), probe.raw_pixels(test_set).cpu()
        m = measure(pixels, train_set, test_set, k=k)
        return {"seed": None, "steps": 0, "cpu_s": 0.0, "linear": m["linear"], "knn": m["knn"],
                "erank_h": m["erank"]}  # fmt: skip
    method = recipe.build(arm.method, train_set, seed=seed, **arm.overrides)
    steps, cpu = 0, time.process_time()
    if arm.trained:
        options = recipe.fit_options(arm.steps)
        steps = train.fit(method, train_set, seed=seed, progress=False, **options).total_steps
    cpu = time.process_time() - cpu  # one thread: the CPU seconds of training
    h = probe.embed(method, train_set).cpu(), probe.embed(method, test_set).cpu()
    m = measure(h, train_set, test_set, k=k)
    entry = {"seed": seed, "steps": steps, "cpu_s": round(cpu, 2), "linear": m["linear"],
             "knn": m["knn"], "erank_h": m["erank"]}  # fmt: skip
    if projector(method) is not None:
        z = projections(method, h[0]), projections(method, h[1])
        entry["erank_z"] = collapse.effective_rank(z[1].double())
        if probe_z:
            mz = measure(z, train_set, test_set, k=k)
            entry["z_linear"], entry["z_knn"] = mz["linear"], mz["knn"]
    return entry


def arm_recipe(arm: Arm, like: str | None = None, scale: float = 1.0):
    """The quick recipe of ``arm``'s method, with ``like``'s epochs and batch size, times ``scale``.

    ``like="vicreg"`` puts every arm at chapter 7's budget (SimCLR included, as the chapter
    trains it); ``scale`` multiplies the epochs, as the chapter's exercises scale the budget.
    """
    from sslib.recipes import recipe

    r = recipe(arm.method, "quick")
    if like is not None:
        r = replace(
            r, epochs=recipe(like, "quick").epochs, batch_size=recipe(like, "quick").batch_size
        )
    return replace(r, epochs=r.epochs * scale)


def outcomes(record: dict, spec: str, key: str = "linear") -> np.ndarray:
    """``(seeds, M)`` 0/1 test outcomes of arm ``spec`` from a record.

    ``key`` is ``"linear"``, ``"knn"``, ``"z_linear"`` or ``"z_knn"``. Raw pixels have no seed
    and give one row, ``(1, M)``, which :func:`sslib.stats.paired_difference` pairs with an arm
    of any number of seeds.
    """
    if spec not in record["arms"]:
        raise KeyError(f"no arm {spec!r}; the record has {sorted(record['arms'])}")
    runs = record["arms"][spec]["runs"]
    if key not in runs[0]:
        raise KeyError(f"arm {spec!r} has no {key!r}; it has {sorted(runs[0])}")
    return np.stack([unpack(r[key], record["test_examples"]) for r in runs])


def compare(arms: list[Arm], seeds: list[int], train_set, test_set, *, like=None, scale=1.0,
            k: int = 20, probe_z: bool = False) -> dict:  # fmt: skip
    """Every arm at every seed, printing one line per run.

    Returns ``{spec: {"method", "overrides", "trained", "recipe", "batch_size", "runs"}}``
    with ``runs`` the entries of :func:`run_arm`, one per seed (one for raw pixels).
    """
    result = {}
    for arm in arms:
        r = arm_recipe(arm, like, scale) if arm.method else None
        runs = []
        for seed in seeds if arm.method else [None]:
            runs.append(run_arm(arm, r, seed, train_set, test_set, k=k, probe_z=probe_z))
            e, m = runs[-1], len(test_set)
            print(f"{arm.spec:32s} seed {e['seed']}: linear {unpack(e['linear'], m).mean():.1%} "
                  f"kNN {unpack(e['knn'], m).mean():.1%} erank h {e['erank_h']:.1f} "
                  f"{e['steps']} steps {e['cpu_s']:.1f} CPU s", flush=True)  # fmt: skip
        result[arm.spec] = {"method": arm.method, "overrides": arm.overrides,
                            "trained": arm.trained, "recipe": r.source if r else None,
                            "batch_size": r.batch_size if r else None, "runs": runs}  # fmt: skip
    return result


def _parser() -> argparse.ArgumentParser:
    """The command line of ``python -m sslib.compare``."""
    p = argparse.ArgumentParser(prog="python -m sslib.compare", description=__doc__.split(".")[0])
    p.add_argument("arms", nargs="+", help="NAME[:KEY=VALUE,...][@STEPS], pixels, random:NAME")
    p.add_argument("--name", required=True, help="the comparison's name, stored in the record")
    p.add_argument("--dataset", default="mnist5k")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--like", default=None, help="take epochs and batch size from this recipe")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every recipe's epochs")
    p.add_argument("--knn-k", type=int, default=20)
    p.add_argument("--probe-z", action="store_true", help="also probe the projector's z")
    p.add_argument("--json", required=True, help="where the record goes (written atomically)")
    return p


def main(argv: list[str] | None = None) -> int:
    """Parse the arms, run the comparison, write the record; 2 on a bad arm spec."""
    from pathlib import Path

    from sslib.__main__ import provenance

    args = _parser().parse_args(argv)
    try:
        arms = [parse_arm(spec) for spec in args.arms]
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    config.set_threads()
    tic, cpu = time.perf_counter(), time.process_time()
    train_set, test_set = data.load(args.dataset, "train"), data.load(args.dataset, "test")
    result = compare(arms, args.seeds, train_set, test_set, like=args.like, scale=args.scale,
                     k=args.knn_k, probe_z=args.probe_z)  # fmt: skip
    record = {
        "experiment": "compare",
        "name": args.name,
        "dataset": args.dataset,
        **provenance("sslib.compare", argv, tic),
        "cpu_time_s": round(time.process_time() - cpu, 1),
        "seeds": args.seeds,
        "like": args.like,
        "scale": args.scale,
        "knn_k": args.knn_k,
        "test_examples": len(test_set),
        "arms": result,
    }
    save_json(record, Path(args.json))
    return 0


if __name__ == "__main__":
    sys.exit(main())
