"""Mask samplers against the statistics of the original code (tests/fixtures/masks_*.json) and the fixture runs.

Tolerances are sampling errors, never fudge factors:
- independent draws (I-JEPA batch size 1, H-JEPA): |mine - ref| <= K * sqrt(sd_ref^2 / n_ref + sd^2 / n) for
  means, the binomial equivalent per heatmap cell, and the asymptotic quantile error sqrt(p(1-p)/n) / f(q)
  (f from a normal approximation) for percentiles;
- I-JEPA batch size 128, whose 2000 samples share only 16 block-size draws: a parametric bootstrap, i.e. R
  replicates of our sampler give the spread of each statistic, and the reference must lie within K spreads.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import yaml

from hjepa_report.analysis.masking import draw_stats, mask_settings, sample_masks
from hjepa_report.analysis.masking.samplers import block_masks, ijepa_batch, ijepa_block_size, keep_first
from hjepa_report.analysis.masking.stats import hjepa_extras

FIX = Path(__file__).parent / "fixtures"
K = 4.5  # standard errors: a false alarm per statistic has probability < 1e-5
N = 2000
HJEPA_DEFAULT = {
    "masking": {"num_masks": 4, "mask_scale": [0.15, 0.2], "aspect_ratio": [0.75, 1.5]},
    "data": {"image_size": 224},
    "model": {"num_hierarchies": 3, "encoder_type": "vit_base_patch16_224"},
}


@pytest.fixture(scope="module")
def ijepa_ref():
    return json.loads((FIX / "masks_ijepa_paper.json").read_text())


@pytest.fixture(scope="module")
def hjepa_ref():
    return json.loads((FIX / "masks_hjepa_default.json").read_text())


@pytest.fixture(scope="module")
def paper_bs1():
    return draw_stats(sample_masks(None, N, seed=11, batch_size=1))


@pytest.fixture(scope="module")
def hjepa_draws():
    return sample_masks(HJEPA_DEFAULT, N, seed=5)


def mean_ok(mine: dict, ref: dict, n_eff_mine: float, n_eff_ref: float) -> bool:
    """Means agree within K standard errors of their difference."""
    se = math.sqrt(ref["std"] ** 2 / n_eff_ref + mine["std"] ** 2 / n_eff_mine)
    return abs(mine["mean"] - ref["mean"]) <= K * se + 1e-9


def quantile_ok(mine: dict, ref: dict, n: int) -> bool:
    """p5/p50/p95 agree within K asymptotic quantile errors (+1 for integer counts)."""
    for key, p in (("p5", 0.05), ("p50", 0.5), ("p95", 0.95)):
        density = math.exp(-0.5 * _z(p) ** 2) / math.sqrt(2 * math.pi) / max(ref["std"], 1e-9)
        se = math.sqrt(p * (1 - p) / n) / density * math.sqrt(2)
        if abs(mine[key] - ref[key]) > K * se + 1:
            return False
    return True


def _z(p: float) -> float:
    return {0.05: -1.645, 0.5: 0.0, 0.95: 1.645}[p]


def heatmap_max_z(mine, ref, n_mine: int, n_ref: int) -> float:
    """Largest per-cell difference in binomial standard errors (pooled p, floor of one count)."""
    mine, ref = np.asarray(mine), np.asarray(ref)
    p = np.clip((mine * n_mine + ref * n_ref) / (n_mine + n_ref), 1 / (n_mine + n_ref), 1)
    se = np.sqrt(p * (1 - p) * (1 / n_mine + 1 / n_ref)) + 1e-12
    return float((np.abs(mine - ref) / se).max())


# ------------------------------------------------------------------------------------ contracts
def test_shapes_dtypes_and_settings():
    d = sample_masks(None, 10, seed=0, batch_size=4)
    assert d.targets.shape == (10, 4, 196) and d.targets.dtype == bool
    assert d.contexts.shape == (10, 1, 196) and d.context.shape == (10, 196) and d.context.dtype == bool
    assert d.target_shapes.shape == (10, 4, 2) and d.context_shapes.shape == (10, 1, 2)
    assert d.collated_contexts.shape == d.contexts.shape and d.batch_index.tolist() == [0] * 4 + [1] * 4 + [2] * 2
    assert d.seed == 0 and d.settings["grid"] == [14, 14] and "paper default" in d.settings["source"]
    assert not (d.context & d.hidden).any()  # allow_overlap False: context = block minus targets
    h = sample_masks(HJEPA_DEFAULT, 6, seed=0)
    assert h.targets.shape == (6, 4, 196) and h.context.shape == (6, 196)
    assert (h.context == ~h.hidden).all()  # training: the context encoder sees everything not hidden
    assert len(h.levels) == 3 and h.levels[2].targets.shape == (6, 4, 196) and h.fallback.shape == (6, 4)
    assert h.settings["patch_size"] == 16 and "encoder name" in h.settings["patch_source"]


def test_same_seed_same_masks_other_seed_other_masks():
    for cfg in (None, HJEPA_DEFAULT):
        a, b, c = (sample_masks(cfg, 64, seed=s) for s in (3, 3, 4))
        assert (a.targets == b.targets).all() and (a.contexts == b.contexts).all()
        assert (a.targets != c.targets).any()


def test_patch_size_rules_for_hjepa_configs():
    cfg = yaml.safe_load((FIX / "hjepa_small" / "config.yaml").read_text())
    assert mask_settings(cfg).grid == (8, 8)  # vit_pico_patch8_64 -> 8
    s = mask_settings(cfg, patch_size=16)
    assert s.grid == (4, 4) and s.patch_source == "model (checkpoint)"
    del cfg["model"]["encoder_type"]
    assert mask_settings(cfg).patch_size == 16 and "default 16" in mask_settings(cfg).patch_source


# ------------------------------------------------------------------------------------ I-JEPA paper setting
def test_block_size_formula_gives_the_sizes_the_collator_gave(ijepa_ref):
    sizes = {ijepa_block_size(u, (14, 14), (0.15, 0.2), (0.75, 1.5)) for u in np.linspace(0, 1, 20001)}
    seen = {tuple(hw) for run in ijepa_ref["runs"].values() for hw in run["distinct_target_block_hw"]}
    assert sizes == seen == {(5, 6), (6, 5), (6, 6), (7, 5), (8, 5)}
    assert {ijepa_block_size(u, (14, 14), (0.85, 1.0), (1, 1)) for u in np.linspace(0, 1, 1001)} == {(13, 13)}


@pytest.mark.parametrize("kind", ["raw_per_sample_before_truncation", "after_collation"])
def test_ijepa_batch1_statistics_match_reference(paper_bs1, ijepa_ref, kind):
    ref = ijepa_ref["runs"]["batch_size_1"][kind]
    mine = paper_bs1["raw" if kind.startswith("raw") else "after_collation"].to_metrics()
    for key in (
        "context_patches_per_sample",
        "patches_per_target_block",
        "target_union_patches_per_sample",
        "target_union_fraction_of_grid",
        "context_fraction_of_grid",
    ):
        # block sizes are drawn once per batch: with batch 1 there are N independent size draws
        assert mean_ok(mine[key], ref[key], N, N), (key, mine[key], ref[key])
        assert quantile_ok(mine[key], ref[key], N), (key, mine[key], ref[key])
    for key in ("target_heatmap", "context_heatmap"):
        assert heatmap_max_z(mine[key], ref[key], N, N) <= K, key
    assert mine["never_target_patches"] == ref["never_target_patches"] == 27
    assert mine["never_context_patches"] == ref["never_context_patches"] == 27
    assert mine["context_target_overlap_patches"] == 0


def test_ijepa_last_row_and_column_are_never_sampled(paper_bs1):
    for heat in (paper_bs1["raw"].target_frequency, paper_bs1["raw"].context_frequency):
        assert (heat[13] == 0).all() and (heat[:, 13] == 0).all() and (heat[:13, :13] > 0).all()


def _bootstrap(reps: int = 16):
    """Statistics of `reps` replicates of the batch-128 experiment (2000 samples = 15 x 128 + 80)."""
    return [
        {k: v.to_metrics() for k, v in draw_stats(sample_masks(None, N, seed=100 + r, batch_size=128)).items()}
        for r in range(reps)
    ]


def test_ijepa_batch128_statistics_match_reference_within_bootstrap_spread(ijepa_ref):
    reps = _bootstrap()
    for kind, ours in (("raw_per_sample_before_truncation", "raw"), ("after_collation", "after_collation")):
        ref = ijepa_ref["runs"]["batch_size_128"][kind]
        for key in ("context_patches_per_sample", "patches_per_target_block", "target_union_patches_per_sample"):
            for stat in ("mean", "p5", "p50", "p95"):
                values = np.array([r[ours][key][stat] for r in reps])
                spread = values.std(ddof=1) * math.sqrt(1 + 1 / len(values))
                assert abs(ref[key][stat] - values.mean()) <= K * spread + 1, (kind, key, stat, values, ref[key])
        assert all(r[ours]["never_target_patches"] == 27 for r in reps)


def test_ijepa_batch128_positions_and_collation_given_the_reference_block_sizes(ijepa_ref):
    """With the reference's own per-batch block sizes, the heatmaps are binomial and comparable cell by cell."""
    run = ijepa_ref["runs"]["batch_size_128"]
    s = mask_settings(None)
    rng = np.random.default_rng(7)
    parts = [
        ijepa_batch(rng, b["B"], b["target_block_hw"], b["context_block_hw"], s) for b in run["per_batch_block_sizes"]
    ]
    targets = np.concatenate([p["targets"] for p in parts]).any(axis=1)
    raw = np.concatenate([p["contexts"][:, 0] for p in parts])
    ref = run["raw_per_sample_before_truncation"]
    assert heatmap_max_z(targets.mean(0).reshape(14, 14), ref["target_heatmap"], N, N) <= K
    assert heatmap_max_z(raw.mean(0).reshape(14, 14), ref["context_heatmap"], N, N) <= K
    # the collated context length of a batch is the minimum over 128 contexts: compare distributions
    lengths = np.array([p["collated_contexts"][0, 0].sum() for p in parts])
    ref_lengths = np.array([b["collated_context_len"] for b in run["per_batch_block_sizes"]])
    sim = [ijepa_batch(rng, 128, (6, 5), (13, 13), s)["collated_contexts"][0, 0].sum() for _ in range(40)]
    spread = np.std(sim, ddof=1) * math.sqrt(1 / 16 + 1 / 16)
    assert abs(lengths.mean() - ref_lengths.mean()) <= K * spread, (lengths, ref_lengths)
    assert all(p["collated_targets"].sum(-1).min() == p["targets"].sum(-1).min() for p in parts)


