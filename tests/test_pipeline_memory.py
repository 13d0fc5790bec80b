"""The pipeline drops what no later pass reads: the cached encodings after the last pass that reads them
(before the gradient flow and the loss landscape, which evaluate their own losses), the networks after the
last model pass (issue 13: memory)."""

from __future__ import annotations

from pathlib import Path

from hjepa_report.analysis.session import ModelSession
from hjepa_report.pipeline import build_report
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures"


def test_encodings_are_dropped_after_their_last_reader_and_networks_after_the_last_model_pass(monkeypatch):
    calls = []
    drop, release = ModelSession.drop_encodings, ModelSession.release

    def spy_drop(self):
        calls.append(("drop_encodings", self.meter.section, self._features is not None))
        drop(self)
        assert self._features is None and not self._embeddings

    def spy_release(self):
        calls.append(("release", self.meter.section, self._loaded is not None))
        release(self)

    monkeypatch.setattr(ModelSession, "drop_encodings", spy_drop)
    monkeypatch.setattr(ModelSession, "release", spy_release)
    settings = ReportSettings(sections=["attention", "gradient-flow"], encoder_heads=2, json_only=True)
    report = build_report(FIX / "hjepa_small", settings)
    assert [s.status for s in report.sections] == ["ok", "ok"]
    dropped = [c for c in calls if c[0] == "drop_encodings"]
    assert dropped == [("drop_encodings", "attention", True)]  # once, after attention, with encodings to drop
    assert calls.index(dropped[0]) < calls.index(next(c for c in calls if c[1] == "gradient-flow"))
    assert ("release", "gradient-flow", True) in calls
