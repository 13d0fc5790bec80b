"""The LR / weight-decay / EMA-momentum schedules of a V-JEPA or V-JEPA 2 run, from its config.

V-JEPA (facebookresearch/jepa @ 51c59d5) and V-JEPA 2 (facebookresearch/vjepa2 @ c2963a4), app/vjepa/utils.py
init_opt and app/vjepa/train.py, iteration k = (epoch - 1) * ipe + itr (0-based):
  - LR, WarmupCosineSchedule (src/utils/schedulers.py, the same class as I-JEPA's): `start_lr` -> `lr` linearly
    over int(warmup * ipe) steps, then cosine to `final_lr` at T_max = int(ipe_scale * epochs * ipe); step()
    runs at the start of iteration k's train_step, so iteration k uses step k + 1. V-JEPA 2's cooldown
    (optimization.is_anneal: true) uses LinearDecaySchedule instead: `lr` -> `final_lr` linearly over T_max,
    no warmup, `start_lr` unused.
  - Weight decay, CosineWDSchedule: cosine from `weight_decay` to `final_weight_decay` over T_max, also k + 1.
  - EMA momentum: the generator ema[0] + k * (ema[1] - ema[0]) / (ipe * epochs * ipe_scale), drawn after
    iteration k's update.
  - ipe: optimization.ipe when set (the trainer runs exactly ipe iterations per epoch), else the loader's length,
    which only the logs tell.
tests/test_vjepa_schedules.py checks these against the values the original trainers drew on the fixture runs.
"""

from __future__ import annotations

import numpy as np

from ...collect.vjepa import NAMES
from .schedules import ImpliedSchedule, warmup_cosine_schedule


def video_schedule(config: dict, layout: str, ipe: int, total_steps: int | None = None) -> ImpliedSchedule:
    """The schedules a V-JEPA (layout vjepa) or V-JEPA 2 (vjepa2) config implies at `ipe` iterations per epoch:
    I-JEPA's scheduler classes (schedules.warmup_cosine_schedule), and V-JEPA 2's cooldown LR when is_anneal."""
    opt = config.get("optimization") or {}
    name = NAMES[layout]
    out = warmup_cosine_schedule(config, ipe, total_steps, layout=layout, name=name, ema_default=(0.998, 1.0))
    epochs, scale = int(opt.get("epochs", 0)), float(opt.get("ipe_scale", 1.0))
    t_max = int(scale * epochs * ipe)  # init_opt: T_max = int(ipe_scale * num_epochs * iterations_per_epoch)
    if layout == "vjepa2" and opt.get("is_anneal"):
        ref, final = float(opt.get("lr", 0.0)), float(opt.get("final_lr", 0.0))
        out.lr = ref + (out.steps + 1) / max(1, t_max) * (final - ref)
        out.formulas["lr"] = (
            f"linear {ref:g} -> {final:g} over {t_max} steps ({name} cooldown, is_anneal: LinearDecaySchedule; "
            "iteration k uses step k + 1)"
        )
    if scale != 1.0:
        out.notes.append(
            f"optimization.ipe_scale = {scale:g}: the schedules run to step {t_max}, past the run's "
            f"{epochs * ipe} iterations, so the LR and weight decay stop before their final values."
        )
    return out


def video_steps_per_epoch(scalars, config: dict | None) -> tuple[int | None, str]:
    """(iterations per epoch, how it was found): optimization.ipe, else the training CSV's rows per epoch."""
    opt = (config or {}).get("optimization") or {}
    ipe = opt.get("ipe")
    if isinstance(ipe, (int, float)) and not isinstance(ipe, bool) and ipe > 0:
        return int(ipe), f"optimization.ipe = {int(ipe)} (the trainer runs exactly ipe iterations per epoch)"
    epochs = int(opt.get("epochs", 0) or 0)
    steps = np.unique(scalars.arrays("loss")[0]) if scalars.has("loss") else np.array([])
    if epochs and len(steps) and steps[0] == 0 and len(steps) % epochs == 0 and steps[-1] == len(steps) - 1:
        return len(steps) // epochs, f"{len(steps)} logged iterations / optimization.epochs = {epochs}"
    return None, "no optimization.ipe and the CSV does not cover whole epochs, so iterations per epoch are unknown"