def test_collation_keeps_the_first_indices_in_row_major_order():
    masks = np.array([[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 0]], bool)
    assert keep_first(masks, 2).astype(int).tolist() == [[1, 0, 1, 0, 0, 0], [0, 1, 1, 0, 0, 0]]


# ------------------------------------------------------------------------------------ I-JEPA fixture run
def test_ijepa_small_fixture_setting():
    cfg = yaml.safe_load((FIX / "ijepa_small" / "params-ijepa.yaml").read_text())
    d = sample_masks(cfg, 800, seed=1)
    assert d.grid == (8, 8) and d.settings["min_keep"] == 4 and d.settings["batch_size"] == 16
    # PROVENANCE.md: the context block is always 7x7 at the top-left (randint(0, 8 - 7) is always 0) ...
    assert (d.context_blocks[:, 0] == block_masks((8, 8), 0, 0, 7, 7)).all()
    # ... target blocks are 3x3 or 4x3 (h x w), and row 7 / column 7 are never in any block
    assert {tuple(hw) for hw in d.target_shapes.reshape(-1, 2)} == {(3, 3), (4, 3)}
    union = (d.targets.any(1) | d.context_blocks[:, 0]).reshape(-1, 8, 8)
    assert not union[:, 7, :].any() and not union[:, :, 7].any()
    # jepa_r0.csv mask-A (collated context length per batch) lies in the range our batches of 16 produce
    rows = (FIX / "ijepa_small" / "jepa_r0.csv").read_text().splitlines()[1:]
    mask_a = [float(r.split(",")[3]) for r in rows]
    ours = [d.collated_contexts[d.batch_index == b, 0].sum(-1).min() for b in np.unique(d.batch_index)]
    assert min(ours) <= min(mask_a) and max(mask_a) <= max(ours) + 1, (sorted(set(ours)), sorted(set(mask_a)))


