"""The compare page: view objects for templates/compare.html.j2 and the one call that renders them.

The view objects hold formatted text and encoded figures only; hjepa_report/compare/page.py builds them
from a comparison. Nothing here reads a report or computes a number, and nothing imports above render.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .html import environment, templates_dir
from .views import FigureView

TEMPLATE = "compare.html.j2"


@dataclass
class RunRow:
    """One run in the 'Runs and verdicts' table."""

    label: str
    verdict: str
    layout: str
    created_at: str
    run_path: str
    link: str | None  # relative link to its report.html (None when there is none, e.g. --json-only)
    json_link: str  # relative link to its report.json


@dataclass
class Cell:
    """One value of a run: its text and, after the baseline, its difference ('better' / 'worse' / '' class)."""

    text: str
    delta: str = ""
    delta_class: str = ""
    title: str = ""  # hover text (a check's detail)


@dataclass
class Row:
    """One row of a table with a cell per run."""

    label: str
    cells: list[Cell]
    note: str = ""  # e.g. the section of a check, or which direction is better
    changed: bool = False  # the runs differ (checks)


@dataclass
class SideFigure:
    """One figure id shown once per run; None where a run's report lacks it."""

    id: str
    title: str
    caption: str
    caption_of: str
    cells: list[FigureView | None]


@dataclass
class ComparePage:
    """Everything compare.html.j2 shows."""

    labels: list[str]
    baseline: str
    created_at: str
    notes: list[str]
    runs: list[RunRow]
    checks: list[Row]
    metrics: list[Row]
    scalars: list[Row]
    curves_reading: str
    curves_note: str
    curves: list[FigureView] = field(default_factory=list)
    side_by_side: list[SideFigure] = field(default_factory=list)


def format_delta(delta: dict | None, better: str | None = None) -> tuple[str, str]:
    """Return (text, css class) of a difference to the baseline: 'better' / 'worse' / '' by the direction."""
    if not delta:
        return "", ""
    text = f"{delta['abs']:+.4g}" + (f" ({delta['rel']:+.1%})" if delta.get("rel") is not None else "")
    if better is None or delta["abs"] == 0:
        return text, ""
    return text, "better" if (delta["abs"] > 0) == (better == "higher") else "worse"


def render_comparison(page: ComparePage) -> str:
    """Render the compare page (Jinja2, autoescaped) with the report's CSS inlined."""
    css = "\n".join((templates_dir() / name).read_text(encoding="utf-8") for name in ("report.css", "pages.css"))
    return environment().get_template(TEMPLATE).render(page=page, css=css)
