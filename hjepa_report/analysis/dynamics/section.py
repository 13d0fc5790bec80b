"""Training-dynamics passes: hierarchical losses and schedules from the logs (this module), gradient flow and
the loss landscape from checkpoints (model_passes.py).

The generic training-curves section draws every tag; these passes answer the "why" questions: does each
hierarchy level keep learning, are the LR / weight-decay / EMA schedules the ones the config asks for, how far
does the EMA target trail the context encoder.
"""

from __future__ import annotations

import numpy as np

from ...errors import ReportError
from ..base import AnalysisPass, ReportContext, Section
from . import hierarchy as hl
from .figures import drift_heatmap, hierarchy_levels_figure, schedules_figure, weighted_sum_figure
from ..thresholds import threshold
from .schedules import best_comparison, config_schedule, steps_per_epoch_from_logs

# Tags a trainer logs its schedules under (H-JEPA: train/lr, train/ema_momentum; others: bare names).
SCHEDULE_TAGS = {
    "lr": ("train/lr", "lr", "train/learning_rate", "learning_rate", "lr-AdamW", "train/lr_0"),
    "weight_decay": ("train/weight_decay", "weight_decay", "train/wd", "wd"),
    "ema_momentum": ("train/ema_momentum", "ema_momentum", "train/momentum_ema", "ema_decay", "train/ema_decay"),
}
CHECK_NAMES = {"lr": "lr-schedule", "weight_decay": "wd-schedule", "ema_momentum": "ema-schedule"}


class HierarchyLossPass(AnalysisPass):
    """Per-level losses, their weighted sum against the logged total, shares, and levels that stop improving."""

    name = "hierarchy-losses"
    title = "Hierarchical losses"

    def applies(self, ctx: ReportContext) -> str | None:
        if hl.find_level_tags(ctx.run.scalars.tags()) is None:
            return "the run logged no per-level losses (tags like train/loss_h0, loss_level_0, level_0_loss)"
        return None

    def compute(self, ctx: ReportContext):
        return hl.hierarchy_losses(ctx.run.scalars, ctx.run.config)

    def present(self, h: hl.HierarchyLosses, ctx: ReportContext, section: Section) -> None:
        section.intro = ("H-JEPA's loss is a weighted sum over hierarchy levels, L = sum_l w_l L_l "
                         "(src/losses/hjepa_loss.py). Each level should fall; a coarse level that flattens while "
                         "the finest keeps improving carries no learning signal.")
        levels = ", ".join(h.tags.levels.values())
        weights = f"weights {h.weights} ({h.weights_source})" if h.weights else f"no weights: {h.weights_source}"
        section.add_figure(
            "levels", "Loss per hierarchy level and each level's share",
            f"Left: the logged loss of each level ({levels}); bold = TensorBoard-style debiased EMA (smoothing "
            f"{ctx.settings.smoothing}), faint = raw. Right: each level's share of the weighted total, {weights}. "
            "Healthy: every level falls, and no share swells towards 1 (one level dominating the gradient).",
            hierarchy_levels_figure(h, ctx.settings.smoothing))
        self._present_sum(h, section)
        self._present_stalls(h, section, threshold(ctx, "hierarchy.stall_improvement"),
                             threshold(ctx, "hierarchy.others_improvement"))
        section.metrics.update({
            "level_tags": {str(k): v for k, v in h.tags.levels.items()},
            "total_tag": h.tags.total,
            "weights": h.weights,
            "weights_source": h.weights_source,
            "aligned_steps": int(len(h.steps)),
            "improvement_middle_to_last_third": h.improvement,
            "final_level_losses": h.levels[:, -1].tolist() if len(h.steps) else None,
            "final_shares": h.shares()[:, -1].tolist() if h.shares() is not None and len(h.steps) else None,
        })
        section.metrics = json_friendly(section.metrics)

    def _present_sum(self, h: hl.HierarchyLosses, section: Section) -> None:
        """Figure and check: logged total vs recomputed weighted sum."""
        rel = h.max_relative_residual()
        section.metrics["max_relative_residual"] = rel
        if rel is None:
            why = ("no logged total of the same prefix" if not h.tags.total else
                   "no hierarchy weights in the config" if h.weights is None else "no common steps")
            section.notes.append(f"The weighted sum of the levels was not checked: {why}.")
            return
        section.add_figure(
            "weighted-sum", "Logged total vs weighted sum of the levels",
            f"Top: the logged {h.tags.total} (dots) and sum_l w_l L_l recomputed from the logged levels with the "
            f"config's weights {h.weights} (line), at the {len(h.total_steps)} steps where both were logged. Bottom: "
            f"their difference. Healthy: the difference is float rounding (< {hl.RESIDUAL_TOLERANCE:g} relative); a "
            "larger gap means the config's weights are not the ones that trained the run, or the total has "
            "other terms (e.g. VICReg in a 'combined' loss).", weighted_sum_figure(h))
        ok = rel <= hl.RESIDUAL_TOLERANCE
        section.add_check(
            "hierarchy-weighted-sum", "pass" if ok else "warn",
            f"{h.tags.total} = sum_l w_l L_l within {rel:.2g} relative (tolerance {hl.RESIDUAL_TOLERANCE:g})" if ok else
            f"{h.tags.total} differs from sum_l w_l L_l by up to {rel:.2%}: other weights or extra loss terms",
            figure_id="weighted-sum", value=rel)

    def _present_stalls(self, h: hl.HierarchyLosses, section: Section, below: float, above: float) -> None:
        """Check: a level that stops improving while another still improves."""
        rule = (f"median loss over the last third of the logged steps < {below:.0%} below the middle "
                f"third while another level improves > {above:.0%}")
        if all(x is None for x in h.improvement) or len(h.improvement) < 2:
            section.add_check("hierarchy-level-stall", "skip",
                              f"needs >= 2 levels with >= {hl.MIN_POINTS_FOR_STALL} points each", figure_id="levels")
            return
        stalled = hl.stalled_levels(h.improvement, below, above)
        imp = ", ".join(f"level {lv}: {x:.0%}" for lv, x in zip(h.tags.levels, h.improvement) if x is not None)
        if stalled:
            names = ", ".join(f"level {list(h.tags.levels)[k]}" for k in stalled)
            section.add_check("hierarchy-level-stall", "warn", f"{names} stopped improving ({imp}); rule: {rule}",
                              figure_id="levels")
            section.notes.append(f"{names} stopped improving while another level still improves ({imp}).")
        else:
            section.add_check("hierarchy-level-stall", "pass", f"every level still improves or none does ({imp})",
                              figure_id="levels")
        section.metrics["stall_rule"] = rule
        section.metrics["stalled_levels"] = [list(h.tags.levels)[k] for k in stalled]


