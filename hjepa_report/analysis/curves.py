"""Drawing logged scalar curves: raw faint, smoothed bold, non-finite points marked, log axis when needed."""

from __future__ import annotations

import numpy as np

from .smoothing import debiased_ema, downsample_for_drawing

BAD_COLOUR = "#C0392B"
MIN_POINTS_TO_SMOOTH = 20  # below this an EMA mostly shows its own lag: draw the raw points instead
SCHEDULE_WORDS = ("lr", "learning_rate", "momentum", "ema", "weight_decay", "wd", "mask_ratio", "epoch")


def should_smooth(tag: str, values: np.ndarray, weight: float) -> bool:
    """Tell whether a tag's curve is smoothed: not for schedules (lr, EMA momentum...), nor for short series."""
    leaf = tag.lower().rsplit("/", 1)[-1]
    is_schedule = any(leaf == w or leaf.startswith(w + "_") or leaf.endswith("_" + w) for w in SCHEDULE_WORDS)
    return weight > 0 and not is_schedule and int(np.isfinite(values).sum()) >= MIN_POINTS_TO_SMOOTH


def wants_log_axis(values: np.ndarray) -> bool:
    """Tell whether a tag should be drawn on a log y-axis: all finite values positive, spanning > 2 decades."""
    v = values[np.isfinite(values)]
    return len(v) > 1 and bool((v > 0).all()) and v.max() / v.min() > 100.0


def draw_curve(
    ax,
    steps: np.ndarray,
    values: np.ndarray,
    *,
    weight: float,
    tag: str = "",
    label: str | None = None,
    color: str | None = None,
    max_points: int = 2000,
) -> dict:
    """Draw one tag on `ax`: raw values faint, smoothed bold; mark NaN/inf; return counts of bad points.

    Smoothing runs on the full series; only the drawing is thinned (downsample_for_drawing). Schedules and
    short series are drawn raw and bold (see should_smooth), with point markers when there are few points.
    """
    smoothed = should_smooth(tag, values, weight)
    smooth = debiased_ema(values, weight) if smoothed else values
    s, raw, sm = downsample_for_drawing(steps, values, smooth, max_points=max_points)
    finite = np.isfinite(raw)
    (line,) = ax.plot(s[finite], sm[finite], lw=1.6, color=color, label=label, zorder=3)
    if smoothed:
        ax.plot(s[finite], raw[finite], lw=0.8, alpha=0.35, color=line.get_color(), zorder=2)
    if finite.sum() < MIN_POINTS_TO_SMOOTH:
        ax.plot(s[finite], raw[finite], "o", ms=3, color=line.get_color(), zorder=4)
    counts = {"nan": int(np.isnan(values).sum()), "inf": int(np.isinf(values).sum())}
    if counts["nan"] or counts["inf"]:
        _mark_bad_points(ax, s, raw)
    if wants_log_axis(values):
        ax.set_yscale("log")
    else:
        ax.ticklabel_format(axis="y", useOffset=False)
    return counts


def _mark_bad_points(ax, steps: np.ndarray, values: np.ndarray) -> None:
    """Put a red marker at the top edge (NaN, +inf) or bottom edge (-inf) of the axes at each bad step."""
    trans = ax.get_xaxis_transform()  # x in data units, y in axes fraction
    edges = ((np.isnan(values) | (values == np.inf), 0.97, "NaN / +inf"), (values == -np.inf, 0.03, "-inf"))
    for bad, height, label in edges:
        if bad.any():
            ax.scatter(
                steps[bad],
                np.full(bad.sum(), height),
                marker="x",
                color=BAD_COLOUR,
                s=28,
                transform=trans,
                zorder=5,
                clip_on=False,
                label=label,
            )
