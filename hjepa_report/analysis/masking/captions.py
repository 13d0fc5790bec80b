"""Captions and check texts of the masking section: how to read each figure, what healthy looks like, and the
method and source it follows. Kept apart from section.py so the wording can be read (and fixed) in one place.
"""

from __future__ import annotations

from .samplers import MaskDraws
from .stats import MaskStats

IJEPA_SRC = "I-JEPA MaskCollator (facebookresearch/ijepa src/masks/multiblock.py; Assran et al. 2023)"
HJEPA_SRC = (
    "H-JEPA HierarchicalMaskGenerator as the trainer uses it (jonwiggins/H-JEPA src/masks/hierarchical.py, "
    "src/trainers/trainer.py)"
)


def _ijepa(d: MaskDraws) -> bool:
    return d.settings.get("family") == "ijepa"


def method(d: MaskDraws) -> str:
    """Which sampler and which source the numbers follow, with the RNG used."""
    src = IJEPA_SRC if _ijepa(d) else HJEPA_SRC
    return (
        f"{src}, re-implemented with numpy.random.default_rng(seed={d.seed}); it reproduces the original's "
        "distribution of masks (tested against the original code's statistics), not its exact draws"
    )


def _seed(d: MaskDraws) -> str:
    return f"Draws: {method(d)}."


def hidden_word(d: MaskDraws) -> str:
    return "dropped" if _ijepa(d) else "zeroed"


def strategy_name(d: MaskDraws) -> str:
    return "run's own (I-JEPA multi-block)" if _ijepa(d) else "run's own (H-JEPA level-0 blocks)"


def intro(d: MaskDraws) -> str:
    s = d.settings
    if _ijepa(d):
        return (
            f"Each image gets {s['npred']} target block(s) of scale {s['pred_mask_scale']} and aspect (h/w) "
            f"{s['aspect_ratio']}, and {s['nenc']} context block(s) of scale {s['enc_mask_scale']}; the context "
            "is the block minus the targets. Block sizes are drawn once per batch, positions per image, and "
            f"the collator cuts every mask of a batch (size {s['batch_size']}) to the shortest one. The context "
            "encoder only sees the context patches (the others are dropped); the predictor predicts each "
            "target block."
        )
    return (
        f"H-JEPA training hides the union of {s['num_masks']} level-0 target blocks (scale {s['mask_scale']}, "
        "aspect (w/h) narrowed to 0.85-1.15 at level 0) and shows the context encoder every other patch "
        "(hidden tokens are zeroed, not dropped). The generator also makes a context block and masks for "
        "levels 1+, which training never uses; the coarser levels pool the level-0 predictions instead."
    )


def ignored_keys(keys: list[str]) -> str:
    """The note listing the config's masking keys that H-JEPA's trainer never reads."""
    return (
        f"Masking keys in the config that H-JEPA's trainer ignores: {', '.join(keys)}. scripts/train.py passes "
        "only masking.num_masks (default 4), masking.mask_scale (default [0.05, 0.15]) and masking.aspect_ratio "
        "(default [0.75, 1.5]) to HierarchicalMaskGenerator, so the masks here follow those and not these keys."
    )


def settings_table(d: MaskDraws) -> str:
    return (
        "Arguments of the sampler as read from the run's config (source, patch-size source and batch-size "
        f"source are listed), the seed and the number of draws behind the statistics. {_seed(d)}"
        + ("" if _ijepa(d) else " ignored_keys: masking keys of the config the trainer does not read.")
    )


def instance(d: MaskDraws, synthetic: bool) -> str:
    on = "a SYNTHETIC image (the run has no sample images)" if synthetic else "the run's first sample image"
    ctx = (
        "the context block (dashed blue outline) minus the target blocks"
        if _ijepa(d)
        else "every patch outside the target union"
    )
    return (
        f"Draw 1 of {d.n} on {on}. Blue: context, i.e. {ctx}; each target block has its own colour and "
        "outline. Unshaded patches are neither context nor target. Healthy: several target blocks spread "
        f"over the image and a context that still covers much of it. {_seed(d)}"
    )


