"""Issue 14 item 5: a W&B run folder inside an H-JEPA run is recognised and never taken for the training config.

H-JEPA's MetricsLogger runs wandb.init(config=config, dir=log_dir) (jonwiggins/H-JEPA @ eb995a0,
src/utils/logging.py), so the run's logs/ folder gets wandb/run-<date>_<time>-<id>/ as the wandb client writes
it. The folder here is written by hand in that format (file names and layout of wandb's run directory; config.yaml
as wandb-core's runconfig serialises it, {key: {value: ...}} with a `_wandb` entry, 4-space YAML; the older
Python client's `wandb_version: 1` + {desc, value} form is checked too; run-<id>.wandb with the LevelDB-log
header `<4sHB` ':W&B', 0xBEE1, 0 and one FULL record). Its config.yaml carries the H-JEPA config's own section
names, which is what made it look like the training config.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest
import yaml

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.overview import OverviewPass
from hjepa_report.collect import collect_run
from hjepa_report.collect.config import read_config
from hjepa_report.collect.wandb_folders import is_wandb_config, wandb_folder_of
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures" / "hjepa_small"
RUN_ID = "3kq9x7ab"
FOLDER = f"logs/wandb/run-20261201_101500-{RUN_ID}"


def _wandb_history(path: Path) -> None:
    """run-<id>.wandb: W&B's LevelDB-log header and one FULL record (crc32 over type byte + data)."""
    data = b"\x0a\x06\x0a\x04" + RUN_ID.encode()  # a few protobuf bytes, as a Record would start
    record = struct.pack("<IHB", zlib.crc32(bytes([1]) + data) & 0xFFFFFFFF, len(data), 1) + data
    path.write_bytes(struct.pack("<4sHB", b":W&B", 0xBEE1, 0) + record)


def _write_wandb_folder(logs: Path, config: dict) -> Path:
    run = logs / "wandb" / f"run-20261201_101500-{RUN_ID}"
    (run / "files").mkdir(parents=True)
    (run / "logs").mkdir()
    wrapped = {key: {"value": value} for key, value in config.items()}
    telemetry = {"1": [1, 41, 55], "2": [1, 41, 55], "3": [16, 23, 55], "4": "3.11.9"}
    wrapped["_wandb"] = {"value": {"cli_version": "0.19.1", "m": [], "python_version": "3.11.9", "t": telemetry}}
    (run / "files" / "config.yaml").write_text(yaml.safe_dump(wrapped, indent=4, sort_keys=True))
    summary = {"train/loss": 0.3033, "train/loss_h0": 0.1511, "train/lr": 1.2e-05, "_step": 90,
               "_runtime": 41.2, "_timestamp": 1764584141.5, "_wandb": {"runtime": 41}}  # fmt: skip
    (run / "files" / "wandb-summary.json").write_text(json.dumps(summary))
    meta = {"os": "Linux-6.8.0-x86_64-with-glibc2.39", "python": "CPython 3.11.9", "startedAt":
            "2026-12-01T10:15:00.123456Z", "program": "/work/H-JEPA/scripts/train.py", "codePath":
            "scripts/train.py", "git": {"remote": "https://github.com/jonwiggins/H-JEPA", "commit": "eb995a0"},
            "cpu_count": 2, "cpu_count_logical": 2}  # fmt: skip
    (run / "files" / "wandb-metadata.json").write_text(json.dumps(meta))
    (run / "files" / "output.log").write_text("Epoch 1/3: 100%|##########| 30/30 [00:12<00:00, loss=0.4123]\n")
    (run / "files" / "requirements.txt").write_text("torch==2.5.1\ntimm==1.0.11\nwandb==0.19.1\n")
    for name in ("debug.log", "debug-internal.log"):
        (run / "logs" / name).write_text('{"time":"2026-12-01T10:15:00Z","level":"INFO","msg":"stream: starting"}\n')
        os.symlink(run / "logs" / name, logs / "wandb" / name)
    os.symlink(run, logs / "wandb" / "latest-run")
    _wandb_history(run / f"run-{RUN_ID}.wandb")
    return run


