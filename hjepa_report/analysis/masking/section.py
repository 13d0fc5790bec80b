"""The masking section: the run's own masking (from its config), drawn on its own images, with statistics over
many draws, the hierarchy's token pooling (H-JEPA), two animations, metrics and health checks.

Sources of the semantics: I-JEPA's MaskCollator (facebookresearch/ijepa src/masks/multiblock.py, Assran et al.
2023) and H-JEPA's HierarchicalMaskGenerator as its trainer uses it (jonwiggins/H-JEPA src/masks/hierarchical.py,
src/trainers/trainer.py). See samplers.py for the rules and tests/test_masking_samplers.py for the checks
against the statistics of the original code. compute draws the masks and makes the statistics, metrics and
checks; present draws the figures and animations from the result alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from . import captions, figures, gifs
from .config import mask_settings
from .images import run_images, synthetic_image
from .samplers import MaskDraws, central_block_masks, random_patch_masks, sample_masks
from .stats import (
    LOGGED_MASK_TAGS,
    MaskStats,
    batch_values,
    collation_effect,
    compare_with_log,
    draw_stats,
    hierarchy_pooling,
    hjepa_extras,
)

N_DRAWS = 1000  # draws behind every statistic
N_GRID = 9  # draws shown side by side
N_GIF = 8  # draws in the "successive draws" animation
MIN_BATCHES = 64  # full batches behind the per-batch comparison with the training log


@dataclass
class MaskingResult(PassResult):
    """Everything the section shows, computed without matplotlib: the draws, their statistics, the images they
    are drawn on, the baselines, the comparison with the training log, and the one-line summary."""

    draws: MaskDraws
    stats: dict[str, MaskStats]
    collation: dict | None
    hjepa: dict | None
    pooling: dict | None
    images: list[np.ndarray]
    synthetic: bool
    baselines: list[tuple[str, MaskDraws]]
    log_comparison: dict


class MaskingPass(AnalysisPass[MaskingResult]):
    """Masking: what the context encoder sees and what the predictor must predict, as the run sampled it."""

    name = "masking"
    title = "Masking"

    def applies(self, ctx: ReportContext) -> str | None:
        run = ctx.run
        if run.layout == "stable-pretraining" and not (run.config or {}).get("mask"):
            return (
                "The run's config (hparams.yaml) names no masking, so the masks it trained with, if any, are "
                "unknown (LeJEPA uses none: it compares augmented views); drawing I-JEPA's defaults would show "
                "masks this run never saw."
            )
        return None

    def compute(self, ctx: ReportContext) -> MaskingResult:
        if ctx.run.layout in ("vjepa", "vjepa2"):  # 3-D multi-block masks over frames: masking/video.py
            from .video import video_masking

            return video_masking(ctx)
        run, seed = ctx.run, int(ctx.settings.seed)
        layout = run.layout if run.layout in ("hjepa", "ijepa") else None
        family = mask_settings(run.config, layout=layout).family
        model = ctx.session.known_info()
        notes = []
        patch = model.get("patch_size") if family == "hjepa" else None
        ctx.progress(f"masking: {N_DRAWS} draws")
        draws = sample_masks(run.config, N_DRAWS, seed, layout=layout, patch_size=patch)
        s = draws.settings
        notes.append(
            f"Masking settings: {s['source']}; patch size {s['patch_size']} from {s['patch_source']}; "
            f"grid {s['grid'][0]}x{s['grid'][1]}; batch size {s['batch_size']} ({s['batch_source']})."
        )
        if s.get("ignored_keys"):
            notes.append(captions.ignored_keys(s["ignored_keys"]))
        images, failed = run_images([r.path for r in run.images], s["image_size"])
        if failed:
            notes.append(f"Could not read {len(failed)} image(s): {', '.join(failed[:3])}.")
        synthetic = not images
        if synthetic:
            images = [synthetic_image(s["image_size"], draws.grid)]
            notes.append("The run has no sample images: masks are drawn on a synthetic image (labelled SYNTHETIC).")
        hidden = [int(draws.hidden[0].sum())]
        baselines = [
            ("random patches, same count", random_patch_masks(draws.grid, hidden, ctx.rng("masking-random-baseline"))),
            ("one central block, same area", central_block_masks(draws.grid, hidden)),
        ]
        extras = hjepa_extras(draws)
        pooling = hierarchy_pooling(draws, s["num_hierarchies"]) if family == "hjepa" else None
        stats = draw_stats(draws)
        result = MaskingResult(
            draws=draws,
            stats=stats,
            collation=collation_effect(draws),
            hjepa=extras,
            pooling=pooling,
            images=images,
            synthetic=synthetic,
            baselines=baselines,
            log_comparison=_log_comparison(ctx, draws, layout, patch),
            notes=notes,
            message=captions.summary(stats["raw"], draws),
        )
        if not draws.levels:
            notes.append("I-JEPA has no hierarchy levels: the per-level figure applies to H-JEPA runs only.")
        result.metrics = _metrics(result)
        _add_checks(result, _limits(ctx))
        return result

    def present(self, result: MaskingResult) -> Presentation:
        from .video import VideoMaskingResult, present_video

        if isinstance(result, VideoMaskingResult):
            return present_video(result)
        d = result.draws
        shown = Presentation(intro=captions.intro(d))
        shown.add_table(
            "settings", "Sampler settings", ["setting", "value"], _settings_rows(d), caption=captions.settings_table(d)
        )
        _add_instance_figures(shown, result)
        _add_statistics(shown, result)
        _add_animations(shown, result)
        return shown


def _log_comparison(ctx: ReportContext, draws: MaskDraws, layout, patch) -> dict:
    """Compare the mask numbers the training code logged per batch with our sampler's per-batch values."""
    scalars = ctx.run.scalars
    logged = {tag: scalars.arrays(tag)[1] for tag in LOGGED_MASK_TAGS if scalars.has(tag)}
    if not logged:
        return {}
    batches = draws
    size = int(draws.settings["batch_size"])
    if draws.collated_contexts is not None and draws.n < MIN_BATCHES * size:
        # I-JEPA sizes are drawn per batch: draw enough extra batches for a per-batch spread (the sampler is fast)
        n = min(MIN_BATCHES * size, 40_000)
        batches = sample_masks(ctx.run.config, n, int(ctx.settings.seed) + 1, layout=layout, patch_size=patch)
    return compare_with_log(batch_values(batches), logged)


