"""--attention-encoder context shows the context encoder's own attention, not the target encoder's, and says so.

Issue 12, bug 2: with `context` the section's metrics said "encoder": "target", no caption named the encoder
shown, and the context-vs-target figure compared the context encoder with itself.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.analysis.attention.section import AttentionPass
from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.report import Report
from hjepa_report.collect import collect_run
from hjepa_report.render.jsonreport import build_json, dumps
from hjepa_report.settings import ReportSettings

RUN = Path(__file__).parent / "fixtures" / "ijepa_small"
ENCODERS = ("target", "context")


@pytest.fixture(scope="module")
def reports():
    """Per --attention-encoder: the attention section of the I-JEPA fixture, the report.json of a report holding
    it, and the pass's result (computed again on the same session, so from the cached encodings)."""
    out = {}
    for encoder in ENCODERS:
        settings = ReportSettings(sections=["attention"], attention_encoder=encoder, max_images=4)
        ctx = ReportContext(collect_run(RUN), settings)
        section = AttentionPass().run(ctx)
        report = Report(
            run=ctx.run,
            settings=settings,
            sections=[section],
            created_at="",
            version="test",
            model_info=ctx.session.described(),
        )
        out[encoder] = (section, json.loads(dumps(build_json(report))), AttentionPass().compute(ctx))
    return out


def test_context_encoder_attention_differs_from_the_target_encoders(reports):
    for encoder in ENCODERS:
        section = reports[encoder][0]
        assert section.status == "ok", section.message
        assert f"Attention of the {encoder} encoder" in section.intro
    target, context = (json.dumps(reports[e][0].metrics, sort_keys=True) for e in ENCODERS)
    assert target != context  # the EMA target and the context encoder have different weights


@pytest.mark.parametrize("encoder", ENCODERS)
def test_report_json_and_captions_name_the_encoder_shown(reports, encoder):
    section, doc, _ = reports[encoder]
    shown = next(s for s in doc["sections"] if s["name"] == "attention")
    assert shown["metrics"]["encoder"] == encoder
    other = "target" if encoder == "context" else "context"
    own = [f for f in section.figures if f.id != "attention-context-vs-target"]
    assert len(own) == 7
    for figure in own:
        assert f"{encoder} encoder" in figure.title and f"{encoder} encoder" in figure.caption, figure.id
        assert f"{other} encoder" not in figure.title + figure.caption, figure.id


def test_context_vs_target_compares_the_target_encoder_with_the_context_encoder(reports):
    target, context = reports["target"][2], reports["context"][2]
    layer = target.comparison.layer
    target_map = target.attention.head_maps[:, target.attention.layers.index(layer)].mean(axis=1)
    context_unmasked = context.attention.head_maps[:, context.attention.layers.index(layer)].mean(axis=1)
    # the "target encoder" panel holds the target encoder's map whichever encoder the other figures show
    np.testing.assert_allclose(context.comparison.target_maps, target_map, atol=1e-6)
    np.testing.assert_allclose(target.comparison.target_maps, target_map, atol=1e-6)
    assert not np.allclose(context.comparison.target_maps, context_unmasked, atol=1e-4)
    np.testing.assert_allclose(context.comparison.context_maps, target.comparison.context_maps, atol=1e-6)
