"""The V-JEPA / V-JEPA 2 readers on runs written by the original code (tests/fixtures/vjepa*_small, see their
PROVENANCE.md): configs (dict or launcher list), per-rank CSVs with repeated headers, checkpoints with their
epoch off-by-one, frozen-eval CSVs whose header does not match their rows, and the model refusal."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.collect import collect_run, load_checkpoint
from hjepa_report.collect.checkpoints import checkpoint_role
from hjepa_report.collect.vjepa import read_eval_csv, read_video_csv
from hjepa_report.errors import ModelBuildError
from hjepa_report.models import load_model
from hjepa_report.models.vjepa import NOT_REBUILT, network_state

FIXTURES = Path(__file__).parent / "fixtures"
VJEPA, VJEPA2 = FIXTURES / "vjepa_small", FIXTURES / "vjepa2_small"


def _rows(path: Path) -> list[dict]:
    """The CSV's data rows by column name, read with the csv module (repeated headers dropped)."""
    with open(path, newline="") as fh:
        lines = list(csv.reader(fh))
    header = lines[0]
    return [dict(zip(header, r, strict=True)) for r in lines[1:] if r != header]


@pytest.fixture(scope="module")
def vjepa():
    return collect_run(VJEPA)


@pytest.fixture(scope="module")
def vjepa2():
    return collect_run(VJEPA2)


def test_vjepa_csv_columns_by_name_steps_and_what_is_left_out(vjepa):
    rows = _rows(VJEPA / "jepa_r0.csv")
    assert len(rows) == 12  # 3 epochs x 4 iterations, the third after a resume (second header)
    steps, losses = vjepa.scalars.arrays("loss")
    assert list(steps) == [(int(r["epoch"]) - 1) * 4 + int(r["itr"]) for r in rows]
    assert np.allclose(losses, [float(r["loss"]) for r in rows])
    assert np.allclose(vjepa.scalars.arrays("loss-jepa")[1], [float(r["loss-jepa"]) for r in rows])
    # grad norms: 0.00000 in epoch 1 (train.py clips, and so measures, only when epoch > warmup): left out
    grad_steps, grads = vjepa.scalars.arrays("enc-grad-norm")
    assert list(grad_steps) == list(range(4, 12)) and (grads > 0).all()
    assert not vjepa.scalars.has("gpu-time(ms)")  # -1 on every row: no CUDA timer
    detail = {f.path: f.detail for f in vjepa.files}["jepa_r0.csv"]
    assert "1 repeated header line skipped" in detail and "0 on 4 rows" in detail and "-1 on 12 rows" in detail


def test_vjepa2_csv_and_a_higher_rank_is_listed_not_read(tmp_path, vjepa2):
    rows = _rows(VJEPA2 / "log_r0.csv")
    assert set(vjepa2.scalars.tags()) >= {"loss", "iter-time(ms)", "dataload-time(ms)"}
    assert np.allclose(vjepa2.scalars.arrays("loss")[1], [float(r["loss"]) for r in rows])
    run = tmp_path / "run"
    shutil.copytree(VJEPA2, run, ignore=shutil.ignore_patterns("*.pt"))
    shutil.copy(run / "log_r0.csv", run / "log_r1.csv")
    records = {f.path: f for f in collect_run(run).files}
    assert records["log_r1.csv"].status == "skipped"
    assert records["log_r1.csv"].detail == "V-JEPA 2 training CSV of rank 1: not read, the report reads rank 0"


def test_a_non_vjepa_csv_is_left_to_the_other_readers(tmp_path):
    (tmp_path / "jepa_r0.csv").write_text("epoch,itr,loss,mask-A,mask-B,time (ms)\n1,0,0.5,10,4,30\n")
    assert read_video_csv(tmp_path / "jepa_r0.csv", "jepa_r0.csv") is None


