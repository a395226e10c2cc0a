"""``show(obj)``: the highlighted source of a library object, inside a notebook.

Chapters teach a piece of code by showing the library's own source rather than a copy of it,
so the book and the code can never drift apart.
"""

from __future__ import annotations

import ast
import inspect
import textwrap


def source(obj, docstring: bool = True) -> str:
    """The source code of a function, class, method or module, dedented.

    With ``docstring=False`` a function's or class's own docstring is left out (a long
    argument list can hide a short body); comments and the rest stay as written.
    """
    try:
        code = textwrap.dedent(inspect.getsource(obj))
    except (TypeError, OSError) as err:
        raise TypeError(
            f"show() needs a Python function, class, method or module defined in source, "
            f"got {type(obj).__name__}: {err}"
        ) from None
    if docstring:
        return code
    tree = ast.parse(code)
    node = tree.body[0] if tree.body else None
    has_doc = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and (
        ast.get_docstring(node) is not None
    )
    if not has_doc:
        return code
    doc = node.body[0]
    lines = code.splitlines(keepends=True)
    return "".join(lines[: doc.lineno - 1] + lines[doc.end_lineno :])


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show(obj, docstring: bool = True) -> None:
    """Display the source of ``obj``: highlighted HTML in a notebook, plain text elsewhere.

    Args:
        obj: a function, class, method or module of sslib (or anything with source).
        docstring: include its docstring (``False``: the code alone).
    """
    code = source(obj, docstring)
    if _in_notebook():
        from IPython.display import Code, display

        display(Code(code, language="python"))
    else:
        print(code)
