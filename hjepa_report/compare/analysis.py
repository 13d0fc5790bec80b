"""What a comparison shows, as numbers and figures: verdicts, check and metric rows with deltas, curves, and
the masking and attention figures of the runs side by side.

The first run is the baseline; every difference is `value - baseline` and, where the baseline is not zero,
relative to |baseline|. Everything here reads the ReportedRun objects of reader.py (and, for the curves, the
run directories); nothing is encoded or formatted (that is render/compare.py's job).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..render.figures_file import COMPARED_SECTIONS, SavedFigure
from ..render.summary import key_metrics
from ..status import status_rank
from .curves import CurveFigure, overlaid_curves
from .reader import ReportedRun

COMPARE_SCHEMA = "compare-1.0"


@dataclass
class SideBySide:
    """One figure id that at least two reports have: each run's saved figure (None where it is missing)."""

    id: str
    title: str
    caption: str  # the caption of the first run that has the figure
    caption_of: str  # that run's label
    cells: list[SavedFigure | None]

    def runs_with_it(self, runs: list[ReportedRun]) -> list[str]:
        """Return the labels of the runs whose report has this figure."""
        return [run.label for run, cell in zip(runs, self.cells, strict=True) if cell]


@dataclass
class Comparison:
    """The comparison: `data` is compare.json (numbers only); figures travel beside it."""

    runs: list[ReportedRun]
    data: dict
    curves: list[CurveFigure] = field(default_factory=list)
    side_by_side: list[SideBySide] = field(default_factory=list)


def compare_runs(runs: list[ReportedRun]) -> Comparison:
    """Assemble the comparison of `runs` (the first is the baseline): tables, curves and side-by-side figures."""
    shared = shared_tags(runs)
    curves = overlaid_curves(runs, shared)
    notes = list(curves.notes)
    side = side_by_side_figures(runs, notes)
    data = {
        "schema": COMPARE_SCHEMA,
        "kind": "comparison",
        "tool": {"name": "hjepa-report"},
        "created_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
        "baseline": runs[0].label,
        "runs": [run_entry(r) for r in runs],
        "metrics": metric_rows(runs),
        "checks": check_rows(runs),
        "scalars": scalar_rows(runs, shared),
        "curves": curves.info,
        "figures": [{"id": s.id, "title": s.title, "runs": s.runs_with_it(runs)} for s in side],
        "notes": notes,
    }
    return Comparison(runs, data, curves.figures, side)


def metric_rows(runs: list[ReportedRun]) -> list[dict]:
    """One row per key metric: each run's value and its difference to the baseline (None where missing)."""
    per_run = [{m.key: m for m in key_metrics(r.doc)} for r in runs]
    order = list(dict.fromkeys(k for metrics in per_run for k in metrics))
    rows = []
    for key in order:
        first = next(m[key] for m in per_run if key in m)
        values = [m[key].value if key in m else None for m in per_run]
        rows.append(
            {
                "key": key,
                "label": first.label,
                "better": first.better,
                "values": values,
                "deltas": [delta(values[0], v) for v in values],
            }
        )
    return rows


def check_rows(runs: list[ReportedRun]) -> list[dict]:
    """One row per health check (section/name) in any run: each run's status and detail, worst first."""
    keyed: dict[tuple[str, str], list] = {}
    for i, run in enumerate(runs):
        for check in (run.doc.get("health") or {}).get("checks") or []:
            key = (str(check.get("section")), str(check.get("name")))
            keyed.setdefault(key, [None] * len(runs))[i] = check
    rows = [
        {
            "section": s,
            "name": n,
            "statuses": [c.get("status") if c else None for c in checks],
            "details": [c.get("detail") if c else None for c in checks],
        }
        for (s, n), checks in keyed.items()
    ]
    for row in rows:
        row["changed"] = len(set(row["statuses"])) > 1
    return sorted(rows, key=lambda r: min(status_rank(st) for st in r["statuses"]))


def scalar_rows(runs: list[ReportedRun], tags: list[str]) -> list[dict]:
    """Last logged value of every shared tag per run, with the difference to the baseline."""
    rows = []
    for tag in tags:
        values = [_finite((r.doc.get("scalars") or {}).get(tag, {}).get("last")) for r in runs]
        rows.append({"tag": tag, "last": values, "deltas": [delta(values[0], v) for v in values]})
    return rows


def side_by_side_figures(runs: list[ReportedRun], notes: list[str]) -> list[SideBySide]:
    """The COMPARED_SECTIONS figures that at least two reports have, in report order, one cell per run."""
    wanted = []
    for run in runs:
        for section in run.doc.get("sections") or []:
            if section.get("name") in COMPARED_SECTIONS:
                wanted += [(f["id"], f.get("title") or f["id"]) for f in section.get("figures") or []]
    wanted = list(dict.fromkeys(wanted))
    if wanted:
        notes.extend(run.figures_problem for run in runs if run.figures_problem)
    rows = []
    for fid, title in wanted:
        cells = [run.figures.get(fid) for run in runs]
        first = next((i for i, c in enumerate(cells) if c), None)
        if sum(c is not None for c in cells) >= 2:
            rows.append(SideBySide(fid, title, cells[first].caption, runs[first].label, cells))
    if not rows:
        notes.append("No masking or attention figure is in two or more of these reports.")
    elif not same_images(runs):
        notes.append("The runs' sample images differ, so side-by-side figures may show different images.")
    return rows


def shared_tags(runs: list[ReportedRun]) -> list[str]:
    """Return the tags every run logged, sorted."""
    tag_sets = [set((r.doc.get("scalars") or {}).keys()) for r in runs]
    return sorted(set.intersection(*tag_sets)) if tag_sets else []


def same_images(runs: list[ReportedRun]) -> bool:
    """Tell whether every run's report used the same sample images (by file name and label)."""
    names = [[(Path(str(i.get("path"))).name, i.get("label")) for i in r.doc.get("images") or []] for r in runs]
    return all(n == names[0] for n in names)


def run_entry(run: ReportedRun) -> dict:
    """The compare.json entry of one run: where its report is and what it concluded."""
    doc = run.doc
    return {
        "label": run.label,
        "report_json": str(run.json_path),
        "report_html": str(run.html_path),
        "run_name": doc["run"].get("name"),
        "run_path": doc["run"].get("path"),
        "layout": doc["run"].get("layout"),
        "created_at": doc.get("created_at"),
        "verdict": (doc.get("health") or {}).get("verdict"),
    }


def delta(base, value) -> dict | None:
    """Difference value - base and relative to |base| (None when either is missing or not a number)."""
    if not (_number(base) and _number(value)):
        return None
    diff = float(value) - float(base)
    return {"abs": diff, "rel": diff / abs(base) if base else None}


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value):
    return value if _number(value) and math.isfinite(value) else None
