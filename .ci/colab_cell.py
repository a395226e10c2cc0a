"""Give every chapter the first cell Colab needs: install sslib when it is missing.

The cell does nothing where sslib is importable (this repository's .venv, JupyterLab, CI). It is
tagged ``remove-cell`` so the rendered book does not show it; the downloaded notebook keeps it.
Idempotent: ``python .ci/colab_cell.py book/*.ipynb`` (tests/test_book.py checks the result).
"""

import sys

import nbformat

SOURCE = """\
# In Colab or a fresh environment, install the book's library first; elsewhere this does nothing.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("sslib") is None:
    repository = "https://github.com/ssl-executed/ssl-executed"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"git+{repository}"])"""


def main(paths: list[str]) -> None:
    """Insert (or refresh) the install cell of each notebook in ``paths``."""
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        if "find_spec(\"sslib\")" in first.source:
            first.source = SOURCE
            first.metadata["tags"] = ["remove-cell"]
        else:
            cell = nbformat.v4.new_code_cell(SOURCE, metadata={"tags": ["remove-cell"]})
            nb.cells.insert(nb.cells.index(first), cell)
        nbformat.write(nb, path)


if __name__ == "__main__":
    main(sys.argv[1:])
