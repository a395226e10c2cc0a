"""No import cycles in sslib, counting imports inside functions too."""

import ast
import pathlib

import sslib


def _imports() -> dict[str, set[str]]:
    """Module name -> the sslib modules its source imports (anywhere in the file)."""
    root = pathlib.Path(sslib.__file__).parent
    found = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sslib"):
                deps |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("sslib")}
        found[name] = deps
    graph = {}
    for module, deps in found.items():
        ancestors = {module.rsplit(".", k)[0] for k in range(1, module.count(".") + 1)}
        edges = set()
        for dep in deps:
            # importing a.b.c runs the packages a and a.b first (unless we are inside them)
            parents = {dep.rsplit(".", k)[0] for k in range(1, dep.count(".") + 1)}
            edges |= {dep} | (parents - ancestors)
        graph[module] = {d for d in edges if d in found and d != module and d != "sslib"}
    return graph


def test_no_module_imports_one_that_imports_it_back():
    graph = _imports()
    assert "sslib.train" in graph and "sslib.methods.dim" in graph  # the scan sees the package
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            assert state.get(dep) != 1, "import cycle: " + " -> ".join(path + [dep])
            if dep not in state:
                visit(dep, path + [dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