def _settings_rows(d: MaskDraws) -> list[list]:
    """Rows of the sampler-settings table: every setting, then the seed and the number of draws."""
    rows = [[k, ", ".join(map(str, v)) if isinstance(v, list) else v] for k, v in d.settings.items()]
    return rows + [["seed", d.seed], ["draws", d.n]]


def _add_instance_figures(shown: Presentation, r: MaskingResult) -> None:
    """One draw in several views, the strategy comparison and a grid of draws."""
    d, image = r.draws, r.images[0]
    block = d.context_blocks[0, 0] if d.context_blocks is not None else None
    args = (image, d.targets[0], d.context[0], d.grid)
    shown.add_figure(
        "instance",
        "One masking draw",
        captions.instance(d, r.synthetic),
        figures.plot_masking_instance(*args, context_block=block),
    )
    collated = d.collated_contexts[0, 0] if d.collated_contexts is not None else None
    shown.add_figure(
        "views",
        "Original, mask, masked image",
        captions.views(d),
        figures.plot_original_mask_masked(*args, hidden_label=captions.hidden_word(d), encoder_context=collated),
    )
    shown.add_figure(
        "regions",
        "Context and target regions",
        captions.regions(d),
        figures.plot_region_overlays(*args, context_block=block),
    )
    strategies = [(captions.strategy_name(d), d.targets[0], d.context[0])]
    strategies += [(name, b.targets[0], b.context[0]) for name, b in r.baselines]
    shown.add_figure(
        "strategies",
        "The run's masking against simple baselines",
        captions.strategies(d),
        figures.plot_strategy_comparison(image, strategies, d.grid),
    )
    k = min(N_GRID, d.n)
    images = [r.images[i % len(r.images)] for i in range(k)]
    blocks = d.context_blocks[:k, 0] if d.context_blocks is not None else None
    shown.add_figure(
        "draws",
        f"{k} random draws",
        captions.draw_grid(d, k, len(r.images) > 1),
        figures.plot_draw_grid(images, d.targets[:k], d.context[:k], d.grid, context_blocks=blocks),
    )


