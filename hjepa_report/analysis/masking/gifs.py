"""Animation frames for the masking section, composed with numpy and Pillow (no matplotlib: fast).

Each function returns an `Animation` (uint8 frames of one size, per-frame durations, loop forever); the
renderer encodes it as a GIF with one shared palette. Small images are upscaled with nearest-neighbour so a
64 px image is shown at >= 256 px with crisp patch borders.
"""

from __future__ import annotations

import numpy as np

from ..base import Animation
from .compose import CONTEXT, block_box, fill, outline, pixel_mask, target_colour, tint, upscale, wash

STEP_MS = 900  # long enough to read the caption band of a frame
LAST_MS = 2200  # the final state stays on screen before the loop restarts
BAND = 30  # px of caption band above each frame


def _frame(panel: np.ndarray, text: str) -> np.ndarray:
    """Put a white caption band with `text` above a panel."""
    from PIL import Image, ImageDraw, ImageFont

    band = Image.new("RGB", (panel.shape[1], BAND), "white")
    draw = ImageDraw.Draw(band)
    try:
        font = ImageFont.load_default(size=15)
    except (OSError, TypeError):  # Pillow without FreeType: the bitmap font
        font = ImageFont.load_default()
    draw.text((6, 6), text, fill=(0, 0, 0), font=font)
    return np.concatenate([np.asarray(band), panel], axis=0)


def _with_targets(panel, targets, grid, count: int, alpha: float = 0.55) -> np.ndarray:
    """Tint and outline the first `count` target blocks."""
    for j in range(count):
        panel = tint(panel, pixel_mask(targets[j], grid, panel.shape[:2]), target_colour(j), alpha)
        panel = outline(panel, block_box(targets[j], grid), grid, target_colour(j))
    return panel


def masking_process(image, targets, context, grid, *, context_block=None, collated_context=None) -> Animation:
    """Image -> context block -> each target block appearing -> (collation) -> the predictor's view.

    With a context block (I-JEPA) the context shrinks as the targets are cut out of it, and `collated_context`
    (the context after the batch collation) adds a frame when the collator cut it shorter; without a context
    block (H-JEPA) the targets come first and the context is everything left. The last frame shows what
    training uses: context patches visible, target blocks as outlined white holes, other patches grey.
    """
    targets, context = np.asarray(targets, bool), np.asarray(context, bool)
    base = upscale(image, grid)
    grey = wash(base)
    px = lambda m: pixel_mask(m, grid, base.shape[:2])  # noqa: E731 - short local helper
    frames = [_frame(base, "1. the image")]
    if context_block is not None:
        block = np.asarray(context_block, bool)
        panel = outline(tint(grey, px(block), CONTEXT, 0.5), block_box(block, grid), grid, CONTEXT)
        frames.append(_frame(panel, f"2. context block ({block.sum()} patches)"))
    for j in range(len(targets)):
        panel = grey
        if context_block is not None:
            cut = np.asarray(context_block, bool) & ~targets[: j + 1].any(axis=0)
            panel = tint(panel, px(cut), CONTEXT, 0.5)
        frames.append(_frame(_with_targets(panel, targets, grid, j + 1), f"{len(frames) + 1}. target block {j + 1}"))
    if context_block is None:
        panel = _with_targets(tint(grey, px(context), CONTEXT, 0.5), targets, grid, len(targets))
        frames.append(_frame(panel, f"{len(frames) + 1}. context: the rest ({context.sum()})"))
    if collated_context is not None and np.asarray(collated_context).sum() < context.sum():
        context = np.asarray(collated_context, bool)
        panel = _with_targets(tint(grey, px(context), CONTEXT, 0.5), targets, grid, len(targets))
        frames.append(_frame(panel, f"{len(frames) + 1}. collation cuts context to {context.sum()}"))
    view = fill(base, ~px(context), (150, 150, 150))
    for j in range(len(targets)):
        view = fill(view, px(targets[j]), (250, 250, 250))
    for j in range(len(targets)):
        view = outline(view, block_box(targets[j], grid), grid, target_colour(j))
    frames.append(_frame(view, f"{len(frames) + 1}. predictor's view"))
    return Animation(frames=frames, duration_ms=[STEP_MS] * (len(frames) - 1) + [LAST_MS], loop=0)


def random_draws(image, targets, contexts, grid) -> Animation:
    """Successive independent draws on the same image (targets [k, n_blocks, N], contexts [k, N])."""
    base = wash(upscale(image, grid))
    n = grid[0] * grid[1]
    frames = []
    for i, (t, c) in enumerate(zip(np.asarray(targets, bool), np.asarray(contexts, bool), strict=True)):
        panel = _with_targets(tint(base, pixel_mask(c, grid, base.shape[:2]), CONTEXT, 0.5), t, grid, len(t))
        union = t.any(axis=0).sum()
        frames.append(
            _frame(panel, f"draw {i + 1}/{len(targets)}: ctx {100 * c.sum() / n:.0f}%, tgt {100 * union / n:.0f}%")
        )
    return Animation(frames=frames, duration_ms=STEP_MS, loop=0)
