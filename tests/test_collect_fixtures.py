"""The collector on the real H-JEPA and I-JEPA runs in tests/fixtures (facts from their PROVENANCE.md)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from hjepa_report.collect import collect_run

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def hjepa():
    return collect_run(FIXTURES / "hjepa_small")


@pytest.fixture(scope="module")
def ijepa():
    return collect_run(FIXTURES / "ijepa_small")


def _all_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_hjepa_layout_and_scalars(hjepa):
    assert hjepa.layout == "hjepa"
    assert "H-JEPA checkpoint names" in hjepa.layout_reason
    assert len(hjepa.scalars.tags()) == 30
    assert len(hjepa.scalars) == 226
    assert hjepa.scalars.summary("train/loss")["count"] == 21
    steps, values = hjepa.scalars.arrays("val/loss")
    assert steps.tolist() == [30, 60, 90]
    assert values.tolist() == pytest.approx([0.9286, 0.5214, 0.4240], abs=1e-4)
    assert set(hjepa.scalars.frame["source"]) == {"logs/tensorboard/events.out.tfevents.1795871604.vm.13601.0"}


def test_hjepa_checkpoints(hjepa):
    by_name = {c.name: c for c in hjepa.checkpoints}
    latest = by_name["checkpoints/checkpoint_latest.pth"]
    epoch1 = by_name["checkpoints/checkpoint_epoch_0001.pth"]
    assert (latest.epoch, latest.step, latest.role) == (2, 90, "latest")
    assert (epoch1.epoch, epoch1.step, epoch1.role) == (1, 60, "epoch")
    assert latest.same_as is None and epoch1.same_as is None  # same size, different weights
    assert isinstance(latest.metadata["metrics/val_loss"], float)
    assert latest.metadata["metrics/val_loss"] == pytest.approx(0.42397, abs=1e-5)
    assert latest.param_counts == {
        "context encoder": 166656,
        "target encoder": 166656,
        "predictor": 71360,
        "hierarchy heads": 12864,
    }
    assert sum(latest.param_counts.values()) == 417536  # PROVENANCE.md: 417,536 values
    assert latest.dtypes == ["float32"]
    assert "optimizer_state_dict" in latest.top_level_keys
    assert hjepa.latest_checkpoint() is latest


def test_hjepa_images_config_and_inventory(hjepa):
    assert [(i.path.name, i.label) for i in hjepa.images][:3] == [
        ("bars_0000.png", "bars"),
        ("blobs_0000.png", "blobs"),
        ("dots_0000.png", "dots"),
    ]
    assert len(hjepa.images) == 8
    assert {i.label for i in hjepa.images} == {"bars", "blobs", "dots", "photos", "rings", "waves"}
    assert hjepa.config["model"]["embed_dim"] == 64
    assert hjepa.config_path.name == "config.yaml"
    records = {f.path: f for f in hjepa.files}
    projector = records["logs/tensorboard/projector_config.pbtxt"]
    assert projector.status == "read" and "2 embeddings (2 tensor files missing)" in projector.detail
    events = records["logs/tensorboard/events.out.tfevents.1795871604.vm.13601.0"]
    assert events.detail == "30 scalar tags, 226 points; 1 image tag (not tabulated)"
    assert records["reference/reference.npz"].status == "skipped"
    assert set(records) == _all_files(FIXTURES / "hjepa_small")  # every file accounted for, once
    assert len(records) == len(hjepa.files)
    assert hjepa.warnings == []


def test_ijepa_layout_csv_checkpoints_config(ijepa):
    assert ijepa.layout == "ijepa"
    assert ijepa.scalars.tags() == ["loss", "mask-A", "mask-B", "time (ms)"]
    steps, values = ijepa.scalars.arrays("loss")
    assert steps.tolist() == list(range(32))
    assert values[0] == pytest.approx(0.43851) and values[-1] == pytest.approx(0.21968)
    assert values[:16].mean() == pytest.approx(0.37810, abs=1e-5)  # PROVENANCE: epoch 1 mean
    by_name = {c.name: c for c in ijepa.checkpoints}
    ep2, latest = by_name["jepa-ep2.pth.tar"], by_name["jepa-latest.pth.tar"]
    assert ep2.epoch == 1 and "ep2" in ep2.note and "'epoch': 1" in ep2.note
    assert latest.epoch == 2 and latest.role == "latest"
    assert ep2.param_counts == {"context encoder": 116992, "target encoder": 116992, "predictor": 31744}
    assert ep2.metadata["loss"] == pytest.approx(0.37810, abs=1e-5)
    assert ijepa.config["meta"]["model_name"] == "vit_pico"
    assert ijepa.config_path.name == "params-ijepa.yaml"
    assert {f.path for f in ijepa.files} == _all_files(FIXTURES / "ijepa_small")


def _snapshot(root: Path) -> dict[str, tuple]:
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        out[p.relative_to(root).as_posix()] = (st.st_size, st.st_mtime_ns, st.st_mode, digest)
    return out


@pytest.mark.parametrize("fixture", ["hjepa_small", "ijepa_small"])
def test_run_dir_is_untouched(tmp_path, fixture):
    run_dir = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, run_dir, ignore=shutil.ignore_patterns("reference"))
    before = _snapshot(run_dir)
    dir_mtime = os.stat(run_dir).st_mtime_ns
    collect_run(run_dir)
    assert _snapshot(run_dir) == before
    assert os.stat(run_dir).st_mtime_ns == dir_mtime
