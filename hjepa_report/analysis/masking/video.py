"""The masking section of a V-JEPA / V-JEPA 2 run: its 3-D multi-block masks over frames, as its collator draws
them (models/vjepa_masks.py), with their statistics and an animated GIF over the frames.

No clips are needed: the masks depend on the config alone (grid, scales, aspect ratio, blocks, temporal keep,
complement flags), so the GIF draws them on the token grid. Statistics are over N_BATCHES collations of the
run's batch size (capped at MAX_BATCH clips), at collator steps 0..N_BATCHES-1, positions seeded with the
report's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base import Animation, PassResult, Presentation
from .compose import CONTEXT, rgb, target_colour
from .gifs import LAST_MS, STEP_MS, _frame

N_BATCHES = 50
MAX_BATCH = 8
SHOWN_CLIPS = 4
CELL = 24  # px per token in the GIF


@dataclass
class VideoMaskingResult(PassResult):
    """Per mask setting: its settings, statistics over the draws, and the first batch's grids for the GIF."""

    settings: list[dict] = field(default_factory=list)
    stats: list[dict] = field(default_factory=list)
    contexts: list[np.ndarray] = field(default_factory=list)  # [B, T, H, W] bool, first batch, per setting
    targets: list[np.ndarray] = field(default_factory=list)
    batch: int = 0
    seed: int = 0


def video_masking(ctx) -> VideoMaskingResult:
    """Draw the run's masks and measure them (see the module docstring)."""
    from ...models.vjepa_masks import as_grid, draw_masks, mask_specs

    config, seed = ctx.run.config or {}, int(ctx.settings.seed)
    specs = mask_specs(config)  # ValueError (no mask list) becomes the section's error line
    batch = max(1, min(int((config.get("data") or {}).get("batch_size", 1)), MAX_BATCH))
    result = VideoMaskingResult(batch=batch, seed=seed)
    sums = [dict(ctx=0.0, tgt=0.0, cut=0.0, frames=np.zeros(s.duration)) for s in specs]
    for step in range(N_BATCHES):
        for i, (enc, pred) in enumerate(draw_masks(specs, batch, seed + step, step=step)):
            c, t = as_grid(enc.numpy(), specs[i]), as_grid(pred.numpy(), specs[i])
            if step == 0:
                result.contexts.append(c)
                result.targets.append(t)
            acc = sums[i]
            acc["ctx"] += c.mean()
            acc["tgt"] += t.mean()
            acc["cut"] += (~(c | t)).mean()
            acc["frames"] += c.mean(axis=(0, 2, 3))
    for spec, acc in zip(specs, sums, strict=True):
        result.settings.append(
            {
                "grid": [spec.duration, spec.height, spec.width],
                "num_blocks": spec.num_blocks,
                "spatial_scale": list(spec.spatial_scale),
                "temporal_scale": list(spec.temporal_scale),
                "aspect_ratio": list(spec.aspect_ratio),
                "max_temporal_keep": spec.max_temporal_keep,
                "context_frames": spec.context_frames,
                "max_keep": spec.max_keep,
                "full_complement": spec.full_complement,
            }
        )
        result.stats.append(
            {
                "context_fraction": acc["ctx"] / N_BATCHES,
                "target_fraction": acc["tgt"] / N_BATCHES,
                "cut_by_collation": acc["cut"] / N_BATCHES,
                "context_per_frame": [float(v) for v in acc["frames"] / N_BATCHES],
            }
        )
    result.metrics = {
        "sampler": "V-JEPA multi-block 3-D masks (src/masks/multiblock3d.py _MaskGenerator, reproduced exactly)",
        "batches": N_BATCHES,
        "batch_size": batch,
        "seed": seed,
        "masks": [{**s, **st} for s, st in zip(result.settings, result.stats, strict=True)],
    }
    result.message = "; ".join(
        f"mask {i + 1}: context {100 * st['context_fraction']:.0f}%, targets {100 * st['target_fraction']:.0f}%"
        for i, st in enumerate(result.stats)
    )
    if any(st["cut_by_collation"] > 0 for st in result.stats):
        result.notes.append(
            "The collator cuts every clip of a batch to the batch's shortest context and target lists, keeping the "
            "first tokens in (frame, row, column) order: the cut tokens (grey in the GIF) are neither seen nor "
            "predicted, and the cut falls on the last frames."
        )
    return result


