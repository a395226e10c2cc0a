"""Execute the book's notebooks a few at a time into the build's jupyter-cache.

Jupyter Book 1 executes notebooks one after another (Sphinx's parallel read is refused: one of
its extensions does not declare itself parallel-safe), so on two cores half the machine idles
while a chapter runs on one thread. This script runs ``--jobs`` chapters at once, exactly as
myst-nb's ``cache`` mode would (same executor, the notebook's folder as working directory, the
same per-cell timeout) and stores each executed notebook in ``_build/.jupyter_cache``, where
``jb build`` then finds it. A notebook already in the cache with the same code is skipped; a
notebook that fails is reported with its traceback and the script exits 1, so the build stops
at once instead of re-running it.

    python .ci/execute_book.py --jobs 2 book/*.ipynb
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn
from jupyter_cache.executors.utils import single_nb_execution

CACHE = Path("_build/.jupyter_cache")  # where myst-nb looks: beside _build/html
TIMEOUT = 600  # seconds per cell, as _config.yml's execute.timeout


def execute(path: str) -> tuple[str, str | None, float, str | None]:
    """Run one notebook in its folder; returns (path, executed notebook JSON, seconds, error)."""
    nb = nbformat.read(path, as_version=4)
    result = single_nb_execution(nb, cwd=str(Path(path).parent.resolve()), timeout=TIMEOUT,
                                 allow_errors=False, meta_override=True)  # fmt: skip
    if result.err is not None:
        return path, None, result.time, result.exc_string or repr(result.err)
    return path, nbformat.writes(nb), result.time, None


def main(argv: list[str] | None = None) -> int:
    """Execute the notebooks not yet cached, `--jobs` at a time; 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    cache = get_cache(str(CACHE.resolve()))
    todo = []
    for path in args.notebooks:
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
            print(f"{path}: cached")
        except KeyError:
            todo.append(path)
    failed = 0
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for future in as_completed([pool.submit(execute, p) for p in todo]):
            path, executed, seconds, error = future.result()
            if error is not None:
                failed += 1
                print(f"{path}: FAILED after {seconds:.0f} s\n{error}", file=sys.stderr)
                continue
            nb = nbformat.reads(executed, as_version=4)
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(Path(path).resolve()),
                              data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True,
            )  # fmt: skip
            print(f"{path}: executed in {seconds:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
