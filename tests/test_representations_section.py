"""The predictions and representations passes on the real H-JEPA and I-JEPA fixture runs (--minimal, so t-SNE
and UMAP are skipped and the file stays fast), their skip paths and their checks."""

from pathlib import Path

import numpy as np
import pytest

from hjepa_report.analysis.base import Animation, PassResult, Presentation, Section
from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.representations import lidar, metrics
from hjepa_report.analysis.representations.checks import (
    class_structure_check,
    collapse_check,
    collapse_thresholds,
    prediction_check,
)
from hjepa_report.analysis.representations.embedding_section import RepresentationsPass
from hjepa_report.analysis.representations.prediction_section import PredictionsPass
from hjepa_report.analysis.thresholds import threshold
from hjepa_report.collect.collector import collect_run
from hjepa_report.collect.run import Run
from hjepa_report.settings import ReportSettings

FIXTURES = Path(__file__).parent / "fixtures"


def _context(name: str) -> ReportContext:
    return ReportContext(collect_run(FIXTURES / name), ReportSettings(minimal=True))


@pytest.fixture(scope="module")
def hjepa():
    ctx = _context("hjepa_small")
    return ctx, PredictionsPass().run(ctx), RepresentationsPass().run(ctx)


@pytest.fixture(scope="module")
def ijepa():
    ctx = _context("ijepa_small")
    return ctx, PredictionsPass().run(ctx), RepresentationsPass().run(ctx)


def _ids(section: Section) -> set[str]:
    return {f.id for f in section.figures}


