"""Statistics of mask draws: sizes, coverage, per-patch frequencies, collation and fallback effects.

The definitions follow the reference statistics of the original code (tests/fixtures/masks_ijepa_paper.json and
masks_hjepa_default.json, field 'how'): counts are numbers of patches; 'target union' is the set of patches in
any target block of a sample; a heatmap cell is the fraction of draws in which that patch is in the union (or in
the context); std is the population standard deviation; percentiles use numpy's linear interpolation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .samplers import MaskDraws


def summary(values) -> dict:
    """n, mean, std (population), min, p5, p50, p95, max of a 1-D sample, as plain floats."""
    v = np.asarray(values, dtype=float).ravel()
    if v.size == 0:
        return {"n": 0}
    p5, p50, p95 = np.percentile(v, [5, 50, 95])
    return {
        "n": int(v.size),
        "mean": float(v.mean()),
        "std": float(v.std()),
        "min": float(v.min()),
        "p5": float(p5),
        "p50": float(p50),
        "p95": float(p95),
        "max": float(v.max()),
    }


@dataclass
class MaskStats:
    """Per-draw sizes and per-patch frequencies of one set of masks (targets + context)."""

    grid: tuple[int, int]
    context_sizes: np.ndarray  # [n] patches the context encoder sees
    block_sizes: np.ndarray  # [n * n_blocks] patches per target block
    union_sizes: np.ndarray  # [n] patches in the target union (hidden)
    aspect_ratios: np.ndarray  # [n * n_blocks] height / width of each target block
    target_frequency: np.ndarray  # [H, W] fraction of draws with the patch in the target union
    context_frequency: np.ndarray  # [H, W] fraction of draws with the patch in the context
    overlap_patches: int  # patches in both a sample's context and its target union, summed over draws

    @property
    def n_patches(self) -> int:
        return self.grid[0] * self.grid[1]

    @property
    def never_target(self) -> int:
        """Patches that are in no draw's target union."""
        return int((self.target_frequency == 0).sum())

    @property
    def never_context(self) -> int:
        """Patches that are in no draw's context."""
        return int((self.context_frequency == 0).sum())

    def to_metrics(self, heatmaps: bool = True) -> dict:
        """JSON-friendly numbers, named like the reference statistics of the original code."""
        out = {
            "context_patches_per_sample": summary(self.context_sizes),
            "patches_per_target_block": summary(self.block_sizes),
            "target_union_patches_per_sample": summary(self.union_sizes),
            "target_union_fraction_of_grid": summary(self.union_sizes / self.n_patches),
            "context_fraction_of_grid": summary(self.context_sizes / self.n_patches),
            "target_aspect_ratio_h_over_w": summary(self.aspect_ratios),
            "context_target_overlap_patches": int(self.overlap_patches),
            "never_target_patches": self.never_target,
            "never_context_patches": self.never_context,
        }
        if heatmaps:
            out["target_heatmap"] = np.round(self.target_frequency, 4).tolist()
            out["context_heatmap"] = np.round(self.context_frequency, 4).tolist()
        return out


def mask_stats(
    targets: np.ndarray, context: np.ndarray, grid: tuple[int, int], shapes: np.ndarray | None = None
) -> MaskStats:
    """Statistics of targets [n, n_blocks, N] and context [n, N] (bool); shapes [n, n_blocks, 2] give h, w."""
    union = targets.any(axis=1)
    if shapes is None or not shapes.any():
        shapes = _bounding_shapes(targets, grid)
    h, w = shapes[..., 0].ravel(), shapes[..., 1].ravel()
    return MaskStats(
        grid=tuple(grid),
        context_sizes=context.sum(axis=1),
        block_sizes=targets.sum(axis=2).ravel(),
        union_sizes=union.sum(axis=1),
        aspect_ratios=h / np.maximum(w, 1),
        target_frequency=union.mean(axis=0).reshape(grid),
        context_frequency=context.mean(axis=0).reshape(grid),
        overlap_patches=int((union & context).sum()),
    )


