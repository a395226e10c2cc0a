"""Give every chapter the first cell Colab and Binder need: install the book's library.

The cell installs the distribution ``ssl-executed`` (imported as ``sslib``) with its
``chapters`` extra (what the chapters import beyond the library: myst-nb's ``glue``, pandas),
pinned to the release tag of the version in ``pyproject.toml``, from the repository URL in
``pyproject.toml`` (``[project.urls] Repository``): those two values live there and nowhere else
by hand; this script writes them into the cell. The cell checks the installed *distribution*
(``importlib.metadata``), not the import name: ``sslib`` on the package index is another
project. Where ``ssl-executed`` is installed (this repository's ``.venv``, CI, a Binder image
built from ``binder/``), the cell does nothing. ``SSLIB_INSTALL_FROM`` replaces the
``git+URL@tag`` source (``make check-fresh`` installs from the local checkout that way).

The cell is tagged ``remove-cell`` so the rendered book does not show it; the downloaded
notebook keeps it. Idempotent: ``python .ci/colab_cell.py book/*.ipynb``
(tests/test_book.py checks the result).
"""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# Colab, Binder or a fresh Python:"  # how an existing install cell is recognised
OLD_MARKER = 'find_spec("sslib")'  # the cell before it


def project() -> dict:
    """``name``, ``version`` and ``repository`` from ``pyproject.toml``."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        "name": meta["name"],
        "version": meta["version"],
        "repository": meta["urls"]["Repository"],
    }


def source() -> str:
    """The install cell's code for the version and repository of ``pyproject.toml``."""
    p = project()
    return f"""\
{MARKER} install the book's library at the version these chapters were
# written for (distribution "{p["name"]}", imported as sslib). Where it is installed, nothing.
import importlib.metadata
import os
import subprocess
import sys

if sys.version_info < (3, 11):
    raise RuntimeError(f"the book needs Python 3.11 or later; this is {{sys.version.split()[0]}}")
release = "git+{p["repository"]}@v{p["version"]}"
try:
    importlib.metadata.version("{p["name"]}")
except importlib.metadata.PackageNotFoundError:
    where = os.environ.get("SSLIB_INSTALL_FROM", release)  # CI: the local checkout
    command = ["pip", "install", "-q", "{p["name"]}[chapters] @ " + where]
    subprocess.check_call([sys.executable, "-m", *command])
    importlib.invalidate_caches()  # this kernel sees the new packages without a restart"""


def main(paths: list[str]) -> None:
    """Insert (or refresh) the install cell of each notebook in ``paths``."""
    code = source()
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if MARKER in first.source or OLD_MARKER in first.source:
            first.source = code
            first.metadata["tags"] = ["remove-cell"]
        else:
            cell = nbformat.v4.new_code_cell(code, metadata={"tags": ["remove-cell"]})
            nb.cells.insert(nb.cells.index(first), cell)
        nbformat.write(nb, path)


if __name__ == "__main__":
    main(sys.argv[1:])
