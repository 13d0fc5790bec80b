"""Numerical hostility in the attention section (issue 19, item 4): NaN attention is found where it enters,
named by block and head, and never turned into NaN-filled maps or numbers shown as if computed."""

from __future__ import annotations

import numpy as np
import pytest

from hjepa_report.analysis.attention import section as attention_section
from hjepa_report.analysis.attention.metrics import attention_entropy, mean_attention_distance
from hjepa_report.analysis.attention.rollout import NonFiniteAttentionError, attention_rollout, nonfinite_heads
from hjepa_report.analysis.attention.summary import merge_chunks, summarise_encoder
from test_attention_section import FakeModel, fake_context


def uniform(batch: int = 2, heads: int = 3, tokens: int = 5) -> np.ndarray:
    return np.full((batch, heads, tokens, tokens), 1.0 / tokens)


def stack_with_nan(depth: int = 3, block: int = 1, head: int = 2) -> list[np.ndarray]:
    """Uniform attention of `depth` blocks, one NaN in `block`'s `head` (image 0, query 1, key 3)."""
    stack = [uniform() for _ in range(depth)]
    stack[block][0, head, 1, 3] = np.nan
    return stack


def test_rollout_of_a_nan_head_names_its_block_and_head():
    with pytest.raises(NonFiniteAttentionError, match=r"block 1, head 2") as raised:
        attention_rollout(stack_with_nan(), has_cls=True)
    assert (raised.value.block, raised.value.heads, raised.value.values) == (1, [2], 1)


def test_distance_and_entropy_refuse_infinite_attention():
    attn = uniform(tokens=4)
    attn[1, 0, 0, 0] = np.inf
    with pytest.raises(NonFiniteAttentionError, match="block 4, head 0"):
        mean_attention_distance(attn, (2, 2), has_cls=False, block=4)
    with pytest.raises(NonFiniteAttentionError, match="head 0"):
        attention_entropy(attn)
    assert nonfinite_heads(attn) == ([0], 1)


def test_summary_marks_the_nan_head_and_keeps_the_finite_ones():
    stack = stack_with_nan()
    summary = summarise_encoder(dict(enumerate(stack)), (2, 2), has_cls=True, depth=3)
    finite = summarise_encoder({i: uniform() for i in range(3)}, (2, 2), has_cls=True, depth=3)
    assert summary.nonfinite == {1: {"heads": [2], "values": 1}}
    assert summary.rollout is None and finite.rollout is not None
    assert np.isnan(summary.distance[:, 1, 2]).all() and np.isnan(summary.entropy[:, 1, 2]).all()
    keep = np.ones_like(summary.distance, bool)
    keep[:, 1, 2] = False
    np.testing.assert_array_equal(summary.distance[keep], finite.distance[keep])
    np.testing.assert_array_equal(summary.entropy[keep], finite.entropy[keep])
    merged = merge_chunks([summary, finite, summary])
    assert merged.nonfinite == {1: {"heads": [2], "values": 2}} and merged.rollout is None


class NanHeadModel(FakeModel):
    """The test double with NaN in head 1 of block 1 (every image, the CLS query's first key)."""

    def encode(self, images, **kwargs):
        out = super().encode(images, **kwargs)
        attentions = {k: v.clone() for k, v in out.attentions.items()}
        if 1 in attentions:
            attentions[1][:, 1, 0, 1] = float("nan")
        out.attentions = attentions
        return out


def test_section_names_the_nan_head_fails_a_check_and_still_renders(tmp_path, monkeypatch):
    ctx = fake_context(tmp_path, monkeypatch, NanHeadModel(np.ones((4, 4), bool), 0.0), None)
    section = attention_section.AttentionPass().run(ctx)
    assert section.status == "ok", section.message
    check = next(c for c in section.checks if c.name == "attention-finite")
    assert check.status == "fail" and "block 1 head 1 (3 values)" in check.detail
    assert check.figure_id == "attention-heads" and "attention-heads" in {f.id for f in section.figures}
    assert any("3 non-finite value(s)" in n and "block 1 head 1" in n for n in section.notes)
    metrics = section.metrics
    assert metrics["non_finite_attention"] == {"1": {"heads": [1], "values": 3}}
    assert metrics["rollout"] is None and "NaN" in metrics["rollout_reason"]
    assert "attention-rollout" not in {f.id for f in section.figures}
    distance = metrics["mean_attention_distance"]["per_layer_head"]
    assert np.isnan(distance[1][1]) and np.isfinite(distance[1][0]) and np.isfinite(distance[0]).all()


def test_finite_attention_adds_no_check(tmp_path, monkeypatch):
    ctx = fake_context(tmp_path, monkeypatch, FakeModel(np.ones((4, 4), bool), 0.0), None)
    section = attention_section.AttentionPass().run(ctx)
    assert "attention-finite" not in {c.name for c in section.checks}
    assert "non_finite_attention" not in section.metrics and section.metrics["rollout"] is not None
