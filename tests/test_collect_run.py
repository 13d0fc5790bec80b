"""collect_run on generated and broken run dirs: errors, generic layout, forced layout, inventory, limits."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hjepa_report.collect import collect_run
from hjepa_report.collect.walk import list_files
from hjepa_report.errors import ConfigError, ReportError, RunDirError

FIXTURES = Path(__file__).parent / "fixtures"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def test_missing_path_file_and_empty_dir_are_one_line_errors(tmp_path):
    with pytest.raises(RunDirError, match="run directory not found"):
        collect_run(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        collect_run(tmp_path / "file.txt")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RunDirError, match="nothing usable") as info:
        collect_run(empty)
    assert "\n" not in str(info.value)


def test_dir_with_only_unrecognised_files_is_not_usable(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    with pytest.raises(RunDirError, match="nothing usable"):
        collect_run(tmp_path)


@pytest.fixture()
def generic_run(tmp_path):
    """A run made by no JEPA code: TensorBoard in runs/, Lightning CSV, JSONL, safetensors, labelled samples."""
    from PIL import Image
    from safetensors.torch import save_file
    from torch.utils.tensorboard import SummaryWriter

    root = tmp_path / "my_run"
    writer = SummaryWriter(str(root / "runs" / "exp"))
    for step in range(3):
        writer.add_scalar("loss", [1.0, float("nan"), float("inf")][step], step)
    writer.close()
    (root / "lightning_logs" / "version_0").mkdir(parents=True)
    (root / "lightning_logs" / "version_0" / "metrics.csv").write_text("epoch,step,val_acc\n0,9,0.5\n1,19,0.7\n")
    (root / "train.jsonl").write_text('{"iteration": 1, "lr": 0.1}\n{"iteration": 2, "lr": 0.05}\n')
    save_file({"encoder.w": torch.zeros(2, 2)}, str(root / "model.safetensors"))
    for cls in ("cat", "dog"):
        (root / "samples" / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / "samples" / cls / "a.png")
    (root / "stray.png").write_bytes(b"not under images/")
    return root


def test_generic_layout_reads_every_source(generic_run):
    run = collect_run(generic_run)
    assert run.layout == "generic"
    assert run.layout_reason == "no H-JEPA or I-JEPA file names or config"
    assert set(run.scalars.tags()) == {"loss", "epoch", "val_acc", "lr"}
    loss = run.scalars.summary("loss")
    assert (loss["count"], loss["nan"], loss["inf"]) == (3, 1, 1)
    assert [(i.path.name, i.label) for i in run.images] == [("a.png", "cat"), ("a.png", "dog")]
    assert run.checkpoints[0].format == "safetensors" and run.checkpoints[0].param_counts == {"context encoder": 4}
    records = {f.path: f for f in run.files}
    assert records["stray.png"].status == "skipped"
    assert records["samples/cat/a.png"].detail == "label 'cat', from the sub-folder name"
    assert "step from field 'iteration'" in records["train.jsonl"].detail
    assert {f.path for f in run.files} == {
        p.relative_to(generic_run).as_posix() for p in generic_run.rglob("*") if p.is_file()
    }


def test_forced_layout_keeps_the_detection_in_the_reason():
    run = collect_run(FIXTURES / "ijepa_small", layout="generic")
    assert run.layout == "generic"
    assert run.layout_reason.startswith("forced with --layout (detected ijepa:")
    with pytest.raises(ReportError, match="unknown layout"):
        collect_run(FIXTURES / "ijepa_small", layout="tensorflow")


def test_hidden_and_cache_folders_are_listed_not_searched_and_broken_links_are_skipped(generic_run):
    (generic_run / ".git" / "objects").mkdir(parents=True)
    (generic_run / ".git" / "objects" / "x.json").write_text('{"loss": [1, 2]}')
    (generic_run / "__pycache__").mkdir()
    (generic_run / "latest.pth").symlink_to(generic_run / "gone.pth")
    run = collect_run(generic_run)
    records = {f.path: f for f in run.files}
    assert records[".git/"].detail == "hidden folder, not searched"
    assert records["__pycache__/"].status == "skipped"
    assert records["latest.pth"].detail == "broken symbolic link"
    assert not any(p.startswith(".git/objects") for p in records)


def test_bad_yaml_is_a_skipped_file_with_the_error_in_one_line(generic_run):
    (generic_run / "config.yaml").write_text("model:\n  embed_dim: [64\ndata: {}\n")
    run = collect_run(generic_run)
    record = next(f for f in run.files if f.path == "config.yaml")
    assert record.status == "skipped" and record.detail.startswith("YAML error:") and "line" in record.detail
    assert "\n" not in record.detail
    assert run.config is None and any("config.yaml" in w for w in run.warnings)


def test_given_config_images_and_checkpoint_from_outside(tmp_path, generic_run):
    config = tmp_path / "train.yaml"
    shutil.copy(FIXTURES / "hjepa_small" / "config.yaml", config)
    ckpt = tmp_path / "elsewhere.pt"
    torch.save({"epoch": 7}, ckpt)
    run = collect_run(generic_run, config=config, images=FIXTURES / "ijepa_small" / "images", checkpoint=ckpt)
    assert run.config_path == config and run.config["model"]["embed_dim"] == 64
    assert len(run.images) == 8 and run.images[0].label == "grids"
    assert any(c.path == ckpt and c.epoch == 7 for c in run.checkpoints)
    assert next(f for f in run.files if f.path == "samples/cat/a.png").status == "skipped"
    with pytest.raises(ConfigError, match="config file not found"):
        collect_run(generic_run, config=tmp_path / "missing.yaml")


def test_truncated_event_file_in_a_run_is_read_partially_and_warned(tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(FIXTURES / "hjepa_small" / "logs", run_dir / "logs")
    event = next((run_dir / "logs" / "tensorboard").glob("events.*"))
    data = event.read_bytes()
    event.write_bytes(data[:4096])
    run = collect_run(run_dir)
    record = next(f for f in run.files if f.path.endswith(event.name))
    assert record.status == "read" and "truncated event file: read" in record.detail
    assert 0 < len(run.scalars) < 226
    assert any("truncated" in w for w in run.warnings)


@pytest.mark.skipif(AS_ROOT, reason="root reads files whatever their permissions")
def test_unreadable_file_is_skipped_with_the_reason(tmp_path):
    shutil.copytree(FIXTURES / "ijepa_small", tmp_path / "run", ignore=shutil.ignore_patterns("reference"))
    csv = tmp_path / "run" / "jepa_r0.csv"
    csv.chmod(0)
    try:
        run = collect_run(tmp_path / "run")
    finally:
        csv.chmod(0o644)
    record = next(f for f in run.files if f.path == "jepa_r0.csv")
    assert record.status == "skipped" and "permission denied" in record.detail.lower()


def test_walk_stops_at_the_file_cap_and_says_so(tmp_path):
    for i in range(12):
        (tmp_path / f"f{i:02d}.txt").write_text("x")
    listing = list_files(tmp_path, max_files=5)
    assert len(listing.files) == 5
    assert any("7 entries not looked at" in r.detail for r in listing.skipped)
    assert listing.warnings and "after 5 files" in listing.warnings[0]


def test_images_folder_given_inside_the_run(generic_run):
    run = collect_run(generic_run, images=generic_run / "samples")
    assert [i.label for i in run.images] == ["cat", "dog"]
    record = next(f for f in run.files if f.path == "samples/dog/a.png")
    assert (record.status, record.detail) == ("read", "sample image from the --images folder")


def test_given_config_that_does_not_parse_falls_back_to_the_runs_own(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    run = collect_run(FIXTURES / "ijepa_small", config=bad)
    assert run.config_path.name == "params-ijepa.yaml"
    record = next(f for f in run.files if f.path == str(bad))
    assert record.status == "skipped" and record.detail.startswith("YAML error:")
    assert any(str(bad) in w for w in run.warnings)


def test_given_config_inside_the_run_is_listed_once():
    config = FIXTURES / "hjepa_small" / "config.yaml"
    run = collect_run(FIXTURES / "hjepa_small", config=config)
    paths = [f.path for f in run.files]
    assert len(paths) == len(set(paths))
    assert run.config_path == config


def test_latest_checkpoint_is_the_original_not_its_byte_copy():
    from pathlib import Path

    from hjepa_report.collect import collect_run

    run = collect_run(Path(__file__).resolve().parent.parent / "sample_runs" / "hjepa_shapes64")
    latest = run.latest_checkpoint()
    assert latest.same_as is None and latest.epoch == max(c.epoch for c in run.checkpoints)
    assert latest in run.unique_checkpoints()
