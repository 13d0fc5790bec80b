"""Issue 14 item 4: H-JEPA masking reads exactly the keys H-JEPA's trainer reads, with the trainer's defaults.

Known answers are read off jonwiggins/H-JEPA @ eb995a0 scripts/train.py, where the mask generator is built as
    HierarchicalMaskGenerator(..., num_target_masks=config["masking"].get("num_masks", 4),
        base_scale=tuple(config["masking"].get("mask_scale", [0.05, 0.15])),
        aspect_ratio_range=tuple(config["masking"].get("aspect_ratio", [0.75, 1.5])))
and no other masking key is read (print_training_summary, the only other reader, is commented out in main).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from hjepa_report.analysis.context import ReportContext
from hjepa_report.analysis.masking import mask_settings, sample_masks
from hjepa_report.analysis.masking.section import MaskingPass
from hjepa_report.collect import collect_run
from hjepa_report.settings import ReportSettings

FIX = Path(__file__).parent / "fixtures"
BASE = {"data": {"image_size": 224}, "model": {"num_hierarchies": 3, "encoder_type": "vit_base_patch16_224"}}
# The masking section of H-JEPA's configs/lewm_tier1.yaml (@ eb995a0), as data: num_target_masks, not num_masks
LEWM_TIER1_MASKING = {
    "num_target_masks": 4,
    "mask_scale": [0.15, 0.4],
    "aspect_ratio": [0.5, 2.0],
    "num_context_masks": 2,
}
# configs/m1_max_optimal_20epoch.yaml: none of the three keys the trainer reads
M1_OPTIMAL_MASKING = {
    "num_target_masks": 4,
    "target_mask_scale": [0.15, 0.4],
    "target_aspect_ratio": [0.5, 2.0],
    "num_context_masks": 2,
    "context_mask_scale": [0.7, 1.0],
    "hierarchical_masking": True,
    "mask_at_levels": [1, 2, 3],
    "mask_overlap_threshold": 0.1,
}


def _config(masking: dict) -> dict:
    return {**BASE, "masking": masking}


def test_absent_mask_scale_is_the_trainers_default_and_says_so():
    s = mask_settings(_config({"num_masks": 4, "aspect_ratio": [0.75, 1.5]}))
    assert s.mask_scale == (0.05, 0.15)  # not (0.15, 0.2): train.py's own default
    assert "H-JEPA default" in s.source and "mask_scale [0.05, 0.15]" in s.source
    assert "run config (masking section) for num_masks, aspect_ratio" in s.source


def test_keys_the_trainer_ignores_are_listed_and_their_values_not_used():
    s = mask_settings(_config(M1_OPTIMAL_MASKING))
    assert (s.num_masks, s.mask_scale, s.aspect_ratio) == (4, (0.05, 0.15), (0.75, 1.5))
    assert s.ignored_keys == tuple(M1_OPTIMAL_MASKING)
    assert s.source.startswith("H-JEPA default") and "run config" not in s.source
    tier1 = mask_settings(_config({**LEWM_TIER1_MASKING, "num_target_masks": 2}))
    assert tier1.num_masks == 4  # num_target_masks is not read: num_masks' default 4 is used
    assert tier1.mask_scale == (0.15, 0.4) and tier1.aspect_ratio == (0.5, 2.0)
    assert tier1.ignored_keys == ("num_target_masks", "num_context_masks")
    assert "H-JEPA default (scripts/train.py) for num_masks 4" in tier1.source


def test_a_config_without_mask_scale_draws_the_masks_of_the_default_scale():
    implicit = sample_masks(_config({"num_masks": 4}), 200, seed=3)
    explicit = sample_masks(_config({"num_masks": 4, "mask_scale": [0.05, 0.15], "aspect_ratio": [0.75, 1.5]}), 200, 3)
    assert np.array_equal(implicit.targets, explicit.targets)
    assert np.array_equal(implicit.target_shapes, explicit.target_shapes)


def test_fixture_and_sample_run_configs_keep_their_settings():
    for path in (
        FIX / "hjepa_small" / "config.yaml",
        Path(__file__).parents[1] / "sample_runs/hjepa_shapes64/config.yaml",
    ):
        s = mask_settings(yaml.safe_load(path.read_text()))
        assert (s.num_masks, s.mask_scale, s.aspect_ratio) == (4, (0.15, 0.2), (0.75, 1.5))
        assert s.source == "run config (masking section)"
        assert s.ignored_keys == ("num_context_masks", "context_scale")


def test_masking_section_lists_the_ignored_keys():
    result = MaskingPass().compute(ReportContext(collect_run(FIX / "hjepa_small"), ReportSettings(seed=4)))
    assert result.metrics["settings"]["ignored_keys"] == ["num_context_masks", "context_scale"]
    note = next(n for n in result.notes if "ignores" in n)
    assert "num_context_masks, context_scale" in note and "mask_scale (default [0.05, 0.15])" in note
