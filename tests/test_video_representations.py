"""The representations section of V-JEPA and V-JEPA 2 runs (the fixtures the original code wrote): each sample
clip through each evaluated checkpoint's target encoder once, clip embedding = mean of all tubelet tokens, and
the image path's measures applied to those embeddings. The clips are written into a COPY of each fixture
(vjepa_small has none; vjepa2_small's two are moved into class folders and joined by synthetic ones)."""

from __future__ import annotations

import shutil
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.representations import metrics
from hjepa_report.analysis.representations.embedding import label_accuracies
from hjepa_report.analysis.representations.embedding_section import RepresentationsPass
from hjepa_report.analysis.representations.video_representations import MIN_PLOT_CLIPS, VideoRepresentationsResult
from hjepa_report.collect import collect_run
from hjepa_report.collect.checkpoints import load_checkpoint
from hjepa_report.models.video_networks import build_video_networks
from hjepa_report.models.vjepa_nets import load_clip
from hjepa_report.settings import ReportSettings

FIXTURES = Path(__file__).parent / "fixtures"
SIDE, FRAMES = 32, 8  # both fixtures: crop 32, 8 frames per clip


def write_clip(folder: Path, direction: str, start: int, colour: tuple[int, int, int]) -> None:
    """A square of 8 px moving 2 px per frame down or right over a dark background, as PNG frames."""
    folder.mkdir(parents=True)
    for t in range(FRAMES):
        frame = np.full((SIDE, SIDE, 3), 20, np.uint8)
        row, col = (start + 2 * t, start) if direction == "down" else (start, start + 2 * t)
        frame[row : row + 8, col : col + 8] = colour
        Image.fromarray(frame).save(folder / f"frame_{t:03d}.png")


def labelled_copy(name: str, base: Path) -> Path:
    """A copy of a fixture whose clips/ holds 5 clips per class (down, right) in class folders."""
    run = base / name
    shutil.copytree(FIXTURES / name, run)
    clips = run / "clips"
    if clips.exists():  # vjepa2_small's own two clips join their class
        shutil.move(clips, base / f"{name}-own")
        for own, label in (("moving-down", "down"), ("moving-right", "right")):
            (clips / label).mkdir(parents=True, exist_ok=True)
            shutil.move(base / f"{name}-own" / own, clips / label / own)
    for label in ("down", "right"):
        have = len(list((clips / label).glob("*"))) if (clips / label).exists() else 0
        for i in range(have, 5):
            write_clip(clips / label / f"synthetic-{i}", label, 2 + 3 * i, (255, 60 * i, 200 - 40 * i))
    return run


def compute(run_dir: Path, **settings):
    ctx = ReportContext(collect_run(run_dir), ReportSettings(encoder_heads=2, seed=0, device="cpu", **settings))
    section = RepresentationsPass()
    assert section.applies(ctx) is None
    return ctx, section.compute(ctx)


def direct_embeddings(run, ref) -> tuple[np.ndarray, np.ndarray]:
    """Tubelet tokens [B, N, D] and clip embeddings [B, D] from the rebuilt target encoder called directly."""
    nets = build_video_networks(load_checkpoint(ref.path), run.config, run.layout, 2)
    grid = nets.target_encoder.grid
    x = torch.stack([load_clip(c, grid, run.config)[0] for c in run.clips])
    with torch.no_grad():
        tokens = nets.target_encoder(x).double().numpy()
    return tokens, tokens.mean(axis=1)


@pytest.fixture(scope="module", params=["vjepa2_small", "vjepa_small"])
def labelled(request, tmp_path_factory):
    run_dir = labelled_copy(request.param, tmp_path_factory.mktemp(request.param))
    return compute(run_dir, minimal=True)  # PCA only: t-SNE / UMAP are the image path's, tested there


def test_section_runs_on_clips_with_labels(labelled):
    ctx, result = labelled
    assert isinstance(result, VideoRepresentationsResult)
    assert len(result.clip_names) == 10 and sorted(set(result.probes.labels)) == ["down", "right"]
    assert result.metrics["pooling"].startswith("mean over all tubelet tokens")
    shown = RepresentationsPass().present(result)
    ids = [f.id for f in shown.figures]
    assert ids[:3] == ["health", "projections", "neighbours"] and "checkpoints" in ids
    assert {t.id for t in shown.tables} >= {"metrics-tokens", "metrics-image", "accuracy"}
    assert "mean over all tubelet tokens" in shown.intro