def views(d: MaskDraws) -> str:
    how = (
        "I-JEPA drops those tokens: the context encoder receives only the context patches that survive the "
        f"batch collation (batch size {d.settings.get('batch_size')}; the collator keeps the first indices "
        "of each context up to the batch's shortest one, so it can be smaller than the blue region)"
        if _ijepa(d)
        else "H-JEPA zeroes those patch tokens after the position embedding and keeps them in the sequence"
    )
    return (
        f"Left: the image; middle: the mask on the {d.grid[0]}x{d.grid[1]} patch grid (blue context, one "
        f"colour per target block); right: what the context encoder sees, grey where {how}. "
        "Healthy: enough visible image around every target to predict it from."
    )


def regions(d: MaskDraws) -> str:
    return (
        "Left: the context alone (blue"
        + ("; dashed: the context block before the targets are cut out of it" if _ijepa(d) else "")
        + "). Right: each target block alone with its height x width in patches. Target blocks of one draw "
        + (
            "share one size (drawn once per batch)."
            if _ijepa(d)
            else "are drawn independently; fallback blocks (grid // 2 squares at level 0) may overlap others."
        )
    )


def strategies(d: MaskDraws) -> str:
    return (
        "The same image under the run's masking (draw 1), random patch masking with the same number of "
        "hidden patches (MAE-style, He et al. 2022), and one central block of about the same area. Block "
        "masking hides whole regions, so the predictor must infer semantics rather than interpolate "
        f"neighbours (Assran et al. 2023, Sec. 3). Random baseline seeded from the report seed {d.seed}."
    )


def draw_grid(d: MaskDraws, k: int, several_images: bool) -> str:
    on = "each on the next of the run's images" if several_images else "on the same image"
    return (
        f"Draws 1-{k}, {on}. Healthy: the blocks move around the whole image from draw to draw and their "
        "sizes stay within the configured range. " + _seed(d)
    )


def statistics(d: MaskDraws, raw: MaskStats, after: MaskStats | None) -> str:
    text = (
        f"Over {d.n} draws. Top: fraction of draws in which each patch is a target (left) and context "
        "(middle); red x = never. Bottom: context size, target block size, target-union coverage and the "
        "target blocks' aspect ratio (height / width); dashed line = mean. Healthy: smooth heatmaps "
        "without never-sampled patches, and a context large enough to predict from. "
    )
    if after is not None and d.settings["batch_size"] > 1:
        text += (
            f"Right heatmap and orange bars: the context after the collator cuts each mask of a batch of "
            f"{d.settings['batch_size']} to the shortest one, keeping the first indices in row-major order; "
            "the lower rows lose context (known upstream: facebookresearch/ijepa issue #60). "
        )
    if raw.never_target or raw.never_context:
        text += f"{raw.never_target} patches were never a target and {raw.never_context} never context" + (
            " (I-JEPA draws block corners with an exclusive bound, so the last row and column are never "
            "covered; ijepa PR #40)."
            if _ijepa(d)
            else "."
        )
    return text + " " + _seed(d)


def hierarchy(d: MaskDraws, pooling: dict | None) -> str:
    levels = len(d.levels)
    split = ""
    if pooling:
        coarse = {k: v for k, v in pooling.items() if v["pool_size"] > 1}
        parts = [
            f"level {k[-1]}: {100 * v['fraction_of_tokens_spatially_split']['mean']:.0f}% split, "
            f"{v['leftover_patches_in_no_valid_token_per_sample']['mean']:.1f} hidden patches per image in no "
            f"valid token, {100 * v['fraction_of_samples_with_a_valid_token_mixing_padding']:.0f}% of images "
            "with a valid token that averages real patches with padding"
            for k, v in coarse.items()
        ]
        split = f" Over all {d.n} draws (batches of {d.settings['batch_size']}): " + "; ".join(parts) + "."
    return (
        f"Top: for draw 1, the hidden patches each of the {levels} levels averages together. H-JEPA pools "
        "2^level CONSECUTIVE entries of the index-sorted hidden list (a 1-D AvgPool1d over the list, "
        "src/models/hjepa.py), not 2-D neighbourhoods: each line joins the patches of one pooled token. "
        "A token is 'split' when its patches are not neighbours in one row (they jump a gap or wrap to the "
        "next row). x marks the last k mod 2^level hidden patches: the model pads every image's list to the "
        "batch's largest hidden count with copies of patch 0 and pools the padded list, so these patches "
        "share a token with padding (kept in the loss only when they are more than half of it) or fall "
        "outside every valid token. Healthy: few split tokens and few leftovers."
        + split
        + " Bottom: the generator's own level-l target masks for the same draw, which the trainer computes but "
        "never uses."
    )


