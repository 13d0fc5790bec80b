"""The numbers behind the interactive charts (which figures, which tags, downsampled how): what the analysis
side hands the render layer, which embeds it as one JSON block in report.html for charts.js (render/interactive.py).

Why: a reader of a static page cannot hover a curve for its value, zoom into a range or take the numbers
(TensorBoard's most requested export keeps exactly this, tensorflow/tensorboard #321, #2045). The page keeps
every static PNG (print, PR summaries, scripts off) and adds, for each training-curve figure, the logged
points of its tags, drawn by the vendored uPlot (render/vendor/PROVENANCE.md); the hierarchical losses'
per-level figure likewise (its static figure stays, folded, for the level shares the chart does not redraw).

What is embedded, per figure id: its panels (one per tag, or a train/validation pair) and per tag the steps,
the raw values and, where logged, the wall time in seconds since the run's first logged point. Non-finite
values are written as report.json writes them (NaN: null, +-inf: "inf" / "-inf"). The smoothing is
TensorBoard's debiased EMA (analysis/smoothing.py), recomputed in the page for the slider's weight with the
same arithmetic, so at the report's weight the page shows the static figure's numbers.

Long logs: a tag with more than DISPLAY_CAP points is reduced to min and max per bucket of its steps
(DISPLAY_CAP / 2 buckets; Steinarsson 2013 calls this the min-max baseline of downsampling), plus its first,
last and every non-finite point, so a spike is never lost; the full-resolution EMA at the report's weight is
embedded at the kept points (a slider weight other than the report's then smooths the kept points, which the
chart says), and the download says the series was downsampled. The full data stays in the run's logs and in
report.json's per-tag summary (count, first/last, min/max).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .curves import should_smooth, wants_log_axis
from .training import figure_id_for_tag, train_val_pairs

if TYPE_CHECKING:  # pragma: no cover
    from .report import Report

DISPLAY_CAP = 4000  # points per tag embedded and drawn; longer logs keep min/max per bucket (+ first, last, non-finite)
TRAINING_SECTION = "training"
PAIRS_FIGURE = "training-train-vs-val"
HIERARCHY_SECTION = "hierarchy-losses"
HIERARCHY_FIGURE = "hierarchy-losses-levels"
SCHEDULES_SECTION = "schedules"
SCHEDULES_FIGURE = "schedules-schedules"
CHECKPOINTS_SECTION = "representations"
CHECKPOINTS_FIGURE = "representations-checkpoints"
CHECKPOINT_MEASURES = (  # panels of the across-checkpoint chart: measures of report.json's metrics.checkpoints
    ("knn_accuracy",),
    ("rankme",),
    ("rankme_tokens",),
    ("alpha_req",),
    ("prediction_cosine", "baseline_cosine"),
    ("isotropy",),
    ("gram_drift",),
    ("val_loss",),
)


def chart_doc(report: Report, figure_ids: set[str]) -> dict[str, Any] | None:
    """Return the embedded chart data for the figures among `figure_ids` drawn from logged tags (None: none).

    The training section's per-group figures and its train-vs-validation figure, the hierarchical losses'
    per-level figure (its level and total tags as report.json's section metrics name them), the schedules
    (logged against implied, from the figure's own series) and the measures across checkpoints. With the
    run's steps per epoch (the schedules section's metrics), the page can put epochs on the x axis.
    """
    table = report.run.scalars
    tags = table.tags() if len(table) else []
    charts = _training_charts(report, figure_ids, tags) if tags else {}
    charts.update(_hierarchy_charts(report, figure_ids, tags) if tags else {})
    measured, measures = _checkpoint_charts(report, figure_ids)
    charts.update(measured)
    scheduled, curves = _schedule_charts(report, figure_ids)
    charts.update(scheduled)
    if not charts:
        return None
    own = set(measures) | set(curves)
    used = sorted({t for c in charts.values() for p in c["panels"] for t in p["tags"]} - own)
    origin = _first_wall_time(table) if tags else None
    weight = float(report.settings.smoothing)
    series = {tag: tag_series(table.series(tag), tag, weight, origin) for tag in used}
    doc = {"smoothing": weight, "display_cap": DISPLAY_CAP, "charts": charts, "series": series | measures | curves}
    if spe := _steps_per_epoch(report):
        doc["steps_per_epoch"] = spe
    return doc


def _training_charts(report: Report, figure_ids: set[str], tags: list[str]) -> dict[str, dict]:
    """The training figures: one panel per tag (figure_id_for_tag), and the train/validation pairs."""
    if not any(s.name == TRAINING_SECTION for s in report.sections):
        return {}
    charts: dict[str, dict] = {}
    for tag in tags:
        fid = figure_id_for_tag(tags, tag)[1:]
        if fid in figure_ids:
            charts.setdefault(fid, {"panels": []})["panels"].append({"title": tag, "tags": [tag]})
    if PAIRS_FIGURE in figure_ids:
        pairs = [
            {"title": val.split("/", 1)[-1].replace("val_", ""), "tags": [t, val]} for t, val in train_val_pairs(tags)
        ]
        if pairs:
            charts[PAIRS_FIGURE] = {"panels": pairs}
    return charts


def _hierarchy_charts(report: Report, figure_ids: set[str], tags: list[str]) -> dict[str, dict]:
    """The per-level losses overlaid in one panel and the logged total in another; the static figure stays
    in view too (folded), for what the chart does not redraw: each level's share of the weighted total."""
    section = next((s for s in report.sections if s.name == HIERARCHY_SECTION), None)
    if section is None or HIERARCHY_FIGURE not in figure_ids:
        return {}
    levels = [t for t in (section.metrics.get("level_tags") or {}).values() if t in tags]
    total = section.metrics.get("total_tag")
    if not levels:
        return {}
    panels = [{"title": "loss per level", "tags": levels}]
    if total in tags:
        panels.append({"title": total, "tags": [total]})
    return {HIERARCHY_FIGURE: {"panels": panels, "keep_static": "static figure, with each level's share"}}


def _checkpoint_charts(report: Report, figure_ids: set[str]) -> tuple[dict[str, dict], dict[str, dict]]:
    """The measures across checkpoints (report.json's representations metrics.checkpoints), one panel each,
    the prediction cosine with its mean-token baseline; the static figure, with its reference lines and the
    best checkpoint, stays folded under the chart. Series are named 'checkpoints: MEASURE'."""
    section = next((s for s in report.sections if s.name == CHECKPOINTS_SECTION), None)
    rows = (section.metrics.get("checkpoints") or []) if section is not None else []
    rows = [r for r in rows if isinstance(r, dict) and isinstance(r.get("step"), (int, float))]
    if CHECKPOINTS_FIGURE not in figure_ids or len(rows) < 2:
        return {}, {}
    rows = sorted(rows, key=lambda r: r["step"])
    series, panels = {}, []
    for group in CHECKPOINT_MEASURES:
        names = [m for m in group if any(isinstance(r.get(m), (int, float)) for r in rows)]
        for m in names:
            values = [float(r[m]) if isinstance(r.get(m), (int, float)) else float("nan") for r in rows]
            series[f"checkpoints: {m}"] = array_series(np.array([r["step"] for r in rows], float), np.array(values))
        if names:
            panels.append({"title": " vs ".join(names), "tags": [f"checkpoints: {m}" for m in names]})
    if not panels:
        return {}, {}
    chart = {"panels": panels, "keep_static": "static figure, with the reference lines and the best checkpoint"}
    return {CHECKPOINTS_FIGURE: chart}, series


def _schedule_charts(report: Report, figure_ids: set[str]) -> tuple[dict[str, dict], dict[str, dict]]:
    """The schedules figure as a chart: one panel per schedule with its logged values and its config-implied
    curve (FigureItem.series, set by the schedules section), named 'SCHEDULE: logged' / 'SCHEDULE: implied by
    config'; never smoothed (a schedule is a set value, not a noisy measurement)."""
    section = next((s for s in report.sections if s.name == SCHEDULES_SECTION), None)
    item = next((f for f in section.figures if f.id == SCHEDULES_FIGURE), None) if section else None
    if item is None or not item.series or SCHEDULES_FIGURE not in figure_ids:
        return {}, {}
    series, panels = {}, []
    for title, curves in item.series.items():
        names = []
        for curve, (steps, values) in curves.items():
            name = f"{title}: {curve}"
            series[name] = array_series(np.asarray(steps, float), np.asarray(values, float))
            names.append(name)
        if names:
            panels.append({"title": title, "tags": names, "named": True})  # legend: the curves' names
    return ({SCHEDULES_FIGURE: {"panels": panels}} if panels else {}), series


def array_series(steps: np.ndarray, values: np.ndarray) -> dict[str, Any]:
    """An embedded series of (steps, values) that is not a logged tag: downsampled as tags are, not smoothed."""
    keep = display_indices(values, DISPLAY_CAP)
    return {
        "count": int(len(values)),
        "smooth": False,
        "log": False,
        "downsampled": bool(len(keep) < len(values)),
        "steps": [_step(s) for s in steps[keep]],
        "values": [json_number(v) for v in values[keep]],
    }


def _steps_per_epoch(report: Report) -> int | None:
    """The run's steps per epoch as the schedules section found them (logs or checkpoints), else None."""
    section = next((s for s in report.sections if s.name == SCHEDULES_SECTION), None)
    spe = section.metrics.get("steps_per_epoch") if section is not None else None
    return int(spe) if isinstance(spe, (int, float)) and spe > 0 else None


def tag_series(frame, tag: str, weight: float, wall_origin: float | None) -> dict[str, Any]:
    """Return one tag's embedded series: steps, values, wall time, whether it is smoothed, its log axis."""
    from .smoothing import debiased_ema

    steps = frame["step"].to_numpy(dtype=float)
    values = frame["value"].to_numpy(dtype=float)
    walls = frame["wall_time"].to_numpy(dtype=float)
    keep = display_indices(values, DISPLAY_CAP)
    smoothable = should_smooth(tag, values, 0.5)  # the tag's kind and length; the weight is the slider's
    out: dict[str, Any] = {
        "count": int(len(values)),
        "smooth": bool(smoothable),
        "log": bool(wants_log_axis(values)),
        "downsampled": bool(len(keep) < len(values)),
        "steps": [_step(s) for s in steps[keep]],
        "values": [json_number(v) for v in values[keep]],
    }
    if wall_origin is not None and np.isfinite(walls).all():
        out["wall"] = [round(float(w - wall_origin), 3) for w in walls[keep]]
    if out["downsampled"] and smoothable and weight > 0:
        out["smoothed"] = [json_number(v) for v in debiased_ema(values, weight)[keep]]  # full-resolution EMA
    return out


def display_indices(values: np.ndarray, cap: int = DISPLAY_CAP) -> np.ndarray:
    """Return the indices kept for display: all when len <= cap, else per bucket the min and max finite point.

    cap // 2 equal buckets of consecutive points; each keeps the index of its smallest and largest finite
    value (in step order), so every local extreme of a bucket, a spike included, is drawn. The first and last
    point and every non-finite point are always kept.
    """
    n = len(values)
    if n <= cap:
        return np.arange(n)
    x = np.asarray(values, dtype=float)
    finite = np.isfinite(x)
    keep = np.zeros(n, dtype=bool)
    keep[[0, n - 1]] = True
    keep |= ~finite
    lo_fill, hi_fill = np.where(finite, x, np.inf), np.where(finite, x, -np.inf)
    for bucket in np.array_split(np.arange(n), max(1, cap // 2)):
        if finite[bucket].any():
            keep[bucket[np.argmin(lo_fill[bucket])]] = True
            keep[bucket[np.argmax(hi_fill[bucket])]] = True
    return np.flatnonzero(keep)


def json_number(value: float):
    """Return a float as report.json writes it: the number, None for NaN, "inf" / "-inf" for infinities."""
    v = float(value)
    if math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def _step(step: float):
    return int(step) if float(step).is_integer() else float(step)


def _first_wall_time(table) -> float | None:
    walls = table.frame["wall_time"].to_numpy(dtype=float)
    walls = walls[np.isfinite(walls)]
    return float(walls.min()) if len(walls) else None
