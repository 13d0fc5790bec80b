"""The attention section: maps, heads, rollout, depth comparison, patch-to-patch attention.

`rollout` and `metrics` are pure numpy functions on attention arrays [B, H, T, T]; `figures` draws them
(matplotlib Figures for notebooks and the report); `section` is the analysis pass: its compute returns a
`result.AttentionResult`, which `present` draws.
"""

from .metrics import (
    attention_entropy,
    centre_patch,
    choose_query_patches,
    cls_attention_maps,
    foreground_mass,
    mean_attention_distance,
    mean_received_attention,
    most_attended_patch,
    patch_distances,
    query_patch_attention,
    target_block_patch,
    threshold_top_mass,
)
from .rollout import (
    attention_rollout,
    describe_rollout,
    discard_lowest,
    fuse_heads,
    residual_normalise,
    rollout_cls_map,
    rollout_mean_query_map,
    rollout_patch_map,
)

__all__ = [
    "attention_entropy",
    "attention_rollout",
    "centre_patch",
    "choose_query_patches",
    "cls_attention_maps",
    "describe_rollout",
    "discard_lowest",
    "foreground_mass",
    "fuse_heads",
    "mean_attention_distance",
    "mean_received_attention",
    "most_attended_patch",
    "patch_distances",
    "query_patch_attention",
    "residual_normalise",
    "rollout_cls_map",
    "rollout_mean_query_map",
    "rollout_patch_map",
    "target_block_patch",
    "threshold_top_mass",
]
