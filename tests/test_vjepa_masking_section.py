"""The masking section of a V-JEPA 2 run: its 3-D masks' statistics and one GIF over the frames per setting."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np

from hjepa_report.analysis.base import Animation
from hjepa_report.analysis.masking.video import N_BATCHES, present_video, video_masking
from hjepa_report.collect import collect_run

FIXTURES = Path(__file__).parent / "fixtures"


def test_video_masks_statistics_and_gif_over_frames():
    run = collect_run(FIXTURES / "vjepa2_small")
    ctx = SimpleNamespace(run=run, settings=SimpleNamespace(seed=0))
    result = video_masking(ctx)
    assert result.metrics["batches"] == N_BATCHES and result.batch == 2
    for st, c, t in zip(result.stats, result.contexts, result.targets, strict=True):
        assert c.shape == t.shape == (2, 4, 8, 8) and not (c & t).any()
        total = st["context_fraction"] + st["target_fraction"] + st["cut_by_collation"]
        assert abs(total - 1.0) < 1e-9 and 0 < st["context_fraction"] < 1
        assert np.isclose(np.mean(st["context_per_frame"]), st["context_fraction"])
    # the larger block setting (spatial scale 0.5) hides more than the small one (0.15 x 2 blocks)
    assert result.stats[1]["target_fraction"] > result.stats[0]["target_fraction"]
    shown = present_video(result)
    gifs = [f.content for f in shown.figures]
    assert all(isinstance(g, Animation) for g in gifs) and len(gifs) == 2
    assert len(gifs[0].frames) == 4 + 1  # one frame per temporal slot, then all slots
    assert len({f.shape for f in gifs[0].frames}) == 1
    assert shown.tables[0].rows[0][1] == "4x8x8"
