"""The "hierarchy-losses" section: per-level losses from the logs, their weighted sum against the logged total,
each level's share, and levels that stop improving while another still does (numbers: hierarchy.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from . import hierarchy
from .figures import hierarchy_levels_figure, weighted_sum_figure


@dataclass
class HierarchyLossResult(PassResult):
    """The aligned per-level losses and the smoothing their curves are drawn with."""

    losses: hierarchy.HierarchyLosses
    smoothing: float
    max_relative_residual: float | None


class HierarchyLossPass(AnalysisPass[HierarchyLossResult]):
    """Per-level losses, their weighted sum against the logged total, shares, and levels that stop improving."""

    name = "hierarchy-losses"
    title = "Hierarchical losses"

    def applies(self, ctx: ReportContext) -> str | None:
        if hierarchy.find_level_tags(ctx.run.scalars.tags()) is None:
            return "the run logged no per-level losses (tags like train/loss_h0, loss_level_0, level_0_loss)"
        return None

    def compute(self, ctx: ReportContext) -> HierarchyLossResult:
        h = hierarchy.hierarchy_losses(ctx.run.scalars, ctx.run.config)
        result = HierarchyLossResult(
            losses=h, smoothing=ctx.settings.smoothing, max_relative_residual=h.max_relative_residual()
        )
        result.metrics["max_relative_residual"] = result.max_relative_residual
        _check_sum(h, result)
        _check_stalls(
            h, result, threshold(ctx, "hierarchy.stall_improvement"), threshold(ctx, "hierarchy.others_improvement")
        )
        shares = h.shares()
        result.metrics.update(
            {
                "level_tags": {str(k): v for k, v in h.tags.levels.items()},
                "total_tag": h.tags.total,
                "weights": h.weights,
                "weights_source": h.weights_source,
                "aligned_steps": int(len(h.steps)),
                "improvement_middle_to_last_third": h.improvement,
                "final_level_losses": h.levels[:, -1].tolist() if len(h.steps) else None,
                "final_shares": shares[:, -1].tolist() if shares is not None and len(h.steps) else None,
            }
        )
        return result

    def present(self, result: HierarchyLossResult) -> Presentation:
        h = result.losses
        shown = Presentation(
            intro=(
                "H-JEPA's loss is a weighted sum over hierarchy levels, L = sum_l w_l L_l (src/losses/hjepa_loss.py). "
                "Each level should fall; a coarse level that flattens while the finest keeps improving carries no "
                "learning signal."
            )
        )
        levels = ", ".join(h.tags.levels.values())
        weights = f"weights {h.weights} ({h.weights_source})" if h.weights else f"no weights: {h.weights_source}"
        shown.add_figure(
            "levels",
            "Loss per hierarchy level and each level's share",
            f"Left: the logged loss of each level ({levels}); bold = TensorBoard-style debiased EMA (smoothing "
            f"{result.smoothing}), faint = raw. Right: each level's share of the weighted total, {weights}. "
            "Healthy: every level falls, and no share swells towards 1 (one level dominating the gradient).",
            hierarchy_levels_figure(h, result.smoothing),
        )
        if result.max_relative_residual is not None:
            shown.add_figure(
                "weighted-sum",
                "Logged total vs weighted sum of the levels",
                f"Top: the logged {h.tags.total} (dots) and sum_l w_l L_l recomputed from the logged levels with the "
                f"config's weights {h.weights} (line), at the {len(h.total_steps)} steps where both were logged. "
                f"Bottom: their difference. Healthy: the difference is float rounding (< "
                f"{hierarchy.RESIDUAL_TOLERANCE:g} relative); a larger gap means the config's weights are not the "
                "ones that trained the run, or the total has other terms (e.g. VICReg in a 'combined' loss).",
                weighted_sum_figure(h),
            )
        return shown


def _check_sum(h: hierarchy.HierarchyLosses, result: HierarchyLossResult) -> None:
    """Check: the logged total equals the recomputed weighted sum (or a note saying why it was not checked)."""
    rel, tolerance = result.max_relative_residual, hierarchy.RESIDUAL_TOLERANCE
    if rel is None:
        why = (
            "no logged total of the same prefix"
            if not h.tags.total
            else "no hierarchy weights in the config"
            if h.weights is None
            else "no common steps"
        )
        result.notes.append(f"The weighted sum of the levels was not checked: {why}.")
        return
    ok = rel <= tolerance
    result.add_check(
        "hierarchy-weighted-sum",
        "pass" if ok else "warn",
        f"{h.tags.total} = sum_l w_l L_l within {rel:.2g} relative (tolerance {tolerance:g})"
        if ok
        else f"{h.tags.total} differs from sum_l w_l L_l by up to {rel:.2%}: other weights or extra loss terms",
        figure_id="weighted-sum",
        value=rel,
    )


def _check_stalls(h: hierarchy.HierarchyLosses, result: HierarchyLossResult, below: float, above: float) -> None:
    """Check: a level that stops improving while another still improves."""
    rule = (
        f"median loss over the last third of the logged steps < {below:.0%} below the middle "
        f"third while another level improves > {above:.0%}"
    )
    if all(x is None for x in h.improvement) or len(h.improvement) < 2:
        result.add_check(
            "hierarchy-level-stall",
            "skip",
            f"needs >= 2 levels with >= {hierarchy.MIN_POINTS_FOR_STALL} points each",
            figure_id="levels",
        )
        return
    stalled = hierarchy.stalled_levels(h.improvement, below, above)
    improvement = ", ".join(
        f"level {lv}: {x:.0%}" for lv, x in zip(h.tags.levels, h.improvement, strict=True) if x is not None
    )
    if stalled:
        names = ", ".join(f"level {list(h.tags.levels)[k]}" for k in stalled)
        result.add_check(
            "hierarchy-level-stall",
            "warn",
            f"{names} stopped improving ({improvement}); rule: {rule}",
            figure_id="levels",
        )
        result.notes.append(f"{names} stopped improving while another level still improves ({improvement}).")
    else:
        result.add_check(
            "hierarchy-level-stall",
            "pass",
            f"every level still improves or none does ({improvement})",
            figure_id="levels",
        )
    result.metrics["stall_rule"] = rule
    result.metrics["stalled_levels"] = [list(h.tags.levels)[k] for k in stalled]
