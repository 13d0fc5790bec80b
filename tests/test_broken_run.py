"""A broken run (NaN losses, collapsed embeddings) fails with the right reasons and a non-zero exit code."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import HJEPA_RUN
from hjepa_report.cli import main
from hjepa_report.collect import load_checkpoint


def make_broken_run(tmp_path):
    """The H-JEPA fixture with NaN in its loss log and encoders whose final LayerNorm outputs a constant."""
    from torch.utils.tensorboard import SummaryWriter

    run = tmp_path / "broken"
    shutil.copytree(HJEPA_RUN, run, ignore=shutil.ignore_patterns("reference", "logs"))
    writer = SummaryWriter(str(run / "logs" / "tensorboard"))
    for step, value in enumerate(np.r_[np.linspace(1.0, 0.3, 40), np.nan, np.full(10, np.nan)]):
        writer.add_scalar("train/loss", float(value), step)
        writer.add_scalar("val/loss", float(value), step)
    writer.close()
    for name in ("checkpoint_latest.pth", "checkpoint_epoch_0001.pth"):
        path = run / "checkpoints" / name
        loaded = load_checkpoint(path)  # memory-mapped: copy the tensors before the file is replaced
        state = {k: v.clone() for k, v in loaded["model_state_dict"].items()}
        for encoder in ("context_encoder", "target_encoder"):
            state[f"{encoder}.vit.norm.weight"] = torch.zeros_like(state[f"{encoder}.vit.norm.weight"])
        checkpoint = {
            "epoch": int(loaded["epoch"]),
            "global_step": int(loaded["global_step"]),
            "model_state_dict": state,
        }
        del loaded
        torch.save(checkpoint, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)
    return run


@pytest.mark.slow  # builds a whole (--minimal) report
def test_broken_run_fails_with_the_right_reasons(tmp_path):
    run = make_broken_run(tmp_path)
    out = tmp_path / "out" / "report.html"
    result = CliRunner().invoke(
        main,
        [
            str(run),
            "-o",
            str(out),
            "--quiet",
            "--minimal",
            "--encoder-heads",
            "2",
            "--sections",
            "log-health,training,representations",
            "--fail-on",
            "fail",
        ],
    )
    assert result.exit_code == 4, result.output
    assert "non-finite-values (fail)" in result.output and "collapse (fail)" in result.output
    doc = json.loads(out.with_name("report.json").read_text())
    assert doc["health"]["verdict"] == "fail"
    failing = {c["name"] for c in doc["health"]["checks"] if c["status"] == "fail"}
    assert {"non-finite-values", "collapse"} <= failing
