"""Give a fresh virtual environment some of this one's distributions, as hard links.

``make check-fresh`` needs an environment holding only what Colab preinstalls (torch,
torchvision, NumPy, ...; the versions pinned in .ci/constraints.txt). pip would write those
files a second time: about 6 GB, torch's CUDA libraries mostly, which has filled CI's disk.
This script links the same files instead, from the environment it runs in (installed with the
same constraints): each named distribution and everything it requires, the files its RECORD
lists under site-packages, with its metadata, so that pip in the fresh environment sees them
as installed. Scripts outside site-packages (``bin/torchrun``) are left out: the chapters run
none. Where a hard link is impossible (another file system) the file is copied.

Usage: ``python .ci/link_packages.py FRESH_PYTHON NAME...``
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(names: list[str]) -> dict[str, metadata.Distribution]:
    """The distributions ``names`` and every one they require here, by canonical name.

    Extras are followed as pip follows them: torch requires ``cuda-toolkit[cufile,...]``,
    whose CUDA libraries are the requirements of those extras.
    """
    found: dict[str, metadata.Distribution] = {}
    done: set[tuple[str, str]] = set()  # (distribution, extra) already expanded
    todo = [(name, "") for name in names]
    while todo:
        name, extra = todo.pop()
        name = canonicalize_name(name)
        if (name, extra) in done:
            continue
        done.add((name, extra))
        if name not in found:
            try:
                found[name] = metadata.distribution(name)
            except metadata.PackageNotFoundError:
                sys.exit(f"{name} is not installed in {sys.prefix}: run `make install` first")
        for text in found[name].requires or []:
            requirement = Requirement(text)
            # a plain requirement, or one of the extras asked for; not optional extras
            if requirement.marker is None or requirement.marker.evaluate({"extra": extra}):
                extras = ["", *requirement.extras]
                todo += [(requirement.name, e) for e in extras]
    return found


def link(dist: metadata.Distribution, site: Path) -> int:
    """Link ``dist``'s files under site-packages into ``site``; the number of files."""
    count = 0
    for entry in dist.files or []:
        if entry.parts[0] == "..":  # bin/ scripts, headers, share/: outside site-packages
            continue
        source = Path(entry.locate())
        if not source.is_file():  # a RECORD line for a file since removed (a .pyc)
            continue
        target = site / entry
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.unlink()
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
        count += 1
    return count


def main(fresh_python: str, names: list[str]) -> None:
    """Link ``names`` and what they require into ``fresh_python``'s site-packages."""
    site = Path(
        subprocess.run(
            [fresh_python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )  # fmt: skip
    # linking an environment into itself would unlink each file before linking it to itself
    if site.resolve() == Path(sysconfig.get_paths()["purelib"]).resolve():
        sys.exit(f"{fresh_python} is the environment to link from; name the fresh one")
    dists = closure(names)
    files = sum(link(dist, site) for dist in dists.values())
    print(f"linked {len(dists)} distributions ({files} files) into {site}")


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
