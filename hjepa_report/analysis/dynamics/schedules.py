"""The learning-rate, weight-decay and EMA-momentum schedules a run's config implies, and how the logs compare.

Each schedule is recomputed from the config the way the original trainer computes it, on the step axis the
run's logs use, so that the logged values can be overlaid and checked point by point.

H-JEPA (github.com/jonwiggins/H-JEPA @ eb995a0; src/utils/scheduler.py, src/trainers/trainer.py), logged step s
= the trainer's global_step after its increment (steps 1..total):
  - LR, CosineScheduler(step): linear warmup from 0 to `training.lr` over `training.warmup_epochs` epochs, then
    cosine to `training.scheduler_params.min_lr` (default 1e-6; `training.min_lr` is NOT read by the trainer).
    After optimizer step g the trainer sets lr = CosineScheduler(g) and then increments g, so the value logged
    at step s is CosineScheduler(s - 1). (`lr_schedule: linear` decays linearly instead of cosine.)
  - EMA momentum, EMAScheduler(step): `ema_momentum_schedule.start` for the first W steps, then linear to `.end`
    at the last step, W = (warmup_steps // steps_per_epoch) * steps_per_epoch (the trainer converts the
    warmup to whole epochs). The trainer logs EMAScheduler(s) at step s. The `model.ema` section is not read.
  - Weight decay: constant `training.weight_decay` (the trainer has no weight-decay schedule).
I-JEPA (github.com/facebookresearch/ijepa @ 52c1ae9; src/utils/schedulers.py, src/helper.py init_opt,
src/train.py), step k = (epoch - 1) * ipe + itr, the 0-based iteration (0..total-1):
  - LR, WarmupCosineSchedule: `start_lr` -> `lr` linearly over warmup*ipe steps, then cosine to `final_lr` at
    T_max = ipe_scale * epochs * ipe; step() runs before iteration k's update, so iteration k uses step k + 1.
  - Weight decay, CosineWDSchedule: cosine from `weight_decay` to `final_weight_decay` over T_max, also k + 1.
  - EMA momentum: ema[0] + k * (ema[1] - ema[0]) / (ipe * epochs * ipe_scale), drawn after iteration k's update.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# A logged point matches the implied schedule when |logged - implied| <= rtol * |implied| + (rtol / 10) * scale,
# scale = the schedule's peak (for the EMA momentum m the comparison is on 1 - m, the EMA step size, whose
# peak is 1 - start). rtol covers float32 logging (~6e-8 relative); the absolute part ignores rounding near zero.
# With rtol = 1e-3 a wrong min_lr (1e-5 instead of 1e-6 at lr 0.05) or a warmup one step off is caught. The
# report reads rtol from analysis.thresholds ("schedule.rel_tolerance").
RTOL = 1e-3


@dataclass
class ImpliedSchedule:
    """Schedules recomputed from the config, on the logs' step axis; None where the config cannot say."""

    layout: str
    steps: np.ndarray
    lr: np.ndarray | None = None
    weight_decay: np.ndarray | None = None
    ema_momentum: np.ndarray | None = None
    formulas: dict[str, str] = field(default_factory=dict)  # schedule -> formula and source, in words
    notes: list[str] = field(default_factory=list)

    def get(self, name: str) -> np.ndarray | None:
        """Return one schedule by name: lr | weight_decay | ema_momentum."""
        return getattr(self, name)


def config_schedule(config: dict, layout: str, steps_per_epoch: int, total_steps: int | None = None) -> ImpliedSchedule:
    """Return the LR / weight-decay / EMA schedules that `config` implies for a run of `layout`.

    layout: "hjepa" (training.* schema) or "ijepa" (optimization.* schema); total_steps defaults to
    epochs * steps_per_epoch (I-JEPA: times ipe_scale for T_max, see module docstring).
    """
    if steps_per_epoch <= 0:
        raise ValueError(f"steps_per_epoch must be positive, got {steps_per_epoch}")
    if layout == "ijepa":
        return _ijepa_schedule(config, steps_per_epoch, total_steps)
    if layout in ("vjepa", "vjepa2"):  # V-JEPA / V-JEPA 2: vjepa_schedules.py
        from .vjepa_schedules import video_schedule

        return video_schedule(config, layout, steps_per_epoch, total_steps)
    if layout == "hjepa":
        return _hjepa_schedule(config, steps_per_epoch, total_steps)
    raise ValueError(f"no known schedule for layout {layout!r}")


