"""Log-level health checks on hand-made scalar tables: each check can pass, warn and fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.loghealth import LogHealthPass, divergence, main_loss_tag, start_end_medians
from hjepa_report.collect.run import Run
from hjepa_report.collect.scalars import ScalarTable
from hjepa_report.settings import ReportSettings


def run_with(series: dict[str, np.ndarray]) -> Run:
    frames = [
        pd.DataFrame(
            {"source": "log", "tag": tag, "step": np.arange(len(v), dtype=float), "value": v, "wall_time": np.nan}
        )
        for tag, v in series.items()
    ]
    return Run(
        root=Path("/tmp/run"), name="run", layout="generic", layout_reason="test", scalars=ScalarTable.concat(frames)
    )


def checks_of(series, **settings):
    ctx = ReportContext(run_with(series), ReportSettings(**settings))
    section = LogHealthPass().run(ctx)
    assert section.status == "ok", section.message
    return {c.name: c for c in section.checks}


def test_healthy_run_passes():
    loss = np.exp(-np.linspace(0, 3, 200)) + 0.1
    checks = checks_of({"train/loss": loss, "val/loss": loss[::20]})
    assert {c.status for c in checks.values()} == {"pass"}


def test_nan_loss_fails_and_names_the_tag():
    loss = np.linspace(1, 0.5, 50)
    loss[30] = np.nan
    checks = checks_of({"train/loss": loss})
    assert checks["non-finite-values"].status == "fail"
    assert "train/loss (1 NaN, 0 inf)" in checks["non-finite-values"].detail
    assert checks["non-finite-values"].figure_id == "training-group-train-0"


def test_non_finite_in_a_non_loss_tag_only_warns():
    lr = np.full(10, 0.1)
    lr[3] = np.inf
    assert checks_of({"train/loss": np.linspace(1, 0.1, 10), "train/lr": lr})["non-finite-values"].status == "warn"


def test_loss_rising_is_reported_as_divergence_and_trend():
    loss = np.concatenate([np.linspace(1.0, 0.2, 100), np.linspace(0.2, 1.5, 100)])
    checks = checks_of({"train/loss": loss, "val/loss": loss[::10]})
    assert checks["loss-decreases"].status == "warn"
    assert checks["divergence"].status == "fail"


def test_divergence_threshold_can_be_overridden():
    loss = np.concatenate([np.linspace(1.0, 0.5, 100), np.linspace(0.5, 0.65, 100)])  # ends ~30 % above min
    assert checks_of({"train/loss": loss})["divergence"].status == "warn"
    relaxed = checks_of({"train/loss": loss}, thresholds={"divergence.warn": 0.5})
    assert relaxed["divergence"].status == "pass"


def test_missing_validation_warns():
    assert checks_of({"train/loss": np.linspace(1, 0.1, 30)})["validation-logged"].status == "warn"


def test_helpers_on_known_values():
    assert main_loss_tag(["a", "train/lr", "enc_loss"]) == "enc_loss"
    assert main_loss_tag(["val/loss", "train/loss"]) == "train/loss"
    assert start_end_medians(np.arange(20.0)) == (0.5, 18.5)
    assert divergence(np.array([3.0, 2.0, 1.0, 1.5]), 0.6) == pytest.approx(0.5)