@pytest.fixture()
def run_dir(tmp_path) -> tuple[Path, Path]:
    """The fixture run with a W&B folder in logs/ and its config.yaml kept outside (as --config would name it)."""
    run = tmp_path / "run"
    shutil.copytree(FIX, run, ignore=shutil.ignore_patterns("reference"))
    config = tmp_path / "hjepa_config.yaml"
    shutil.move(run / "config.yaml", config)
    _write_wandb_folder(run / "logs", yaml.safe_load(config.read_text()))
    return run, config


def test_the_wandb_config_is_never_the_training_config(run_dir):
    run_path, _ = run_dir
    run = collect_run(run_path)
    assert run.config is None and run.config_path is None
    record = next(f for f in run.files if f.path == f"{FOLDER}/files/config.yaml")
    assert (record.kind, record.status) == ("wandb", "skipped")
    assert "not used as the training config" in record.detail


def test_the_runs_own_config_is_used_and_the_logs_unchanged(run_dir):
    run_path, config = run_dir
    run = collect_run(run_path, config=config)
    assert run.config == yaml.safe_load(config.read_text()) and run.layout == "hjepa"
    assert run.scalars.tags() == collect_run(FIX).scalars.tags()  # nothing of the W&B folder read as a log
    shutil.copy(config, run_path / "config.yaml")  # and beside it in the run dir: the run's own YAML wins
    assert collect_run(run_path).config_path == run_path / "config.yaml"


def test_the_wandb_folder_is_listed_and_said_in_one_line(run_dir):
    run_path, config = run_dir
    run = collect_run(run_path, config=config)
    files = {f.path: f for f in run.files}
    assert run.wandb_runs == {FOLDER: 8}
    for name in ("files/wandb-summary.json", "files/output.log", f"run-{RUN_ID}.wandb", "logs/debug-internal.log"):
        assert files[f"{FOLDER}/{name}"].kind == "wandb", name
    assert files["logs/wandb/debug.log"].kind == "wandb"
    assert "W&B history without numeric values" in files[f"{FOLDER}/run-{RUN_ID}.wandb"].detail  # issue 17 reads it
    overview = OverviewPass().run(ReportContext(run, ReportSettings()))
    (line,) = [n for n in overview.notes if n.startswith("W&B run folder")]
    assert line.startswith(f"W&B run folder found: {FOLDER} (8 files). {FOLDER}/run-{RUN_ID}.wandb: W&B history")
    assert "never taken for the training config" in line and overview.metrics["wandb_runs"] == {FOLDER: 8}


def test_a_wandb_config_given_with_config_is_refused_with_a_reason(run_dir):
    run_path, config = run_dir
    wandb_yaml = run_path / FOLDER / "files" / "config.yaml"
    run = collect_run(run_path, config=wandb_yaml)
    assert run.config is None
    assert any("W&B config.yaml" in w for w in run.warnings)


def test_both_wandb_config_forms_are_recognised(tmp_path):
    old = tmp_path / "config.yaml"  # the Python client's form (wandb/sdk/lib/config_util.py)
    old.write_text("wandb_version: 1\n\nmodel:\n  desc: null\n  value:\n    embed_dim: 64\ndata:\n  desc: null\n"
                   "  value:\n    image_size: 64\nmasking:\n  desc: null\n  value:\n    num_masks: 4\n")  # fmt: skip
    assert read_config(old).doc is None and "W&B" in read_config(old).error
    assert is_wandb_config({"model": {"value": {}}, "data": {"value": {}}})  # wandb-core, no _wandb yet
    assert not is_wandb_config(yaml.safe_load((FIX / "config.yaml").read_text()))
    assert not is_wandb_config({"model": {"value": 1, "embed_dim": 64}})


def test_wandb_folder_paths():
    assert wandb_folder_of(f"{FOLDER}/files/config.yaml") == FOLDER
    assert (
        wandb_folder_of("wandb/offline-run-20261201_101500-abc/run-abc.wandb")
        == "wandb/offline-run-20261201_101500-abc"
    )
    assert wandb_folder_of("logs/wandb/debug.log") == "logs/wandb"
    assert wandb_folder_of("logs/wandb/notes.yaml") is None and wandb_folder_of("config.yaml") is None