def test_the_launchers_list_of_configs_is_read(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(VJEPA2, run, ignore=shutil.ignore_patterns("*.pt"))
    shutil.copy(FIXTURES / "vjepa2_launcher" / "params-pretrain.yaml", run / "params-pretrain.yaml")
    assert (run / "params-pretrain.yaml").read_text().startswith("- app: vjepa")
    collected = collect_run(run)
    assert collected.layout == "vjepa2"
    assert collected.config["data"]["dataset_fpcs"] == [8]
    detail = {f.path: f.detail for f in collected.files}["params-pretrain.yaml"]
    assert "a YAML list of config dicts, as V-JEPA 2's distributed launcher writes it" in detail


def test_checkpoints_epochs_off_by_one_and_roles(vjepa, vjepa2):
    got = {c.name: (c.epoch, c.role) for c in vjepa.checkpoints}
    assert got == {
        "jepa-e0.pth.tar": (1, "epoch"),
        "jepa-e1.pth.tar": (2, "epoch"),
        "jepa-e2.pth.tar": (3, "epoch"),
        "jepa-latest.pth.tar": (3, "latest"),
    }
    assert {c.name: c.epoch for c in vjepa2.checkpoints} == {"e0.pt": 1, "e1.pt": 2, "latest.pt": 2}
    e1 = next(c for c in vjepa2.checkpoints if c.name == "e1.pt")
    # V-JEPA 2.1 names them e{E}.pth.tar and stores epoch E + 1 as well (app/vjepa_2_1/train.py save_every_freq)
    assert checkpoint_role("e4.pth.tar") == ("epoch", 4, 1)
    assert checkpoint_role("jepa-e4.pth.tar") == ("epoch", 4, 1)  # V-JEPA's tagged name, unchanged
    assert "V-JEPA names a checkpoint e1 (0-based) and stores 'epoch': 2" in e1.note
    assert e1.param_counts == {"context encoder": 12120, "target encoder": 12120, "predictor": 2544}


def test_network_state_strips_ddp_and_wrapper_prefixes():
    raw = load_checkpoint(VJEPA2 / "latest.pt")
    assert all(k.startswith("module.backbone.") for k in raw["encoder"])
    encoder = network_state(raw, "encoder")
    assert "patch_embed.proj.weight" in encoder and "blocks.1.mlp.fc2.bias" in encoder
    assert tuple(encoder["patch_embed.proj.weight"].shape) == (24, 3, 2, 4, 4)
    assert "mask_tokens.1" in network_state(raw, "predictor")


def test_frozen_eval_csvs_are_read_as_their_rows_hold_them(vjepa2):
    image = VJEPA2 / "image_classification_frozen" / "synthetic-probe" / "log_r0.csv"
    assert image.read_text().splitlines()[0] == "epoch,loss,acc"
    rows = _rows(image)
    steps, train = vjepa2.scalars.arrays("frozen_eval/image:synthetic-probe/train_acc")
    assert list(steps) == [1, 2, 3] and np.allclose(train, [float(r["loss"]) for r in rows])
    _, val = vjepa2.scalars.arrays("frozen_eval/image:synthetic-probe/val_acc")
    assert np.allclose(val, [float(r["acc"]) for r in rows])
    assert not vjepa2.scalars.has("acc")  # the header's names are not used as tags
    read = read_eval_csv(image, "x.csv", "image", "synthetic-probe")
    assert "header says epoch,loss,acc but the rows hold epoch, train_acc, val_acc" in read.detail
    video = read_eval_csv(
        image.parents[2] / "video_classification_frozen" / "synthetic-probe" / "log_r0.csv", "v", "video", "p"
    )
    assert "header says" not in video.detail


def test_a_probe_checkpoint_in_an_eval_folder_is_not_a_pretraining_checkpoint(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(VJEPA2, run, ignore=shutil.ignore_patterns("e*.pt"))
    shutil.copy(run / "latest.pt", run / "image_classification_frozen" / "synthetic-probe" / "latest.pt")
    collected = collect_run(run)
    assert [c.name for c in collected.checkpoints] == ["latest.pt"]
    record = {f.path: f for f in collected.files}["image_classification_frozen/synthetic-probe/latest.pt"]
    assert record.status == "skipped" and record.detail.startswith("frozen-eval probe checkpoint")


@pytest.mark.parametrize("path", [VJEPA / "jepa-latest.pth.tar", VJEPA2 / "latest.pt"])
def test_video_checkpoints_are_refused_in_one_line(path):
    with pytest.raises(ModelBuildError) as info:
        load_model(path)
    message = str(info.value)
    assert message.startswith(NOT_REBUILT) and "\n" not in message and "Conv3d" in message
