"""Training dynamics from logs: hierarchical losses, config schedules, EMA drift (analysis/dynamics)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.dynamics import hierarchy
from hjepa_report.analysis.dynamics.hierarchy_section import HierarchyLossPass
from hjepa_report.analysis.dynamics.schedules import (
    best_comparison,
    compare_schedule,
    config_schedule,
    steps_per_epoch_from_logs,
)
from hjepa_report.analysis.dynamics.schedules_section import SchedulesPass
from hjepa_report.collect import Run, ScalarTable, collect_run
from hjepa_report.models.ema import encoder_part, relative_l2, relative_l2_by_part
from hjepa_report.render.jsonreport import jsonable
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures"
HJEPA_CONFIG = yaml.safe_load((FIX / "hjepa_small/config.yaml").read_text())
IJEPA_CONFIG = yaml.safe_load((FIX / "ijepa_small/params-ijepa.yaml").read_text())


def table(points: dict[str, tuple[list, list]]) -> ScalarTable:
    """Build a ScalarTable from {tag: (steps, values)}."""
    frames = [
        pd.DataFrame({"source": "t", "tag": tag, "step": s, "value": v, "wall_time": np.nan})
        for tag, (s, v) in points.items()
    ]
    return ScalarTable.concat(frames)


def hjepa_run() -> Run:
    return collect_run(FIX / "hjepa_small")


def ijepa_run() -> Run:
    return collect_run(FIX / "ijepa_small")


def hjepa_scalars() -> ScalarTable:
    return hjepa_run().scalars


def ijepa_scalars() -> ScalarTable:
    return ijepa_run().scalars


# --- hierarchical losses -------------------------------------------------------------------------------------


def test_level_tags_follow_the_documented_patterns_and_prefer_the_group_with_most_points():
    t = table(
        {
            "train/loss_h0": ([1, 2, 3], [3, 2, 1]),
            "train/loss_h1": ([1, 2, 3], [3, 2, 1]),
            "val/loss_h0": ([3], [1]),
            "val/loss_h1": ([3], [1]),
            "train/loss": ([1, 2, 3], [1, 1, 1]),
        }
    )
    tags = hierarchy.find_level_tags(t.tags(), t)
    assert tags.prefix == "train/" and tags.levels == {0: "train/loss_h0", 1: "train/loss_h1"}
    assert tags.total == "train/loss"
    other = hierarchy.find_level_tags(["train/hierarchy/level_0_loss", "train/hierarchy/level_1_loss", "loss"])
    assert other.levels == {0: "train/hierarchy/level_0_loss", 1: "train/hierarchy/level_1_loss"}
    assert other.total is None  # no train/hierarchy/loss
    assert hierarchy.find_level_tags(["loss_level_0", "loss_level_2", "loss"]).levels == {
        0: "loss_level_0",
        2: "loss_level_2",
    }
    assert hierarchy.find_level_tags(["loss", "train/lr", "loss_head"]) is None


def test_hjepa_logged_total_is_the_weighted_sum_of_its_levels():
    h = hierarchy.hierarchy_losses(hjepa_scalars(), HJEPA_CONFIG)
    assert h.weights == [1.0, 0.5, 0.25] and len(h.steps) == 18
    # the three extra end-of-epoch points of train/loss (steps 30, 60, 90) have no per-level partner
    assert len(h.total_steps) == 18
    assert h.max_relative_residual() < 1e-6
    # step 1 by hand: 2.0377305 + 0.5 * 1.7125212 + 0.25 * 1.45997 = 3.2589836 (logged 3.25898361)
    assert h.weighted_sum[0] == pytest.approx(2.03773046 + 0.5 * 1.7125212 + 0.25 * 1.45997, rel=1e-7)
    assert np.allclose(np.nansum(h.shares(), axis=0), 1.0)


def test_wrong_weights_show_up_as_a_residual():
    config = {"loss": {"hierarchy_weights": [1.0, 1.0, 1.0]}}
    h = hierarchy.hierarchy_losses(hjepa_scalars(), config)
    assert h.max_relative_residual() > 0.1


def test_a_level_that_stops_improving_while_others_improve_is_flagged():
    steps = np.arange(30)
    falling = 2.0 * np.exp(-steps / 10)
    flat = np.r_[np.linspace(1.0, 0.5, 10), np.full(20, 0.5)]
    imp = [hierarchy.relative_improvement(v) for v in (falling, flat, falling)]
    assert imp[0] == pytest.approx(1 - np.median(falling[20:]) / np.median(falling[10:20]))
    assert hierarchy.stalled_levels(imp) == [1]
    # none improves: nothing singled out
    assert hierarchy.stalled_levels([hierarchy.relative_improvement(flat)] * 2) == []
    assert hierarchy.relative_improvement(falling[:8]) is None  # too few points


def test_hierarchy_pass_on_the_hjepa_fixture_and_skip_on_ijepa():
    section = HierarchyLossPass().run(ReportContext(hjepa_run(), ReportSettings()))
    assert section.status == "ok", section.message
    checks = {c.name: c.status for c in section.checks}
    assert checks == {"hierarchy-weighted-sum": "pass", "hierarchy-level-stall": "pass"}
    assert [f.id for f in section.figures] == ["hierarchy-losses-levels", "hierarchy-losses-weighted-sum"]
    json.dumps(jsonable(section.metrics), allow_nan=False)
    skipped = HierarchyLossPass().run(ReportContext(ijepa_run(), ReportSettings()))
    assert skipped.status == "skipped" and "no per-level losses" in skipped.message


# --- schedules ---------------------------------------------------------------------------------------------


def test_hjepa_schedule_by_hand():
    s = config_schedule(HJEPA_CONFIG, "hjepa", steps_per_epoch=30)
    at = dict(zip(s.steps.astype(int), s.lr, strict=True))
    assert at[1] == 0.0  # logged step 1 = CosineScheduler(0): warmup starts at 0
    assert at[16] == pytest.approx(0.05 * 15 / 30)
    assert at[31] == pytest.approx(0.05)  # end of warmup (1 epoch of 30 steps)
    assert at[61] == pytest.approx(1e-6 + (0.05 - 1e-6) * 0.5)  # cosine midpoint; min_lr from scheduler_params
    assert at[90] == pytest.approx(1e-6 + (0.05 - 1e-6) * 0.5 * (1 + math.cos(math.pi * 59 / 60)))
    ema = dict(zip(s.steps.astype(int), s.ema_momentum, strict=True))
    assert ema[1] == ema[29] == 0.996  # constant for the 30 warmup steps
    assert ema[60] == pytest.approx(0.998) and ema[90] == pytest.approx(1.0)
    assert set(s.weight_decay) == {1e-4}
    assert any("training.min_lr" in n for n in s.notes)


def test_ijepa_schedule_by_hand():
    s = config_schedule(IJEPA_CONFIG, "ijepa", steps_per_epoch=16)
    assert s.steps[0] == 0 and s.steps[-1] == 31
    assert s.lr[0] == pytest.approx(2e-4 + (1 / 16) * 8e-4)  # iteration 0 runs after one step() call
    assert s.lr[15] == pytest.approx(1e-3)  # end of warmup
    assert s.lr[23] == pytest.approx(1e-6 + (1e-3 - 1e-6) * 0.5)  # cosine midpoint
    assert s.lr[31] == pytest.approx(1e-6)
    assert s.weight_decay[15] == pytest.approx(0.4 + (0.04 - 0.4) * 0.5)  # half-way through the cosine
    assert s.weight_decay[31] == pytest.approx(0.4)
    assert s.ema_momentum[0] == 0.996 and s.ema_momentum[16] == pytest.approx(0.998)
    assert s.ema_momentum[31] == pytest.approx(0.996 + 31 * 0.004 / 32)


def test_hjepa_logged_schedules_match_and_a_wrong_min_lr_does_not():
    scalars = hjepa_scalars()
    implied = config_schedule(HJEPA_CONFIG, "hjepa", 30)
    for name in ("lr", "ema_momentum"):
        cmp = compare_schedule(name, *scalars.arrays(f"train/{name}"), implied)
        assert cmp.compared == 18 and cmp.mismatched == 0, cmp
    wrong = dict(HJEPA_CONFIG, training=dict(HJEPA_CONFIG["training"], scheduler_params={"min_lr": 1e-5}))
    cmp = compare_schedule("lr", *scalars.arrays("train/lr"), config_schedule(wrong, "hjepa", 30))
    assert cmp.mismatched > 0 and cmp.first_mismatch_step >= 61


def test_a_one_step_logging_offset_is_recognised():
    implied = config_schedule(HJEPA_CONFIG, "hjepa", 30)
    steps = implied.steps[5:80:5]
    shifted = implied.ema_momentum[np.searchsorted(implied.steps, steps - 1)]  # logs m(s - 1) at step s
    assert compare_schedule("ema_momentum", steps, shifted, implied).mismatched > 0
    best = best_comparison("ema_momentum", steps, shifted, implied)
    assert best.mismatched == 0 and best.shift == -1


def test_steps_per_epoch_from_the_logs():
    assert steps_per_epoch_from_logs(hjepa_scalars(), "hjepa", HJEPA_CONFIG)[0] == 30
    assert steps_per_epoch_from_logs(ijepa_scalars(), "ijepa", IJEPA_CONFIG)[0] == 16
    spe, why = steps_per_epoch_from_logs(table({"train/loss": ([1], [1.0])}), "hjepa", HJEPA_CONFIG)
    assert spe is None and "train_epoch" in why


def test_schedules_pass_on_both_fixtures():
    section = SchedulesPass().run(ReportContext(hjepa_run(), ReportSettings()))
    assert section.status == "ok", section.message
    assert {c.name: c.status for c in section.checks} == {
        "lr-schedule": "pass",
        "ema-schedule": "pass",
        "ema-target-updated": "pass",  # issue 14: the EMA moved the target (tests/test_issue14_ema.py)
    }
    assert section.metrics["steps_per_epoch"] == 30
    drift = np.array(section.metrics["ema_drift"]["values"], dtype=float)
    assert drift.shape == (2, 7) and np.all(drift > 0) and np.all(drift[:, 1:] < 1)
    # the CLS token starts near 0 (timm init, std 1e-6) and the EMA target's has barely left it while the context
    # encoder's moved: relative to its tiny norm the lag exceeds 1 (a merged "embed" part used to hide this)
    assert np.all(drift[:, 0] > 1)
    assert section.metrics["ema_drift"]["parts"] == [
        "cls_token",
        "pos_embed",
        "patch_embed",
        "block_0",
        "block_1",
        "block_2",
        "norm",
    ]
    isec = SchedulesPass().run(ReportContext(ijepa_run(), ReportSettings()))
    assert isec.status == "ok"  # the CSV logs no schedule: nothing to check but the EMA's own updates (issue 14)
    assert [(c.name, c.status) for c in isec.checks] == [("ema-target-updated", "pass")]
    assert any("logged no learning rate" in n for n in isec.notes)
    assert isec.metrics["steps_per_epoch"] == 16 and "schedules-ema-drift" in [f.id for f in isec.figures]
    for metrics in (section.metrics, isec.metrics):
        json.dumps(jsonable(metrics), allow_nan=False)


# --- EMA drift ---------------------------------------------------------------------------------------------


def test_relative_drift_by_hand():
    import torch

    target = {
        "blocks.0.attn.qkv.weight": torch.ones(4, 2),
        "blocks.0.norm1.bias": torch.ones(2),
        "patch_embed.proj.weight": torch.full((2, 3), 2.0),
        "norm.weight": torch.ones(3),
    }
    context = {k: v * 1.1 for k, v in target.items()}
    context["norm.weight"] = torch.tensor([1.0, 1.0, 4.0])  # ||t - c|| = 3, ||t|| = sqrt(3)
    drift = relative_l2_by_part(target, context)
    assert drift["block_0"] == pytest.approx(0.1) and drift["patch_embed"] == pytest.approx(0.1)
    assert drift["norm"] == pytest.approx(3 / math.sqrt(3))
    assert list(drift) == ["patch_embed", "block_0", "norm"]  # embeddings, blocks in order, norm
    assert [encoder_part(n) for n in ("blocks.11.mlp.fc1.weight", "cls_token", "pos_embed", "norm.bias")] == [
        "block_11",
        "cls_token",
        "pos_embed",
        "norm",
    ]


def test_relative_l2_known_answers_and_its_zero_norm_rule():
    import torch

    t, c = torch.tensor([3.0, 4.0]), torch.tensor([3.0, 1.0])
    assert relative_l2([t], [c]) == pytest.approx(3 / 5)  # ||(0, 3)|| / ||(3, 4)||
    assert relative_l2([t, torch.zeros(2)], [c, torch.tensor([0.0, 4.0])]) == pytest.approx(5 / 5)  # pooled
    assert relative_l2([t], [t]) == 0.0
    zero = torch.zeros(3)
    assert relative_l2([zero], [zero]) == 0.0  # ||t|| = 0 and t == c: no lag at all
    assert relative_l2([zero], [torch.ones(3)]) is None  # ||t|| = 0, t != c: undefined, never inf or NaN
    assert relative_l2_by_part({"cls_token": zero}, {"cls_token": torch.ones(3)}) == {"cls_token": None}


def test_the_ema_gap_and_the_ema_drift_agree_on_a_checkpoint():
    """One function and one naming: the Model card's EMA gap of the fixture's latest checkpoint is the last
    row of the Schedules section's drift table, part by part."""
    from hjepa_report.models import load_model, model_card

    run = hjepa_run()
    gap = model_card(load_model(run.latest_checkpoint().path, HJEPA_CONFIG, encoder_heads=2))["ema_gap"]
    drift = SchedulesPass().run(ReportContext(run, ReportSettings())).metrics["ema_drift"]
    last = drift["checkpoints"].index(run.latest_checkpoint().name)
    assert drift["parts"] == list(gap["parts"])
    assert drift["values"][last] == pytest.approx([gap["parts"][p] for p in drift["parts"]], rel=1e-12)


