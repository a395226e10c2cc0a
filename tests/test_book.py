"""The book's sources: notebooks committed clean, every chapter in the table of contents."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip with `nbstripout {path}`"
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_is_in_the_toc(path):
    toc = (ROOT / "_toc.yml").read_text()
    assert f"book/{path.stem}" in toc, f"{path.name} is missing from _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_starts_with_colab_install_then_one_setup_cell(path, monkeypatch):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    install, setup = "".join(code[0]["source"]), "".join(code[1]["source"])
    assert 'find_spec("sslib") is None' in install, "run `python .ci/colab_cell.py` on it"
    assert code[0]["metadata"].get("tags") == ["remove-cell"]
    # where sslib is importable the install cell does nothing
    import subprocess

    def refuse(*args, **kwargs):
        raise AssertionError(f"the install cell ran {args}")

    monkeypatch.setattr(subprocess, "check_call", refuse)
    exec(compile(install, "install-cell", "exec"), {})
    assert "sslib.budget()" in setup and "seed_everything" in setup and "set_threads" in setup


CHAPTERS = [p for p in NOTEBOOKS if p.name[:2].isdigit()]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_summary_and_exercises_with_hidden_solutions(path):
    cells = json.loads(path.read_text())["cells"]
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[-2:] == ["## Summary", "## Exercises"], headings[-3:]
    exercises = markdown.count("```{exercise-start}")
    solutions = re.findall(r"```\{solution-start\}[^\n]*\n:class: dropdown", markdown)
    assert exercises >= 2 and len(solutions) == exercises, (exercises, len(solutions))
    assert "{cite:" in markdown, "every method is cited"
