"""The "hierarchy-losses" section: per-level losses from the logs, their weighted sum against the logged total,
each level's share, the regulariser of a combined / SIGReg loss next to them with the check that the logged
total is the JEPA part plus the weighted regulariser, and levels that stop improving while another still does
(numbers: hierarchy.py)."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from . import hierarchy
from .figures import hierarchy_levels_figure, logged_curves_figure, weighted_sum_figure


@dataclass
class HierarchyLossResult(PassResult):
    """The aligned per-level losses and the smoothing their curves are drawn with."""

    losses: hierarchy.HierarchyLosses
    smoothing: float
    max_relative_residual: float | None
    regulariser: hierarchy.RegulariserTerms | None = None


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
        _check_regulariser(ctx, h, result)
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
                + (
                    f" This run adds a regulariser on the context encoder's output: {result.regulariser.formula.text}."
                    if result.regulariser is not None
                    else ""
                )
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
        if result.regulariser is not None:
            _add_regulariser_figures(shown, result.regulariser, result.smoothing)
        return shown


def _check_regulariser(ctx: ReportContext, h: hierarchy.HierarchyLosses, result: HierarchyLossResult) -> None:
    """Check: logged total = jepa_loss + weighted regulariser at every step the three were logged (or a note)."""
    formula = hierarchy.loss_formula(ctx.run.config)
    result.metrics["loss_formula"] = formula.text if formula else None
    logged = hierarchy.regulariser_tags(ctx.run.scalars.tags(), h.tags.prefix)
    if formula is None or formula.regulariser is None:
        if logged:
            said = f"the config's {formula.text}" if formula else "the config names no known loss.type"
            result.notes.append(f"The logs have regulariser tags ({', '.join(logged[:4])}) but {said}.")
        return
    terms = hierarchy.regulariser_terms(ctx.run.scalars, ctx.run.config, h.tags.prefix)
    if terms is None:
        result.notes.append(
            f"The config's loss has a regulariser ({formula.text}), but the logs lack "
            f"{h.tags.prefix}loss, {h.tags.prefix}jepa_loss or {h.tags.prefix}{formula.regulariser}: not checked."
        )
        return
    result.regulariser = terms
    rel, tolerance = terms.max_relative_residual(), hierarchy.RESIDUAL_TOLERANCE
    result.metrics["regulariser"] = {
        "tags": terms.tags,
        "weight": formula.weight,
        "components": sorted(terms.components),
        "compared_steps": int(len(terms.steps)),
        "max_relative_residual": rel,
        "final": {t: float(v[-1]) for t, (_, v) in sorted(terms.components.items()) if len(v)},
    }
    if rel is None:
        result.notes.append("The total with its regulariser was not checked: no step has all three logged.")
        return
    ok = rel <= tolerance
    result.add_check(
        "hierarchy-total-with-regulariser",
        "pass" if ok else "warn",
        f"{terms.tags['total']}: {formula.text}, at {len(terms.steps)} logged steps within {rel:.2g} relative "
        f"(tolerance {tolerance:g}: float32 logging)"
        if ok
        else f"{terms.tags['total']} differs by up to {rel:.2%} over {len(terms.steps)} logged steps from "
        f"{formula.text}: the config is not the one that trained the run, or its weights differ",
        figure_id="regulariser",
        value=rel,
    )


_REGULARISER_TERMS = {  # what the logged components are (src/losses/vicreg.py, sigreg.py, combined.py)
    "vicreg": "VICReg (Bardes et al. 2022) on the two half-batches of context features (CombinedLoss): "
    "invariance = their MSE, variance = hinge max(0, 1 - std) per dimension, covariance = squared off-diagonal "
    "covariances; vicreg_encoder = 25 x invariance + 25 x variance + 1 x covariance (default weights), "
    "vicreg_loss = vicreg_weight x vicreg_encoder. The term to watch is the variance.",
    "sigreg": "SIGReg (LeJEPA, Balestriero & LeCun 2025) on the context features (HJEPASIGRegLoss): sigreg_loss = "
    "how far random 1-D projections of the features are from a standard Gaussian (an Epps-Pulley-type test); "
    "sigreg_invariance, the MSE between the two half-batches, is logged but not added to the total. The term "
    "to watch is sigreg_loss.",
}


def _add_regulariser_figures(shown: Presentation, terms: hierarchy.RegulariserTerms, smoothing: float) -> None:
    """The total with its two terms and their recomputed sum, then the regulariser's logged components."""
    reg, w = terms.tags["regulariser"], terms.formula.weight
    reg_kind = terms.formula.regulariser.split("_")[0]  # vicreg | sigreg
    curves = {
        terms.tags["total"]: (terms.steps, terms.total),
        f"{terms.tags['jepa']} + {w:g} x {reg} (recomputed)": (terms.steps, terms.recomputed),
        terms.tags["jepa"]: (terms.steps, terms.jepa),
        reg: (terms.steps, terms.regulariser),
    }
    shown.add_figure(
        "regulariser",
        "Total loss = JEPA part + weighted regulariser",
        f"The logged {terms.tags['total']}, its JEPA part {terms.tags['jepa']} (= sum_l w_l L_l) and the "
        f"regulariser {reg}, at the {len(terms.steps)} steps where all three were logged, with the sum "
        f"{terms.formula.text} recomputed from the logged terms (smoothing {smoothing}). Healthy: the recomputed "
        f"sum lies on the total (within {hierarchy.RESIDUAL_TOLERANCE:g} relative: float32 logging), hiding it. "
        "The regulariser acts on the context encoder's output, not on the predictions: it is what keeps the "
        "encoder from collapsing, and the larger its part of the total, the more of the gradient it supplies.",
        logged_curves_figure(curves, smoothing),
    )
    shown.add_figure(
        "regulariser-components",
        "Regulariser components as logged",
        f"Every logged regulariser tag ({', '.join(sorted(terms.components))}). {_REGULARISER_TERMS[reg_kind]} "
        "Healthy: that term falls and stays low; a sustained rise means the features are losing spread.",
        logged_curves_figure(dict(sorted(terms.components.items())), smoothing),
    )


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
