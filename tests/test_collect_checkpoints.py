"""Checkpoints: the safe loader (numpy allow-list, refusing code), inspection, byte copies, safetensors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hjepa_report.collect import collect_run, load_checkpoint
from hjepa_report.collect.checkpoints import inspect_checkpoint
from hjepa_report.errors import CheckpointError, UnsafeCheckpointError

HJEPA = Path(__file__).parent / "fixtures" / "hjepa_small"


class RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_hjepa_checkpoint_loads_weights_only_with_numpy_scalars():
    ckpt = load_checkpoint(HJEPA / "checkpoints" / "checkpoint_latest.pth")
    assert ckpt["epoch"] == 2 and ckpt["global_step"] == 90
    assert float(ckpt["metrics"]["val_loss"]) == pytest.approx(0.42397, abs=1e-5)
    assert ckpt["model_state_dict"]["context_encoder.vit.pos_embed"].shape == (1, 65, 64)


def test_checkpoint_that_would_run_code_is_refused_and_code_never_runs(tmp_path):
    marker = tmp_path / "code_ran"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    torch.save({"epoch": 1, "payload": RunsCode(marker)}, run_dir / "model.pt")
    with pytest.raises(UnsafeCheckpointError) as info:
        load_checkpoint(run_dir / "model.pt")
    assert "posix.system" in str(info.value) or "os.system" in str(info.value)
    assert "--trust-checkpoints" in str(info.value)
    run = collect_run(run_dir)  # the collector lists it as refused, without loading it
    (record,) = [f for f in run.files if f.path == "model.pt"]
    assert record.status == "skipped" and "--trust-checkpoints" in record.detail
    assert not run.checkpoints[0].readable
    assert not marker.exists()
    load_checkpoint(run_dir / "model.pt", trust=True)  # the explicit opt-in really does full unpickling
    assert marker.exists()


def test_numpy_scalars_allowed_but_numpy_object_arrays_refused(tmp_path):
    torch.save({"a": np.float32(1.5), "b": np.int64(3), "c": np.float64(0.25)}, tmp_path / "ok.pt")
    ckpt = load_checkpoint(tmp_path / "ok.pt")
    assert (float(ckpt["a"]), int(ckpt["b"]), float(ckpt["c"])) == (1.5, 3, 0.25)
    torch.save({"x": np.array([1, "a"], dtype=object)}, tmp_path / "objects.pt")
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(tmp_path / "objects.pt")


def test_legacy_non_zip_checkpoint_loads_without_mmap(tmp_path):
    path = tmp_path / "legacy.pth"
    ckpt = {"epoch": 4, "state_dict": {"predictor.w": torch.ones(2, 3)}}
    torch.save(ckpt, path, _use_new_zipfile_serialization=False)
    ref = inspect_checkpoint(path, "legacy.pth")
    assert ref.readable and ref.epoch == 4 and ref.param_counts == {"predictor": 6}


def test_not_a_checkpoint_is_described_not_raised(tmp_path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"definitely not a pickle")
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    ref = inspect_checkpoint(path, "model.pt")
    assert not ref.readable and "not a readable torch checkpoint" in ref.note


def test_safetensors_inspected_from_the_header_and_loaded_lazily(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"context_encoder.w": torch.zeros(4, 4), "predictor.b": torch.ones(3, dtype=torch.float16)}, str(path))
    ref = inspect_checkpoint(path, "model.safetensors")
    assert ref.format == "safetensors"
    assert ref.param_counts == {"context encoder": 16, "predictor": 3}
    assert ref.dtypes == ["float16", "float32"]
    tensors = load_checkpoint(path)
    assert sorted(tensors) == ["context_encoder.w", "predictor.b"]
    assert torch.equal(tensors["predictor.b"], torch.ones(3, dtype=torch.float16))


def test_lightning_checkpoint_epoch_step_and_submodels(tmp_path):
    path = tmp_path / "epoch=3-step=120.ckpt"
    torch.save(
        {
            "epoch": 3,
            "global_step": 120,
            "state_dict": {
                "model.context_encoder.w": torch.zeros(5),
                "model.target_encoder.w": torch.zeros(5),
                "model.head.w": torch.zeros(2),
            },
            "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(5)}}}],
            "hyper_parameters": {"lr": 0.1, "batch_size": 32},
        },
        path,
    )
    ref = inspect_checkpoint(path, path.name)
    assert (ref.epoch, ref.step, ref.role) == (3, 120, "epoch")
    assert ref.param_counts == {"context encoder": 5, "target encoder": 5, "other": 2}
    assert ref.metadata == {"hyper_parameters/lr": 0.1, "hyper_parameters/batch_size": 32}


def test_byte_copies_are_found_and_same_size_files_are_not_mistaken(tmp_path):
    ckpts = tmp_path / "run" / "checkpoints"
    ckpts.mkdir(parents=True)
    shutil.copy(HJEPA / "checkpoints" / "checkpoint_epoch_0001.pth", ckpts)
    for name in ("checkpoint_epoch_0002.pth", "checkpoint_latest.pth", "checkpoint_best.pth"):
        shutil.copy(HJEPA / "checkpoints" / "checkpoint_latest.pth", ckpts / name)
    run = collect_run(tmp_path / "run")
    by_name = {c.path.name: c for c in run.checkpoints}
    assert by_name["checkpoint_epoch_0001.pth"].same_as is None  # same size as the others, different bytes
    assert by_name["checkpoint_epoch_0002.pth"].same_as is None
    assert by_name["checkpoint_latest.pth"].same_as == "checkpoints/checkpoint_epoch_0002.pth"
    assert by_name["checkpoint_best.pth"].same_as == "checkpoints/checkpoint_epoch_0002.pth"
    assert by_name["checkpoint_best.pth"].role == "best" and by_name["checkpoint_best.pth"].epoch == 2
    assert len(run.unique_checkpoints()) == 2


def test_loading_is_memory_mapped_so_a_big_checkpoint_does_not_need_its_size_in_ram(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "big.pt"
    torch.save({"model_state_dict": {"context_encoder.w": torch.ones(25_000_000)}}, path)  # 100 MB
    probe = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "import torch\n"
        "from hjepa_report.collect.checkpoints import inspect_checkpoint, load_checkpoint\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "ckpt = load_checkpoint(sys.argv[1])\n"
        "ref = inspect_checkpoint(Path(sys.argv[1]), 'big.pt')\n"
        "assert float(ckpt['model_state_dict']['context_encoder.w'][-1]) == 1.0\n"
        "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, ref.param_counts)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[1],
    ).stdout.split(maxsplit=1)
    grown_mb, counts = float(out[0]), out[1]
    assert "25000000" in counts
    assert grown_mb < 30, f"peak memory grew by {grown_mb:.0f} MB loading a 100 MB checkpoint"