def _bounding_shapes(targets: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """(h, w) of the bounding box of each target region (for masks that are not stored as blocks)."""
    m = targets.reshape(*targets.shape[:2], *grid)
    rows, cols = m.any(axis=3), m.any(axis=2)
    return np.stack([_extent(rows), _extent(cols)], axis=-1)


def _extent(lines: np.ndarray) -> np.ndarray:
    """Length from the first to the last True along the last axis (0 when none)."""
    idx = np.arange(lines.shape[-1])
    first = np.where(lines, idx, lines.shape[-1]).min(axis=-1)
    last = np.where(lines, idx, -1).max(axis=-1)
    return np.maximum(last - first + 1, 0)


def draw_stats(draws: MaskDraws) -> dict[str, MaskStats]:
    """'raw' statistics of the draws, plus 'after_collation' when a collator truncated them (I-JEPA)."""
    out = {"raw": mask_stats(draws.targets, draws.context, draws.grid, draws.target_shapes)}
    if draws.collated_targets is not None:
        out["after_collation"] = mask_stats(
            draws.collated_targets, draws.collated_contexts[:, 0], draws.grid, draws.target_shapes
        )
    return out


def collation_effect(draws: MaskDraws) -> dict | None:
    """How much the collator's cut to the batch minimum removed from the contexts (I-JEPA), else None.

    ijepa src/masks/multiblock.py MaskCollator.__call__: every mask of a batch is cut to the batch's shortest
    one, keeping its first indices in row-major order, so the lower rows of long contexts are dropped.
    """
    if draws.collated_contexts is None:
        return None
    before, after = draws.context.sum(axis=1), draws.collated_contexts[:, 0].sum(axis=1)
    lost = (before - after) / np.maximum(before, 1)
    return {
        "context_patches_before": summary(before),
        "context_patches_after": summary(after),
        "fraction_of_context_removed": summary(lost),
        "batch_size": int(draws.settings.get("batch_size", 0)),
    }


def hjepa_extras(draws: MaskDraws) -> dict | None:
    """H-JEPA generator facts: fallback blocks, overlapping targets, per-level stats, predictor padding."""
    if not draws.levels:
        return None
    levels = {}
    for lv in draws.levels:
        st = mask_stats(lv.targets, lv.context, draws.grid, lv.target_shapes)
        covered_twice = (lv.targets.sum(axis=1) >= 2).sum(axis=1)
        levels[f"level_{lv.level}"] = dict(
            st.to_metrics(heatmaps=False),
            target_scale=list(lv.target_scale),
            context_scale=list(lv.context_scale),
            fallback_fraction_of_target_blocks=float(lv.fallback.mean()),
            fallback_per_target_slot=lv.fallback.sum(axis=0).tolist(),
            samples_with_overlapping_target_blocks=int((covered_twice > 0).sum()),
            patches_covered_by_2plus_target_blocks=summary(covered_twice),
        )
    return {"levels": levels, "predictor_padding": predictor_padding(draws)}


def predictor_padding(draws: MaskDraws) -> dict:
    """Fraction of predicted tokens that are padding when a batch is padded to its largest hidden count.

    H-JEPA src/models/hjepa.py pads each sample's index-sorted hidden list to the batch maximum K (padding
    flagged invalid), so a batch wastes sum(K - k_i) / (B * K) of its predicted tokens.
    """
    hidden = draws.hidden.sum(axis=1)
    fractions, maxima = [], []
    for b in np.unique(draws.batch_index):
        k = hidden[draws.batch_index == b]
        maxima.append(int(k.max()))
        fractions.append(float((k.max() - k).sum() / max(k.size * k.max(), 1)))
    return {
        "batch_size": int(draws.settings.get("batch_size", 0)),
        "per_batch_max_hidden": maxima,
        "padding_fraction": summary(fractions),
    }


def level_groups(hidden: np.ndarray, grid: tuple[int, int], level: int) -> tuple[np.ndarray, np.ndarray]:
    """Patches pooled together at a hierarchy level: (groups [G, 2^level] of patch indices, dropped indices).

    H-JEPA (src/models/hjepa.py, no FPN) average-pools 2^level CONSECUTIVE entries of the index-sorted list of
    hidden patches (AvgPool1d over the list, not a 2-D pooling); the last K mod 2^level entries are dropped.
    """
    order = np.flatnonzero(np.asarray(hidden, bool))
    size = 2**level
    count = len(order) // size
    return order[: count * size].reshape(count, size), order[count * size :]


def split_groups(groups: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per group: True when its patches are not one horizontal run of neighbours in one row.

    Such a pooled token averages patches that are not next to each other in the image (a gap in the row, or
    the end of one row and the start of another).
    """
    if groups.size == 0:
        return np.zeros(len(groups), bool)
    same_row = (groups // grid[1] == groups[:, :1] // grid[1]).all(axis=1)
    contiguous = (np.diff(groups, axis=1) == 1).all(axis=1)
    return ~(same_row & contiguous)


def valid_token_counts(counts, batch_max, level: int) -> np.ndarray:
    """Valid pooled tokens per sample at a level, as the model flags them (masks_valid).

    The padded list of length K = batch_max is pooled in groups of 2^l (the last K mod 2^l entries cut); a
    group is valid when more than half of it is real. So a sample with k hidden patches has k // 2^l full
    groups, plus its partial group when that survives the cut and holds more than half real entries.
    """
    counts, batch_max = np.asarray(counts), np.asarray(batch_max)
    size = 2**level
    left = counts % size
    survives = (counts // size + 1) * size <= batch_max
    return counts // size + ((left > 0) & survives & (left / size > 0.5))


def hierarchy_pooling(draws: MaskDraws, levels: int) -> dict:
    """Over all draws, per level: pooled tokens, split tokens, and what happens to the leftover patches.

    H-JEPA pads every sample's hidden list to the batch's largest hidden count K (padding = copies of patch 0,
    flagged invalid) and pools the padded list; the validity flag is pooled too and kept where > 0.5
    (src/models/hjepa.py). A sample's last k mod 2^l patches therefore either share a token with padding
    (valid, and in the loss, when they are more than half of it) or are not in any valid token.
    """
    hidden = draws.hidden
    counts = hidden.sum(axis=1)
    batch_max = np.zeros_like(counts)
    for b in np.unique(draws.batch_index):
        batch_max[draws.batch_index == b] = counts[draws.batch_index == b].max()
    out = {}
    for level in range(levels):
        size = 2**level
        split = [
            split_groups(level_groups(h, draws.grid, level)[0], draws.grid).mean() if c >= size else 0.0
            for h, c in zip(hidden, counts, strict=True)
        ]
        left = counts % size
        mixed = valid_token_counts(counts, batch_max, level) > counts // size
        out[f"level_{level}"] = {
            "pool_size": size,
            "tokens_per_sample": summary(counts // size),
            "fraction_of_tokens_spatially_split": summary(split),
            "leftover_patches_per_sample": summary(left),
            "fraction_of_samples_with_a_valid_token_mixing_padding": float(mixed.mean()),
            "leftover_patches_in_no_valid_token_per_sample": summary(np.where(mixed, 0, left)),
        }
    return out


# What the training code logged about its own masks, per batch (tag -> meaning).
LOGGED_MASK_TAGS = {
    "mask-A": "context length after collation of a batch (I-JEPA src/train.py CSV: len(masks_enc[0][0]))",
    "mask-B": "target block length of a batch (I-JEPA src/train.py CSV: len(masks_pred[0][0]))",
    "predictions/mask_ratio": (
        "hidden fraction of the 4 images H-JEPA masks for its epoch visualisation "
        "(src/trainers/trainer.py _log_epoch_visualizations: images[:4]; "
        "src/utils/logging.py: masks.float().mean())"
    ),
}
VISUALISATION_BATCH = 4  # H-JEPA masks only the first 4 images of a batch when it logs predictions/mask_ratio


def batch_values(draws: MaskDraws) -> dict[str, np.ndarray]:
    """Per FULL batch of the draws, the value each logged tag would take (the last, shorter batch is left out).

    I-JEPA batches are the collator's (data.batch_size); H-JEPA's logged ratio covers 4 images.
    """
    size = int(draws.settings.get("batch_size", 0))
    ids = [b for b in np.unique(draws.batch_index) if (draws.batch_index == b).sum() == size]
    pick = [draws.batch_index == b for b in ids]
    if draws.collated_contexts is not None:
        return {
            "mask-A": np.array([draws.collated_contexts[m, 0].sum(-1).min() for m in pick], float),
            "mask-B": np.array([draws.collated_targets[m, 0].sum(-1).min() for m in pick], float),
        }
    hidden = draws.hidden.mean(axis=1)
    groups = len(hidden) // VISUALISATION_BATCH
    return {"predictions/mask_ratio": hidden[: groups * VISUALISATION_BATCH].reshape(groups, -1).mean(axis=1)}


def compare_with_log(sampled: dict[str, np.ndarray], logged: dict[str, np.ndarray]) -> dict:
    """Do the run's logged per-batch mask numbers come from the same distribution as our sampler's?

    Two-sample z of the means, z = (mean_logged - mean_sampled) / (sd_sampled * sqrt(1/n_logged + 1/n_sampled)),
    the sampler's spread standing in for both under the hypothesis that they are the same masking.
    """
    out = {}
    for tag in sorted(set(sampled) & set(logged)):
        s, v = np.asarray(sampled[tag], float), np.asarray(logged[tag], float)
        v = v[np.isfinite(v)]
        if len(s) < 2 or len(v) == 0:
            continue
        se = s.std(ddof=1) * np.sqrt(1 / len(v) + 1 / len(s))
        diff = float(v.mean() - s.mean())
        z = diff / se if se > 0 else (0.0 if abs(diff) < 1e-9 else float("inf"))
        out[tag] = {
            "meaning": LOGGED_MASK_TAGS[tag],
            "logged": summary(v),
            "sampled_per_batch": summary(s),
            "z": None if not np.isfinite(z) else round(float(z), 3),
        }
    return out
