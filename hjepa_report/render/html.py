"""report.html: Jinja2 (autoescaped) over the view objects; every asset inline, no network request."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from ..analysis.report import Report
from .encoding import FigureEncoder
from .views import ReportView, build_view

TEMPLATE = "report.html.j2"
VENDOR = Path(__file__).resolve().parent / "vendor"


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
    """Render a report view to one HTML string; the chart library is inlined once, when a figure uses it."""
    env = environment()
    css = (templates_dir() / "report.css").read_text(encoding="utf-8")
    js = (templates_dir() / "report.js").read_text(encoding="utf-8")
    charts = {}
    if view.charts_json:
        charts = dict(
            uplot_js=vendored("uPlot.iife.min.js"),
            uplot_css=vendored("uPlot.min.css"),
            charts_js=(templates_dir() / "charts.js").read_text(encoding="utf-8"),
        )
    explore_js = (templates_dir() / "explore.js").read_text(encoding="utf-8")
    return env.get_template(TEMPLATE).render(report=view, css=css, js=js, explore_js=explore_js, **charts)


@lru_cache(maxsize=4)
def vendored(name: str) -> str:
    """Return a vendored file's text (render/vendor/, provenance in its PROVENANCE.md)."""
    text = (VENDOR / name).read_text(encoding="utf-8")
    if "</script" in text.lower() or "</style" in text.lower():  # would end its inline block early
        raise ValueError(f"vendored {name} contains a closing script/style tag and cannot be inlined")
    return text


def render_html(
    report: Report,
    max_bytes: int | None = None,
    encoder: FigureEncoder | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[str, ReportView]:
    """Render an analysed report; return the HTML and the view (whose figure sizes report.json records).

    With `max_bytes`, figures are re-encoded smaller (scale ~ sqrt(budget share), at most 3 tries, not below
    25 %) until the page fits; the header then says what was trimmed. `encoder` spreads the encoding over the
    cores (render/encoding.py); `progress` hears how far it got every second or so.
    """
    scale, view = 1.0, build_view(report, 1.0, encoder, progress)
    html = render_view(view)
    for _ in range(3):
        if max_bytes is None or len(html.encode()) <= max_bytes:
            break
        other = len(html.encode()) - view.figure_bytes() * 4 / 3  # base64 costs 4/3
        share = max(0.05, (max_bytes - other) / (view.figure_bytes() * 4 / 3))
        if encoder is not None:
            encoder.forget(scale)  # the bytes at the scale that did not fit are no longer needed
        scale = max(0.25, min(scale * 0.9, scale * share**0.5))
        if progress:
            progress(f"{len(html.encode()) / 1e6:.1f} MB is above --max-report-mb: re-encoding at {scale:.0%}")
        view = build_view(report, scale, encoder, progress)
        view.trimmed = (
            f"Figures were rendered at {scale:.0%} of their normal size to fit --max-report-mb {max_bytes / 1e6:g}."
        )
        html = render_view(view)
    if max_bytes is not None and len(html.encode()) > max_bytes:
        view.trimmed += f" The report is still {len(html.encode()) / 1e6:.1f} MB, above the budget."
        html = render_view(view)
    return html, view
