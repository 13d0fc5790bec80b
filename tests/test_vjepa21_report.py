"""`hjepa-report` on the V-JEPA 2.1 run the original code wrote (tests/fixtures/vjepa21_small): a report
without an error section, the predictions section with the loss per target level as train.py weighs it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from hjepa_report.cli import main

pytestmark = pytest.mark.slow  # builds a whole report (~20 s on 2 cores)

RUN = Path(__file__).parent / "fixtures" / "vjepa21_small"


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    base = tmp_path_factory.mktemp("vjepa21_report")
    run = base / "run"
    shutil.copytree(RUN, run)
    # vit_fixture is not one of the code base's sizes: its head count is given
    result = CliRunner().invoke(main, ["report", str(run), "-o", str(base / "out"), "--encoder-heads", "1"])
    assert result.exit_code == 0, result.output
    return json.loads((base / "out" / "report.json").read_text())


def test_the_21_run_reports_without_an_error_section(report):
    assert report["run"]["layout"] == "vjepa2"
    sections = {s["name"]: s for s in report["sections"]}
    assert {n: s["message"] for n, s in sections.items() if s["status"] not in ("ok", "skipped")} == {}
    for needed in ("overview", "training", "schedules", "masking", "attention", "predictions"):
        assert sections[needed]["status"] == "ok", needed
    assert sections["attention"]["message"].startswith("2 clips, 12 blocks of the target encoder")


def test_predictions_show_the_loss_per_target_level(report):
    predictions = {s["name"]: s for s in report["sections"]}["predictions"]
    metrics = predictions["metrics"]
    levels, total = metrics["levels"], metrics["total"]
    assert [lv["block"] for lv in levels] == [3, 6, 9, 12] and {lv["weight"] for lv in levels} == {0.25}
    assert total["lambda"] == 0.5 and total["distance_weighted"] is True
    pred = np.mean([lv["prediction_loss"] for lv in levels])
    ctx = np.mean([lv["context_loss"] for lv in levels])
    assert total["prediction_loss"] == pytest.approx(pred, rel=1e-6)
    assert total["loss"] == pytest.approx(pred + 0.5 * ctx, rel=1e-6)
    assert predictions["message"].startswith(f"loss on the sample clips {total['loss']:.4f} = L_pred")
    assert "predictions-video-prediction-levels" in predictions["tables"]
