"""`hjepa-report` on the V-JEPA and V-JEPA 2 runs written by the original code: a report without an error
section, curves, schedules, the EMA drift from the weights, the 3-D masks over frames, and one honest line
where the video networks would be needed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from hjepa_report.cli import main
from hjepa_report.models.vjepa import NOT_REBUILT

pytestmark = pytest.mark.slow  # builds two whole reports (~15 s on 2 cores)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def video_reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("video_reports")
    out = {}
    for name in ("vjepa_small", "vjepa2_small"):
        run = base / name
        shutil.copytree(FIXTURES / name, run)
        heads = ["--encoder-heads", "2"] if name == "vjepa2_small" else []  # vit_fixture: not a known size
        result = CliRunner().invoke(main, ["report", str(run), "-o", str(base / f"{name}-report"), *heads])
        assert result.exit_code == 0, result.output
        out[name] = json.loads((base / f"{name}-report" / "report.json").read_text())
    return out


@pytest.mark.parametrize(("name", "layout"), [("vjepa_small", "vjepa"), ("vjepa2_small", "vjepa2")])
def test_video_runs_report_without_an_error_section(video_reports, name, layout):
    import jsonschema

    from hjepa_report.render.jsonreport import load_schema

    doc = video_reports[name]
    assert doc["run"]["layout"] == layout
    jsonschema.validate(doc, load_schema())
    sections = {s["name"]: s for s in doc["sections"]}
    assert {n: s["message"] for n, s in sections.items() if s["status"] not in ("ok", "skipped")} == {}
    for needed in ("overview", "training", "schedules"):
        assert sections[needed]["status"] == "ok", needed
    model = sections["model"]
    assert model["status"] == "skipped" and NOT_REBUILT in model["message"] and "\n" not in model["message"]
    for image_only in ("layers", "gradient-flow", "loss-landscape"):  # rebuilt by the video sections: no error
        assert sections[image_only]["status"] == "skipped" and sections[image_only]["message"].startswith(NOT_REBUILT)
    masking = sections["masking"]
    assert masking["status"] == "ok" and masking["message"].startswith("mask 1: context ")
    assert [m["grid"] for m in masking["metrics"]["masks"]] == [[4, 8, 8], [4, 8, 8]]
    assert [f["id"] for f in masking["figures"]] == ["masking-video-masks-1", "masking-video-masks-2"]
    checks = {c["name"]: c["status"] for c in sections["schedules"]["checks"]}
    assert checks["ema-target-updated"] == "pass"  # drift from the weights alone, no network built


def test_video_attention_per_frame_where_the_run_has_clips(video_reports):
    attention = {s["name"]: s for s in video_reports["vjepa2_small"]["sections"]}["attention"]
    assert attention["status"] == "ok" and attention["message"].startswith("2 clips, 2 blocks of the target encoder")
    assert [f["id"] for f in attention["figures"]] == ["attention-video-attention"]
    assert [c["clip"] for c in attention["metrics"]["clips"]] == ["moving-down", "moving-right"]
    predictions = {s["name"]: s for s in video_reports["vjepa2_small"]["sections"]}["predictions"]
    assert predictions["status"] == "ok" and predictions["message"].startswith("loss on the sample clips")
    no_clips = {s["name"]: s for s in video_reports["vjepa_small"]["sections"]}["attention"]
    assert no_clips["status"] == "skipped" and "no sample clips" in no_clips["message"]