def _plain(value) -> bool:
    """Tell whether a metrics value holds only JSON types (no numpy scalars or arrays, no NaN)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return type(value) is float and np.isfinite(value)
    return value is None or type(value) in (int, str, bool)


def test_hjepa_predictions_cover_every_hidden_patch_at_every_level(hjepa):
    ctx, pred, _ = hjepa
    assert pred.status == "ok", pred.message
    assert _ids(pred) == {"predictions-maps", "predictions-cosine"}
    levels = pred.metrics["levels"]
    assert [r["level"] for r in levels] == [0, 1, 2]
    hidden = ctx.session.masks().hidden
    assert levels == ctx.session.prediction_errors().summary
    assert levels[0]["tokens"] == int(hidden.sum())  # H-JEPA predicts every hidden patch
    assert levels[1]["tokens"] <= levels[0]["tokens"] // 2 + len(hidden)
    assert {c.name for c in pred.checks} == {"prediction-vs-baseline"}
    assert pred.checks[0].figure_id == "predictions-cosine"
    assert _plain(pred.metrics)


def test_hjepa_representations_section_content(hjepa):
    _, _, rep = hjepa
    assert rep.status == "ok", rep.message
    assert {
        "representations-health",
        "representations-projections",
        "representations-neighbours",
        "representations-checkpoints",
        "representations-logged-collapse",
        "representations-pca-animation",
    } <= _ids(rep)
    anim = next(f.content for f in rep.figures if f.id == "representations-pca-animation")
    assert isinstance(anim, Animation) and len(anim.frames) == 2  # two unique checkpoints in the fixture
    rows = rep.metrics["checkpoints"]
    assert [r["epoch"] for r in rows] == [1, 2] and rep.metrics["best_checkpoint"] in {r["name"] for r in rows}
    assert rep.metrics["logged_eff_rank_cap"] == 16  # batch 16: H-JEPA's logged rank cannot exceed it
    assert any("t-SNE skipped under --minimal" in n for n in rep.notes)
    health = rep.metrics["health"]
    assert set(health) == {"image", "tokens", "cls"}  # H-JEPA encoders have a CLS token
    assert health["tokens"]["n"] == 8 * 64 and health["image"]["rankme"] <= 8
    assert {c.name: c.status for c in rep.checks} == {"collapse": "pass", "class-structure": "skip"}  # 8 images
    assert rep.metrics["probe_images"] == {"total": 8, "sample": 8, "available": 8}
    assert _plain(rep.metrics)


def test_ijepa_sections_render_with_one_level_and_no_cls(ijepa):
    _, pred, rep = ijepa
    assert pred.status == rep.status == "ok", (pred.message, rep.message)
    assert [r["level"] for r in pred.metrics["levels"]] == [0]
    assert "layer-normed" in pred.metrics["target_kind"]
    assert set(rep.metrics["health"]) == {"image", "tokens"}
    assert "representations-pca-animation" in _ids(rep)
    assert any("no collapse metrics" in n for n in rep.notes)  # I-JEPA logs only loss to its csv


def test_lidar_on_augmented_views_is_within_its_bounds(hjepa):
    ctx, _, _ = hjepa
    out = lidar.lidar_score(ctx.session, seed=0, views=4)
    assert out["images"] == 8 and 1.0 <= out["lidar"] <= out["max"] == 7


def test_augmented_views_are_seeded():
    torch = pytest.importorskip("torch")
    images = torch.rand(2, 3, 16, 16)
    a, b = lidar.augmented_views(images, 3, seed=1), lidar.augmented_views(images, 3, seed=1)
    assert a.shape == (6, 3, 16, 16) and torch.equal(a, b)
    assert not torch.equal(a, lidar.augmented_views(images, 3, seed=2))


def test_passes_skip_without_a_checkpoint(tmp_path):
    ctx = ReportContext(Run(root=tmp_path, name="empty", layout="generic", layout_reason=""), ReportSettings())
    for p in (PredictionsPass(), RepresentationsPass()):
        section = p.run(ctx)
        assert section.status == "skipped" and "no checkpoint" in section.message


def _empty_context(settings: ReportSettings | None = None) -> ReportContext:
    return ReportContext(
        Run(root=Path("/tmp"), name="r", layout="generic", layout_reason="test"), settings or ReportSettings()
    )


def test_collapse_check_on_the_anchors():
    anchors = metrics.reference_embeddings(64, 32, seed=0)
    ah = {k: {a: metrics.embedding_health(r) for a, r in anchors.items()} for k in ("tokens", "image")}
    for name, expected in (("isotropic", "pass"), ("collapsed", "fail")):
        result = PassResult()
        health = {k: metrics.embedding_health(anchors[name]) for k in ("tokens", "image")}
        collapse_check(result, health, ah, collapse_thresholds(_empty_context()))
        assert result.checks[0].status == expected


def test_collapse_thresholds_can_be_overridden():
    anchors = metrics.reference_embeddings(64, 32, seed=0)
    ah = {k: {a: metrics.embedding_health(r) for a, r in anchors.items()} for k in ("tokens", "image")}
    health = {k: metrics.embedding_health(anchors["isotropic"]) for k in ("tokens", "image")}
    strict = ReportSettings(thresholds={"collapse.rankme_fraction.warn": 1.5})
    result = PassResult()
    collapse_check(result, health, ah, collapse_thresholds(_empty_context(strict)))
    assert result.checks[0].status == "warn"


def test_prediction_check_warns_when_the_baseline_wins():
    rows = [
        {"level": 0, "cosine_mean": 0.8, "baseline_cosine_mean": 0.5, "beats_baseline": True},
        {"level": 1, "cosine_mean": 0.4, "baseline_cosine_mean": 0.5, "beats_baseline": False},
    ]
    result = PassResult()
    prediction_check(result, rows, 0.0)
    assert result.checks[0].status == "warn" and result.checks[0].value == pytest.approx(-0.1)
    result = PassResult()
    prediction_check(result, rows[:1], 0.0)
    assert result.checks[0].status == "pass"
    assert np.isclose(result.checks[0].value, 0.3)
    result = PassResult()
    prediction_check(result, rows[:1], 0.35)  # a demanded margin larger than the real one
    assert result.checks[0].status == "warn"


def test_checkpoint_sweep_loads_each_checkpoint_once():
    """The session holds one checkpoint's networks at a time: the sweep measures the chosen checkpoint (in
    memory, outputs cached) first, so it never loads it a second time, even without the predictions section
    having measured its predictions already."""
    loads = []
    ctx = ReportContext(
        collect_run(FIXTURES / "hjepa_small"),
        ReportSettings(minimal=True, encoder_heads=2),
        progress=lambda msg: loads.append(msg) if msg.startswith("loading ") else None,
    )
    section = RepresentationsPass().run(ctx)
    assert section.status == "ok", section.message
    assert sorted(loads) == [
        "loading checkpoints/checkpoint_epoch_0001.pth",
        "loading checkpoints/checkpoint_latest.pth",
    ]  # each once
    assert [r["epoch"] for r in section.metrics["checkpoints"]] == [1, 2]  # rows stay in epoch order
    assert all(r["prediction_cosine"] is not None for r in section.metrics["checkpoints"])


def test_representations_skip_with_one_image():
    run = collect_run(FIXTURES / "hjepa_small")
    run.images = run.images[:1]
    section = RepresentationsPass().run(ReportContext(run, ReportSettings(minimal=True)))
    assert section.status == "skipped" and "at least 2 sample images" in section.message


def test_probe_images_extend_the_sample_images_and_pass_the_encoder_once():
    """The class probes use the sample images plus further ones (--probe-images); the further ones go through
    the target encoder once per checkpoint and give the same features as encoding them directly."""
    torch = pytest.importorskip("torch")
    from hjepa_report.models import load_images

    ctx = ReportContext(
        collect_run(FIXTURES / "hjepa_small"), ReportSettings(max_images=3, probe_images=7, encoder_heads=2)
    )
    session = ctx.session
    sample, probe = session.sample_images(), session.probe_images()
    assert probe.paths[:3] == sample.paths and len(probe.paths) == 7 and probe.first_extra == 3
    assert len(set(probe.paths)) == 7 and len(probe.extra) == 4
    model = session.model()
    calls = []
    encode = model.encode
    model.encode = lambda images, **kw: calls.append(len(images)) or encode(images, **kw)
    emb = session.probe_embeddings()
    assert session.probe_embeddings() is emb and sum(calls) == 7  # 3 sample + 4 further images, each once
    info = model.info
    batch, _ = load_images(probe.paths, info.image_size, info.norm_mean, info.norm_std, method=info.preprocess)
    with torch.inference_mode():
        direct = encode(batch, encoder="target")
    np.testing.assert_allclose(emb.image, direct.patch_tokens.mean(dim=1).numpy(), atol=1e-5)
    np.testing.assert_allclose(emb.cls, direct.tokens[:, 0].numpy(), atol=1e-5)


def test_probe_images_fill_the_sample_classes_first():
    from types import SimpleNamespace

    from hjepa_report.analysis.session import probe_order

    rest = [SimpleNamespace(label=c) for c in "xaybzaxb"]
    assert "".join(r.label for r in probe_order(rest, {"a", "b"})) == "abab" + "xyzx"


def test_minimal_and_small_probe_settings_use_the_sample_images_only():
    run = collect_run(FIXTURES / "hjepa_small")
    for settings in (
        ReportSettings(max_images=3, probe_images=7, minimal=True),
        ReportSettings(max_images=3, probe_images=2),
    ):
        session = ReportContext(run, settings).session
        probe = session.probe_images()
        assert probe.paths == session.sample_images().paths and probe.extra == []


def _accuracy(n: int, value: float, chance: float = 0.125) -> dict:
    return {
        "image": {
            "samples": n,
            "classes": 8,
            "knn_accuracy": value,
            "chance": chance,
            "knn_interval": list(metrics.wilson_interval(value, n)),
        }
    }


@pytest.mark.parametrize(
    "n, value, status",
    [(256, 0.30, "pass"), (256, 0.15, "warn"), (64, 0.30, "skip"), (128, 0.17, "warn"), (128, 0.20, "pass")],
)
def test_class_structure_check_compares_the_interval_with_chance(n, value, status):
    # n = 128, chance 12.5 %: 17 % has a 95 % interval reaching down to 11.5 % (warn), 20 % to 14.0 % (pass)
    result = PassResult()
    class_structure_check(result, _accuracy(n, value), int(threshold(_empty_context(), "knn.min_images")))
    section = RepresentationsPass().assemble(result, Presentation())
    check = section.checks[0]
    assert check.name == "class-structure" and check.status == status
    assert check.figure_id == "representations-checkpoints"


def test_class_structure_check_without_labels_is_skipped():
    result = PassResult()
    class_structure_check(result, None, int(threshold(_empty_context(), "knn.min_images")))
    assert result.checks[0].status == "skip" and "no class labels" in result.checks[0].detail
