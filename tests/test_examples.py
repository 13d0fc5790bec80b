"""examples/visualization_example.py: run as a user runs it, it writes one output per seed function for the
sample run, and each output holds what that function's figure or data must hold."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "visualization_example.py"

pytestmark = pytest.mark.slow  # rebuilds five checkpoints and evaluates the run's loss: ~30-60 s on 2 cores


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("examples") / "figures"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(out), "--landscape-grid", "3"],
        capture_output=True,
        text=True,
        cwd=tmp_path_factory.mktemp("cwd"),  # the script finds the sample run from its own location
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert all(p.parent == out for p in paths)
    return {p.stem: p for p in paths}


def seed_functions() -> list[str]:
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import visualization_example
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return list(visualization_example.SEED_FUNCTIONS)


def test_one_output_per_seed_function(written):
    names = seed_functions()
    assert len(names) == 26
    assert sorted(written) == sorted(names)
    assert sorted(p.name for p in written["visualize_attention_maps"].parent.iterdir()) == sorted(
        p.name for p in written.values()
    )


def test_figures_are_real_images(written):
    for name, path in written.items():
        if path.suffix in (".png", ".gif"):
            with Image.open(path) as im:
                assert min(im.size) >= 100, name
                assert np.asarray(im.convert("L")).std() > 1, f"{name} is blank"


def test_masking_animation_has_frames(written):
    with Image.open(written["animate_masking_process"]) as im:
        assert im.format == "GIF" and im.n_frames >= 3


def test_attention_maps_are_softmax_rows(written):
    """extract_attention_maps: one [B, H, T, T] array per block of the sample run's 4-block, 4-head encoder (64
    patches + CLS); every row is a probability distribution."""
    with np.load(written["extract_attention_maps"]) as arrays:
        assert sorted(arrays) == [f"block_{b}" for b in range(4)]
        for attn in arrays.values():
            assert attn.shape == (16, 4, 65, 65)
            np.testing.assert_allclose(attn.sum(axis=-1), 1.0, atol=1e-5)


def test_training_logs_are_the_tidy_table(written):
    frame = pd.read_csv(written["load_training_logs"])
    assert list(frame.columns) == ["source", "tag", "step", "value", "wall_time"]
    assert {"train/loss", "train/ema_momentum", "train/loss_h0", "val/loss"} <= set(frame["tag"])