class SchedulesPass(AnalysisPass):
    """LR, weight decay and EMA momentum as logged against the config's schedules; EMA drift per block."""

    name = "schedules"
    title = "Schedules: learning rate, weight decay, EMA"

    def applies(self, ctx: ReportContext) -> str | None:
        if not ctx.run.config and not _logged_schedules(ctx.run.scalars) and len(ctx.run.checkpoints) == 0:
            return "the run has no config, no logged schedule and no checkpoint"
        return None

    def compute(self, ctx: ReportContext) -> dict:
        run = ctx.run
        logged = _logged_schedules(run.scalars)
        result = {"logged": logged, "implied": None, "why_no_implied": None, "spe": None, "drift": None}
        if run.config and run.layout in ("hjepa", "ijepa"):
            spe, how = steps_per_epoch_from_logs(run.scalars, run.layout, run.config)
            if spe is None:
                spe, how = _steps_per_epoch_from_checkpoints(run)
            result["spe"] = (spe, how)
            try:
                result["implied"] = config_schedule(run.config, run.layout, spe) if spe else None
            except (ValueError, TypeError) as exc:  # a config without lengths or with non-numbers
                how = str(exc)
            if result["implied"] is None:
                result["why_no_implied"] = how
        else:
            result["why_no_implied"] = ("the run has no config" if not run.config
                                        else f"no known schedule for a {run.layout} run")
        result["drift"] = _drift(ctx)
        return result

    def present(self, result: dict, ctx: ReportContext, section: Section) -> None:
        implied, logged = result["implied"], result["logged"]
        section.intro = ("The schedules a run's config asks for, recomputed the way the original trainer "
                         "computes them, overlaid with what the run logged.")
        if result["spe"]:
            section.metrics["steps_per_epoch"] = result["spe"][0]
            section.metrics["steps_per_epoch_from"] = result["spe"][1]
        if implied is None:
            section.notes.append(f"No config-implied schedule: {result['why_no_implied']}.")
        else:
            section.notes.extend(implied.notes)
            section.metrics["implied"] = implied.formulas
        rtol = threshold(ctx, "schedule.rel_tolerance")
        names = [n for n in SCHEDULE_TAGS if n in logged or (implied is not None and implied.get(n) is not None)]
        if names and not logged:
            section.notes.append("The run logged no learning rate, weight decay or EMA momentum; the figure shows "
                                 "the schedules its config implies, nothing measured.")
        if names:
            section.add_figure("schedules", "Schedules: logged vs implied by the config",
                               _schedule_caption(names, logged, implied, rtol),
                               schedules_figure(implied, logged, names))
            self._checks(logged, implied, section, rtol)
        self._present_drift(result["drift"], section)
        section.metrics = json_friendly(section.metrics)

    def _checks(self, logged: dict, implied, section: Section, rtol: float) -> None:
        """One check per logged schedule that the config also implies."""
        for name, (steps, values) in logged.items():
            check = CHECK_NAMES[name]
            if implied is None or implied.get(name) is None:
                section.add_check(check, "skip", "logged, but the config implies no schedule to compare with",
                                  figure_id="schedules")
                continue
            cmp = best_comparison(name, steps, values, implied, rtol)
            section.metrics[f"{name}_comparison"] = {
                "compared": cmp.compared, "mismatched": cmp.mismatched, "max_deviation": cmp.max_deviation,
                "shift": cmp.shift}
            if cmp.compared == 0:
                section.add_check(check, "skip", "no logged point inside the implied step range", figure_id="schedules")
            elif cmp.mismatched == 0:
                shift = f" (logged one step {'ahead' if cmp.shift > 0 else 'behind'})" if cmp.shift else ""
                section.add_check(check, "pass", f"{cmp.compared} logged points follow the config{shift}",
                                  figure_id="schedules", value=cmp.max_deviation)
            else:
                section.add_check(check, "warn", f"{cmp.mismatched} of {cmp.compared} logged points differ from the "
                                  f"config's schedule (first at step {cmp.first_mismatch_step:g}, max deviation "
                                  f"{cmp.max_deviation:.2g} of its peak)", figure_id="schedules",
                                  value=cmp.max_deviation)

    def _present_drift(self, drift, section: Section) -> None:
        """Heatmap of the EMA drift, or a note saying why there is none."""
        table, why = drift
        if table is None:
            section.notes.append(f"No EMA drift heatmap: {why}.")
            return
        section.add_figure(
            "ema-drift", "EMA drift: target vs context encoder per block",
            "Relative L2 distance ||theta_target - theta_context|| / ||theta_target|| over all parameters of each "
            "encoder part (rows: checkpoints in training order; columns: patch/position embedding, blocks, final "
            "norm). The target is an EMA of the context encoder (BYOL, Grill et al. 2020; I-JEPA, Assran et al. "
            "2023), so this is its lag. Healthy: it levels off or shrinks as the LR decays and the momentum rises (a "
            "momentum of 1 freezes the target, so late drift is the context encoder moving away); a part "
            "whose drift keeps growing is where the context encoder is still changing fast.",
            drift_heatmap(table))
        section.metrics["ema_drift"] = {
            "checkpoints": table.checkpoints, "parts": table.parts,
            "values": table.values.tolist()}


