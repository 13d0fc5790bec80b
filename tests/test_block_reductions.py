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
