"""The "schedules" section: the LR / weight-decay / EMA-momentum schedules the config implies (schedules.py),
overlaid with and checked against what the run logged, the EMA drift of every checkpoint (drift.py), and
whether the EMA ran at all (ema_updates.py: not applicable to end-to-end runs, failing when the target encoder
never left its initial state)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ReportError
from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from .batch import checkpoints_in_order
from .drift import DriftTable, split_encoders
from .ema_updates import EncoderSnapshot, end_to_end_reason, never_ran_evidence, snapshot
from .figures import SCHEDULE_LABELS, drift_heatmap, schedules_figure, thinned
from .schedules import ImpliedSchedule, best_comparison, config_schedule, steps_per_epoch_from_logs

# Tags a trainer logs its schedules under (H-JEPA: train/lr, train/ema_momentum; others: bare names).
SCHEDULE_TAGS = {
    "lr": ("train/lr", "lr", "train/learning_rate", "learning_rate", "lr-AdamW", "train/lr_0"),
    "weight_decay": ("train/weight_decay", "weight_decay", "train/wd", "wd"),
    "ema_momentum": ("train/ema_momentum", "ema_momentum", "train/momentum_ema", "ema_decay", "train/ema_decay"),
}
CHECK_NAMES = {"lr": "lr-schedule", "weight_decay": "wd-schedule", "ema_momentum": "ema-schedule"}


@dataclass
class SchedulesResult(PassResult):
    """The logged and implied schedules, the tolerance they were compared with, and the EMA drift table."""

    logged: dict[str, tuple[np.ndarray, np.ndarray]]
    implied: ImpliedSchedule | None
    names: list[str]  # the schedules drawn: logged or implied
    rtol: float
    drift: DriftTable | None = None
    end_to_end: str | None = None  # why the run has no EMA target encoder (None: it has one)


class SchedulesPass(AnalysisPass[SchedulesResult]):
    """LR, weight decay and EMA momentum as logged against the config's schedules; EMA drift per block."""

    name = "schedules"
    title = "Schedules: learning rate, weight decay, EMA"

    def applies(self, ctx: ReportContext) -> str | None:
        if not ctx.run.config and not _logged_schedules(ctx.run.scalars) and len(ctx.run.checkpoints) == 0:
            return "the run has no config, no logged schedule and no checkpoint"
        return None

    def compute(self, ctx: ReportContext) -> SchedulesResult:
        logged = _logged_schedules(ctx.run.scalars)
        implied, steps_metrics, why_not = _implied(ctx.run)
        result = SchedulesResult(
            logged=logged,
            implied=implied,
            rtol=threshold(ctx, "schedule.rel_tolerance"),
            names=[n for n in SCHEDULE_TAGS if n in logged or (implied is not None and implied.get(n) is not None)],
        )
        result.metrics.update(steps_metrics)
        result.end_to_end = end_to_end_reason(ctx.run)
        if implied is None:
            result.notes.append(f"No config-implied schedule: {why_not}.")
        else:
            result.notes.extend(implied.notes)
            result.metrics["implied"] = implied.formulas
        if result.names and not logged:
            result.notes.append(
                "The run logged no learning rate, weight decay or EMA momentum; the figure shows "
                "the schedules its config implies, nothing measured."
            )
        if result.names:
            _checks(result)
        result.drift, why, snapshots = _drift(ctx)
        _check_ema_updates(result, snapshots, ctx.run)
        if result.drift is None:
            result.notes.append(f"No EMA drift heatmap: {why}.")
        else:
            result.metrics["ema_drift"] = {
                "checkpoints": result.drift.checkpoints,
                "parts": result.drift.parts,
                "values": result.drift.values.tolist(),
            }
        return result

    def present(self, result: SchedulesResult) -> Presentation:
        shown = Presentation(
            intro=(
                "The schedules a run's config asks for, recomputed the way the original "
                "trainer computes them, overlaid with what the run logged."
            )
        )
        if result.names:
            item = shown.add_figure(
                "schedules",
                "Schedules: logged vs implied by the config",
                _schedule_caption(result.names, result.logged, result.implied, result.rtol),
                schedules_figure(result.implied, result.logged, result.names),
            )
            item.series = schedule_series(result)
        if result.drift is not None:
            shown.add_figure(
                "ema-drift",
                "EMA drift: target vs context encoder per block",
                "Relative L2 distance ||theta_target - theta_context|| / ||theta_target|| over all parameters of "
                "each encoder part (rows: checkpoints in training order; columns: patch/position embedding, CLS "
                "token, blocks, final norm; the same measure and parts as the Model card's EMA gap). The target is "
                "an EMA of the context encoder (BYOL, Grill et al. 2020; I-JEPA, Assran et al. 2023), so this is "
                "its lag. Healthy: it levels off or shrinks as the LR decays and the momentum rises (a momentum of "
                "1 freezes the target, so late drift is the context encoder moving away); a part whose drift keeps "
                "growing is where the context encoder is still changing fast.",
                drift_heatmap(result.drift),
            )
        return shown


