"""The engine's modules import each other one way (no cycle, no import tucked in a function to dodge one), and
none is longer than 600 lines.

Every ``golive`` import counts, wherever it is written (module level, inside a function, under
``TYPE_CHECKING``, a ``pytest_plugins`` name), so a function-level import that broke a cycle shows up as the
cycle. Function-level imports remain fine for loading a heavy library late; they just cannot close a loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "golive"


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int, bool]]:
    """(imported golive module, line, inside a function) for every golive import the module writes."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: list[tuple[str, int, bool]] = []

    def resolve(target: str) -> str | None:
        while target and target not in modules:  # `from golive.a import name`: the module is golive.a
            target = target.rpartition(".")[0]
        return target or None

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package[: len(package) - child.level + 1] + ([base] if base else []))
                targets = [f"{base}.{alias.name}" for alias in child.names]
            elif isinstance(child, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in child.targets
            ):
                targets = [c.value for c in ast.walk(child.value) if isinstance(c, ast.Constant)]
            for target in targets:
                if isinstance(target, str) and target.split(".")[0] == "golive":
                    module = resolve(target)
                    if module is not None and module != name:
                        found.append((module, child.lineno, inside))
            visit(child, inside)

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _graph() -> dict[str, list[tuple[str, int, bool]]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycle(graph: dict[str, list[tuple[str, int, bool]]]) -> list[str] | None:
    """One import cycle, as the modules and the lines that close it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(name: str) -> list[str] | None:
        state[name] = 1
        for target, line, in_function in graph[name]:
            path.append(f"{name}:{line}{' (in a function)' if in_function else ''} -> {target}")
            if state.get(target) == 1:
                start = next(i for i, step in enumerate(path) if step.startswith(f"{target}:"))
                return path[start:]
            if target not in state and (found := walk(target)):
                return found
            path.pop()
        state[name] = 2
        return None

    for name in graph:
        if name not in state and (found := walk(name)):
            return found
    return None


def test_the_graph_sees_the_imports_it_must():
    graph = _graph()
    plugin = {target for target, _, _ in graph["golive.plugin"]}
    assert {"golive.run", "golive.fixtures", "golive.decision", "golive.hooks"} <= plugin
    fixtures = {target for target, _, in_function in graph["golive.fixtures"] if in_function}
    assert "golive.probes.postgres" in fixtures  # a lazy import of a heavy client library, seen as one


def test_no_import_cycle_among_golive_modules():
    assert _cycle(_graph()) is None


def test_a_cycle_through_a_function_level_import_is_found():
    graph = {
        "golive.a": [("golive.b", 3, False)],
        "golive.b": [("golive.c", 5, False)],
        "golive.c": [("golive.a", 9, True)],
    }
    assert _cycle(graph) == [
        "golive.a:3 -> golive.b", "golive.b:5 -> golive.c", "golive.c:9 (in a function) -> golive.a",
    ]


def test_no_engine_module_over_600_lines():
    long = {
        str(path.relative_to(PACKAGE.parent)): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}
