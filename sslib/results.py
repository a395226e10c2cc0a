"""The recorded runs in ``book/results/``: load them and show them beside a chapter's numbers.

``python -m sslib train`` writes one JSON record per run (``<method>-<dataset>-<tag>.json``) and
``python -m sslib bench simclr --json ...`` one per benchmark, each with the command, commit,
hardware and time that produced it. The book reads them from the repository; nothing here
trains or measures anything.
"""

from __future__ import annotations

import json
from pathlib import Path


def _records_folder() -> Path:
    """``book/results/`` of a checkout, else the copy an installed package ships (``records``)."""
    checkout = Path(__file__).resolve().parent.parent / "book" / "results"
    return checkout if checkout.is_dir() else Path(__file__).resolve().parent / "records"


#: The folder of the records, ``book/results/`` in a checkout of the repository; installed from
#: a wheel (Colab, Binder), the same files inside the package.
RESULTS = _records_folder()


def load(folder: str | Path | None = None) -> list[dict]:
    """Every record in ``folder`` (default :data:`RESULTS`), sorted by file name.

    Each record gets ``"file"``, its file name. A folder that does not exist holds no records.
    """
    folder = RESULTS if folder is None else Path(folder)
    records = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            record = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} is not valid JSON ({err}); rerun the command in it") from err
        records.append({"file": path.name, **record})
    return records


def runs(method: str | None = None, folder: str | Path | None = None) -> list[dict]:
    """The training records (of ``method`` if given)."""
    return [
        r
        for r in load(folder)
        if "method" in r and "experiment" not in r and method in (None, r["method"])
    ]


def experiments(name: str, folder: str | Path | None = None) -> list[dict]:
    """The records of the experiment ``name`` (e.g. ``"few_labels"``: :mod:`sslib.few_labels`)."""
    return [r for r in load(folder) if r.get("experiment") == name]


def benchmarks(folder: str | Path | None = None) -> list[dict]:
    """The benchmark records."""
    return [r for r in load(folder) if "benchmark" in r]


def _commit(record: dict) -> str:
    commit = record.get("commit") or "?"
    return commit[:7] + ("+dirty" if commit.endswith("+dirty") else "")


def runs_table(records: list[dict]) -> str:
    """A Markdown table of training records: probes, steps, throughput, time, hardware."""
    if not records:
        return "*No run recorded yet.*"
    lines = [
        "| method | dataset | encoder | epochs | linear | kNN | images/s | time | hardware "
        "| commit |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in records:
        s = r.get("settings", {})
        lines.append(
            f"| {r['method']} | {r['dataset']} | {s.get('encoder', '?')} | "
            f"{s.get('epochs', '?')} | {r['probe']['linear']:.1%} | {r['probe']['knn']:.1%} | "
            f"{r.get('images_per_second', float('nan')):,.0f} | "
            f"{r['wall_time_s'] / 60:.1f} min | {r['hardware']} | {_commit(r)} |"
        )
    return "\n".join(lines)


def benchmarks_table(records: list[dict]) -> str:
    """A Markdown table of benchmark records: the pipelines and their ratio.

    The digit setting also times the usual pipeline without torchvision's elastic warp
    (``usual-no-elastic``); other records show "–" in that column.
    """
    if not records:
        return "*No benchmark recorded yet.*"
    lines = [
        "| encoder | device | sslib images/s | usual images/s | usual, no elastic | speedup "
        "| sslib in | hardware |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in records:
        speed = {x["pipeline"]: x["images_per_second"] for x in r["results"]}
        light = speed.get("usual-no-elastic")
        light = f"{light:,.1f}" if light is not None else "–"
        layout = ", channels-last" if r.get("channels_last") else ""
        lines.append(
            f"| {r['encoder']} | {r['device']} | {speed['sslib']:,.1f} | "
            f"{speed['usual']:,.1f} | {light} | {r['speedup']:.2f}x | "
            f"{r.get('precision', '?')}{layout} | {r['hardware']} |"
        )
    return "\n".join(lines)


def show(*methods: str, folder: str | Path | None = None):
    """Display the full-budget records of ``methods`` in a notebook (Markdown), or say none."""
    from IPython.display import Markdown

    records = [r for m in methods for r in runs(m, folder) if r.get("budget") == "full"]
    if records:
        return Markdown(runs_table(records))
    names = ", ".join(f"`{m}`" for m in methods)
    return Markdown(f"*No full-budget run of {names} is recorded yet.*")
