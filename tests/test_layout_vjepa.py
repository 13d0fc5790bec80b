"""Layout detection with the V-JEPA layouts: the runs written by the original V-JEPA / V-JEPA 2 code are read as
such (before, a V-JEPA run was read as I-JEPA), and H-JEPA, I-JEPA and generic runs detect as before."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hjepa_report.cli import LAYOUT_CHOICES
from hjepa_report.collect import collect_run
from hjepa_report.collect import layout as layout_module
from hjepa_report.collect.config import read_config
from hjepa_report.collect.csvlogs import read_csv_log
from hjepa_report.collect.layout import LAYOUTS, Evidence, detect_layout

FIXTURES = Path(__file__).parent / "fixtures"


def test_the_vjepa_run_matches_the_ijepa_rules_and_is_read_as_vjepa():
    """Regression: facebookresearch/jepa writes params-pretrain.yaml, an epoch,itr CSV and {tag}-latest.pth.tar,
    all of which the I-JEPA rules accept; the run was detected as ijepa before the video layouts existed."""
    run_dir = FIXTURES / "vjepa_small"
    ijepa_name_rule = layout_module._IJEPA_CHECKPOINT.search("jepa-latest.pth.tar")
    assert ijepa_name_rule and (run_dir / "jepa-latest.pth.tar").is_file()
    assert read_csv_log(run_dir / "jepa_r0.csv", "jepa_r0.csv").flavour == "ijepa"  # the generic reader's view
    # what the collector gathered before: I-JEPA-flavoured config, I-JEPA CSV, the latest checkpoint -> ijepa
    before = Evidence(
        checkpoint_names=["jepa-e0.pth.tar", "jepa-latest.pth.tar"], config_flavour="ijepa", ijepa_csv=True
    )
    assert detect_layout(before)[0] == "ijepa"
    run = collect_run(run_dir)
    assert run.layout == "vjepa"
    assert "V-JEPA video config" in run.layout_reason and "V-JEPA training CSV" in run.layout_reason
    assert "not I-JEPA evidence here" in run.layout_reason and "{tag}-latest.pth.tar" in run.layout_reason
    assert read_config(run_dir / "params-pretrain.yaml").flavour == "vjepa"


def test_the_vjepa2_run_is_read_as_vjepa2():
    run = collect_run(FIXTURES / "vjepa2_small")
    assert run.layout == "vjepa2"
    assert run.layout_reason.startswith("V-JEPA 2 video config")
    assert "V-JEPA 2 training CSV" in run.layout_reason and "latest.pt / e{E}.pt" in run.layout_reason


@pytest.mark.parametrize(
    ("fixture", "layout", "reason_start"),
    [
        ("hjepa_small", "hjepa", "H-JEPA checkpoint names"),
        ("ijepa_small", "ijepa", "I-JEPA checkpoint names ({tag}-latest / -epN .pth.tar), I-JEPA params-*.yaml"),
    ],
)
def test_hjepa_and_ijepa_runs_detect_as_before(fixture, layout, reason_start):
    run = collect_run(FIXTURES / fixture)
    assert run.layout == layout and run.layout_reason.startswith(reason_start)
    assert "V-JEPA" not in run.layout_reason


def test_vjepa2_checkpoint_names_alone_do_not_make_a_video_run(tmp_path):
    """latest.pt and e{E}.pt are common names: without a video config or CSV the run stays generic."""
    shutil.copy(FIXTURES / "vjepa2_small" / "latest.pt", tmp_path / "latest.pt")
    (tmp_path / "train.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
    run = collect_run(tmp_path)
    assert run.layout == "generic"
    assert run.layout_reason == "no H-JEPA or I-JEPA file names or config"


def test_vjepa_vs_vjepa2_is_decided_by_more_evidence_then_the_config():
    ev = Evidence(checkpoint_names=["latest.pt", "e0.pt"], config_flavour="vjepa", video_csvs=["vjepa2"])
    assert detect_layout(ev)[0] == "vjepa2"  # CSV + names against the config
    tie = Evidence(checkpoint_names=[], config_flavour="vjepa", video_csvs=["vjepa2"])
    assert detect_layout(tie)[0] == "vjepa"


def test_forcing_a_layout_keeps_the_video_detection_in_the_reason():
    run = collect_run(FIXTURES / "vjepa_small", layout="vjepa2")
    assert run.layout == "vjepa2"
    assert run.layout_reason.startswith("forced with --layout (detected vjepa: V-JEPA video config")


def test_the_cli_and_the_report_schema_offer_every_layout():
    from hjepa_report.render.jsonreport import load_schema

    assert LAYOUT_CHOICES == list(LAYOUTS)
    assert load_schema()["properties"]["run"]["properties"]["layout"]["enum"] == list(LAYOUTS)
    assert {"vjepa", "vjepa2"} <= set(LAYOUTS)
