"""The V-JEPA / V-JEPA 2 schedules the report derives from a config, against the values the original trainers
drew (reference/schedules*.npz, recorded while facebookresearch/jepa and facebookresearch/vjepa2 trained the
fixture runs: see the fixtures' PROVENANCE.md), and the schedules section on those runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.analysis.dynamics.schedules import config_schedule, steps_per_epoch_from_logs
from hjepa_report.collect import collect_run

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(
    ("fixture", "layout", "ipe_from"),
    [("vjepa_small", "vjepa", "optimization.ipe = 4"), ("vjepa2_small", "vjepa2", "8 logged iterations")],
)
def test_schedules_match_the_values_the_original_trainer_drew(fixture, layout, ipe_from):
    run = collect_run(FIXTURES / fixture)
    ref = np.load(FIXTURES / fixture / "reference" / "schedules.npz")
    ipe, how = steps_per_epoch_from_logs(run.scalars, run.layout, run.config)
    assert ipe == 4 and how.startswith(ipe_from)
    implied = config_schedule(run.config, layout, ipe)
    assert len(implied.steps) == len(ref["lr"]) == run.config["optimization"]["epochs"] * 4
    for name in ("lr", "weight_decay", "ema_momentum"):
        np.testing.assert_allclose(implied.get(name), ref[name], rtol=1e-12, atol=0, err_msg=name)


def test_the_vjepa2_cooldown_schedule_matches_linear_decay_schedule():
    ref = np.load(FIXTURES / "vjepa2_small" / "reference" / "schedules_anneal.npz")
    opt = json.loads(str(ref["optimization"]))
    implied = config_schedule({"optimization": opt}, "vjepa2", opt["ipe"])
    np.testing.assert_allclose(implied.lr, ref["lr"], rtol=1e-12)
    np.testing.assert_allclose(implied.weight_decay, ref["weight_decay"], rtol=1e-12)
    assert "LinearDecaySchedule" in implied.formulas["lr"]
    plain = config_schedule({"optimization": {**opt, "is_anneal": False}}, "vjepa2", opt["ipe"])
    assert not np.allclose(plain.lr, ref["lr"])  # the warmup-cosine schedule would not match


def test_the_schedules_section_shows_the_implied_schedules_of_a_video_run():
    from hjepa_report.analysis.dynamics.schedules_section import _implied

    implied, metrics, why_not = _implied(collect_run(FIXTURES / "vjepa_small"))
    assert why_not is None and metrics["steps_per_epoch"] == 4
    assert "V-JEPA WarmupCosineSchedule" in implied.formulas["lr"]
