"""Reduced precision for the large sweeps: chosen by rule, measured against float32, stated, and undone when
its error is too large (analysis/precision.py, the loss landscape)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hjepa_report.analysis import precision
from hjepa_report.analysis.precision import Precision, fell_back, sweep_precision

FIX = Path(__file__).parent / "fixtures"


class _Model:
    def __init__(self, native: bool, device: str = "cpu"):
        self._native = native
        self.device = type("Device", (), {"type": device})()

    def native_bf16(self) -> bool:
        return self._native


def test_bfloat16_only_for_large_sweeps_on_native_devices_under_auto():
    assert sweep_precision("auto", _Model(True), 5e12).name == "bf16"
    assert sweep_precision("fp32", _Model(True), 5e12).why == "--precision fp32"
    small = sweep_precision("auto", _Model(True), 1e11)
    assert small.name == "fp32" and "small enough" in small.why
    emulated = sweep_precision("auto", _Model(False), 5e12)
    assert emulated.name == "fp32" and "no native bfloat16" in emulated.why


def test_the_error_is_measured_against_the_figures_scale_and_a_fallback_says_so():
    chosen = Precision("bf16", "test")
    points = [{"at": "a", "bf16": 1.00, "fp32": 1.002}, {"at": "b", "bf16": 2.0, "fp32": 1.99}]
    assert chosen.measured(points, 2.0, "the range")  # 0.01 <= 1 % of 2.0
    assert chosen.max_error == pytest.approx(0.01)
    assert "largest difference 0.01" in chosen.describe() and "0.50% of the range, 2" in chosen.describe()
    assert not Precision("bf16", "test").measured(points, 0.5, "the range")
    back = fell_back(chosen)
    assert back.name == "fp32" and back.fell_back and back.as_dict()["fell_back_to_fp32"]
    assert back.why == "bfloat16 differed from float32 by 0.01 (0.5% of the range), above 1%: redone"


def _landscape(monkeypatch, tolerance: float, setting: str = "auto"):
    pytest.importorskip("torch")
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.analysis.dynamics.landscape_section import LandscapePass
    from hjepa_report.collect import collect_run
    from hjepa_report.models.api import JepaModel
    from hjepa_report.settings import ReportSettings

    monkeypatch.setattr(precision, "BF16_MIN_FLOPS", 0.0)  # the fixture's sweeps are tiny: treat them as large
    monkeypatch.setattr(precision, "TOLERANCE", tolerance)
    monkeypatch.setattr(JepaModel, "native_bf16", lambda self: True)  # autocast works on any CPU, if slower
    settings = ReportSettings(encoder_heads=2, landscape_grid=5, precision=setting)
    ctx = ReportContext(collect_run(FIX / "hjepa_small"), settings)
    return LandscapePass().run(ctx, draw=False).metrics


@pytest.mark.slow
def test_the_landscape_in_bfloat16_states_its_float32_check(monkeypatch):
    m = _landscape(monkeypatch, tolerance=0.5)
    grid = m["precision"]["grid"]
    assert grid["precision"] == "bf16" and not grid["fell_back_to_fp32"]
    assert [c["at"] for c in grid["checked"]] == ["stored weights", "(a, b) = (1, 1)"]
    assert grid["checked"][0]["fp32"] != grid["checked"][0]["bf16"]  # two different evaluations
    assert grid["max_error"] <= 0.5 * grid["scale"]
    assert m["precision"]["interpolation"]["precision"] == "fp32"  # paths stay float32 (PATH_PRECISION)


@pytest.mark.slow
def test_too_large_an_error_redoes_the_sweeps_in_float32(monkeypatch):
    fallback = _landscape(monkeypatch, tolerance=0.0)
    assert fallback["precision"]["grid"]["fell_back_to_fp32"]
    exact = _landscape(monkeypatch, tolerance=0.0, setting="fp32")
    assert exact["precision"]["grid"]["why"] == "--precision fp32"
    assert fallback["loss_grid"] == exact["loss_grid"]  # redone in float32: the float32 grid itself
    assert [p["loss"] for p in fallback["interpolation"]] == [p["loss"] for p in exact["interpolation"]]


def _lidar(monkeypatch, tolerance: float, setting: str = "auto") -> dict:
    pytest.importorskip("torch")
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.analysis.representations.lidar import lidar_score
    from hjepa_report.collect import collect_run
    from hjepa_report.models.api import JepaModel
    from hjepa_report.settings import ReportSettings

    monkeypatch.setattr(precision, "BF16_MIN_FLOPS", 0.0)
    monkeypatch.setattr(precision, "TOLERANCE", tolerance)
    monkeypatch.setattr(JepaModel, "native_bf16", lambda self: True)
    ctx = ReportContext(collect_run(FIX / "hjepa_small"), ReportSettings(encoder_heads=2, precision=setting))
    return lidar_score(ctx.session, seed=5)


@pytest.mark.slow
def test_lidar_views_in_bfloat16_are_checked_and_redone_when_off(monkeypatch):
    fast = _lidar(monkeypatch, tolerance=0.5)
    assert fast["precision"]["precision"] == "bf16" and fast["precision"]["checked"][0]["bf16"] > 0
    assert "bfloat16 autocast" in fast["precision_text"]
    redone = _lidar(monkeypatch, tolerance=0.0)
    exact = _lidar(monkeypatch, tolerance=0.0, setting="fp32")
    assert redone["precision"]["fell_back_to_fp32"] and redone["lidar"] == exact["lidar"]
