"""Masking figures: each function takes arrays (image uint8 HxWx3, masks over the patch grid, grid) and returns
a matplotlib Figure, so notebooks can call them directly. Captions are written by the section (section.py).

Images are drawn in patch coordinates (extent = grid), so patch (row, col) is the unit square at (col, row)
and block outlines are exact. Masks are bool [N] (or [n_blocks, N]) in row-major patch order.
"""

from __future__ import annotations

import numpy as np

from ...plotting import new_figure
from .compose import CONTEXT, block_box, patch_grid_rgba, target_colour, wash

# pooled-token lines: Okabe-Ito colours with enough contrast on the light grey image (no yellow, no sky blue)
GROUP_COLOURS = ["#D55E00", "#009E73", "#CC79A7", "#E69F00", "#000000"]


def _image_axes(ax, image: np.ndarray, grid: tuple[int, int], title: str = "") -> None:
    """Show an image stretched over the patch grid, without ticks or grid lines."""
    rows, cols = grid
    ax.imshow(image, extent=(0, cols, rows, 0), interpolation="nearest")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    if title:
        ax.set_title(title)


def _outline(ax, box, colour: str, style: str = "-", width: float = 2.0) -> None:
    """Outline a block (top, left, h, w in patches)."""
    from matplotlib.patches import Rectangle

    if box is not None:
        top, left, h, w = box
        ax.add_patch(Rectangle((left, top), w, h, fill=False, edgecolor=colour, linestyle=style, linewidth=width))


def _overlay_axes(ax, image, targets, context, grid, context_block=None, title: str = "") -> None:
    """Light grey image + context (blue) and target blocks (one Okabe-Ito colour each) with their outlines."""
    _image_axes(ax, wash(image), grid, title)
    rows, cols = grid
    ax.imshow(patch_grid_rgba(targets, context, grid), extent=(0, cols, rows, 0), interpolation="nearest")
    if context_block is not None:
        _outline(ax, block_box(context_block, grid), CONTEXT, "--")
    for j, t in enumerate(np.asarray(targets, bool)):
        box = block_box(t, grid)
        if box is not None and box[2] * box[3] == t.sum():  # outline blocks, not scattered patches
            _outline(ax, box, target_colour(j))


def _percent(mask, n: int) -> str:
    return f"{100 * np.count_nonzero(mask) / n:.0f}%"


def plot_masking_instance(image, targets, context, grid, *, context_block=None, label: str = ""):
    """One draw on one image, with its numbers: context %, target union %, each block's size and shape."""
    targets, context = np.asarray(targets, bool), np.asarray(context, bool)
    n = grid[0] * grid[1]
    fig, (ax, text) = new_figure(7.0, 3.4, 1, 2, gridspec_kw={"width_ratios": [1, 1.1]})
    _overlay_axes(ax, image, targets, context, grid, context_block, label or "one draw")
    union = targets.any(axis=0)
    lines = [
        f"grid {grid[0]} x {grid[1]} = {n} patches",
        f"context (blue): {context.sum()} patches ({_percent(context, n)})",
        f"target union: {union.sum()} patches ({_percent(union, n)})",
        f"neither: {(~union & ~context).sum()} patches",
    ]
    if context_block is not None:
        lines.append(f"context block before removing targets: {np.count_nonzero(context_block)}")
    for j, t in enumerate(targets):
        box = block_box(t, grid)
        shape = f"{box[2]} x {box[3]}" if box else "empty"
        covered = " (under later blocks)" if not (t & ~targets[j + 1 :].any(axis=0)).any() else ""
        lines.append(f"target {j + 1}: {t.sum()} patches, h x w = {shape}{covered}")
    text.axis("off")
    text.text(
        0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace", fontsize=8.5, transform=text.transAxes
    )
    for j in range(len(targets)):
        text.plot([], [], "s", color=target_colour(j), label=f"target {j + 1}")
    text.plot([], [], "s", color=CONTEXT, label="context")
    text.legend(loc="lower left", ncol=3, frameon=False)
    return fig


def plot_original_mask_masked(image, targets, context, grid, *, hidden_label: str = "hidden", encoder_context=None):
    """Original | mask on the patch grid | the image as the context encoder sees it (other patches grey).

    `encoder_context` is what actually reaches the encoder when it differs from `context` (I-JEPA: the
    context after the batch collation cut it to the batch's shortest one).
    """
    from .compose import fill, pixel_mask

    targets, context = np.asarray(targets, bool), np.asarray(context, bool)
    fig, axes = new_figure(7.5, 2.9, 1, 3)
    _image_axes(axes[0], image, grid, "original\n")
    blank = np.full((*grid, 3), 235, np.uint8)
    _image_axes(axes[1], blank, grid, "mask on the patch grid\n(blue context, coloured targets)")
    rows, cols = grid
    axes[1].imshow(
        patch_grid_rgba(targets, context, grid, alpha=1.0), extent=(0, cols, rows, 0), interpolation="nearest"
    )
    for t in targets:
        _outline(axes[1], block_box(t, grid), "black", width=1.0)
    img = np.asarray(image, np.uint8)
    seen = img if img.shape[0] % rows == 0 and img.shape[1] % cols == 0 else _resize_to_grid(img, grid)
    encoder_context = context if encoder_context is None else np.asarray(encoder_context, bool)
    masked = fill(seen, ~pixel_mask(encoder_context, grid, seen.shape[:2]))
    _image_axes(axes[2], masked, grid, f"context encoder's input\n(grey = {hidden_label})")
    return fig


