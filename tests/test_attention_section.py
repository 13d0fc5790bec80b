"""The attention pass on the real H-JEPA / I-JEPA fixture runs, and on a test double of the model layer.

The fixture tests run the real model layer (checkpoint -> network -> explicit attention). The test double
(`FakeModel`, tests only) implements the subset of models.api.JepaModel the pass uses (.info, .encode,
.encoder_pair) with attention built by hand, so the foreground numbers have known answers; `fake_context`
puts it behind the report's ModelSession (model, info, sample_images, encode; the run's masks cannot be drawn).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hjepa_report.analysis.attention import section as attention_section
from hjepa_report.analysis.attention.foreground import patch_coverage
from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.session import SampleImages
from hjepa_report.collect.collector import collect_run
from hjepa_report.errors import ReportError
from hjepa_report.models.info import ModelInfo, Unsupported
from hjepa_report.settings import ReportSettings

FIXTURES = Path(__file__).parent / "fixtures"
FIGURES = ["maps", "threshold", "heads", "rollout", "depth", "distance-entropy", "queries", "context-vs-target"]


def run_pass(root, **settings):
    ctx = ReportContext(collect_run(root), ReportSettings(**settings))
    return attention_section.AttentionPass().run(ctx)


@pytest.mark.parametrize("run,heads,has_cls", [("hjepa_small", 2, True), ("ijepa_small", None, False)])
def test_section_renders_on_the_fixture_runs(run, heads, has_cls):
    section = run_pass(FIXTURES / run, encoder_heads=heads)
    assert section.status == "ok", section.message
    assert [f.id for f in section.figures] == [f"attention-{name}" for name in FIGURES]
    metrics = section.metrics
    assert metrics["layers"] == [0, 1, 2] and metrics["images"] == 8
    assert np.array(metrics["mean_attention_distance"]["per_layer_head"]).shape == (3, 2)
    entropy = np.array(metrics["attention_entropy"]["per_layer_head"])
    assert np.all(entropy <= metrics["attention_entropy"]["uniform_attention"] + 1e-6)
    assert metrics["rollout"]["source"] == ("cls" if has_cls else "mean query")
    assert metrics["map"].startswith("the CLS token's attention" if has_cls else "the mean attention each patch")
    rollout_caption = next(f.caption for f in section.figures if f.id == "attention-rollout")
    assert "discard" in rollout_caption and "heads fused by mean" in rollout_caption
    assert "rollout_foreground" not in metrics  # the fixtures store no foreground
    json.dumps(metrics, allow_nan=False)  # report.json takes plain values only


def test_no_checkpoint_is_a_skip_with_a_reason(tmp_path):
    (tmp_path / "images").mkdir()
    make_images(tmp_path, 1)
    section = run_pass(tmp_path)
    assert section.status == "skipped" and "no checkpoint" in section.message


class FakeModel:
    """Test double of a JepaModel: CLS token, 4x4 grid of 8-px patches, attention built from `focus`.

    Every query's logits are `focus_logit` on the key patches where focus is True, 0 elsewhere.
    """

    def __init__(self, focus: np.ndarray, focus_logit: float, unsupported=()):
        self.info = ModelInfo(
            layout="hjepa",
            checkpoint="fake",
            embed_dim=8,
            depth=2,
            num_heads=2,
            heads_source="test double",
            heads_guessed=False,
            patch_size=8,
            image_size=32,
            grid=(4, 4),
            has_cls=True,
            mlp_ratio=4.0,
            qkv_bias=True,
            unsupported=list(unsupported),
        )
        self.focus, self.focus_logit = focus, focus_logit

    def encoder_pair(self):
        return ("context", "target")

    def encode(self, images, *, encoder="target", context_mask=None, attention_layers=None, return_blocks=False):
        import torch

        batch, tokens = len(images), 17
        logits = torch.zeros(batch, 2, tokens, tokens)
        logits[..., 1:] += self.focus_logit * torch.as_tensor(self.focus.reshape(-1), dtype=torch.float32)
        attn = logits.softmax(-1)
        return SimpleNamespace(
            attentions={layer: attn for layer in attention_layers or ()},
            patch_indices=torch.arange(16).expand(batch, 16),
            valid=torch.ones(batch, 16, dtype=torch.bool),
        )


def make_images(root: Path, count: int) -> list[Path]:
    from PIL import Image

    folder = root / "images" / "shapes"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        paths.append(folder / f"shapes_{i:04d}.png")
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(paths[-1])
    return paths


def fake_context(tmp_path, monkeypatch, model, foreground: np.ndarray | None):
    """A ReportContext on a tmp run whose model layer is the test double."""
    import torch

    paths = make_images(tmp_path, 3)
    if foreground is not None:
        (tmp_path / "sample_meta").mkdir()
        np.savez_compressed(
            tmp_path / "sample_meta" / "foreground.npz",
            **{p.relative_to(tmp_path).as_posix(): foreground for p in paths},
        )
    pictures = [np.zeros((32, 32, 3), np.uint8)] * 3
    images = SampleImages(
        torch.zeros(3, 3, 32, 32), pictures, ["shapes"] * 3, paths, [p.relative_to(tmp_path).as_posix() for p in paths]
    )
    ctx = ReportContext(collect_run(tmp_path), ReportSettings())

    def no_masks():
        raise ReportError("the test double has no masking")

    def encode(encoder="target", checkpoint=None, attention_layers=(), *, masked=False, first=None):
        return model.encode(images.tensor[:first], encoder=encoder, attention_layers=attention_layers)

    session = ctx.session
    monkeypatch.setattr(session, "skip_reason", lambda needs_images=True: None)
    monkeypatch.setattr(session, "model", lambda checkpoint=None: model)
    monkeypatch.setattr(session, "info", lambda: model.info)
    monkeypatch.setattr(session, "sample_images", lambda: images)
    monkeypatch.setattr(session, "masks", no_masks)
    monkeypatch.setattr(session, "encode", encode)
    return ctx


def left_half():
    mask = np.zeros((32, 32), bool)
    mask[:, :16] = True
    return mask


def test_patch_coverage_follows_the_resize_and_crop():
    coverage = patch_coverage(left_half(), 32, "resize_crop", (4, 4)).reshape(4, 4)
    np.testing.assert_allclose(coverage[:, :2], 1.0, atol=0.02)  # resize to 36, crop 2..34 keeps it centred
    np.testing.assert_allclose(coverage[:, 2:], 0.0, atol=0.02)


def test_uniform_attention_puts_the_area_share_on_the_foreground(tmp_path, monkeypatch):
    model = FakeModel(np.zeros((4, 4), bool), 0.0)
    section = attention_section.AttentionPass().run(fake_context(tmp_path, monkeypatch, model, left_half()))
    assert section.status == "ok", section.message
    shares = section.metrics["rollout_foreground"]
    assert shares["images"] == 3
    assert shares["rollout_mass_on_foreground"] == pytest.approx(shares["foreground_area_share"], abs=1e-6)
    assert shares["foreground_area_share"] == pytest.approx(0.5, abs=0.01)
    assert [c.status for c in section.checks if c.name == "rollout-on-foreground"] == ["warn"]


def test_attention_on_the_object_puts_more_than_its_area_on_it(tmp_path, monkeypatch):
    model = FakeModel(np.repeat([[True, True, False, False]], 4, axis=0), 3.0)
    section = attention_section.AttentionPass().run(fake_context(tmp_path, monkeypatch, model, left_half()))
    shares = section.metrics["rollout_foreground"]
    assert shares["rollout_mass_on_foreground"] > 0.9 > 0.51 > shares["foreground_area_share"]
    assert shares["images_above_area_share"] == 3
    check = next(c for c in section.checks if c.name == "rollout-on-foreground")
    assert check.status == "pass" and check.figure_id == "attention-rollout"


def test_foreground_from_the_collector_gives_the_numbers_of_the_file_itself(tmp_path, monkeypatch):
    """The masks now come from Run.foreground (read by the collector); the numbers are those of the file."""
    from hjepa_report.analysis.attention.foreground import rollout_foreground_shares

    model = FakeModel(np.repeat([[True, True, False, False]], 4, axis=0), 3.0)
    ctx = fake_context(tmp_path, monkeypatch, model, left_half())
    assert next(f for f in ctx.run.files if f.path == "sample_meta/foreground.npz").status == "read"
    result = attention_section.AttentionPass().compute(ctx)
    with np.load(tmp_path / "sample_meta" / "foreground.npz") as stored:
        coverages = [patch_coverage(stored[name], 32, model.info.preprocess, (4, 4)) for name in result.names]
    assert result.foreground == rollout_foreground_shares(result.attention.rollout, coverages, result.names)
    assert result.metrics["rollout_foreground"] == result.foreground and result.foreground["images"] == 3


def test_over_the_memory_budget_only_the_shown_blocks_are_captured(tmp_path, monkeypatch):
    model = FakeModel(np.zeros((4, 4), bool), 0.0)
    model.info.depth = 5
    per_block = 2 * 17**2 * 4  # heads * T^2 float32 values
    monkeypatch.setattr(attention_section, "ATTENTION_BUDGET_BYTES", 3 * per_block)  # 3 blocks of one image
    section = attention_section.AttentionPass().run(fake_context(tmp_path, monkeypatch, model, left_half()))
    assert section.status == "ok", section.message
    assert section.metrics["layers"] == [0, 2, 4]
    assert "only in blocks [0, 2, 4]" in section.metrics["capture"] and "1 image per" in section.metrics["capture"]
    assert "rollout" not in section.metrics and "rollout_foreground" not in section.metrics
    assert "attention-rollout" not in [f.id for f in section.figures]
    assert any("rollout left out" in note for note in section.notes)


def test_guessed_heads_are_said(tmp_path, monkeypatch):
    model = FakeModel(np.zeros((4, 4), bool), 0.0)
    model.info.heads_guessed = True
    section = attention_section.AttentionPass().run(fake_context(tmp_path, monkeypatch, model, None))
    assert any("guess" in note and "--encoder-heads" in note for note in section.notes)
    assert "rollout_foreground" not in section.metrics


def test_unsupported_attention_is_a_skip(tmp_path, monkeypatch):
    model = FakeModel(np.zeros((4, 4), bool), 0.0, [Unsupported("rope", ("attention",), "RoPE is not rebuilt")])
    section = attention_section.AttentionPass().run(fake_context(tmp_path, monkeypatch, model, None))
    assert section.status == "skipped" and "RoPE is not rebuilt" in section.message


@pytest.mark.parametrize(
    "run,checkpoint,config,heads",
    [
        ("hjepa_small", "checkpoints/checkpoint_latest.pth", "config.yaml", 2),
        ("ijepa_small", "jepa-latest.pth.tar", "params-ijepa.yaml", None),
    ],
)
def test_captured_attention_reduces_like_the_reference_arrays(run, checkpoint, config, heads):
    import torch

    from hjepa_report.analysis.attention.capture import capture_attention, plan_capture
    from hjepa_report.analysis.attention.summary import summarise_encoder
    from hjepa_report.models import load_model

    root = FIXTURES / run
    model = load_model(root / checkpoint, root / config, encoder_heads=heads)
    ref = np.load(root / "reference" / "reference.npz")
    info = model.info
    plan = plan_capture(info.depth, info.num_heads, 64 + info.has_cls, 4, budget_bytes=1)  # one image per call
    assert plan.chunk == 1
    ours = capture_attention(model, torch.as_tensor(ref["images"]), plan)
    want = summarise_encoder({i: ref[f"attn_block{i}"] for i in range(3)}, (8, 8), info.has_cls, 3)
    np.testing.assert_allclose(ours.rollout, want.rollout, atol=1e-6)
    np.testing.assert_allclose(ours.head_maps, want.head_maps, atol=1e-6)
    np.testing.assert_allclose(ours.distance, want.distance, atol=1e-5)
    np.testing.assert_allclose(ours.entropy, want.entropy, atol=1e-5)
