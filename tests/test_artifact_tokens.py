"""Artifact tokens (Darcet et al. 2024): planted high-norm tokens are found, the fence is Tukey's, the attention
measure gives its known values, and the block outputs come from one forward pass, before the final norm."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import HJEPA_RUN
from hjepa_report.analysis.representations.artifacts import (
    attention_on_outliers,
    block_artifacts,
    outlier_fence,
    shown_block,
    shown_images,
)

PLANTED = [(0, 3), (0, 40), (2, 7), (5, 63), (5, 0), (7, 21)]  # (image, patch) of the planted tokens


def planted_norms(seed: int = 0) -> np.ndarray:
    """Norms [3 blocks, 8 images, 64 patches] around 10 (sd 1), with the PLANTED tokens of the last block at 100."""
    norms = np.random.default_rng(seed).normal(10.0, 1.0, size=(3, 8, 64))
    for image, patch in PLANTED:
        norms[2, image, patch] = 100.0
    return norms


def test_fence_is_q3_plus_three_iqr():
    values = np.arange(1, 101, dtype=float)  # numpy's linear quartiles: 25.75 and 75.25
    assert outlier_fence(values) == pytest.approx(75.25 + 3 * 49.5)


def test_planted_high_norm_tokens_are_found_and_nothing_else():
    found, masks = block_artifacts(planted_norms())
    assert [b.outliers for b in found] == [0, 0, len(PLANTED)]
    assert sorted(zip(*np.nonzero(masks[2]), strict=True)) == sorted(PLANTED)
    last = found[2]
    assert last.share == pytest.approx(len(PLANTED) / (8 * 64))
    assert last.images_with_outliers == 4
    assert last.outlier_norm_ratio == pytest.approx(100.0 / last.median_norm)
    assert shown_block(found) == 2 and shown_images(masks, 2) == [0, 5, 2]


def test_attention_on_outliers_known_values():
    norms = planted_norms()[2]
    _, masks = block_artifacts(planted_norms())
    outliers = masks[2]
    on_outliers = outliers.astype(float) + 1e-12  # all the mass on the outliers
    c = attention_on_outliers(on_outliers, outliers, norms, block=2)
    images = [0, 2, 5, 7]
    share = np.mean([outliers[i].mean() for i in images])
    assert c.images == 4 and c.mass == pytest.approx(1.0) and c.share == pytest.approx(share)
    assert c.enrichment == pytest.approx(1.0 / share)
    uniform = attention_on_outliers(np.ones_like(norms), outliers, norms, block=2)
    assert uniform.enrichment == pytest.approx(1.0) and uniform.spearman is None  # constant maps: no ranks
    same = attention_on_outliers(norms, outliers, norms, block=2)
    assert same.spearman == pytest.approx(1.0)
    none = attention_on_outliers(norms, np.zeros_like(outliers), norms, block=2)
    assert none.mass is None and none.enrichment is None and none.images == 0


def _context():
    from hjepa_report.analysis.context import ReportContext
    from hjepa_report.collect import collect_run
    from hjepa_report.settings import ReportSettings

    return ReportContext(collect_run(HJEPA_RUN), ReportSettings(encoder_heads=2, max_images=6))


def test_block_outputs_come_from_one_pass_before_the_final_norm(monkeypatch):
    torch = pytest.importorskip("torch")
    from hjepa_report.models.hjepa_model import HJepaModel

    ctx = _context()
    session = ctx.session
    model = session.model()
    images = session.sample_images().tensor
    with torch.inference_mode():
        reference = model.encode(images, return_blocks=True)
    calls = []
    encode = HJepaModel.encode

    def counting(self, batch, **kw):
        calls.append((len(batch), kw.get("return_blocks"), tuple(kw.get("attention_layers") or ())))
        return encode(self, batch, **kw)

    monkeypatch.setattr(HJepaModel, "encode", counting)
    outputs = session.block_outputs()
    assert session.block_outputs() is outputs  # cached: no second pass
    depth = model.info.depth
    assert calls == [(6, True, (depth - 1,))]
    for block in range(depth):
        expected = reference.blocks[block][:, 1:].float().norm(dim=-1).numpy()  # CLS left out
        np.testing.assert_allclose(outputs.norms[block], expected, rtol=1e-5)
        np.testing.assert_allclose(outputs.mean_pooled[block], reference.blocks[block][:, 1:].mean(1), rtol=1e-5)
    final = model.target_encoder.vit.norm(reference.blocks[depth - 1])  # the block outputs precede the norm
    np.testing.assert_allclose(final[:, 1:].numpy(), reference.patch_tokens.numpy(), rtol=1e-4, atol=1e-5)
    assert outputs.attention.shape == (6, model.info.num_heads, *model.info.grid)


def test_the_section_warns_on_planted_last_block_artifacts(monkeypatch):
    pytest.importorskip("torch")
    from hjepa_report.analysis.representations.artifact_section import ArtifactTokensPass
    from hjepa_report.analysis.representations.blocks import BlockOutputs

    ctx = _context()
    norms = planted_norms()[:, :6]  # 6 sample images
    attention = np.full((6, 2, 8, 8), 1e-3)
    attention.reshape(6, 2, 64)[0, :, 3] = 1.0  # image 0's attention peaks on its planted token
    planted = BlockOutputs("target", norms, np.zeros((3, 6, 4)), None, (8, 8), attention, 2, "test")
    monkeypatch.setattr(ctx.session, "block_outputs", lambda checkpoint=None: planted)
    section = ArtifactTokensPass().run(ctx, draw=False)
    assert section.status == "ok", section.message
    (check,) = section.checks
    assert check.name == "artifact-tokens-last-block" and check.status == "warn"
    m = section.metrics
    assert m["last_block_outliers"] == 5 and m["overlay_block"] == 2 and m["overlay_images"][:2] == [0, 5]
    assert m["attention_on_outliers"]["enrichment"] > 10  # image 0's planted peak carries its attention