def _schedule_caption(names: list[str], logged: dict, implied, rtol: float) -> str:
    """Say what the schedules figure draws, where each curve comes from, and what healthy looks like."""
    parts = []
    if implied is not None:
        parts.append("Line: the schedule the config implies (" + "; ".join(
            f"{n}: {implied.formulas[n]}" for n in names if n in implied.formulas) + ").")
    if logged:
        parts.append("Dots: the values the run logged.")
    only_config = [n for n in names if n not in logged]
    if implied is not None and only_config:
        parts.append(f"Panels marked 'config only' ({', '.join(only_config)}) were not logged: only the config's "
                     "schedule is drawn, nothing measured.")
    if implied is None:
        parts.append("No schedule could be derived from the config, so the logged values stand alone.")
    parts.append(f"Healthy: dots on the line (tolerance {rtol:g} relative + {rtol / 10:g} of the peak; the EMA "
                 "momentum m is compared as 1 - m).")
    return " ".join(parts)


def _logged_schedules(scalars) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Return {schedule: (steps, values)} for the first known tag of each schedule the run logged."""
    out = {}
    for name, tags in SCHEDULE_TAGS.items():
        tag = next((t for t in tags if scalars.has(t)), None)
        if tag:
            out[name] = scalars.arrays(tag)
    return out


def _steps_per_epoch_from_checkpoints(run) -> tuple[int | None, str]:
    """H-JEPA checkpoints store global_step and the 0-based epoch: steps per epoch = step / (epoch + 1)."""
    for ref in run.unique_checkpoints():
        if run.layout == "hjepa" and ref.step and ref.epoch is not None and ref.step % (ref.epoch + 1) == 0:
            return ref.step // (ref.epoch + 1), f"{ref.name}: global_step {ref.step} / (epoch {ref.epoch} + 1)"
    return None, "neither the logs nor the checkpoints tell the number of steps per epoch"


def _drift(ctx: ReportContext):
    """Return (DriftTable | None, why not) over the run's distinct checkpoints in training order."""
    from .drift import ema_drift

    refs = sorted(ctx.run.unique_checkpoints(),
                  key=lambda c: (c.epoch if c.epoch is not None else -1, c.step if c.step is not None else -1))
    if not refs:
        return None, "the run has no checkpoint"

    def load(ref):
        from ...collect.checkpoints import load_checkpoint
        from ...models.normalise import normalise

        return normalise(load_checkpoint(ref.path, trust=ctx.settings.trust_checkpoints), ctx.run.layout
                         if ctx.run.layout in ("hjepa", "ijepa") else None)

    try:
        table = ema_drift(refs, load)
    except ReportError as exc:
        return None, f"a checkpoint could not be read ({exc})"
    return table, None if table else "no checkpoint holds both a context and a target encoder"


def json_friendly(value):
    """Return `value` with numpy scalars as Python numbers and NaN / inf as None, through dicts and lists."""
    if isinstance(value, dict):
        return {k: json_friendly(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_friendly(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
