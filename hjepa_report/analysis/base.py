"""The contract between analysis passes and the renderer.

A pass computes numbers (no matplotlib) and then presents them as a Section: figures, tables, metrics and
health checks. Figures travel as matplotlib Figures, numpy pictures or animation frames; only the render
layer turns them into bytes, so no base64 ever passes through analysis code.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from .plotting import plot_style

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from ..collect.run import Run
    from ..settings import ReportSettings


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
    content: "Figure | Picture | Animation"


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
    status: str
    detail: str
    figure_id: str | None = None
    value: float | None = None

    STATUSES = ("pass", "warn", "fail", "skip")

    def __post_init__(self) -> None:
        if self.status not in self.STATUSES:
            raise ValueError(f"check status must be one of {self.STATUSES}, got {self.status!r}")


@dataclass
class Section:
    """One section of the report, as the renderer and report.json see it."""

    name: str
    title: str
    status: str = "ok"  # ok | skipped | error
    message: str = ""  # one line: why skipped, what failed, or a summary
    intro: str = ""  # a short paragraph under the heading
    figures: list[FigureItem] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # things the run lacks or choices made, one line each
    seconds: float = 0.0
    error: dict[str, str] | None = None  # {what, why, hint, traceback} for error cards

    def add_figure(self, id: str, title: str, caption: str, content) -> FigureItem:
        """Append a figure and return it."""
        item = FigureItem(id=f"{self.name}-{id}", title=title, caption=caption, content=content)
        self.figures.append(item)
        return item

    def add_table(self, id: str, title: str, columns: list[str], rows: list[list[Any]], caption: str = "",
                  collapsed: bool = False) -> Table:
        """Append a table and return it."""
        table = Table(id=f"{self.name}-{id}", title=title, columns=columns, rows=rows, caption=caption,
                      collapsed=collapsed)
        self.tables.append(table)
        return table

    def add_check(self, name: str, status: str, detail: str, figure_id: str | None = None, value=None) -> Check:
        """Append a health check. figure_id names a figure of this section, with or without the section
        prefix; a figure of another section is named by its full id after a '#': '#training-group-train-0'."""
        if figure_id and figure_id.startswith("#"):
            figure_id = figure_id[1:]
        elif figure_id and not figure_id.startswith(self.name + "-"):
            figure_id = f"{self.name}-{figure_id}"
        check = Check(name=name, status=status, detail=detail, figure_id=figure_id, value=value)
        self.checks.append(check)
        return check


class ReportContext:
    """What a pass may use: the run, the settings, and caches shared by all passes of one report.

    `cached(key, make)` computes a value once per report: per-image network outputs live there, so each image
    goes through each network at most once. `shared` carries results one pass offers another (e.g. masking
    statistics for the health checks).
    """

    def __init__(self, run: "Run", settings: "ReportSettings", progress: Callable[[str], None] | None = None):
        self.run = run
        self.settings = settings
        self.shared: dict[str, Any] = {}
        self._cache: dict[Any, Any] = {}
        self._progress = progress or (lambda msg: None)

    def cached(self, key, make: Callable[[], Any]):
        """Return the value stored under `key`, computing it with `make()` the first time."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def progress(self, message: str) -> None:
        """Report progress of a long step (printed on stderr by the CLI unless --quiet)."""
        self._progress(message)

    def rng(self, purpose: str) -> np.random.Generator:
        """Return a numpy generator seeded from the report seed and a purpose name (stable across runs)."""
        import zlib

        return np.random.default_rng([self.settings.seed, zlib.crc32(purpose.encode())])


class AnalysisPass:
    """Base class of analysis passes. Subclasses set name/title and implement compute and present."""

    name: str = ""
    title: str = ""
    minimal: bool = True  # runs under --minimal

    def applies(self, ctx: ReportContext) -> str | None:
        """Return None when the pass can run on this run, else a one-line reason it is skipped."""
        return None

    def compute(self, ctx: ReportContext) -> Any:
        """Compute the numbers (no matplotlib here)."""
        raise NotImplementedError

    def present(self, result: Any, ctx: ReportContext, section: Section) -> None:
        """Fill `section` with figures, tables, metrics and checks from `result`."""
        raise NotImplementedError

    def run(self, ctx: ReportContext) -> Section:
        """Run applies -> compute -> present; a failure becomes an error section, never an exception."""
        section = Section(name=self.name, title=self.title)
        start = time.perf_counter()
        try:
            reason = self.applies(ctx)
            if reason:
                section.status, section.message = "skipped", reason
            else:
                result = self.compute(ctx)
                with plot_style():
                    self.present(result, ctx, section)
        except Exception as exc:  # noqa: BLE001 - one failing section must not take the report down
            section.status = "error"
            section.figures, section.tables = [], []
            section.message = f"{type(exc).__name__}: {exc}"
            section.error = {
                "what": f"The {self.title or self.name} section failed.",
                "why": f"{type(exc).__name__}: {exc}",
                "hint": getattr(exc, "hint", "Re-run with --skip " + self.name + " to leave it out, "
                                "or report the traceback below."),
                "traceback": traceback.format_exc(limit=8),
            }
        section.seconds = round(time.perf_counter() - start, 3)
        return section