def present_video(result: VideoMaskingResult) -> Presentation:
    """A table of the masks' statistics and one GIF over the frames per mask setting."""
    shown = Presentation(
        intro=(
            "V-JEPA hides spatio-temporal blocks of tubelet tokens: the context encoder sees the tokens outside "
            "every block (and only in the first max_temporal_keep of the frames), the predictor predicts the rest. "
            f"Statistics over {N_BATCHES} collations of {result.batch} clips (seed {result.seed}), drawn as the "
            "run's collator draws them."
        )
    )
    rows = []
    for i, (s, st) in enumerate(zip(result.settings, result.stats, strict=True)):
        rows.append(
            [
                f"mask {i + 1}",
                "x".join(map(str, s["grid"])),
                s["num_blocks"],
                f"{s['spatial_scale'][0]:g}-{s['spatial_scale'][1]:g}",
                f"{s['temporal_scale'][0]:g}-{s['temporal_scale'][1]:g}",
                f"{s['context_frames']}/{s['grid'][0]}",
                f"{100 * st['context_fraction']:.1f}%",
                f"{100 * st['target_fraction']:.1f}%",
                f"{100 * st['cut_by_collation']:.1f}%",
                " ".join(f"{100 * v:.0f}" for v in st["context_per_frame"]),
            ]
        )
    shown.add_table(
        "video-mask-stats",
        "Masks: settings and statistics",
        [
            "setting",
            "grid TxHxW",
            "blocks",
            "spatial scale",
            "temporal scale",
            "context frames",
            "context",
            "targets",
            "cut",
            "context % per frame",
        ],
        rows,
        caption="Fractions of the tokens of a clip, averaged over the draws. 'cut': tokens the batch collation "
        "drops from both lists. Healthy: a context large enough to predict from and targets that are not the "
        "whole clip; a context share that falls to 0 in late frames is max_temporal_keep at work.",
    )
    for i in range(len(result.settings)):
        shown.add_figure(
            f"video-masks-{i + 1}",
            f"Mask {i + 1} over frames",
            f"The first collation of mask setting {i + 1}: up to {SHOWN_CLIPS} clips side by side, one GIF frame "
            "per temporal token slot (a tubelet of frames). Blue: context tokens the encoder sees; orange: "
            "target tokens the predictor predicts; grey: cut by the collation. The last frame shows every slot "
            "at once. Healthy: blocks that span the frames their temporal scale says, context left around them.",
            frames_gif(result.contexts[i], result.targets[i]),
        )
    return shown


def frames_gif(contexts: np.ndarray, targets: np.ndarray) -> Animation:
    """One frame per temporal slot, clips side by side; a last frame with every slot in a row per clip."""
    b, t = contexts.shape[:2]
    shown = range(min(b, SHOWN_CLIPS))
    slot = lambda k: _row([_grid(contexts[j, k], targets[j, k]) for j in shown])  # noqa: E731
    frames = [_frame(slot(k), f"time slot {k + 1}/{t}") for k in range(t)]
    overview = np.concatenate(
        [_row([_grid(contexts[j, k], targets[j, k], cell=CELL // 2) for k in range(t)]) for j in shown], axis=0
    )
    last = _pad_to(overview, frames[0].shape[1] if frames else overview.shape[1])
    frames = [_pad_to(f, max(f.shape[1], last.shape[1])) for f in frames]
    last = _pad_to(last, frames[0].shape[1])
    frames.append(_frame(last, "all slots (rows: clips)"))
    height = max(f.shape[0] for f in frames)
    frames = [np.pad(f, ((0, height - f.shape[0]), (0, 0), (0, 0)), constant_values=255) for f in frames]
    return Animation(frames=frames, duration_ms=[STEP_MS] * (len(frames) - 1) + [LAST_MS], loop=0)


def _grid(ctx: np.ndarray, tgt: np.ndarray, cell: int = CELL) -> np.ndarray:
    """A token grid [H, W] as an image: context blue, targets orange, the rest grey, thin white borders."""
    colours = np.full(ctx.shape + (3,), 170, dtype=np.uint8)
    colours[ctx] = rgb(CONTEXT)
    colours[tgt] = rgb(target_colour(0))
    img = colours.repeat(cell, axis=0).repeat(cell, axis=1)
    img[::cell, :] = 255
    img[:, ::cell] = 255
    return img


def _row(panels: list[np.ndarray], gap: int = 8) -> np.ndarray:
    spacer = np.full((panels[0].shape[0], gap, 3), 255, dtype=np.uint8)
    parts = []
    for p in panels:
        parts += [p, spacer]
    return np.concatenate(parts[:-1], axis=1)


def _pad_to(img: np.ndarray, width: int) -> np.ndarray:
    return np.pad(img, ((0, 0), (0, max(0, width - img.shape[1])), (0, 0)), constant_values=255)
