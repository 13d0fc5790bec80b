"""Turn a comparison into the compare page's view objects: formatted cells, encoded figures, links.

Kept out of render/compare.py so that render needs nothing from this package (render imports nothing above
it); the encoding itself is still render's (render.views.encode_figure).
"""

from __future__ import annotations

from ..analysis.base import FigureItem
from ..render.compare import Cell, ComparePage, Row, RunRow, SideFigure, format_delta
from ..render.figures_file import SavedFigure
from ..render.summary import format_value
from ..render.views import FigureView, encode_figure
from .analysis import Comparison


def build_page(comparison: Comparison) -> ComparePage:
    """Return the view of `comparison` (compare.json's runs carry their report links by now)."""
    data = comparison.data
    curves = [
        encode_figure(FigureItem(f"curves-{i}", c.title, c.caption, c.figure))
        for i, c in enumerate(comparison.curves, start=1)
    ]
    return ComparePage(
        labels=[r["label"] for r in data["runs"]],
        baseline=data["baseline"],
        created_at=data["created_at"],
        notes=list(data["notes"]),
        runs=[_run_row(r) for r in data["runs"]],
        checks=[_check_row(r) for r in data["checks"]],
        metrics=[_metric_row(r) for r in data["metrics"]],
        scalars=[_value_row(r["tag"], r["last"], r["deltas"]) for r in data["scalars"]],
        curves_reading=data["curves"]["reading"],
        curves_note=data["curves"]["note"],
        curves=curves,
        side_by_side=[
            SideFigure(s.id, s.title, s.caption, s.caption_of, [_saved_view(c) for c in s.cells])
            for s in comparison.side_by_side
        ],
    )


def _run_row(entry: dict) -> RunRow:
    return RunRow(
        label=entry["label"],
        verdict=str(entry.get("verdict") or ""),
        layout=str(entry.get("layout") or ""),
        created_at=str(entry.get("created_at") or ""),
        run_path=str(entry.get("run_path") or ""),
        link=entry.get("link"),
        json_link=entry["json_link"],
    )


def _check_row(row: dict) -> Row:
    pairs = zip(row["statuses"], row["details"], strict=True)
    cells = [Cell(text=str(status or ""), title=str(detail or "")) for status, detail in pairs]
    return Row(label=row["name"], cells=cells, note=row["section"], changed=row["changed"])


def _metric_row(row: dict) -> Row:
    better = row.get("better")
    shown = _value_row(row["label"], row["values"], row["deltas"], better)
    shown.note = f"({better} is better)" if better else ""
    return shown


def _value_row(label: str, values: list, deltas: list, better: str | None = None) -> Row:
    """A row of values, each after the baseline's with its difference to the baseline."""
    cells = []
    for i, (value, change) in enumerate(zip(values, deltas, strict=True)):
        text, css = format_delta(change, better) if i else ("", "")
        cells.append(Cell(text=format_value(value), delta=text, delta_class=css))
    return Row(label=label, cells=cells)


def _saved_view(saved: SavedFigure | None) -> FigureView | None:
    if saved is None:
        return None
    return FigureView(saved.id, saved.title, saved.caption, saved.payload, saved.mime, saved.kind)