def test_ijepa_small_reference_masks_follow_the_same_rules():
    """The collator's masks in reference.npz: context = first 12 indices of (7x7 block minus the targets)."""
    ref = np.load(FIX / "ijepa_small" / "reference" / "reference.npz")
    enc, pred = ref["masks_enc"][0], ref["masks_pred"]
    for b in range(enc.shape[0]):
        hidden = np.zeros(64, bool)
        hidden[pred[:, b].ravel()] = True
        context = block_masks((8, 8), 0, 0, 7, 7) & ~hidden
        expected = np.flatnonzero(keep_first(context, enc.shape[1]))
        assert expected.tolist() == enc[b].tolist()


# ------------------------------------------------------------------------------------ H-JEPA
def test_hjepa_training_mask_matches_reference(hjepa_draws, hjepa_ref):
    ref = hjepa_ref["hierarchical"]["what_training_feeds_the_model"]
    mine = draw_stats(hjepa_draws)["raw"].to_metrics()
    for key_mine, key_ref in (
        ("target_union_patches_per_sample", "hidden_patches_per_sample"),
        ("context_patches_per_sample", "visible_patches_per_sample"),
        ("context_fraction_of_grid", "visible_fraction_of_grid"),
    ):
        assert mean_ok(mine[key_mine], ref[key_ref], N, N), key_mine
        assert quantile_ok(mine[key_mine], ref[key_ref], N), key_mine
    assert heatmap_max_z(mine["target_heatmap"], ref["hidden_heatmap"], N, N) <= K
    assert heatmap_max_z(mine["context_heatmap"], ref["visible_heatmap"], N, N) <= K
    assert mine["never_target_patches"] == ref["never_hidden_patches"] == 0