def _add_statistics(shown: Presentation, r: MaskingResult) -> None:
    """Spatial statistics over all draws, and the hierarchy's pooling for H-JEPA."""
    d, raw = r.draws, r.stats["raw"]
    after = r.stats.get("after_collation")
    batched = after is not None and d.settings["batch_size"] > 1
    fig = figures.plot_spatial_statistics(
        raw.target_frequency,
        raw.context_frequency,
        raw.context_sizes,
        raw.block_sizes,
        raw.union_sizes,
        raw.aspect_ratios,
        collated_context_frequency=after.context_frequency if batched else None,
        collated_context_sizes=after.context_sizes if batched else None,
    )
    shown.add_figure("statistics", f"Statistics over {d.n} draws", captions.statistics(d, raw, after), fig)
    if d.levels:
        generator = np.stack([lv.targets[0] for lv in d.levels])
        shown.add_figure(
            "hierarchy",
            "What each hierarchy level pools",
            captions.hierarchy(d, r.pooling),
            figures.plot_hierarchy_levels(r.images[0], d.hidden[0], d.grid, len(d.levels), generator_targets=generator),
        )


def _add_animations(shown: Presentation, r: MaskingResult) -> None:
    """The masking process step by step, and successive draws, as GIFs."""
    d = r.draws
    block = d.context_blocks[0, 0] if d.context_blocks is not None else None
    collated = d.collated_contexts[0, 0] if d.collated_contexts is not None else None
    shown.add_figure(
        "process",
        "The masking process (animation)",
        captions.process(d),
        gifs.masking_process(
            r.images[0], d.targets[0], d.context[0], d.grid, context_block=block, collated_context=collated
        ),
    )
    k = min(N_GIF, d.n)
    shown.add_figure(
        "draws-animation",
        "Successive draws (animation)",
        captions.draws_animation(d, k),
        gifs.random_draws(r.images[0], d.targets[:k], d.context[:k], d.grid),
    )


def _metrics(r: MaskingResult) -> dict:
    """The section's report.json metrics: method, settings, statistics, and the comparisons made."""
    d = r.draws
    out = {
        "method": captions.method(d),
        "settings": d.settings,
        "seed": d.seed,
        "n_draws": d.n,
        "images": "synthetic" if r.synthetic else "run images",
        "raw": r.stats["raw"].to_metrics(),
    }
    if "after_collation" in r.stats:
        out["after_collation"] = r.stats["after_collation"].to_metrics()
        out["collation_effect"] = r.collation
    if r.log_comparison:
        out["training_log_comparison"] = r.log_comparison
    if r.hjepa:
        out["hierarchical_generator"] = r.hjepa
        out["hierarchy_pooling"] = r.pooling
    return out


def _limits(ctx: ReportContext) -> dict[str, float]:
    """The health-check thresholds of this section, from the defaults and --thresholds."""
    names = ("masks.never_sampled.warn", "masks.fallback.warn", "masks.collation.warn", "masks.log_z")
    return {name: threshold(ctx, name) for name in names}


def _add_checks(r: MaskingResult, limits: dict[str, float]) -> None:
    """Add the masking health checks to the result (thresholds from `limits`, see thresholds.py)."""
    raw, d = r.stats["raw"], r.draws
    never_t, never_c = raw.never_target, raw.never_context
    fallback_warn, collation_warn, log_z = (
        limits[n] for n in ("masks.fallback.warn", "masks.collation.warn", "masks.log_z")
    )
    if max(never_t, never_c) >= limits["masks.never_sampled.warn"]:
        r.add_check(
            "masks-never-sampled",
            "warn",
            captions.never_sampled(d, never_t, never_c),
            figure_id="statistics",
            value=float(max(never_t, never_c)),
        )
    else:
        r.add_check(
            "masks-never-sampled",
            "pass",
            f"every patch was a target and a context patch in some of the {d.n} draws",
            figure_id="statistics",
            value=0.0,
        )
    if r.collation and d.settings["batch_size"] > 1:
        lost = r.collation["fraction_of_context_removed"]["mean"]
        status = "warn" if lost > collation_warn else "pass"
        r.add_check(
            "masks-collation-truncation",
            status,
            captions.collation_check(d, r.collation, collation_warn),
            figure_id="statistics",
            value=round(lost, 4),
        )
    for tag, cmp in r.log_comparison.items():
        z = cmp["z"]
        status = "warn" if z is None or abs(z) > log_z else "pass"
        name = "masks-match-log-" + re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
        r.add_check(name, status, captions.log_check(tag, cmp, log_z), figure_id="statistics", value=z)
    if r.hjepa:
        share = r.hjepa["levels"]["level_0"]["fallback_fraction_of_target_blocks"]
        status = "warn" if share > fallback_warn else "pass"
        r.add_check(
            "masks-fallback-blocks",
            status,
            captions.fallback_check(d, share, fallback_warn),
            figure_id="statistics",
            value=round(share, 4),
        )
