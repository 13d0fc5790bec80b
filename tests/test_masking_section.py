"""Masking figures, animations, statistics helpers and the MaskingPass on both fixture runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from hjepa_report.analysis.base import Animation
from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.masking import (
    central_block_masks,
    figures,
    gifs,
    mask_stats,
    random_patch_masks,
    sample_masks,
)
from hjepa_report.analysis.masking.section import MaskingPass
from hjepa_report.analysis.masking.stats import level_groups, split_groups, summary
from hjepa_report.collect import collect_run
from hjepa_report.collect.run import Run
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures"
GRID = (8, 8)


def _nonempty(fig: Figure) -> bool:
    """Every visible axes draws something (image, patch, line, collection or text)."""
    visible = [ax for ax in fig.axes if ax.axison or ax.texts]
    return bool(visible) and all(ax.images or ax.patches or ax.lines or ax.collections or ax.texts for ax in visible)


@pytest.fixture(scope="module")
def draws():
    cfg = yaml.safe_load((FIX / "ijepa_small" / "params-ijepa.yaml").read_text())
    return sample_masks(cfg, 12, seed=0, batch_size=4)


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)


def test_figure_functions_return_drawn_figures(draws, image):
    t, c, b = draws.targets[0], draws.context[0], draws.context_blocks[0, 0]
    st = mask_stats(draws.targets, draws.context, GRID, draws.target_shapes)
    built = [
        figures.plot_masking_instance(image, t, c, GRID, context_block=b),
        figures.plot_original_mask_masked(image, t, c, GRID, encoder_context=draws.collated_contexts[0, 0]),
        figures.plot_region_overlays(image, t, c, GRID, context_block=b),
        figures.plot_strategy_comparison(image, [("own", t, c), ("other", t[:1], ~t[0])], GRID),
        figures.plot_draw_grid(image, draws.targets[:9], draws.context[:9], GRID),
        figures.plot_spatial_statistics(
            st.target_frequency,
            st.context_frequency,
            st.context_sizes,
            st.block_sizes,
            st.union_sizes,
            st.aspect_ratios,
        ),
        figures.plot_hierarchy_levels(image, draws.hidden[0], GRID, 3, generator_targets=np.stack([t, t, t])),
    ]
    for fig in built:
        assert isinstance(fig, Figure) and _nonempty(fig)


def test_animations_are_upscaled_equal_sized_uint8_frames(draws, image):
    a = gifs.masking_process(
        image,
        draws.targets[0],
        draws.context[0],
        GRID,
        context_block=draws.context_blocks[0, 0],
        collated_context=draws.collated_contexts[0, 0],
    )
    b = gifs.random_draws(image, draws.targets[:5], draws.context[:5], GRID)
    for anim in (a, b):
        assert isinstance(anim, Animation) and anim.loop == 0
        shapes = {f.shape for f in anim.frames}
        assert len(shapes) == 1 and all(f.dtype == np.uint8 for f in anim.frames)
        assert min(next(iter(shapes))[:2]) >= 256
    # image, context block, 4 targets (+ collation when it cut this context), predictor's view
    assert len(a.frames) in (7, 8) and a.duration_ms[-1] > a.duration_ms[0] >= 500
    assert len(b.frames) == 5


def test_level_groups_pool_consecutive_hidden_indices():
    hidden = np.zeros(16, bool)
    hidden[[1, 2, 3, 7, 8, 13]] = True  # 4x4 grid: row 0 has 1,2,3; 7 ends row 1; 8 starts row 2
    groups, dropped = level_groups(hidden, (4, 4), 1)
    assert groups.tolist() == [[1, 2], [3, 7], [8, 13]] and dropped.tolist() == []
    assert split_groups(groups, (4, 4)).tolist() == [False, True, True]
    groups, dropped = level_groups(hidden, (4, 4), 2)
    assert groups.tolist() == [[1, 2, 3, 7]] and dropped.tolist() == [8, 13]


def test_mask_stats_counts_on_a_hand_case():
    targets = np.zeros((2, 1, 4), bool)
    targets[0, 0, 0] = targets[1, 0, :2] = True
    context = np.array([[0, 1, 1, 0], [0, 0, 1, 0]], bool)
    st = mask_stats(targets, context, (2, 2))
    assert st.union_sizes.tolist() == [1, 2] and st.context_sizes.tolist() == [2, 1]
    assert st.never_target == 2 and st.never_context == 2  # patches 2,3 never targets; 0,3 never context
    assert st.target_frequency.tolist() == [[1.0, 0.5], [0.0, 0.0]]
    assert summary([1, 2, 3])["p50"] == 2.0 and summary([1, 2, 3])["std"] == pytest.approx(np.std([1, 2, 3]))


def test_baselines_hide_the_requested_number_of_patches():
    counts = [5, 20, 33]
    rnd = random_patch_masks((8, 8), counts, np.random.default_rng(0))
    assert rnd.hidden.sum(1).tolist() == counts and (rnd.context == ~rnd.hidden).all()
    block = central_block_masks((8, 8), counts)
    assert np.abs(block.hidden.sum(1) - counts).max() <= 4  # nearest h x w to the count


@pytest.fixture(scope="module")
def sections():
    out = {}
    for name in ("hjepa_small", "ijepa_small"):
        ctx = ReportContext(collect_run(FIX / name), ReportSettings(seed=4))
        out[name] = (MaskingPass().run(ctx), MaskingPass().compute(ctx))
    return out


@pytest.mark.parametrize("name", ["hjepa_small", "ijepa_small"])
def test_pass_builds_the_section_on_fixture_runs(sections, name):
    section, result = sections[name]
    assert section.status == "ok", section.error
    ids = {f.id for f in section.figures}
    assert {
        "masking-instance",
        "masking-views",
        "masking-regions",
        "masking-strategies",
        "masking-draws",
        "masking-statistics",
        "masking-process",
        "masking-draws-animation",
    } <= ids
    assert ("masking-hierarchy" in ids) == (name == "hjepa_small")
    assert all(f.caption for f in section.figures) and section.tables
    json.dumps(section.metrics, allow_nan=False)  # JSON-friendly, no numpy types
    assert section.metrics["seed"] == 4 and section.metrics["settings"]["grid"] == [8, 8]
    assert result.draws.grid == (8, 8)  # the typed result carries what ctx.shared["masking"] used to


def test_pass_reports_the_ijepa_exclusive_bound(sections):
    section, _ = sections["ijepa_small"]
    check = next(c for c in section.checks if c.name == "masks-never-sampled")
    assert check.status == "warn" and check.value == 15.0 and check.figure_id == "masking-statistics"
    assert section.metrics["raw"]["never_target_patches"] == 15


def test_pass_hjepa_takes_patch_size_from_the_model_and_says_so(tmp_path, monkeypatch):
    ctx = ReportContext(collect_run(FIX / "hjepa_small"), ReportSettings())
    monkeypatch.setattr(ctx.session, "known_info", lambda: {"patch_size": 16, "grid": [4, 4], "image_size": 64})
    section = MaskingPass().run(ctx)
    assert section.status == "ok" and section.metrics["settings"]["grid"] == [4, 4]
    assert any("model (checkpoint)" in n for n in section.notes)


def test_pass_without_config_or_images_uses_paper_setting_on_a_synthetic_image(tmp_path):
    run = Run(root=tmp_path, name="empty", layout="generic", layout_reason="test")
    section = MaskingPass().run(ReportContext(run, ReportSettings()))
    assert section.status == "ok" and section.metrics["images"] == "synthetic"
    assert any("no sample images" in n for n in section.notes)
    assert any("paper default" in n for n in section.notes)


def test_pass_checks_the_sampler_against_the_runs_logged_mask_lengths(sections):
    section, _ = sections["ijepa_small"]
    checks = {c.name: c for c in section.checks}
    for tag in ("mask-A", "mask-B"):  # jepa_r0.csv: collated context length and target block length per batch
        assert checks[f"masks-match-log-{tag.lower()}"].status == "pass"
        assert section.metrics["training_log_comparison"][tag]["logged"]["n"] == 32
    hjepa, _ = sections["hjepa_small"]
    ratio = hjepa.metrics["training_log_comparison"]["predictions/mask_ratio"]
    assert ratio["logged"]["mean"] == pytest.approx(163 / 256)  # 4 images x 64 patches


def test_pass_warns_when_the_config_does_not_produce_the_logged_masks():
    run = collect_run(FIX / "ijepa_small")
    run.config["mask"]["pred_mask_scale"] = [0.3, 0.4]  # twice the target area the run trained with
    section = MaskingPass().run(ReportContext(run, ReportSettings()))
    assert next(c for c in section.checks if c.name == "masks-match-log-mask-b").status == "warn"


def test_valid_token_rule_matches_the_models_masks_valid():
    """hjepa_small reference: valid_level{l} is the pooled validity of the padded hidden list (> 0.5)."""
    from hjepa_report.analysis.masking.stats import valid_token_counts

    ref = np.load(FIX / "hjepa_small" / "reference" / "reference.npz")
    counts = ref["context_mask"].sum(1)
    for level in range(3):
        expected = ref[f"valid_level{level}"].sum(1)
        assert valid_token_counts(counts, counts.max(), level).tolist() == expected.tolist()
    # an independent pooling of padded validity flags, on counts where the partial group matters
    counts, k = np.array([7, 13, 16, 5]), 16
    for level in range(3):
        size = 2**level
        flags = (np.arange(k)[None, :] < counts[:, None]).astype(float)[:, : k // size * size]
        pooled = flags.reshape(len(counts), -1, size).mean(-1) > 0.5
        assert valid_token_counts(counts, k, level).tolist() == pooled.sum(1).tolist()


def test_without_drawing_the_section_keeps_its_numbers_notes_and_message(sections):
    """--json-only: compute alone gives report.json everything (notes and the summary message included)."""
    drawn, _ = sections["ijepa_small"]
    bare = MaskingPass().run(ReportContext(collect_run(FIX / "ijepa_small"), ReportSettings(seed=4)), draw=False)
    assert bare.status == "ok" and not bare.figures and not bare.tables
    assert bare.message == drawn.message and bare.message.startswith("1000 draws on a 8x8 grid")
    assert bare.notes == drawn.notes and any("no hierarchy levels" in n for n in bare.notes)
    assert json.dumps(bare.metrics, sort_keys=True) == json.dumps(drawn.metrics, sort_keys=True)
    assert [(c.name, c.status, c.detail) for c in bare.checks] == [(c.name, c.status, c.detail) for c in drawn.checks]
