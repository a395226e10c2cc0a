"""``show(obj)``: the highlighted source of a library object, inside a notebook.

Chapters teach a piece of code by showing the library's own source rather than a copy of it,
so the book and the code can never drift apart.
"""

from __future__ import annotations

import inspect
import textwrap


def source(obj) -> str:
    """The source code of a function, class, method or module, dedented."""
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise TypeError(
            f"show() needs a Python function, class, method or module defined in source, "
            f"got {type(obj).__name__}: {err}"
        ) from None


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show(obj) -> None:
    """Display the source of ``obj``: highlighted HTML in a notebook, plain text elsewhere.

    Args:
        obj: a function, class, method or module of sslib (or anything with source).
    """
    code = source(obj)
    if _in_notebook():
        from IPython.display import Code, display

        display(Code(code, language="python"))
    else:
        print(code)
