"""Regression (issue 12, bug 3): non-finite numbers reach report.json as the README promises, through the one
sanitiser in render: NaN -> null, +inf -> "inf", -inf -> "-inf". The gradient-flow and landscape passes used
their own sanitiser that turned +-inf into null, so an exploding gradient looked like a missing one."""

from __future__ import annotations

import json
import math

import pytest

from conftest import HJEPA_RUN, IJEPA_RUN
from hjepa_report.analysis.base import AnalysisPass, PassResult

pytestmark = pytest.mark.slow  # each test builds a (small) report


class Infinite(AnalysisPass):
    name, title = "infinite", "Non-finite metrics"

    def compute(self, ctx):
        return PassResult(metrics={"up": math.inf, "down": -math.inf, "missing": math.nan, "levels": [1.0, math.inf]})

    def present(self, result):
        from hjepa_report.analysis.base import Presentation

        return Presentation()


def _section(doc: dict, name: str) -> dict:
    return next(s for s in doc["sections"] if s["name"] == name)


def test_a_pass_s_infinite_metrics_are_strings_in_report_json(tmp_path, monkeypatch):
    import hjepa_report.analysis.registry as registry
    import hjepa_report.pipeline as pipeline
    from hjepa_report.pipeline import build_report, write_report
    from hjepa_report.settings import ReportSettings

    monkeypatch.setattr(pipeline, "all_passes", lambda: [Infinite(), *registry.all_passes()])
    monkeypatch.setattr(pipeline, "pass_names", lambda: ["infinite", *registry.pass_names()])
    report = build_report(HJEPA_RUN, ReportSettings(sections=["infinite"], quiet=True))
    _, json_path = write_report(report, tmp_path / "report.html")
    metrics = _section(json.loads(json_path.read_text()), "infinite")["metrics"]
    assert metrics == {"up": "inf", "down": "-inf", "missing": None, "levels": [1.0, "inf"]}


def test_an_infinite_gradient_norm_is_inf_not_null(tmp_path, monkeypatch):
    """The gradient-flow pass's metrics went through analysis/dynamics' json_friendly: inf became null."""
    from hjepa_report.analysis.dynamics import gradients
    from hjepa_report.pipeline import build_report, write_report
    from hjepa_report.settings import ReportSettings

    real = gradients.gradient_flow

    def diverged(network, loss_fn, backward=None):
        flow = real(network, loss_fn, backward)
        flow.loss, flow.layers[0].grad_norm = -math.inf, math.inf
        return flow

    monkeypatch.setattr(gradients, "gradient_flow", diverged)
    report = build_report(IJEPA_RUN, ReportSettings(sections=["gradient-flow"], quiet=True))
    _, json_path = write_report(report, tmp_path / "report.html")
    section = _section(json.loads(json_path.read_text()), "gradient-flow")
    assert section["status"] == "ok", section["message"]
    assert section["metrics"]["loss"] == "-inf"
    assert section["metrics"]["layers"][0]["grad_norm"] == "inf"
