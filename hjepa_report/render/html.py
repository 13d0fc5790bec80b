"""report.html: Jinja2 (autoescaped) over the view objects; every asset inline, no network request."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from ..analysis.report import Report
from .views import ReportView, build_view

TEMPLATE = "report.html.j2"


def templates_dir() -> Path:
    """Return the templates folder: inside the installed wheel, else the repository's top-level templates/."""
    package_root = Path(__file__).resolve().parent.parent
    for candidate in (package_root / "templates", package_root.parent / "templates"):
        if (candidate / TEMPLATE).is_file():
            return candidate
    raise FileNotFoundError(f"hjepa-report templates not found next to {package_root}; reinstall the package")


@lru_cache(maxsize=1)
def environment():
    """Return the Jinja environment: autoescape for .html/.j2, strict undefined so typos fail loudly."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html", "j2"), default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_view(view: ReportView) -> str:
    """Render a report view to one HTML string."""
    env = environment()
    css = (templates_dir() / "report.css").read_text(encoding="utf-8")
    js = (templates_dir() / "report.js").read_text(encoding="utf-8")
    return env.get_template(TEMPLATE).render(report=view, css=css, js=js)


def render_html(report: Report) -> tuple[str, ReportView]:
    """Render an analysed report; return the HTML and the view (whose figure sizes report.json records)."""
    view = build_view(report)
    return render_view(view), view