def test_embeddings_equal_the_rebuilt_encoder_called_directly(labelled):
    ctx, result = labelled
    _, z = direct_embeddings(ctx.run, ctx.session.checkpoint)
    assert result.clip_embeddings.shape == z.shape
    np.testing.assert_allclose(result.clip_embeddings, z, atol=1e-5)


def test_metrics_are_the_metric_functions_of_those_embeddings(labelled):
    ctx, result = labelled
    tokens, z = direct_embeddings(ctx.run, ctx.session.checkpoint)
    health = result.embedding.health
    expected = metrics.embedding_health(z)
    for key in ("rankme", "alpha_req", "normalised_std_mean", "mean_pairwise_cosine", "vicreg_variance"):
        assert health["image"][key] == pytest.approx(expected[key], rel=1e-4, abs=1e-6), key
    flat = tokens.reshape(-1, tokens.shape[-1])
    assert health["tokens"]["rankme"] == pytest.approx(metrics.rankme(flat), rel=1e-4)
    labels = np.asarray([c.label for c in ctx.run.clips])
    accuracy = result.probes.accuracy["image"]
    assert accuracy["knn_accuracy"] == pytest.approx(label_accuracies(z, labels)["knn_accuracy"])
    rows = {r["name"]: r for r in result.sweep.rows}
    assert len(rows) == len(ctx.run.unique_checkpoints())  # at most 8: every checkpoint of these runs
    for ref in ctx.run.unique_checkpoints():
        tokens, z = direct_embeddings(ctx.run, ref)
        row = rows[ref.name]
        assert row["rankme"] == pytest.approx(metrics.rankme(z), rel=1e-4)
        assert row["rankme_tokens"] == pytest.approx(metrics.rankme(tokens.reshape(-1, tokens.shape[-1])), rel=1e-4)
        assert row["knn_accuracy"] == pytest.approx(metrics.knn_accuracy(z, labels, k=4))


def test_each_clip_through_the_target_encoder_once_per_checkpoint(labelled):
    ctx, result = labelled
    images = defaultdict(int)
    for p in ctx.session.meter.passes:
        assert p.network == "target_encoder" and not p.grad  # no context encoder, predictor or backward
        images[p.checkpoint] += p.images
    assert dict(images) == {ref.name: 10 for ref in ctx.run.unique_checkpoints()}


def test_too_few_clips_say_so_instead_of_a_degenerate_figure(tmp_path):
    run = tmp_path / "vjepa2_small"
    shutil.copytree(FIXTURES / "vjepa2_small", run)  # its own 2 clips, unlabelled
    _, result = compute(run)
    shown = RepresentationsPass().present(result)
    ids = [f.id for f in shown.figures]
    assert "projections" not in ids and "neighbours" not in ids and "health" in ids
    too_few = [n for n in result.notes if "too few for a projection" in n]
    assert len(too_few) == 1 and f"at least {MIN_PLOT_CLIPS}" in too_few[0]
    assert any("no class labels" in n for n in result.notes)
    assert result.message.startswith("2 clips of latest.pt; RankMe of the clip embeddings")


def test_no_clips_and_unknown_heads_skip_in_one_line(tmp_path):
    no_clips = ReportContext(collect_run(FIXTURES / "vjepa_small"), ReportSettings(encoder_heads=2, device="cpu"))
    reason = RepresentationsPass().applies(no_clips)
    assert "no sample clips" in reason and "\n" not in reason
    unknown = ReportContext(collect_run(FIXTURES / "vjepa2_small"), ReportSettings(device="cpu"))
    assert "pass --encoder-heads" in RepresentationsPass().applies(unknown)


def test_an_unreadable_clip_is_left_out_in_one_note(tmp_path):
    from hjepa_report.collect.run import ClipRef

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0" * 2000)  # listed by hand: the collector would already skip it
    run = collect_run(FIXTURES / "vjepa2_small")
    run.clips.append(ClipRef("bad", [], None, video=bad))
    ctx = ReportContext(run, ReportSettings(encoder_heads=2, device="cpu", minimal=True))
    result = RepresentationsPass().compute(ctx)
    assert result.clip_names == ["moving-down", "moving-right"]
    notes = [n for n in result.notes if n.startswith("Clip 'bad' left out: ")]
    assert len(notes) == 1 and "\n" not in notes[0]
