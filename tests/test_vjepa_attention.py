"""Attention per frame for a V-JEPA 2 run: its sample clips (frame folders) read by the collector, the rebuilt
target encoder's attention reduced to last-block and rollout maps per time slot, and the GIF over the slots."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hjepa_report.analysis.attention.video import present_video_attention, video_attention, video_attention_skip
from hjepa_report.analysis.base import Animation
from hjepa_report.collect import collect_run

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def run():
    return collect_run(FIXTURES / "vjepa2_small")


def _ctx(run, heads):
    settings = SimpleNamespace(
        encoder_heads=heads, predictor_heads=None, trust_checkpoints=False, attention_encoder="target", seed=0
    )
    session = SimpleNamespace(checkpoint=run.latest_checkpoint())
    return SimpleNamespace(run=run, settings=settings, session=session, progress=lambda *a: None)


def test_clips_are_read_as_frame_folders(run):
    assert [(c.name, len(c.frames)) for c in run.clips] == [("moving-down", 8), ("moving-right", 8)]
    record = {f.path: f for f in run.files}["clips/moving-down/frame_000.png"]
    assert (record.kind, record.status, record.detail) == ("clip", "read", "frame of sample clip 'moving-down'")


def test_unknown_heads_skip_in_one_line(run):
    reason = video_attention_skip(_ctx(run, None))
    assert "number of attention heads is unknown for model_name 'vit_fixture'" in reason and "\n" not in reason
    assert video_attention_skip(_ctx(run, 2)) is None


def test_maps_per_time_slot_and_the_gif(run):
    result = video_attention(_ctx(run, 2))
    assert result.names == ["moving-down", "moving-right"]
    for last, roll, frames in zip(result.last_block, result.rollout, result.frames, strict=True):
        assert last.shape == roll.shape == (4, 8, 8) and len(frames) == 4
        # the mean over queries of a row-stochastic matrix sums to 1 over the keys
        assert np.isclose(last.sum(), 1.0, atol=1e-5) and np.isclose(roll.sum(), 1.0, atol=1e-5)
    for clip in result.metrics["clips"]:
        assert np.isclose(sum(clip["rollout_share_per_slot"]), 1.0) and 0 < clip["rollout_entropy"] <= 1
    # the square carries the attention: the last block's map is highest on it in the first slot
    square = (result.frames[0][0].astype(float).mean(axis=2) > 128).reshape(8, 4, 8, 4).any(axis=(1, 3))
    assert result.last_block[0][0][square].mean() > result.last_block[0][0][~square].mean()
    gif = present_video_attention(result).figures[0].content
    assert isinstance(gif, Animation) and len(gif.frames) == 4 and len({f.shape for f in gif.frames}) == 1


def test_predictions_per_tubelet_with_the_runs_masks_and_loss(run):
    from hjepa_report.analysis.representations.video_predictions import present_video_predictions, video_predictions

    result = video_predictions(_ctx(run, 2))
    assert [s["mask"] for s in result.summary] == [1, 2] and result.loss_exp == 1.0
    for s, err in zip(result.summary, result.errors, strict=True):
        assert err.shape == (2, 4, 8, 8)
        assert np.isfinite(err).sum() == 2 * s["target_tokens"]  # errors at the target tokens only
        assert np.isclose(np.nanmean(err), s["loss"], rtol=1e-5)  # loss_exp 1: the loss is the mean error
    # the same size as the epoch's mean training loss the checkpoint stores (other clips, no augmentation)
    assert abs(result.metrics["loss_on_clips"] - result.metrics["checkpoint_epoch_loss"]) < 0.2
    shown = present_video_predictions(result)
    assert [f.id for f in shown.figures] == ["video-prediction-error-1", "video-prediction-error-2"]
    assert all(len(f.content.frames) == 4 for f in shown.figures)
