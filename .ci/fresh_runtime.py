"""Run the chapters' install cell in a fresh Python, as Colab or Binder would: ``make check-fresh``.

``make check-fresh`` builds the sdist and the wheel (from the sdist), makes an empty virtual
environment, gives it what Colab preinstalls (torch, torchvision, NumPy, SciPy, matplotlib,
scikit-learn, pandas, with what they require; the pinned versions, hard-linked from .venv by
.ci/link_packages.py) and installs the test harness, then runs this script with
``SSLIB_INSTALL_FROM`` naming the wheel. This script checks that every notebook starts with the
same install cell, that the book's distribution is not there yet, executes that cell exactly as
a notebook would, and checks what it installed: the distribution ``ssl-executed`` at the
version of ``pyproject.toml``, importable as ``sslib`` from the environment (not from this
checkout), with what the chapters import. Then nbval runs the chapters in that environment.

Usage: ``python .ci/fresh_runtime.py book/*.ipynb``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def install_cell(paths: list[str]) -> str:
    """The first code cell, the same in every notebook of ``paths``."""
    cells = {}
    for path in paths:
        code = [c for c in json.loads(Path(path).read_text())["cells"] if c["cell_type"] == "code"]
        cells[path] = "".join(code[0]["source"])
    first = cells[paths[0]]
    differ = [p for p, c in cells.items() if c != first]
    if differ:
        sys.exit(f"install cells differ from {paths[0]}'s: {differ}; run .ci/colab_cell.py")
    return first


def main(paths: list[str]) -> None:
    """Execute the install cell in this (fresh) interpreter and check what it installed."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name, version = project["name"], project["version"]
    cell = install_cell(paths)
    try:
        found = importlib.metadata.version(name)
        sys.exit(f"{name} {found} is installed already: this environment is not fresh")
    except importlib.metadata.PackageNotFoundError:
        pass
    exec(compile(cell, "install-cell", "exec"), {"__name__": "__main__"})
    importlib.invalidate_caches()
    assert importlib.metadata.version(name) == version, importlib.metadata.version(name)
    import sslib

    where = Path(sslib.__file__).resolve()
    # the environment may live under the checkout (_build/fresh); the checkout's own sslib/ may not
    assert where.parent != ROOT / "sslib", f"sslib imported from the checkout: {where}"
    # the wheel holds every module of the checkout's sslib/ and the records of book/results/
    missing = [
        str(path.relative_to(ROOT / "sslib"))
        for path in (ROOT / "sslib").rglob("*.py")
        if not (where.parent / path.relative_to(ROOT / "sslib")).is_file()
    ]
    missing += [p.name for p in (ROOT / "book" / "results").glob("*.json")
                if not (where.parent / "records" / p.name).is_file()]  # fmt: skip
    assert not missing, f"the installed package lacks {missing}"
    for module in ("myst_nb", "pandas", "torch", "torchvision", "sklearn", "mlxtend"):
        importlib.import_module(module)
    print(f"install cell: {name} {version} from {where.parent}, with its chapters extra")


if __name__ == "__main__":
    main(sys.argv[1:])
