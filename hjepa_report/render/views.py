"""Plain view objects for the templates: formatted text and data URIs, nothing to compute in Jinja."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..analysis.base import FigureItem, Section, Table
from ..analysis.report import Report
from ..status import count_statuses, status_rank
from .assets import data_uri
from .encoding import EncodedFigure, FigureEncoder, encode_content
from .interactive import script_json
from .jsonreport import section_numbers


@dataclass
class FigureView:
    """One encoded figure: its bytes and MIME type; the template embeds it as a data: URI."""

    id: str
    title: str
    caption: str
    payload: bytes
    mime: str
    kind: str  # figure | picture | animation

    @property
    def uri(self) -> str:
        """Return the figure as a data: URI."""
        return data_uri(self.payload, self.mime)

    @property
    def size_bytes(self) -> int:
        """Return the encoded size (before base64)."""
        return len(self.payload)


@dataclass
class TableView:
    """A table with every cell already formatted as text."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[str]]
    caption: str
    collapsed: bool


@dataclass
class CheckView:
    """A health check as the verdict list and its section show it."""

    section_title: str
    section_anchor: str
    name: str
    status: str
    detail: str
    figure_id: str | None


@dataclass
class SectionView:
    """One section of the page."""

    name: str
    anchor: str
    title: str
    status: str
    message: str
    intro: str
    figures: list[FigureView]
    tables: list[TableView]
    checks: list[CheckView]
    notes: list[str]
    seconds: float
    error: dict | None


@dataclass
class ReportView:
    """Everything report.html.j2 shows."""

    title: str
    run_name: str
    run_path: str
    layout: str
    layout_reason: str
    created_at: str
    version: str
    command_line: str
    seed: int
    device: str  # where the networks ran
    device_asked: str  # --device as given (auto, cpu, cuda)
    verdict: str
    checks: list[CheckView]
    sections: list[SectionView]
    total_seconds: float
    counts: dict[str, int] = field(default_factory=dict)
    trimmed: str = ""  # what was downscaled to fit --max-report-mb
    charts_json: str = ""  # the interactive charts' data (render/interactive.py), "" when no figure has any
    chart_ids: frozenset[str] = frozenset()  # ids of the figures drawn interactively from charts_json
    numbers_json: str = ""  # every section's metrics, checks and notes as report.json has them (the downloads)

    def figure_bytes(self) -> int:
        """Return the encoded size of every figure."""
        return sum(f.size_bytes for s in self.sections for f in s.figures)


def build_view(
    report: Report, scale: float = 1.0, encoder: FigureEncoder | None = None, progress: Callable | None = None
) -> ReportView:
    """Turn an analysed report into views, encoding every figure once at `scale` times its normal size.

    `encoder` spreads the encoding over worker processes (and may hold figures it encoded ahead, while later
    sections computed); without one every figure is encoded here, one after the other, with the same bytes.
    """
    items = [f for s in report.sections for f in s.figures]
    contents = [f.content for f in items]
    encoded = (encoder or FigureEncoder(workers=0)).results(contents, scale, progress)
    views = iter(_figure_view(item, e) for item, e in zip(items, encoded, strict=True))
    sections = [_section_view(s, [next(views) for _ in s.figures]) for s in report.sections]
    checks = [c for s in sections for c in s.checks]
    charts = report.chart_doc({f.id for s in sections for f in s.figures})
    run = report.run
    return ReportView(
        title=f"{run.name}: JEPA run report",
        run_name=run.name,
        run_path=str(run.root),
        layout=run.layout,
        layout_reason=run.layout_reason,
        created_at=report.created_at,
        version=report.version,
        command_line=report.settings.command_line or "(called from Python)",
        seed=report.settings.seed,
        device=report.device,
        device_asked=report.settings.device,
        verdict=report.verdict(),
        checks=sorted(checks, key=lambda c: status_rank(c.status)),
        sections=sections,
        total_seconds=round(report.seconds, 1),
        counts=count_statuses(c.status for c in checks),
        charts_json=script_json(charts) if charts else "",
        chart_ids=frozenset(charts["charts"]) if charts else frozenset(),
        numbers_json=_numbers_json(report),
    )


def _numbers_json(report: Report) -> str:
    """The sections' numbers (jsonreport.section_numbers) of the sections that have any, for the page's
    'numbers (JSON)' downloads; "" when none has."""
    numbers = {s.name: section_numbers(s) for s in report.sections if s.metrics or s.checks}
    return script_json(numbers) if numbers else ""


def encode_figure(item: FigureItem, scale: float = 1.0) -> FigureView:
    """Encode one figure item, in this process, into a data URI view."""
    return _figure_view(item, encode_content(item.content, scale))


def _figure_view(item: FigureItem, encoded: EncodedFigure) -> FigureView:
    return FigureView(item.id, item.title, item.caption, encoded.payload, encoded.mime, encoded.kind)


def _section_view(section: Section, figures: list[FigureView]) -> SectionView:
    anchor = f"sec-{section.name}"
    checks = [CheckView(section.title, anchor, c.name, c.status, c.detail, c.figure_id) for c in section.checks]
    return SectionView(
        name=section.name,
        anchor=anchor,
        title=section.title,
        status=section.status,
        message=section.message,
        intro=section.intro,
        figures=figures,
        tables=[_table_view(t) for t in section.tables],
        checks=checks,
        notes=list(section.notes),
        seconds=section.seconds,
        error=section.error,
    )


def _table_view(table: Table) -> TableView:
    return TableView(
        table.id,
        table.title,
        list(table.columns),
        [[format_cell(v) for v in row] for row in table.rows],
        table.caption,
        table.collapsed,
    )


def format_cell(value: Any) -> str:
    """Format a table cell: 4 significant digits for floats, thousands separators, '-' for missing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10000 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_cell(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_cell(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "item"):  # numpy scalar
        return format_cell(value.item())
    return str(value)
