"""--attention-encoder context shows the context encoder's own attention, not the target encoder's."""

from pathlib import Path

import json

from hjepa_report.analysis.attention.section import AttentionPass
from hjepa_report.analysis.base import ReportContext
from hjepa_report.collect import collect_run
from hjepa_report.settings import ReportSettings

RUN = Path(__file__).parent / "fixtures" / "ijepa_small"


def test_context_encoder_attention_differs_from_the_target_encoders():
    sections = {}
    for encoder in ("target", "context"):
        ctx = ReportContext(collect_run(RUN), ReportSettings(attention_encoder=encoder, max_images=4))
        sections[encoder] = AttentionPass().run(ctx)
        assert sections[encoder].status == "ok", sections[encoder].message
        assert f"Attention of the {encoder} encoder" in sections[encoder].intro
    target, context = (json.dumps(sections[e].metrics, sort_keys=True) for e in ("target", "context"))
    assert target != context  # the EMA target and the context encoder have different weights
