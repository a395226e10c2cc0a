"""The book's sources: notebooks committed clean, every chapter in the table of contents."""

import importlib.metadata
import importlib.util
import json
import re
import tomllib
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


def _colab_cell_source() -> str:
    spec = importlib.util.spec_from_file_location("colab_cell", ROOT / ".ci" / "colab_cell.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.source()


def _run_install_cell(install: str, monkeypatch, installed: bool) -> list:
    """Execute the install cell with the distribution present or absent; the pip calls made."""
    import subprocess

    calls = []
    monkeypatch.setattr(subprocess, "check_call", lambda command: calls.append(command))

    def version(name):
        assert name == "ssl-executed", f"the cell checks the distribution {name!r}"
        if not installed:
            raise importlib.metadata.PackageNotFoundError(name)
        return "0.1.0"

    monkeypatch.setattr(importlib.metadata, "version", version)
    exec(compile(install, "install-cell", "exec"), {})
    return calls


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_starts_with_colab_install_then_one_setup_cell(path, monkeypatch):
    cells = json.loads(path.read_text())["cells"]
    code = [c for c in cells if c["cell_type"] == "code"]
    install, setup = "".join(code[0]["source"]), "".join(code[1]["source"])
    # the one cell .ci/colab_cell.py writes from pyproject.toml's version and repository
    assert install == _colab_cell_source(), f"run `python .ci/colab_cell.py book/{path.name}`"
    assert code[0]["metadata"].get("tags") == ["remove-cell"]
    # where the distribution is installed the cell does nothing (the repository's .venv, CI)
    assert _run_install_cell(install, monkeypatch, installed=True) == []
    # where it is not (Colab, Binder), the chapters' extra at the release tag, or what CI names
    monkeypatch.delenv("SSLIB_INSTALL_FROM", raising=False)
    [command] = _run_install_cell(install, monkeypatch, installed=False)
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    release = f"git+{meta['urls']['Repository']}@v{meta['version']}"
    assert command[1:] == ["-m", "pip", "install", "-q", f"ssl-executed[chapters] @ {release}"]
    monkeypatch.setenv("SSLIB_INSTALL_FROM", "file:///checkout")
    [command] = _run_install_cell(install, monkeypatch, installed=False)
    assert command[-1] == "ssl-executed[chapters] @ file:///checkout"
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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_plot_is_a_numbered_captioned_figure_the_prose_refers_to(path):
    """Plots are glued (`glue("fig_...", fig)`), shown by `glue:figure` with a name, alt text
    and a caption, and referred to by number ({numref}) somewhere in the chapter."""
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    markdown = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    assert "plt.show()" not in code, "glue the figure and show it with a glue:figure cell"
    glued = set(re.findall(r'glue\(\s*f?"(fig_[\w{}]+)"', code))
    block = r"```\{glue:figure\} (\S+)\n((?::\w+:[^\n]*\n)*)\n(.+?)```"  # name, options, caption
    figures = re.findall(block, markdown, re.S)
    assert {key for key, _, _ in figures} == glued, "each glued figure shown once, and only those"
    for key, options, caption in figures:
        name = re.search(r":name: (\S+)", options)
        assert name and re.search(r":alt: \S", options) and caption.strip(), key
        assert f"{{numref}}`{name.group(1)}`" in markdown, f"the prose never cites {key}"