def test_thresholds_file_overrides_the_stall_rule():
    settings = ReportSettings()
    settings.thresholds = {"hierarchy.stall_improvement": 0.3, "hierarchy.others_improvement": 0.5}
    section = HierarchyLossPass().run(ReportContext(hjepa_run(), settings))
    # fixture improvements, middle -> last third: level 0 51%, level 1 21%, level 2 16%
    assert section.metrics["stalled_levels"] == [1, 2]
    assert {c.name: c.status for c in section.checks}["hierarchy-level-stall"] == "warn"


def test_a_config_without_epochs_gives_a_note_not_an_error():
    run = hjepa_run()
    run.config = {"training": {"lr": 0.1}, "loss": {"hierarchy_weights": [1.0, 0.5, 0.25]}}
    section = SchedulesPass().run(ReportContext(run, ReportSettings()))
    assert section.status == "ok", section.message
    assert any("training.epochs" in n for n in section.notes)
    schedule_checks = {c.status for c in section.checks if c.name != "ema-target-updated"}
    assert schedule_checks == {"skip"}  # logged, but nothing to compare with
    with pytest.raises(ValueError, match="training.epochs"):
        config_schedule(run.config, "hjepa", 30)


def test_a_per_step_schedule_is_drawn_from_evenly_spaced_samples():
    from hjepa_report.analysis.dynamics.figures import thinned

    steps = np.arange(1, 1_500_001, dtype=float)
    x, y = thinned(steps, steps * 2, points=4000)
    assert len(x) == 4000 and x[0] == 1 and x[-1] == 1_500_000 and np.array_equal(y, 2 * x)
    assert np.ptp(np.diff(x)) <= 1  # evenly spaced
    short = np.arange(10.0)
    assert thinned(short, short)[0] is short  # short curves are drawn as they are


def test_value_at_is_the_last_value_logged_at_or_before_a_step():
    t = table({"val/loss": ([10, 20, 30], [0.9, 0.5, 0.4])})
    assert t.value_at("val/loss", 20) == 0.5 and t.value_at("val/loss", 29) == 0.5
    assert t.value_at("val/loss", 5) is None and t.value_at("val/loss", None) is None
    assert t.value_at("train/loss", 30) is None