def schedule_series(result: SchedulesResult) -> dict[str, dict]:
    """The schedules figure's curves for its interactive chart (analysis/charts.py), per schedule name: the
    logged values and the config-implied curve at the figure's own points (figures.thinned)."""
    out = {}
    for name in result.names:
        curves = {}
        if name in result.logged:
            curves["logged"] = result.logged[name]
        if result.implied is not None and result.implied.get(name) is not None:
            curves["implied by config"] = thinned(result.implied.steps, result.implied.get(name))
        out[SCHEDULE_LABELS[name]] = curves
    return out


def _implied(run) -> tuple[ImpliedSchedule | None, dict, str | None]:
    """The schedules the config implies (or None), the steps-per-epoch metrics, and why there is none."""
    if not (run.config and run.layout in ("hjepa", "ijepa", "vjepa", "vjepa2")):
        return None, {}, "the run has no config" if not run.config else f"no known schedule for a {run.layout} run"
    spe, how = steps_per_epoch_from_logs(run.scalars, run.layout, run.config)
    if spe is None:
        spe, how = _steps_per_epoch_from_checkpoints(run)
    metrics = {"steps_per_epoch": spe, "steps_per_epoch_from": how}
    try:
        implied = config_schedule(run.config, run.layout, spe) if spe else None
    except (ValueError, TypeError) as exc:  # a config without lengths or with non-numbers
        return None, metrics, str(exc)
    return implied, metrics, None if implied is not None else how


def _checks(result: SchedulesResult) -> None:
    """One check per logged schedule that the config also implies."""
    implied = result.implied
    for name, (steps, values) in result.logged.items():
        check = CHECK_NAMES[name]
        if name == "ema_momentum" and result.end_to_end:
            result.add_check(check, "skip", f"not applicable: {result.end_to_end}", figure_id="schedules")
            continue
        if implied is None or implied.get(name) is None:
            result.add_check(
                check, "skip", "logged, but the config implies no schedule to compare with", figure_id="schedules"
            )
            continue
        cmp = best_comparison(name, steps, values, implied, result.rtol)
        result.metrics[f"{name}_comparison"] = {
            "compared": cmp.compared,
            "mismatched": cmp.mismatched,
            "max_deviation": cmp.max_deviation,
            "shift": cmp.shift,
        }
        if cmp.compared == 0:
            result.add_check(check, "skip", "no logged point inside the implied step range", figure_id="schedules")
        elif cmp.mismatched == 0:
            shift = f" (logged one step {'ahead' if cmp.shift > 0 else 'behind'})" if cmp.shift else ""
            result.add_check(
                check,
                "pass",
                f"{cmp.compared} logged points follow the config{shift}",
                figure_id="schedules",
                value=cmp.max_deviation,
            )
        else:
            result.add_check(
                check,
                "warn",
                f"{cmp.mismatched} of {cmp.compared} logged points differ from the "
                f"config's schedule (first at step {cmp.first_mismatch_step:g}, max deviation "
                f"{cmp.max_deviation:.2g} of its peak)",
                figure_id="schedules",
                value=cmp.max_deviation,
            )


