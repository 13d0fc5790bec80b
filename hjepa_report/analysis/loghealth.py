"""Log-level health checks: non-finite values, a loss that ends higher than it started, missing validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import AnalysisPass, PassResult, Presentation
from .context import ReportContext
from .curves import MIN_POINTS_TO_SMOOTH
from .smoothing import debiased_ema
from .thresholds import threshold
from .training import figure_id_for_tag

LOSS_TAG_PREFERENCE = ("train/loss", "loss", "train_loss", "train/total_loss", "train_loss_step", "train_loss_epoch")
EDGE_FRACTION = 0.1  # compare the median of the first and the last 10 % of points


def main_loss_tag(tags: list[str]) -> str | None:
    """Pick the run's main training loss tag: a known name first, else the first tag ending in 'loss'."""
    for name in LOSS_TAG_PREFERENCE:
        if name in tags:
            return name
    candidates = [t for t in tags if t.lower().endswith("loss") and not t.lower().startswith(("val", "valid"))]
    return candidates[0] if candidates else None


def start_end_medians(values: np.ndarray) -> tuple[float, float] | None:
    """Return the medians of the first and last 10 % (at least one point) of the finite values."""
    v = values[np.isfinite(values)]
    if len(v) < 2:
        return None
    k = max(1, int(round(len(v) * EDGE_FRACTION)))
    return float(np.median(v[:k])), float(np.median(v[-k:]))


@dataclass
class LogHealthResult(PassResult):
    """The log-only checks; the tags and the main loss tag they were judged on."""

    tags: list[str]
    loss_tag: str | None
    bad: dict[str, dict]  # tag -> summary, for tags with NaN or inf values


class LogHealthPass(AnalysisPass[LogHealthResult]):
    """Checks that need only the logs; model-based checks are added by their own sections."""

    name = "log-health"
    title = "Log checks"

    def applies(self, ctx: ReportContext) -> str | None:
        return None if len(ctx.run.scalars) else "No scalar logs: nothing to check here."

    def compute(self, ctx: ReportContext) -> LogHealthResult:
        table = ctx.run.scalars
        tags = table.tags()
        result = LogHealthResult(
            tags=tags,
            loss_tag=main_loss_tag(tags),
            bad={t: table.summary(t) for t in tags if _has_bad(table.arrays(t)[1])},
        )
        _check_non_finite(result)
        if result.loss_tag is None:
            result.add_check("loss-decreases", "skip", "No training loss tag was found in the logs.")
        else:
            values = table.arrays(result.loss_tag)[1]
            _check_loss_trend(result, values)
            _check_divergence(result, values, ctx)
        _check_validation(result)
        _note_placeholders(result, ctx.run)
        return result

    def present(self, result: LogHealthResult) -> Presentation:
        return Presentation(intro="Checks that read only the logged scalars. Each links to the curve that supports it.")


def _check_non_finite(result: LogHealthResult) -> None:
    bad = result.bad
    if not bad:
        result.add_check("non-finite-values", "pass", f"All {len(result.tags)} tags are finite.")
        return
    losses = [t for t in bad if "loss" in t.lower()]
    listing = ", ".join(f"{t} ({s['nan']} NaN, {s['inf']} inf)" for t, s in bad.items())
    status = "fail" if losses else "warn"
    result.add_check(
        "non-finite-values",
        status,
        f"Non-finite values logged in {listing}.",
        figure_id=figure_id_for_tag(result.tags, next(iter(losses or bad))),
    )


def _check_loss_trend(result: LogHealthResult, values: np.ndarray) -> None:
    tag = result.loss_tag
    edges = start_end_medians(values)
    if edges is None:
        result.add_check("loss-decreases", "skip", f"{tag} has fewer than two finite points.")
        return
    first, last = edges
    result.metrics["loss_tag"] = tag
    result.metrics["loss_start_median"], result.metrics["loss_end_median"] = first, last
    figure, ratio = figure_id_for_tag(result.tags, tag), last / first if first else None
    if last > first:
        result.add_check(
            "loss-decreases",
            "warn",
            f"{tag} ends higher than it started (median of the last 10 % {last:.4g} > first 10 % {first:.4g}).",
            figure_id=figure,
            value=ratio,
        )
    else:
        result.add_check(
            "loss-decreases",
            "pass",
            f"{tag} fell from {first:.4g} to {last:.4g} (medians of the first and last 10 %).",
            figure_id=figure,
            value=ratio,
        )


def _check_divergence(result: LogHealthResult, values: np.ndarray, ctx: ReportContext) -> None:
    tag = result.loss_tag
    rise = divergence(values, ctx.settings.smoothing)
    if rise is None:
        result.add_check("divergence", "skip", f"{tag} has too few finite points to judge divergence.")
        return
    warn, fail = threshold(ctx, "divergence.warn"), threshold(ctx, "divergence.fail")
    status = "fail" if rise > fail else "warn" if rise > warn else "pass"
    result.metrics["loss_rise_from_min"] = rise
    result.add_check(
        "divergence",
        status,
        f"smoothed {tag} ends {rise:.1%} above its minimum (warn above {warn:.0%}, fail above {fail:.0%}).",
        figure_id=figure_id_for_tag(result.tags, tag),
        value=rise,
    )


def _check_validation(result: LogHealthResult) -> None:
    val = [t for t in result.tags if t.lower().startswith(("val", "valid", "eval", "test"))]
    if val:
        result.add_check("validation-logged", "pass", f"{len(val)} validation tags logged (e.g. {val[0]}).")
    else:
        result.add_check(
            "validation-logged",
            "warn",
            "No validation metrics were logged: over-fitting cannot be judged from the logs.",
        )


def _note_placeholders(result: LogHealthResult, run) -> None:
    """One line on the logged "not computed" values the collector left out (collect/placeholders.py)."""
    counts = getattr(run, "placeholders", None) or {}
    if not counts:
        return
    kept = {t: len(run.scalars.series(t)) if run.scalars.has(t) else 0 for t in counts}
    listing = ", ".join(f"{t} {n} of {n + kept[t]} points" for t, n in counts.items())
    result.metrics["placeholders"] = dict(counts)
    result.notes.append(
        f"{sum(counts.values())} logged placeholders are shown as missing values, not plotted: {listing} are -1, "
        "which H-JEPA's trainer logs when it cannot compute the effective rank (no SVD on the device, e.g. MPS; "
        "src/trainers/trainer.py _compute_collapse_metrics)."
    )


def divergence(values: np.ndarray, weight: float) -> float | None:
    """Return how far the smoothed loss ends above its minimum, as a fraction of |minimum| (None: too short).

    Smoothing is the report's debiased EMA (series shorter than MIN_POINTS_TO_SMOOTH are used raw), so one
    noisy last step does not count as divergence.
    """
    v = values[np.isfinite(values)]
    if len(v) < 3:
        return None
    smooth = debiased_ema(v, weight) if len(v) >= MIN_POINTS_TO_SMOOTH else v
    low = float(smooth.min())
    return float((smooth[-1] - low) / abs(low)) if low != 0 else float(smooth[-1] > 0)


def _has_bad(values: np.ndarray) -> bool:
    return bool((~np.isfinite(values)).any())