def _hjepa_schedule(config: dict, spe: int, total_steps: int | None) -> ImpliedSchedule:
    """H-JEPA's CosineScheduler / EMAScheduler / constant weight decay (see module docstring)."""
    tr = config.get("training") or {}
    epochs = int(tr.get("epochs", 0))
    if epochs <= 0:
        raise ValueError("the config has no training.epochs, so its schedules have no length")
    total = int(total_steps or epochs * spe)
    steps = np.arange(1, total + 1, dtype=float)
    out = ImpliedSchedule(layout="hjepa", steps=steps)
    base = float(tr.get("lr", tr.get("learning_rate", 1e-4)))
    min_lr = float((tr.get("scheduler_params") or {}).get("min_lr", 1e-6))
    warm = int(tr.get("warmup_epochs", 0)) * spe
    kind = tr.get("lr_schedule", "cosine")
    if kind in ("cosine", "linear"):
        out.lr = _hjepa_lr(steps - 1, base, min_lr, warm, epochs * spe, kind)
        out.formulas["lr"] = (
            f"linear warmup 0 -> {base:g} over {warm} steps, then {kind} to {min_lr:g} at step "
            f"{epochs * spe} (H-JEPA CosineScheduler; logged at step s = value for s - 1)"
        )
        if "min_lr" in tr and "min_lr" not in (tr.get("scheduler_params") or {}):
            out.notes.append(
                f"training.min_lr = {tr['min_lr']:g} is not read by the H-JEPA trainer; it uses "
                f"training.scheduler_params.min_lr (here {min_lr:g})."
            )
    else:
        out.notes.append(f"training.lr_schedule = {kind!r} is not one the H-JEPA trainer knows (cosine, linear).")
    ema = tr.get("ema_momentum_schedule") or {}
    start, end = float(ema.get("start", 0.996)), float(ema.get("end", 1.0))
    ema_warm = (int(ema.get("warmup_steps", 1000)) // spe) * spe
    out.ema_momentum = _hjepa_ema(steps, start, end, ema_warm, epochs * spe)
    out.formulas["ema_momentum"] = (
        f"{start:g} for {ema_warm} steps, then linear to {end:g} at step {epochs * spe} (H-JEPA EMAScheduler)"
    )
    wd = float(tr.get("weight_decay", 0.0))
    out.weight_decay = np.full(len(steps), wd)
    out.formulas["weight_decay"] = f"constant {wd:g} (the H-JEPA trainer has no weight-decay schedule)"
    return out


def _hjepa_lr(step: np.ndarray, base: float, final: float, warm: int, total: int, kind: str) -> np.ndarray:
    """H-JEPA CosineScheduler / LinearScheduler value at each `step` (src/utils/scheduler.py), vectorised."""
    progress = (step - warm) / max(1, total - warm)
    if kind == "linear":
        after = base - (base - final) * progress
    else:
        after = final + (base - final) * 0.5 * (1.0 + np.cos(np.pi * progress))
    return np.where(step < warm, base * step / max(warm, 1), after)  # warmup from start_warmup_value = 0


def _hjepa_ema(step: np.ndarray, start: float, end: float, warm: int, total: int) -> np.ndarray:
    """H-JEPA EMAScheduler value at each `step`: constant during the warmup, then linear (src/utils/scheduler.py)."""
    after = start + (end - start) * np.minimum(1.0, (step - warm) / max(1, total - warm))
    return np.where(step < warm, start, after)


def _ijepa_schedule(config: dict, ipe: int, total_steps: int | None) -> ImpliedSchedule:
    """I-JEPA's WarmupCosineSchedule / CosineWDSchedule / linear EMA (see module docstring)."""
    return warmup_cosine_schedule(config, ipe, total_steps, layout="ijepa", name="I-JEPA", ema_default=(0.996, 1.0))


def warmup_cosine_schedule(
    config: dict, ipe: int, total_steps: int | None, *, layout: str, name: str, ema_default: tuple[float, float]
) -> ImpliedSchedule:
    """The schedules of the trainers built on I-JEPA's scheduler classes (I-JEPA src/train.py, V-JEPA and V-JEPA 2
    app/vjepa/train.py, see the module docstring and vjepa_schedules.py): WarmupCosineSchedule for the LR,
    CosineWDSchedule for the weight decay (iteration k uses step k + 1 of both), and the linear EMA generator
    ema[0] + k (ema[1] - ema[0]) / (ipe * epochs * ipe_scale); `name` is the code base the formulas cite and
    `ema_default` its default optimization.ema."""
    opt = config.get("optimization") or {}
    epochs, scale = int(opt.get("epochs", 0)), float(opt.get("ipe_scale", 1.0))
    if epochs <= 0:
        raise ValueError("the config has no optimization.epochs, so its schedules have no length")
    t_max = int(scale * epochs * ipe)  # init_opt: T_max = int(ipe_scale * num_epochs * ipe)
    k = np.arange(int(total_steps or epochs * ipe), dtype=float)
    out = ImpliedSchedule(layout=layout, steps=k)
    start, ref, final = (float(opt.get(n, d)) for n, d in (("start_lr", 0.0), ("lr", 0.0), ("final_lr", 0.0)))
    warm = int(float(opt.get("warmup", 0)) * ipe)
    out.lr = _ijepa_lr(k + 1, start, ref, final, warm, t_max)
    out.formulas["lr"] = (
        f"{start:g} -> {ref:g} linearly over {warm} steps, then cosine to {final:g} at step "
        f"{t_max} ({name} WarmupCosineSchedule; iteration k uses step k + 1)"
    )
    wd, final_wd = float(opt.get("weight_decay", 0.0)), float(opt.get("final_weight_decay", 0.0))
    out.weight_decay = _ijepa_wd(k + 1, wd, final_wd, t_max)
    out.formulas["weight_decay"] = f"cosine {wd:g} -> {final_wd:g} over {t_max} steps ({name} CosineWDSchedule)"
    ema = [float(e) for e in (opt.get("ema") or ema_default)]
    denom = ipe * epochs * scale
    out.ema_momentum = ema[0] + k * (ema[1] - ema[0]) / denom  # train.py momentum_scheduler
    out.formulas["ema_momentum"] = f"linear {ema[0]:g} -> {ema[1]:g} over {denom:g} steps ({name} train.py)"
    return out


def _ijepa_lr(step: np.ndarray, start: float, ref: float, final: float, warm: int, t_max: int) -> np.ndarray:
    """I-JEPA WarmupCosineSchedule after `step` calls of step() (src/utils/schedulers.py), vectorised."""
    progress = (step - warm) / max(1, t_max - warm)
    after = np.maximum(final, final + (ref - final) * 0.5 * (1.0 + np.cos(np.pi * progress)))
    return np.where(step < warm, start + step / max(1, warm) * (ref - start), after)


def _ijepa_wd(step: np.ndarray, ref: float, final: float, t_max: int) -> np.ndarray:
    """I-JEPA CosineWDSchedule after `step` calls of step(), clamped at the final value (src/utils/schedulers.py)."""
    wd = final + (ref - final) * 0.5 * (1.0 + np.cos(np.pi * step / t_max))
    return np.maximum(final, wd) if final <= ref else np.minimum(final, wd)


@dataclass
class ScheduleComparison:
    """How the logged values of one schedule compare with the implied one, at the logged steps it covers."""

    name: str
    compared: int  # logged points inside the implied step range
    mismatched: int
    max_deviation: float | None  # max |logged - implied| / scale
    first_mismatch_step: float | None
    shift: int = 0  # the logged value at step s was compared with the implied value at step s + shift


def compare_schedule(
    name: str, steps: np.ndarray, logged: np.ndarray, implied: ImpliedSchedule, shift: int = 0, rtol: float = RTOL
) -> ScheduleComparison:
    """Compare logged points with the implied schedule at step + shift (tolerance: see RTOL above)."""
    curve = implied.get(name)
    if curve is None or not len(implied.steps):
        return ScheduleComparison(name, 0, 0, None, None, shift)
    # membership by binary search in the sorted implied steps (np.isin sorts both arrays: ~0.4 s a call on 1M steps)
    shifted = steps + shift
    at = np.minimum(np.searchsorted(implied.steps, shifted), len(implied.steps) - 1)
    inside = (implied.steps[at] == shifted) & np.isfinite(logged)
    s, v = steps[inside], logged[inside]
    want = curve[at[inside]]
    if name == "ema_momentum":  # compare the EMA step size 1 - m: the momentum itself barely moves
        v, want, ref = 1.0 - v, 1.0 - want, 1.0 - curve
    else:
        ref = curve
    scale = float(np.max(np.abs(ref))) or 1.0
    dev = np.abs(v - want)
    bad = dev > rtol * np.abs(want) + rtol / 10 * scale
    return ScheduleComparison(
        name=name,
        compared=int(len(s)),
        mismatched=int(bad.sum()),
        max_deviation=float(dev.max() / scale) if len(s) else None,
        first_mismatch_step=float(s[bad][0]) if bad.any() else None,
        shift=shift,
    )


def best_comparison(
    name: str, steps: np.ndarray, logged: np.ndarray, implied: ImpliedSchedule, rtol: float = RTOL
) -> ScheduleComparison:
    """Compare as logged; when that fails, also try the implied curve one step earlier or later.

    Trainers differ in whether they log the value of the step just taken or of the next one (H-JEPA logs the
    LR of the previous step and the EMA momentum of the next); a one-step offset is a logging convention,
    not a schedule error, and is reported as such.
    """
    exact = compare_schedule(name, steps, logged, implied, rtol=rtol)
    if exact.mismatched == 0:
        return exact
    for shift in (-1, 1):
        shifted = compare_schedule(name, steps, logged, implied, shift, rtol)
        if shifted.compared and shifted.mismatched == 0:
            return shifted
    return exact


def steps_per_epoch_from_logs(scalars, layout: str, config: dict | None) -> tuple[int | None, str]:
    """Return (steps per epoch, how it was found) from the logs, or (None, why not).

    H-JEPA logs epoch means under `train_epoch/*` at the global step that ends each epoch, so the spacing of
    those steps is the number of optimizer steps per epoch. I-JEPA's CSV logs every iteration from step 0;
    a finished run has epochs * ipe rows, so ipe = rows / optimization.epochs.
    """
    if layout == "hjepa":
        epoch_tags = [t for t in scalars.tags() if t.startswith("train_epoch/")]
        if epoch_tags:
            ends = np.unique(scalars.arrays(epoch_tags[0])[0])
            gaps = np.unique(np.diff(np.concatenate([[0.0], ends])))
            if len(gaps) == 1 and gaps[0] > 0:
                return int(gaps[0]), f"spacing of the {epoch_tags[0]} steps (one point per epoch)"
        return None, "the run logged no train_epoch/* points, so its steps per epoch are unknown"
    if layout in ("vjepa", "vjepa2"):
        from .vjepa_schedules import video_steps_per_epoch

        return video_steps_per_epoch(scalars, config)
    if layout == "ijepa":
        epochs = int(((config or {}).get("optimization") or {}).get("epochs", 0))
        steps = np.unique(scalars.arrays("loss")[0]) if scalars.has("loss") else np.array([])
        if epochs and len(steps) and steps[0] == 0 and len(steps) % epochs == 0 and steps[-1] == len(steps) - 1:
            return len(steps) // epochs, f"{len(steps)} logged iterations / optimization.epochs = {epochs}"
        return None, "the CSV does not cover whole epochs, so iterations per epoch are unknown"
    return None, f"no known step layout for a {layout} run"