def _schedule_caption(names: list[str], logged: dict, implied, rtol: float) -> str:
    """Say what the schedules figure draws, where each curve comes from, and what healthy looks like."""
    parts = []
    if implied is not None:
        parts.append(
            "Line: the schedule the config implies ("
            + "; ".join(f"{n}: {implied.formulas[n]}" for n in names if n in implied.formulas)
            + ")."
        )
    if logged:
        parts.append("Dots: the values the run logged.")
    only_config = [n for n in names if n not in logged]
    if implied is not None and only_config:
        parts.append(
            f"Panels marked 'config only' ({', '.join(only_config)}) were not logged: only the config's "
            "schedule is drawn, nothing measured."
        )
    if implied is None:
        parts.append("No schedule could be derived from the config, so the logged values stand alone.")
    parts.append(
        f"Healthy: dots on the line (tolerance {rtol:g} relative + {rtol / 10:g} of the peak; the EMA "
        "momentum m is compared as 1 - m)."
    )
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


def _drift(ctx: ReportContext) -> tuple[DriftTable | None, str | None, list[EncoderSnapshot]]:
    """Return (DriftTable | None, why not, each checkpoint's EMA evidence) over the run's distinct checkpoints in
    training order; the evidence is read from the same loads as the drift."""
    from .drift import ENCODER_PREFIXES, ema_drift

    refs = checkpoints_in_order(ctx.run)
    if not refs:
        return None, "the run has no checkpoint", []
    snapshots: list[EncoderSnapshot] = []

    def load(ref):
        from ...collect.checkpoints import load_checkpoint
        from ...models.normalise import normalise

        layout, state = normalise(
            load_checkpoint(ref.path, trust=ctx.settings.trust_checkpoints),
            ctx.run.layout if ctx.run.layout in ENCODER_PREFIXES else None,
        )
        if layout in ENCODER_PREFIXES:
            context, target = split_encoders(state, layout)
            if context and target:
                snapshots.append(snapshot(ref.name, context, target))
        return layout, state

    try:
        table = ema_drift(refs, load)
    except ReportError as exc:
        return None, f"a checkpoint could not be read ({exc})", []
    return table, None if table else "no checkpoint holds both a context and a target encoder", snapshots


def _check_ema_updates(result: SchedulesResult, snapshots: list[EncoderSnapshot], run) -> None:
    """Check: the EMA moved the target encoder (not applicable to end-to-end runs; fails when it never ran)."""
    figure = "ema-drift" if result.drift is not None else None
    if result.end_to_end:
        result.add_check("ema-target-updated", "skip", f"not applicable: {result.end_to_end}", figure_id=figure)
        return
    never, evidence = never_ran_evidence(snapshots)
    result.metrics["ema_updates"] = {"never_ran": never, "evidence": evidence, "checkpoints": len(snapshots)}
    if never is None:
        why = evidence[0] if evidence else "no checkpoint holds both a context and a target encoder"
        result.add_check("ema-target-updated", "skip", why, figure_id=figure)
    elif not never:
        result.add_check("ema-target-updated", "pass", f"{evidence[0]}: the EMA ran", figure_id=figure)
    else:
        status, cause = _never_ran_cause(run)
        result.add_check(
            "ema-target-updated",
            status,
            f"the target encoder never left its initial state: {'; '.join(evidence)}. Cause: {cause}",
            figure_id=figure,
        )
        result.notes.append(f"EMA never ran: {'; '.join(evidence)}.")


def _never_ran_cause(run) -> tuple[str, str]:
    """(status, cause) of a target encoder that never moved: a warning when the config's momentum of 1 asks for
    a frozen target, else a failure whose likely cause is H-JEPA's DDP bug (see ema_updates.py)."""
    if run.layout == "hjepa" and _momentum_is_one(run.config):
        return "warn", (
            "the config's EMA momentum is 1 throughout, which freezes the target: expected, but its targets come "
            "from the initial network"
        )
    ddp = (
        " (H-JEPA's trainer skips it when the model is wrapped in DistributedDataParallel: "
        "_update_target_encoder tests hasattr(model, 'target_encoder'), false on the wrapper)"
        if run.layout == "hjepa"
        else ""
    )
    return "fail", f"the EMA update never ran{ddp}, so every target came from the initial, untrained encoder"


def _momentum_is_one(config: dict | None) -> bool:
    """H-JEPA: training.ema_momentum_schedule start and end both 1 (the trainer's defaults 0.996 and 1.0)."""
    ema = ((config or {}).get("training") or {}).get("ema_momentum_schedule") or {}
    return float(ema.get("start", 0.996)) == 1.0 and float(ema.get("end", 1.0)) == 1.0
