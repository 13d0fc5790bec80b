"""The contract between analysis passes and the renderer: compute returns a typed result, present draws it.

A pass's `compute(ctx)` returns a `PassResult` (a dataclass of the pass's own) that already holds every number,
metric and health check; `present(result)` turns that result into a `Presentation` (figures, tables, an intro,
captions) and never sees the context, the model session or the run. `AnalysisPass.run` assembles the two into
the `Section` that report.json and the HTML show, so report.json and the verdict can be made without drawing a
figure (`--json-only`), and a pass that fails anywhere leaves nothing of its attempt behind.

Figures travel as matplotlib Figures, numpy pictures or animation frames; only the render layer turns them into
bytes, so no base64 ever passes through analysis code.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np

from ..plotting import plot_style
from ..status import SectionStatus, Status

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from .context import ReportContext


@dataclass
class Picture:
    """A photographic panel composed with numpy (uint8 HxWx3 or HxW): encoded as WebP/PNG by the renderer."""

    array: np.ndarray


@dataclass
class Animation:
    """An animated GIF to be: frames (uint8 HxWx3, same size), per-frame duration in ms, loop forever by default."""

    frames: list[np.ndarray]
    duration_ms: int | list[int] = 700
    loop: int = 0


@dataclass
class FigureItem:
    """One figure of a section. `caption` tells a reader how to read it and what healthy looks like."""

    id: str
    title: str
    caption: str
    content: Figure | Picture | Animation
    # curves an interactive chart of this figure draws that are not logged tags (e.g. the schedules a config
    # implies): {panel title: {curve name: (steps, values)}}; analysis/charts.py reads it, report.json does not
    series: dict[str, dict[str, tuple]] | None = None


@dataclass
class Table:
    """A small table shown in the report (cells are plain values; the renderer formats and escapes them)."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""
    collapsed: bool = False  # long reference tables start folded in the HTML


@dataclass
class Check:
    """A health check: pass | warn | fail | skip, a one-line reason, and the figure that supports it."""

    name: str
    status: Status
    detail: str
    figure_id: str | None = None
    value: float | None = None

    def __post_init__(self) -> None:
        self.status = Status.parse(self.status)


@dataclass
class PassResult:
    """What every pass's compute returns, whatever else its own result class holds: the numbers report.json
    shows (`metrics`), the health checks (thresholds already applied) and one-line notes."""

    metrics: dict[str, Any] = field(default_factory=dict, kw_only=True)
    checks: list[Check] = field(default_factory=list, kw_only=True)
    notes: list[str] = field(default_factory=list, kw_only=True)
    message: str = field(default="", kw_only=True)  # the section's one-line message, when it has one

    def add_check(self, name: str, status: str, detail: str, figure_id: str | None = None, value=None) -> Check:
        """Append a health check. figure_id names a figure of this pass's section (with or without the section
        prefix) or, after a '#', a figure of another section by its full id: '#training-group-train-0'."""
        check = Check(name=name, status=status, detail=detail, figure_id=figure_id, value=value)
        self.checks.append(check)
        return check


@dataclass
class Presentation:
    """What present makes of a result: an intro paragraph, figures, tables and notes about what is drawn.

    Ids are local to the section ("ema-gap"); the section name is put in front when the section is assembled.
    """

    intro: str = ""
    figures: list[FigureItem] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_figure(self, id: str, title: str, caption: str, content) -> FigureItem:
        """Append a figure and return it."""
        item = FigureItem(id=id, title=title, caption=caption, content=content)
        self.figures.append(item)
        return item

    def add_table(
        self, id: str, title: str, columns: list[str], rows: list[list[Any]], caption: str = "", collapsed: bool = False
    ) -> Table:
        """Append a table and return it."""
        table = Table(id=id, title=title, columns=columns, rows=rows, caption=caption, collapsed=collapsed)
        self.tables.append(table)
        return table


