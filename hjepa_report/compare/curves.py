"""The overlaid curves of a comparison: the tags every run logged, one colour per run, drawn as Figures.

report.json keeps only first/last/min/max per tag, so the curves are re-read from the run directories named
in report.json (`run.path`) with the collector; a run directory that is gone is named in one line and its
curves are left out. Figures are matplotlib Figure objects (no pyplot); render encodes them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ReportError
from ..settings import ReportSettings
from .reader import ReportedRun

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

MAX_CURVE_TAGS = 48
PANELS_PER_FIGURE = 6


@dataclass
class CurveFigure:
    """One figure of overlaid curves: a group of at most PANELS_PER_FIGURE tags."""

    title: str
    caption: str
    figure: Figure


@dataclass
class Curves:
    """The curves part of a comparison: the figures and the facts compare.json records about them."""

    figures: list[CurveFigure] = field(default_factory=list)
    info: dict = field(default_factory=dict)  # tags, runs_with_curves, missing, note, reading
    notes: list[str] = field(default_factory=list)


def overlaid_curves(runs: list[ReportedRun], tags: list[str]) -> Curves:
    """Overlay the shared tags' curves of the runs whose directories can still be read."""
    from ..analysis.training import tag_group

    tables, missing = read_scalars(runs)
    weight = float((runs[0].doc.get("settings") or {}).get("smoothing", ReportSettings.smoothing))
    info = {
        "tags": tags[:MAX_CURVE_TAGS],
        "runs_with_curves": list(tables),
        "missing": missing,
        "note": "",
        "reading": curve_reading(list(tables), weight),
    }
    if missing:
        info["note"] = (
            "Curves need the run directories named in report.json; not readable now: " + "; ".join(missing) + "."
        )
    if not tags:
        info["note"] = "The runs share no logged tag, so there are no curves to overlay."
    curves = Curves(info=info, notes=[info["note"]] if info["note"] else [])
    if len(tables) < 2 or not tags:
        return curves
    if len(tags) > MAX_CURVE_TAGS:
        curves.notes.append(f"{len(tags)} shared tags; the first {MAX_CURVE_TAGS} (alphabetical) are drawn.")
    groups: dict[str, list[str]] = {}
    for tag in info["tags"]:
        groups.setdefault(tag_group(tag), []).append(tag)
    for group, members in groups.items():
        for start in range(0, len(members), PANELS_PER_FIGURE):
            chunk = members[start : start + PANELS_PER_FIGURE]
            part = f" ({start // PANELS_PER_FIGURE + 1})" if len(members) > PANELS_PER_FIGURE else ""
            curves.figures.append(
                CurveFigure(
                    f"{group}{part}",
                    f"{', '.join(chunk)}: one colour per run (legend above the panels).",
                    draw_overlay(tables, chunk, weight),
                )
            )
    return curves


def read_scalars(runs: list[ReportedRun]) -> tuple[dict, list[str]]:
    """Re-read each run's scalar table from its directory (report.json `run.path`); name those not readable."""
    from ..collect import collect_run

    tables, missing = {}, []
    for run in runs:
        path = Path(str(run.doc["run"].get("path") or ""))
        try:
            tables[run.label] = collect_run(path, layout=run.doc["run"].get("layout")).scalars
        except ReportError as exc:
            missing.append(f"{run.label} ({exc})")
    return tables, missing


def draw_overlay(tables: dict, tags: list[str], weight: float) -> Figure:
    """Draw one panel per tag with every run's curve (baseline solid, the others dashed) and one legend."""
    import numpy as np

    from ..analysis.curves import draw_curve
    from ..plotting import PALETTE, new_figure, plot_style

    cols = min(3, len(tags))
    rows = math.ceil(len(tags) / cols)
    with plot_style():
        fig, axes = new_figure(3.3 * cols + 0.4, 2.3 * rows + 0.5, rows, cols)
        axes = np.atleast_1d(axes).ravel()
        for ax, tag in zip(axes, tags, strict=False):  # spare axes are hidden below
            for i, (label, table) in enumerate(tables.items()):
                if not table.has(tag):  # the run directory changed since its report was written
                    continue
                steps, values = table.arrays(tag)
                drawn = len(ax.lines)
                draw_curve(ax, steps, values, weight=weight, tag=tag, label=label, color=PALETTE[i % len(PALETTE)])
                for line in ax.lines[drawn:] if i else []:  # dashed after the baseline: equal curves stay visible
                    line.set_linestyle((0, (4, 2)))
            ax.set_title(tag, fontsize=8.5, loc="left")
            ax.set_xlabel("step", fontsize=8)
        for ax in axes[len(tags) :]:
            ax.set_visible(False)
        legend = {}
        for ax in axes[: len(tags)]:
            for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
                legend.setdefault(name, handle)
        fig.legend(legend.values(), legend.keys(), loc="outside upper center", ncols=min(len(legend), 4), frameon=False)
    return fig


def curve_reading(labels: list[str], weight: float) -> str:
    """Return how to read the overlaid curves (shown once above them)."""
    return (
        f"One panel per logged tag that every run has; one colour per run ({', '.join(labels)}). Faint: raw "
        f"values; bold: TensorBoard's debiased exponential smoothing (weight {weight:g}, the baseline report's "
        "--smoothing; schedules and short series are drawn raw, with dots). The baseline is drawn solid, the "
        "other runs dashed, so curves that coincide stay visible. The x axis is each run's own "
        "logged step. Read: a run whose loss falls later or ends higher learned slower; curves that coincide "
        "mean the change made no difference to that quantity."
    )