def test_hjepa_levels_and_fallbacks_match_reference(hjepa_draws, hjepa_ref):
    extras = hjepa_extras(hjepa_draws)
    for name, ref in hjepa_ref["hierarchical"]["levels"].items():
        mine = extras["levels"][name]
        assert mine["target_scale"] == pytest.approx(ref["level_config"]["target_scale"])
        assert mine["context_scale"] == pytest.approx(ref["level_config"]["context_scale"])
        for key in ("context_patches_per_sample", "patches_per_target_block", "target_union_patches_per_sample"):
            assert mean_ok(mine[key], ref[key], N, N), (name, key, mine[key]["mean"], ref[key]["mean"])
        for slot, count in enumerate(ref["target_block_fallbacks"]["per_target_slot"]):
            p = max(count / N, 1 / N)  # binomial count per slot
            tol = K * math.sqrt(N * p * (1 - p) * 2) + 1
            assert abs(mine["fallback_per_target_slot"][slot] - count) <= tol, (name, slot)
        assert mine["never_target_patches"] == ref["never_target_patches"]
        shapes = Counter(f"{h}x{w}" for h, w in hjepa_draws.levels[int(name[-1])].target_shapes.reshape(-1, 2))
        for hw, count in ref["target_block_hw_counts"].items():
            if count >= 100:  # block-shape counts out of 8000 blocks, Poisson error of the difference
                assert abs(shapes[hw] - count) <= K * math.sqrt(2 * count) + 1, (name, hw, shapes[hw], count)
    padding = extras["predictor_padding"]["padding_fraction"]
    fed = hjepa_ref["hierarchical"]["what_training_feeds_the_model"]
    ref_pad = fed["per_batch_padding_fraction_of_predicted_tokens"]
    assert mean_ok(padding, ref_pad, padding["n"], ref_pad["n"])


def test_hjepa_small_reference_blocks_are_sizes_our_sampler_makes():
    cfg = yaml.safe_load((FIX / "hjepa_small" / "config.yaml").read_text())
    d = sample_masks(cfg, 1500, seed=2)
    ref = np.load(FIX / "hjepa_small" / "reference" / "reference.npz")
    assert (ref["context_mask"] == ref["gen_level0_targets"].any(1)).all()
    for lv in d.levels:
        ours = {tuple(hw) for hw in lv.target_shapes.reshape(-1, 2)}
        for block in ref[f"gen_level{lv.level}_targets"].reshape(-1, 8, 8):
            rows, cols = np.flatnonzero(block.any(1)), np.flatnonzero(block.any(0))
            assert block.sum() == len(rows) * len(cols)  # a solid rectangle
            assert (len(rows), len(cols)) in ours, (lv.level, len(rows), len(cols), ours)
