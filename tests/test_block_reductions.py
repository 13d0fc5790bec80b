"""Every block's reductions for the artifact-token and layer sections come from the report's one target pass
of the sample images (the feature cache hands each batch to the session), and equal those of a pass of their
own (representations.blocks.encode_blocks)."""

from __future__ import annotations

import numpy as np

from conftest import HJEPA_RUN
from hjepa_report.analysis.representations.blocks import encode_blocks
from hjepa_report.analysis.session import ModelSession
from hjepa_report.collect.collector import collect_run
from hjepa_report.settings import ReportSettings


def test_cached_pass_reductions_equal_a_separate_pass():
    session = ModelSession(
        collect_run(HJEPA_RUN),
        ReportSettings(encoder_heads=2, max_images=6),
        rng=lambda p: np.random.default_rng(0),
        progress=lambda m: None,
    )
    shared = session.block_outputs()
    assert "the report's one pass" in shared.attention_note
    own = encode_blocks(session.model(), session.sample_images().tensor)
    for name in ("norms", "mean_pooled", "cls", "attention"):
        assert np.allclose(getattr(shared, name), getattr(own, name), atol=1e-5), name
    assert shared.norms.shape == (3, 6, 64) and shared.attention_block == 2
    cached = session.features.encode(session.model(), session.sample_images().tensor, [str(p) for p in range(6)])
    assert not cached.blocks  # the cache itself keeps no block outputs


def test_other_checkpoints_keep_their_blocks_from_their_own_sweep_pass():
    """Issue 15 item 1 (across checkpoints): a checkpoint of block_checkpoints() keeps its reductions from the
    target pass the representations sweep makes of it (session.embeddings), so block_outputs needs no pass of its
    own, and they equal a separate pass of that checkpoint's encoder."""
    session = ModelSession(
        collect_run(HJEPA_RUN),
        ReportSettings(encoder_heads=2, max_images=6),
        rng=lambda p: np.random.default_rng(0),
        progress=lambda m: None,
    )
    refs = session.block_checkpoints()
    others = [r for r in refs if str(r.path) != str(session.checkpoint.path)]
    assert len(refs) == 2 and len(others) == 1  # hjepa_small: epoch 1 and the latest (its own epoch)
    session.embeddings(others[0])  # what the sweep does at that checkpoint
    passes = len(session.meter.passes)
    shared = session.block_outputs(others[0])
    assert len(session.meter.passes) == passes  # no further pass
    assert "the report's one pass" in shared.attention_note
    own = encode_blocks(session.model(others[0]), session.sample_images().tensor)
    for name in ("norms", "mean_pooled", "cls", "attention"):
        assert np.allclose(getattr(shared, name), getattr(own, name), atol=1e-5), name
    latest = session.block_outputs()
    assert not np.allclose(latest.mean_pooled, shared.mean_pooled)  # a different checkpoint's blocks


def test_without_the_layers_section_only_the_chosen_checkpoint_keeps_blocks():
    run = collect_run(HJEPA_RUN)
    session = ModelSession(
        run, ReportSettings(encoder_heads=2, skip=["layers"]), rng=lambda p: np.random.default_rng(0), progress=print
    )
    assert [r.name for r in session.block_checkpoints()] == [session.checkpoint.name]
