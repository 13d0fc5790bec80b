"""Numerical hostility in the representations section (issue 19, item 4): embeddings holding NaN are found where
they enter, a health check fails and names them, and RankMe, kNN and the Wilson interval are None with the
reason instead of numbers that were never measured (a NaN accuracy used to become the interval [0, 1])."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.analysis.base import PassResult
from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.representations import metrics
from hjepa_report.analysis.representations.checks import finite_predictions_check
from hjepa_report.analysis.representations.embedding import label_accuracies
from hjepa_report.analysis.representations.embedding_section import RepresentationsPass
from hjepa_report.analysis.representations.predictions import LevelErrors
from hjepa_report.collect.collector import collect_run
from hjepa_report.settings import ReportSettings

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("accuracy", [float("nan"), float("inf"), -0.1, 1.5])
def test_wilson_interval_refuses_an_accuracy_that_was_not_measured(accuracy):
    with pytest.raises(ValueError, match=r"accuracy in \[0, 1\]"):
        metrics.wilson_interval(accuracy, 50)


def test_wilson_interval_still_holds_at_the_ends():
    assert metrics.wilson_interval(0.0, 10)[0] == 0.0 and metrics.wilson_interval(1.0, 10)[1] == pytest.approx(1.0)


def test_nonfinite_reason_counts_values_and_rows():
    z = np.zeros((5, 3))
    z[1, :2] = np.nan
    z[3, 0] = np.inf
    assert metrics.nonfinite_reason(z, "the embeddings") == "the embeddings hold 3 NaN or inf value(s) in 2 of 5 rows"
    assert metrics.nonfinite_reason(np.zeros((5, 3)), "x") is None


def test_label_accuracies_of_a_nan_row_give_no_accuracy_and_the_reason():
    z = np.random.default_rng(0).standard_normal((12, 4))
    z[2, 1] = np.nan
    out = label_accuracies(z, np.repeat(["a", "b", "c"], 4))
    assert out["knn_accuracy"] is None and out["knn_interval"] is None and out["nonfinite"]
    assert "1 NaN or inf value(s) in 1 of 12 rows" in out["reason"] and out["probe"]["accuracy"] is None


def _with_nan_row(embeddings):
    """A copy of the session's embeddings with image 0 NaN (its mean-pooled row and its first patch token); of the
    probe images' embeddings every image's first feature, so the images the kNN keeps hold NaN too."""
    changes = {}
    for name in ("mean_pooled", "patch_tokens", "image"):
        if hasattr(embeddings, name):
            array = np.array(getattr(embeddings, name), dtype=np.float32)
            if name == "image":
                array[:, 0] = np.nan
            else:
                array[(0,) * (array.ndim - 1)] = np.nan
            changes[name] = array
    return dataclasses.replace(embeddings, **changes)


@pytest.fixture(scope="module")
def nan_section():
    ctx = ReportContext(collect_run(FIXTURES / "hjepa_small"), ReportSettings(minimal=True))
    session = ctx.session
    chosen = session.checkpoint
    embeddings, probe_embeddings = session.embeddings, session.probe_embeddings

    def nan_of_chosen(original):
        def wrapped(checkpoint=None):
            out = original(checkpoint)
            return _with_nan_row(out) if checkpoint is None or checkpoint.path == chosen.path else out

        return wrapped

    session.embeddings = nan_of_chosen(embeddings)
    session.probe_embeddings = nan_of_chosen(probe_embeddings)
    return chosen, RepresentationsPass().run(ctx)


def test_nan_embeddings_fail_a_check_and_leave_rankme_none_with_the_reason(nan_section):
    chosen, section = nan_section
    assert section.status == "ok", section.message
    checks = {c.name: c for c in section.checks}
    assert checks["embeddings-finite"].status == "fail" and chosen.name in checks["embeddings-finite"].detail
    assert re.search(r"hold \d+ NaN or inf value\(s\) in 1 of \d+ rows", checks["embeddings-finite"].detail)
    assert checks["collapse"].status == "skip" and checks["class-structure"].status == "skip"
    health = section.metrics["health"]
    for space in ("tokens", "image"):
        assert health[space]["rankme"] is None and health[space]["reason"].startswith("not computed: the ")
    accuracy = section.metrics["accuracy"]["image"]
    assert accuracy["knn_accuracy"] is None and accuracy["knn_interval"] is None
    assert any("Not computed" in n and chosen.name in n for n in section.notes)
    ids = {f.id for f in section.figures}
    assert "representations-health" not in ids and "representations-projections" not in ids
    assert "representations-checkpoints" in ids  # the rest of the section still renders
    rows = {r["name"]: r for r in section.metrics["checkpoints"]}
    assert "NaN" in rows[chosen.name]["error"] and section.metrics["best_checkpoint"] != chosen.name


def _level(level: int, cosine: np.ndarray) -> LevelErrors:
    valid = np.ones(cosine.shape, bool)
    valid[0, -1] = False  # padding: NaN there is expected, not a finding
    cosine = np.where(valid, cosine, np.nan)
    return LevelErrors(level, cosine, np.abs(cosine), cosine * 0.5, np.abs(cosine), valid, np.zeros((*cosine.shape, 1)))


def test_nan_predictions_fail_a_check_naming_the_level_and_skip_the_baseline_comparison():
    bad = np.full((2, 3), 0.5)
    bad[1, 0] = np.nan
    result = PassResult()
    assert not finite_predictions_check(result, [_level(0, np.full((2, 3), 0.5)), _level(1, bad)], "ep3.pth")
    (check,) = result.checks
    assert check.name == "predictions-finite" and check.status == "fail" and "level 1: 1 token(s)" in check.detail
    assert "ep3.pth" in result.notes[0] and result.metrics["non_finite_predictions"] == {"1": 1}
    finite = PassResult()
    assert finite_predictions_check(finite, [_level(0, np.full((2, 3), 0.5))]) and not finite.checks
