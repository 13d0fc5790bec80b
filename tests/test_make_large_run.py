"""benchmarks/make_large_run.py writes a run the collector reads as H-JEPA and the loader rebuilds strictly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "make_large_run.py"


def _generator():
    spec = importlib.util.spec_from_file_location("make_large_run", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_large_run_reads_as_hjepa_and_rebuilds(tmp_path):
    from hjepa_report.collect import collect_run
    from hjepa_report.models import load

    root = _generator().make_large_run(tmp_path / "run", "tiny", epochs=2, n_images=8, n_scalars=400, seed=0)
    run = collect_run(root)
    assert run.layout == "hjepa"
    assert len(run.scalars.tags()) == 20
    assert sum(run.scalars.arrays(t)[0].size for t in run.scalars.tags()) == 400
    assert len(run.images) == 8 and len({i.label for i in run.images}) == 4
    latest = root / "checkpoints" / "checkpoint_latest.pth"
    assert latest.read_bytes() == (root / "checkpoints" / "checkpoint_epoch_0001.pth").read_bytes()
    model = load(latest, root / "config.yaml")  # strict keys and shapes
    assert (model.info.embed_dim, model.info.depth, model.info.num_heads) == (64, 2, 4)
    import torch

    first = torch.load(root / "checkpoints" / "checkpoint_epoch_0000.pth", weights_only=False)
    assert isinstance(first["metrics"]["val_loss"], np.float64)
    moments = first["optimizer_state_dict"]["state"][0]
    assert {"step", "exp_avg", "exp_avg_sq"} <= set(moments)
