"""The package's import graph keeps its layers: models/ has no import cycle, and every layer imports only
downwards (collect <- models <- analysis <- render <- pipeline/cli).

The graph is read with `ast` from every module of hjepa_report/, counting module-level AND function-level
imports (a lazy import inside a function is still a dependency, and the cycles models/ had were lazy ones).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "hjepa_report"

# Edges that break the layering today in areas being redesigned by others (issue 12), allowed explicitly
# so that any NEW upward import still fails; test_allowed_upward_imports_still_exist makes a fixed entry
# leave the list. Each entry: (importer, imported module).
ALLOWED_UPWARD: set[tuple[str, str]] = set()


def module_names() -> dict[str, Path]:
    """Map the dotted name of every module of the package (packages by their __init__) to its file."""
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the package modules `name` imports anywhere in its file (`from X import y` counts X.y when y is
    a module, else X)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a module: its module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Map every module of the package to the package modules it imports."""
    modules = module_names()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan's algorithm), sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def in_layer(module: str, layer: str) -> bool:
    """True when `module` is hjepa_report.<layer> or inside it."""
    full = f"hjepa_report.{layer}"
    return module == full or module.startswith(full + ".")


# importer layer -> layers (or single modules) it must not import
FORBIDDEN = {
    "collect": ("models", "analysis", "render", "pipeline", "cli"),
    "models": ("analysis", "render", "pipeline", "cli"),
    "analysis": ("render", "pipeline", "cli"),
    "render": ("analysis", "pipeline", "cli"),
}
# what render may read of analysis: the record types of a report, not the passes
RENDER_MAY_IMPORT = {"hjepa_report.analysis.base", "hjepa_report.analysis.report"}


def upward_imports(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """Return every (importer, imported) edge that goes against the layers."""
    bad = set()
    for importer, targets in graph.items():
        for layer, forbidden in FORBIDDEN.items():
            if not in_layer(importer, layer):
                continue
            for target in targets:
                if layer == "render" and target in RENDER_MAY_IMPORT:
                    continue
                if any(in_layer(target, other) for other in forbidden):
                    bad.add((importer, target))
    return bad


def test_graph_sees_function_level_and_relative_imports():
    graph = import_graph()
    # loading.py imports the model factory only inside load_model, and relative to its package
    assert "hjepa_report.models.factory" in graph["hjepa_report.models.loading"]
    assert "hjepa_report.models.tokens" in graph["hjepa_report.models.hjepa"]


def test_cycle_finder_finds_a_lazy_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_models_have_no_import_cycle():
    graph = import_graph()
    models = {m: {t for t in targets if in_layer(t, "models")} for m, targets in graph.items() if in_layer(m, "models")}
    assert cycles(models) == []


def test_package_has_no_import_cycle_through_models():
    found = [c for c in cycles(import_graph()) if any(in_layer(m, "models") for m in c)]
    assert found == []


def test_layers_import_only_downwards():
    bad = upward_imports(import_graph())
    assert sorted(bad - ALLOWED_UPWARD) == []


def test_allowed_upward_imports_still_exist():
    """An allow-list entry that is gone must leave the list, so the list can only shrink."""
    assert sorted(ALLOWED_UPWARD - upward_imports(import_graph())) == []