@dataclass
class Section:
    """One section of the report, as the renderer and report.json see it (assembled by AnalysisPass.run)."""

    name: str
    title: str
    status: SectionStatus = SectionStatus.OK
    message: str = ""  # one line: why skipped, what failed, or a summary
    intro: str = ""  # a short paragraph under the heading
    figures: list[FigureItem] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things the run lacks or choices made, one line each
    seconds: float = 0.0
    error: dict[str, str] | None = None  # {what, why, hint, traceback} for error cards

    def __post_init__(self) -> None:
        self.status = SectionStatus(self.status)

    def _repr_html_(self) -> str | None:
        """Show the section inline in a notebook: checks, figures (inlined) and tables (render/notebook.py)."""
        return notebook_html("section", self)


# How a Section or a Report shows inline in a Jupyter notebook (IPython calls `_repr_html_`). Making HTML is the
# render layer's job: render/notebook.py puts its functions here ("section", "report") when imported, which the
# pipeline does, so this layer never imports the one above it. Without them IPython shows the plain repr.
NOTEBOOK_HTML: dict[str, Callable[[Any], str]] = {}


def notebook_html(kind: str, obj: Any) -> str | None:
    """Return the notebook HTML of `obj` by the render layer's function for `kind`, None when none is installed."""
    show = NOTEBOOK_HTML.get(kind)
    return show(obj) if show is not None else None


R = TypeVar("R", bound=PassResult)


class AnalysisPass(Generic[R]):
    """Base class of analysis passes. Subclasses set name/title and implement compute and present."""

    name: str = ""
    title: str = ""
    minimal: bool = True  # runs under --minimal
    needs_model: bool = False  # uses the run's networks (the session releases them after the last such pass)
    # reads the session's cached encodings, embeddings or block outputs (the session drops them after the last
    # model pass that does); False only for passes that run their own loss evaluations
    reads_encodings: bool = True

    def applies(self, ctx: ReportContext) -> str | None:
        """Return None when the pass can run on this run, else a one-line reason it is skipped."""
        return None

    def compute(self, ctx: ReportContext) -> R:
        """Compute the numbers, metrics and checks (no matplotlib here)."""
        raise NotImplementedError

    def present(self, result: R) -> Presentation:
        """Draw the result: figures, tables and captions, from `result` alone."""
        raise NotImplementedError

    def run(self, ctx: ReportContext, *, draw: bool = True) -> Section:
        """Run applies -> compute -> present and assemble the section; with draw=False present is not called.

        A failure anywhere becomes an error section that carries nothing of the failed attempt (no checks,
        metrics, figures or notes), never an exception.
        """
        start = time.perf_counter()
        try:
            reason = self.applies(ctx)
            if reason:
                section = Section(self.name, self.title, status=SectionStatus.SKIPPED, message=reason)
            else:
                result = self.compute(ctx)
                with plot_style():
                    shown = self.present(result) if draw else Presentation()
                section = self.assemble(result, shown)
        except Exception as exc:  # noqa: BLE001 - one failing section must not take the report down
            section = self.error_section(exc)
        section.seconds = round(time.perf_counter() - start, 3)
        return section

    def assemble(self, result: PassResult, shown: Presentation) -> Section:
        """Put a result and its presentation together under this pass's name (figure ids get its prefix)."""
        for item in (*shown.figures, *shown.tables):
            item.id = self._full_id(item.id)
        checks = [
            Check(c.name, c.status, c.detail, c.figure_id and self._full_id(c.figure_id), c.value)
            for c in result.checks
        ]
        return Section(
            self.name,
            self.title,
            message=result.message,
            intro=shown.intro,
            figures=shown.figures,
            tables=shown.tables,
            metrics=result.metrics,
            checks=checks,
            notes=[*result.notes, *shown.notes],
        )

    def error_section(self, exc: Exception) -> Section:
        """The error card of this pass: what failed, why, a hint, and the traceback."""
        why = f"{type(exc).__name__}: {exc}"
        hint = getattr(exc, "hint", f"Re-run with --skip {self.name} to leave it out, or report the traceback below.")
        return Section(
            self.name,
            self.title,
            status=SectionStatus.ERROR,
            message=why,
            error={
                "what": f"The {self.title or self.name} section failed.",
                "why": why,
                "hint": hint,
                "traceback": traceback.format_exc(limit=8),
            },
        )

    def _full_id(self, local: str) -> str:
        if local.startswith("#"):
            return local[1:]
        return local if local.startswith(self.name + "-") else f"{self.name}-{local}"