def process(d: MaskDraws) -> str:
    steps = (
        "the image, the context block, each target block cut out of it in turn, the cut the batch collation "
        "makes (when it shortens this context), then the predictor's view"
        if _ijepa(d)
        else "the image, each target block in turn, the context (all the rest), then the predictor's view"
    )
    return (
        f"Animation of draw 1: {steps}: context patches visible in their own colours, target blocks as "
        "outlined white holes the predictor must fill, other patches grey. Loops forever."
    )


def draws_animation(d: MaskDraws, k: int) -> str:
    before = " before batch collation" if _ijepa(d) else ""
    return (
        f"Draws 1-{k} in turn on the same image (blue context{before}, coloured targets). Healthy: the blocks "
        f"wander over the whole image. {_seed(d)}"
    )


def never_sampled(d: MaskDraws, never_t: int, never_c: int) -> str:
    text = f"{never_t} patches never a target and {never_c} never context in {d.n} draws"
    if _ijepa(d):
        return text + (
            "; the collator draws block corners with torch.randint(0, H - h), whose upper bound is "
            "exclusive, so the last row and column are never covered (ijepa PR #40): the model never "
            "learns to predict or use them"
        )
    return text


def collation_check(d: MaskDraws, collation: dict, warn_above: float) -> str:
    lost = collation["fraction_of_context_removed"]["mean"]
    return (
        f"the collator cuts each context to the batch's shortest one (batch {d.settings['batch_size']}): "
        f"on average {100 * lost:.0f}% of a context is dropped, always from the bottom rows (row-major "
        f"order; ijepa issue #60); warn above {100 * warn_above:.0f}%"
    )


def fallback_check(d: MaskDraws, share: float, warn_above: float) -> str:
    return (
        f"{100 * share:.0f}% of level-0 target blocks came from the generator's fallback (a fixed "
        f"{d.grid[0] // 2}x{d.grid[1] // 2} block after 10 failed attempts, not checked for overlap), so the "
        f"hidden area is larger and squarer than the configured scale suggests; warn above {100 * warn_above:.0f}%"
    )


def summary(raw: MaskStats, d: MaskDraws) -> str:
    n = raw.n_patches
    return (
        f"{d.n} draws on a {d.grid[0]}x{d.grid[1]} grid: context {raw.context_sizes.mean() / n:.0%} and "
        f"targets {raw.union_sizes.mean() / n:.0%} of the patches on average (seed {d.seed})."
    )


def log_check(tag: str, cmp: dict, limit: float) -> str:
    logged, sampled = cmp["logged"], cmp["sampled_per_batch"]
    z = "inf" if cmp["z"] is None else f"{cmp['z']:+.1f}"
    verdict = (
        "consistent with the run's config"
        if cmp["z"] is not None and abs(cmp["z"]) <= limit
        else "NOT consistent: the config may not be the one trained with, or the patch/batch size differs"
    )
    return (
        f"the run logged '{tag}' ({cmp['meaning']}): mean {logged['mean']:.4g} over {logged['n']} batches; "
        f"our sampler gives {sampled['mean']:.4g} (sd {sampled['std']:.3g} over {sampled['n']} batches); "
        f"z = {z}, {verdict} (two-sample z of the means, warn above |z| = {limit:g})"
    )
