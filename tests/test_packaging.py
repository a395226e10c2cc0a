"""The package's identity in one place: name, version, repository URL, licence and citation.

``pyproject.toml`` holds the distribution name, version and repository URL; the chapters'
install cell (tests/test_book.py), CITATION.cff, _config.yml and the README copy them, and
these tests check that the copies agree. ``make check-fresh`` builds and installs the wheel.
"""

import ast
import json
import re
import sys
import tomllib
from pathlib import Path

import sslib

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPOSITORY = PROJECT["urls"]["Repository"]


def _cff(key: str) -> str:
    match = re.search(rf'^{key}: "?([^"\n]+)"?$', (ROOT / "CITATION.cff").read_text(), re.M)
    assert match, f"CITATION.cff has no {key}"
    return match.group(1)


def test_our_own_distribution_name_and_the_import_name():
    # "sslib" on the package index is another project ("sharing secrets"): never our name
    assert PROJECT["name"] == "ssl-executed"
    assert PROJECT["requires-python"] == ">=3.11"  # what the pinned set needs
    assert sslib.__version__ == PROJECT["version"]


def test_citation_and_config_copy_pyproject():
    assert _cff("version") == PROJECT["version"]
    assert _cff("repository-code") == REPOSITORY
    assert _cff("title") == "Self-Supervised Learning, Executed"
    config = (ROOT / "_config.yml").read_text()
    assert re.search(rf"^  url: {re.escape(REPOSITORY)}$", config, re.M)


def test_every_repository_link_is_the_repository():
    for name in ("README.md", "_config.yml", "CITATION.cff", "book/intro.md"):
        for url in re.findall(r"https://github\.com/[\w./-]+", (ROOT / name).read_text()):
            assert url.rstrip("./").startswith(REPOSITORY), f"{name}: {url}"


def test_licences_are_stated_and_the_readme_cites_as_citation_cff():
    licence = (ROOT / "LICENSE").read_text()
    assert licence.startswith("MIT License") and "CC BY 4.0" in licence
    assert PROJECT["license"] == "MIT" and _cff("license") == "MIT"
    readme = (ROOT / "README.md").read_text()
    assert "MIT" in readme and "CC BY 4.0" in readme
    bibtex = readme[readme.index("```bibtex") :]
    assert _cff("title") in bibtex and "The sslib authors" in bibtex
    assert f"version = {{{PROJECT['version']}}}" in bibtex and REPOSITORY in bibtex


def _declared(extras: list[str]) -> set[str]:
    names = list(PROJECT["dependencies"])
    for extra in extras:
        names += PROJECT["optional-dependencies"][extra]
    return {re.split(r"[\s<>=!\[;]", n, maxsplit=1)[0].lower() for n in names}


def _top_level_imports(code: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


# import name -> distribution, where they differ
DISTRIBUTION = {"sklearn": "scikit-learn", "myst_nb": "myst-nb", "websocket": "websocket-client",
                "mpl_toolkits": "matplotlib", "sslib": "ssl-executed", "PIL": "pillow"}  # fmt: skip


def _undeclared(imports: set[str], declared: set[str]) -> set[str]:
    third_party = imports - set(sys.stdlib_module_names)
    return {
        m for m in third_party if DISTRIBUTION.get(m, m).lower() not in declared | {PROJECT["name"]}
    }


def test_what_the_chapters_import_is_declared_in_the_chapters_extra():
    declared = _declared(["chapters"])
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        code = "\n".join(line for line in code.splitlines() if not line.startswith(("%", "!")))
        assert not _undeclared(_top_level_imports(code), declared), path.name


def test_what_the_library_and_ci_import_is_declared():
    library = set().union(
        *(_top_level_imports(p.read_text()) for p in (ROOT / "sslib").rglob("*.py"))
    )
    # sslib imports its base dependencies, and IPython where it displays in a notebook
    # (tqdm's notebook bar, with ipywidgets, is optional)
    assert not _undeclared(library - {"ipywidgets", "IPython"}, _declared([])), library
    assert "ipython" in _declared(["chapters"])
    for script in ("check_lab.py", "check_html.py", "colab_cell.py", "fresh_runtime.py"):
        imports = _top_level_imports((ROOT / ".ci" / script).read_text())
        assert not _undeclared(imports, _declared(["book", "test", "lab", "chapters"])), script


def test_the_wheel_lists_every_package_of_sslib():
    # setuptools ships only the packages pyproject names: a new folder left out is a wheel
    # whose imports fail although every test run from the checkout passes
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sslib").rglob("__init__.py")
    }
    assert found <= listed, found - listed
