"""The health checks of the predictions and representations sections, applied in compute to the numbers
measured there, with the thresholds of analysis/thresholds.py (or the user's --thresholds)."""

from __future__ import annotations

import numpy as np

from ..base import PassResult
from ..thresholds import threshold

COLLAPSE_THRESHOLDS = (
    "rankme_fraction.warn",
    "rankme_fraction.fail",
    "std_fraction.fail",
    "mean_cosine.warn",
    "mean_cosine.fail",
)


def nonfinite_tokens(levels) -> dict[int, int]:
    """Return {level: valid tokens whose prediction or target holds NaN / inf} (predictions.LevelErrors; their
    cosine, L2 or baseline is then not finite), leaving out the levels where all is finite."""
    found = {}
    for lev in levels:
        finite = np.isfinite(lev.cosine) & np.isfinite(lev.l2) & np.isfinite(lev.baseline_cosine)
        count = int((lev.valid & ~finite).sum())
        if count:
            found[lev.level] = count
    return found


def finite_predictions_check(result: PassResult, levels, checkpoint: str | None = None) -> bool:
    """Fail 'predictions-finite' with a note naming the levels and token counts when predictions or targets
    hold NaN / inf (their means are then not measured: NaN, null in report.json); return whether all is finite."""
    found = nonfinite_tokens(levels)
    if not found:
        return True
    of = f" of checkpoint {checkpoint}" if checkpoint else ""
    where = ", ".join(f"level {level}: {count} token(s)" for level, count in found.items())
    result.metrics["non_finite_predictions"] = {str(level): count for level, count in found.items()}
    result.notes.append(
        f"Not computed: the predictions or targets{of} hold NaN or inf ({where}), so the mean cosine, L2 and the "
        "baseline comparison of those levels are not measured."
    )
    result.add_check(
        "predictions-finite",
        "fail",
        f"the predictor's outputs or the target encoder's tokens{of} hold NaN or inf ({where}): the weights or "
        "the input overflowed",
        figure_id="cosine",
        value=float(sum(found.values())),
    )
    return False


def prediction_check(result: PassResult, summary: list[dict], margin_needed: float) -> None:
    """Warn when a level's predictor does not beat the mean-target-token baseline in mean cosine by more than
    `margin_needed` (threshold prediction.baseline_margin)."""
    losing = [r["level"] for r in summary if r["cosine_mean"] - r["baseline_cosine_mean"] <= margin_needed]
    margin = min(r["cosine_mean"] - r["baseline_cosine_mean"] for r in summary)
    if losing:
        result.add_check(
            "prediction-vs-baseline",
            "warn",
            f"the predictor's mean cosine does not beat predicting the mean target token at level(s) "
            f"{losing} (smallest margin {margin:+.3f})",
            figure_id="cosine",
            value=margin,
        )
    else:
        result.add_check(
            "prediction-vs-baseline",
            "pass",
            f"the predictor beats the mean-target-token baseline at every level (smallest margin "
            f"{margin:+.3f} in mean cosine)",
            figure_id="cosine",
            value=margin,
        )


def collapse_thresholds(ctx) -> dict[str, float]:
    """The collapse.* thresholds of this report, by their name after 'collapse.'."""
    return {name: threshold(ctx, f"collapse.{name}") for name in COLLAPSE_THRESHOLDS}


def collapse_check(result: PassResult, h: dict, ah: dict, limits: dict[str, float]) -> None:
    """Fail / warn when patch-token RankMe is far below the isotropic anchor, the normalised per-dimension std is
    far below 1/sqrt(D), or image embeddings all point alike (`limits`: collapse_thresholds).

    `h` holds metrics.embedding_health per space ("tokens", "image"), `ah` the same of the anchors."""
    ratio = h["tokens"]["rankme"] / max(ah["tokens"]["isotropic"]["rankme"], 1e-12)
    std_ratio = h["tokens"]["normalised_std_mean"] / h["tokens"]["isotropic_std"]
    cos = h["image"]["mean_pairwise_cosine"]
    detail = (
        f"patch-token RankMe {h['tokens']['rankme']:.1f} = {ratio:.0%} of the isotropic anchor "
        f"({ah['tokens']['isotropic']['rankme']:.1f}); normalised per-dimension std {std_ratio:.0%} of "
        f"1/sqrt(D); mean pairwise cosine of image embeddings {cos:.3f}"
    )
    if (
        ratio < limits["rankme_fraction.fail"]
        or std_ratio < limits["std_fraction.fail"]
        or cos > limits["mean_cosine.fail"]
    ):
        status = "fail"
    elif ratio < limits["rankme_fraction.warn"] or cos > limits["mean_cosine.warn"]:
        status = "warn"
    else:
        status = "pass"
    result.add_check(
        "collapse",
        status,
        detail + {"fail": ": collapsed", "warn": ": partly collapsed", "pass": ""}[status],
        figure_id="health",
        value=ratio,
    )


def class_structure_check(result: PassResult, accuracy: dict | None, min_images: int) -> None:
    """Pass when the lower end of the kNN accuracy's 95 % interval is above chance, warn when it is not; skip
    without labels or with fewer probe images than `min_images` (threshold knn.min_images: the interval would
    be too wide to tell a weak encoder from a poor one)."""
    acc = (accuracy or {}).get("image") or {}
    if acc.get("nonfinite"):
        result.add_check("class-structure", "skip", f"no kNN accuracy: not computed, {acc['reason']}")
        return
    if acc.get("knn_accuracy") is None:
        result.add_check("class-structure", "skip", "no class labels on the images: no kNN accuracy")
        return
    n, value, (low, high), chance = acc["samples"], acc["knn_accuracy"], acc["knn_interval"], acc["chance"]
    detail = (
        f"kNN accuracy {value:.1%} (95% interval {low:.1%}-{high:.1%}, {n} images, {acc['classes']} "
        f"classes) vs chance {chance:.1%}"
    )
    if n < min_images:
        result.add_check(
            "class-structure",
            "skip",
            f"{detail}: fewer than {min_images} labelled images, too few to tell (add images or raise --probe-images)",
            figure_id="checkpoints",
            value=value,
        )
    elif low > chance:
        result.add_check("class-structure", "pass", detail + ": above chance", figure_id="checkpoints", value=value)
    else:
        result.add_check(
            "class-structure",
            "warn",
            detail + ": not above chance, the embeddings do not separate the classes",
            figure_id="checkpoints",
            value=value,
        )
