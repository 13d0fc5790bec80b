"""Notebook entry point for the run's own masking: `hjepa_report.masking.sample_masks(config, n, seed)`.

The samplers, statistics and figure functions live in hjepa_report.analysis.masking; this module re-exports
the public ones under the short name the README uses.
"""

from .analysis.masking import MaskDraws, sample_masks  # noqa: F401
from .analysis.masking.figures import (  # noqa: F401
    plot_draw_grid,
    plot_hierarchy_levels,
    plot_masking_instance,
    plot_original_mask_masked,
    plot_region_overlays,
    plot_spatial_statistics,
    plot_strategy_comparison,
)
from .analysis.masking.stats import mask_stats  # noqa: F401
