"""Render is the top of the report's one-way flow (collect -> models -> analysis -> render): it imports
nothing above it (the pipeline, the CLI, the compare pipeline), and no report is read back by parsing HTML."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "hjepa_report"
ABOVE_RENDER = ("hjepa_report.pipeline", "hjepa_report.cli", "hjepa_report.compare", "hjepa_report.sample")


def imported_modules(path: Path) -> set[str]:
    """Return every module `path` imports (relative imports resolved), at any depth of the file."""
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module.rsplit(".", 1)[0] if path.name != "__init__.py" else module.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


@pytest.mark.parametrize("path", sorted((PACKAGE / "render").glob("*.py")), ids=lambda p: p.name)
def test_render_imports_nothing_above_it(path):
    upward = sorted(m for m in imported_modules(path) if m.startswith(ABOVE_RENDER))
    assert upward == [], f"{path.name} imports {upward}"


@pytest.mark.parametrize(
    "path",
    sorted([*(PACKAGE / "render").glob("*.py"), *(PACKAGE / "compare").glob("*.py")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_no_report_is_read_back_by_parsing_html(path):
    assert not {m for m in imported_modules(path) if m.startswith(("html.parser", "bs4", "lxml"))}


def test_the_resolver_sees_relative_and_nested_imports(tmp_path):
    assert "hjepa_report.pipeline.default_output" in imported_modules(PACKAGE / "compare" / "reader.py")
    assert "hjepa_report.render.figures_file" in imported_modules(PACKAGE / "compare" / "reader.py")
