"""Masking section: the run's own masks (I-JEPA multi-block collator or H-JEPA hierarchical generator),
their statistics, figures and animations. `sample_masks(config, n, seed)` is the notebook entry point."""

from .config import HJepaMaskSettings, IJepaMaskSettings, mask_settings
from .samplers import (
    LevelDraws,
    MaskDraws,
    central_block_masks,
    random_patch_masks,
    sample_hjepa,
    sample_ijepa,
    sample_masks,
)
from .stats import MaskStats, draw_stats, mask_stats

__all__ = [
    "HJepaMaskSettings",
    "IJepaMaskSettings",
    "LevelDraws",
    "MaskDraws",
    "MaskStats",
    "central_block_masks",
    "draw_stats",
    "mask_settings",
    "mask_stats",
    "random_patch_masks",
    "sample_hjepa",
    "sample_ijepa",
    "sample_masks",
]