def _resize_to_grid(image: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Nearest-resize an image to a multiple of the grid (for images whose size the grid does not divide)."""
    from PIL import Image

    side = max(grid) * max(1, int(np.ceil(max(image.shape[:2]) / max(grid))))
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.NEAREST))


def plot_region_overlays(image, targets, context, grid, *, context_block=None):
    """Context and targets as separate overlays: the context region alone, then each target block alone."""
    targets, context = np.asarray(targets, bool), np.asarray(context, bool)
    fig, axes = new_figure(7.0, 3.3, 1, 2)
    empty = np.zeros((0, context.size), bool)
    _overlay_axes(
        axes[0],
        image,
        empty,
        context,
        grid,
        context_block,
        f"context: {context.sum()} patches" + (" (dashed: its block)" if context_block is not None else ""),
    )
    _overlay_axes(
        axes[1],
        image,
        targets,
        np.zeros_like(context),
        grid,
        None,
        f"{len(targets)} target blocks, union {targets.any(0).sum()} patches",
    )
    for j, t in enumerate(targets):
        box = block_box(t, grid)
        axes[1].plot([], [], "s", color=target_colour(j), label=f"{j + 1}: {box[2]}x{box[3]}" if box else f"{j + 1}")
    axes[1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="h x w")
    return fig


def plot_strategy_comparison(image, strategies, grid):
    """The same image under several strategies: [(name, targets [n_blocks, N], context [N]), ...]."""
    fig, axes = new_figure(2.5 * len(strategies), 3.0, 1, len(strategies))
    n = grid[0] * grid[1]
    for ax, (name, targets, context) in zip(np.atleast_1d(axes), strategies, strict=True):
        union = np.asarray(targets, bool).any(axis=0)
        _overlay_axes(
            ax,
            image,
            targets,
            context,
            grid,
            None,
            f"{name}\nhidden {_percent(union, n)}, context {_percent(context, n)}",
        )
    return fig


def plot_draw_grid(images, targets, contexts, grid, *, ncols: int = 3, context_blocks=None):
    """k independent draws (targets [k, n_blocks, N], contexts [k, N]) on one image or on a list of k images."""
    k = len(targets)
    images = list(images) if isinstance(images, (list, tuple)) else [images] * k
    nrows = int(np.ceil(k / ncols))
    fig, axes = new_figure(2.3 * ncols, 2.3 * nrows + 0.3, nrows, ncols)
    flat = np.atleast_1d(axes).ravel()
    n = grid[0] * grid[1]
    for i, ax in enumerate(flat):
        if i >= k:
            ax.axis("off")
            continue
        block = None if context_blocks is None else context_blocks[i]
        union = np.asarray(targets[i], bool).any(axis=0)
        _overlay_axes(
            ax,
            images[i],
            targets[i],
            contexts[i],
            grid,
            block,
            f"draw {i + 1}: ctx {_percent(contexts[i], n)}, tgt {_percent(union, n)}",
        )
    return fig


def _heatmap(fig, ax, freq: np.ndarray, title: str) -> None:
    """Per-patch frequency in 0..1 with a colourbar; never-sampled patches marked with a red x."""
    im = ax.imshow(freq, vmin=0, vmax=1, cmap="viridis", interpolation="nearest")
    never = np.argwhere(freq == 0)
    if len(never):
        ax.scatter(never[:, 1], never[:, 0], marker="x", color="#D55E00", s=18, linewidths=1.2)
    ax.set_title(f"{title}\nnever: {len(never)} patches" if len(never) else title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)


def _hist(ax, counts, title: str, xlabel: str, scale: float = 1.0, ylabel: str = "draws", span=None, **kw) -> None:
    """Histogram of integer counts (shown divided by `scale`), one bar per count when the range allows it."""
    v = np.asarray(counts, float)
    lo, hi = span if span is not None else (v.min(), v.max())
    bins = np.arange(lo - 0.5, hi + 1.5) if hi - lo <= 60 else np.linspace(lo, hi + 1, 31)
    v, bins = v / scale, bins / scale
    ax.hist(v, bins=bins, **kw)
    ax.axvline(v.mean(), color="black", linestyle="--", linewidth=1)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)


def _numbers(ax, n: int, context_sizes, block_sizes, union_sizes, collated_sizes) -> None:
    """The key numbers of the histograms as text: mean and p5 / p50 / p95."""

    def line(name, values):
        p5, p50, p95 = np.percentile(values, [5, 50, 95])
        return f"{name:<15}{np.mean(values):6.1f}  {p5:5.0f} {p50:5.0f} {p95:5.0f}"

    rows = [f"{'patches':<15}{'mean':>6}  {'p5':>5} {'p50':>5} {'p95':>5}", line("context", context_sizes)]
    if collated_sizes is not None:
        rows.append(line("  collated", collated_sizes))
    rows += [line("target block", block_sizes), line("target union", union_sizes), f"grid: {n} patches"]
    ax.axis("off")
    ax.text(0.0, 0.9, "\n".join(rows), va="top", ha="left", family="monospace", fontsize=8, transform=ax.transAxes)


def plot_spatial_statistics(
    target_frequency,
    context_frequency,
    context_sizes,
    block_sizes,
    union_sizes,
    aspect_ratios,
    *,
    collated_context_frequency=None,
    collated_context_sizes=None,
):
    """Over many draws: where targets and context fall (heatmaps) and how large they are (histograms)."""
    fig, axes = new_figure(10.0, 5.6, 2, 4)
    n = np.asarray(target_frequency).size
    text_axes = axes[0, 3] if collated_context_frequency is not None else axes[0, 2]
    _numbers(text_axes, n, context_sizes, block_sizes, union_sizes, collated_context_sizes)
    _heatmap(fig, axes[0, 0], np.asarray(target_frequency), "target frequency")
    _heatmap(fig, axes[0, 1], np.asarray(context_frequency), "context frequency")
    if collated_context_frequency is not None:
        _heatmap(fig, axes[0, 2], np.asarray(collated_context_frequency), "context after collation")
    else:
        axes[0, 3].axis("off")
    both = np.concatenate(
        [np.ravel(context_sizes), np.ravel(collated_context_sizes if collated_context_sizes is not None else [])]
    )
    span = (both.min(), both.max())
    _hist(axes[1, 0], context_sizes, "context size", "patches", color=CONTEXT, alpha=0.8, label="raw", span=span)
    if collated_context_sizes is not None:
        _hist(
            axes[1, 0],
            collated_context_sizes,
            "context size",
            "patches",
            color="#E69F00",
            alpha=0.7,
            label="after collation",
            span=span,
        )
        axes[1, 0].set_ylim(top=axes[1, 0].get_ylim()[1] * 1.35)  # room for the legend above the bars
        axes[1, 0].legend(frameon=False, loc="upper right")
    _hist(axes[1, 1], block_sizes, "target block size", "patches", ylabel="blocks", color="#D55E00")
    _hist(axes[1, 2], union_sizes, "target union coverage", "fraction of the grid", color="#009E73", scale=n)
    ratios = np.round(np.asarray(aspect_ratios, float), 2)
    values, counts = np.unique(ratios, return_counts=True)
    axes[1, 3].bar(np.arange(len(values)), counts, color="#CC79A7")
    step = max(1, len(values) // 8)
    axes[1, 3].set_xticks(np.arange(len(values))[::step], [f"{v:.2f}" for v in values[::step]], rotation=45)
    axes[1, 3].set_title("target aspect ratio (h / w)")
    axes[1, 3].set_ylabel("blocks")
    return fig


def plot_hierarchy_levels(image, hidden, grid, levels: int, *, generator_targets=None):
    """Which hidden patches each level's 1-D pooling averages together, for one draw.

    Level l pools 2^l consecutive entries of the index-sorted hidden list (H-JEPA src/models/hjepa.py); each
    pooled token is drawn as one colour with a line through its patches; x = the last k mod 2^l patches, which
    form no full token of their own (they share one with batch padding or fall outside every valid token).
    `generator_targets` [levels, n_blocks, N] adds the generator's own level masks (unused by training).
    """
    from .stats import level_groups, split_groups

    hidden = np.asarray(hidden, bool)
    nrows = 1 if generator_targets is None else 2
    fig, axes = new_figure(3.0 * levels, 3.2 * nrows, nrows, levels)
    axes = np.asarray(axes).reshape(nrows, levels)
    rows, cols = grid
    for level in range(levels):
        ax = axes[0, level]
        groups, dropped = level_groups(hidden, grid, level)
        split = split_groups(groups, grid)
        _image_axes(
            ax,
            wash(image),
            grid,
            f"level {level}: pool {2**level} -> {len(groups)} tokens\n{split.sum()} split, {len(dropped)} left over",
        )
        overlay = np.zeros((rows, cols, 4))
        overlay[~hidden.reshape(grid)] = (*(np.array([0, 114, 178]) / 255), 0.35)  # context (visible): blue
        ax.imshow(overlay, extent=(0, cols, rows, 0), interpolation="nearest")
        for g, members in enumerate(groups):
            colour = GROUP_COLOURS[g % len(GROUP_COLOURS) if level else 0]
            r, c = members // cols + 0.5, members % cols + 0.5
            ax.plot(c, r, "-o", color=colour, markersize=3.5 if level else 4.5, linewidth=2.2)
        if len(dropped):
            ax.scatter(dropped % cols + 0.5, dropped // cols + 0.5, marker="x", color="black", s=30)
        if generator_targets is not None:
            _overlay_axes(
                axes[1, level],
                image,
                generator_targets[level],
                np.zeros(rows * cols, bool),
                grid,
                None,
                f"generator level {level} targets\n(computed, unused by training)",
            )
    return fig
