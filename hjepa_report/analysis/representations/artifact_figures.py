"""Figures of the artifact-token section: per-block norm distributions, and where the outliers sit."""

from __future__ import annotations

import numpy as np

from ...plotting import PALETTE, new_figure
from .artifacts import BlockArtifacts

OUTLIER_COLOUR = PALETTE[1]  # Okabe-Ito vermillion


def norm_distribution_figure(blocks: list[BlockArtifacts], norms: np.ndarray):
    """Left: per block, the violin of all patch-token norms, its outlier fence (bar) and its outliers (dots).
    Right: the share of outlier tokens per block."""
    fig, (left, right) = new_figure(8.6, 3.2, 1, 2, width_ratios=[2.2, 1])
    positions = [b.block for b in blocks]
    flat = [np.asarray(norms[b.block], np.float64).ravel() for b in blocks]
    parts = left.violinplot(flat, positions=positions, widths=0.8, showextrema=False, showmedians=True)
    for body in parts["bodies"]:
        body.set_facecolor(PALETTE[0])
        body.set_alpha(0.45)
    parts["cmedians"].set_color("black")
    for b, values in zip(blocks, flat, strict=True):
        left.hlines(b.fence, b.block - 0.4, b.block + 0.4, color=OUTLIER_COLOUR, lw=1.4)
        out = values[values > b.fence]
        left.scatter(np.full(out.size, b.block), out, s=9, color=OUTLIER_COLOUR, zorder=3)
    left.plot([], [], color=OUTLIER_COLOUR, lw=1.4, label="fence Q3 + 3 IQR")
    left.scatter([], [], s=9, color=OUTLIER_COLOUR, label="outlier tokens")
    left.set(xlabel="block", ylabel="patch-token norm (block output)", title="Token norms per block")
    top = max(max(b.fence for b in blocks), max(b.max_norm for b in blocks))
    if top > 5 * min(b.median_norm for b in blocks):  # artifacts at ~10x the norm: keep the bulk readable
        left.set_yscale("log")
        left.set_ylim(top=2.0 * top)  # room for the legend above the fences
    else:
        left.set_ylim(top=1.3 * top)
    left.set_xticks(positions)
    left.legend(loc="upper left", fontsize=7)
    shares = [100 * b.share for b in blocks]
    right.bar(positions, shares, color=[OUTLIER_COLOUR if s > 0 else PALETTE[0] for s in shares])
    for x, b in zip(positions, blocks, strict=True):
        right.annotate(str(b.outliers), (x, 100 * b.share), ha="center", va="bottom", fontsize=7)
    right.set(xlabel="block", ylabel="outlier tokens (%)", title="Share of outliers")
    right.set_xticks(positions)
    right.set_ylim(0, max(1.0, 1.25 * max(shares)))
    return fig


def _outline(ax, mask: np.ndarray, grid: tuple[int, int], cell: float) -> None:
    """Draw a box around every True patch of a [N] mask on an image of `cell`-pixel patches."""
    from matplotlib.patches import Rectangle

    for index in np.flatnonzero(mask):
        r, c = divmod(int(index), grid[1])
        ax.add_patch(Rectangle((c * cell - 0.5, r * cell - 0.5), cell, cell, fill=False, ec=OUTLIER_COLOUR, lw=1.3))


def artifact_overlay_figure(
    pictures: list[np.ndarray],
    labels: list[str],
    norm_maps: np.ndarray,
    norm_outliers: np.ndarray,
    block: int,
    attention: np.ndarray | None,
    attention_outliers: np.ndarray | None,
    attention_block: int | None,
    grid: tuple[int, int],
):
    """Rows: the shown images. Columns: the image with block `block`'s outliers boxed, that block's token-norm
    map, and the last block's head-mean attention map with its own outliers boxed (when there is attention).
    norm_maps / norm_outliers / attention / attention_outliers: [K, N] for the K shown images."""
    ncols = 3 if attention is not None else 2
    fig, axes = new_figure(2.3 * ncols + 0.6, 2.25 * len(pictures) + 0.5, len(pictures), ncols)
    axes = np.atleast_2d(axes)
    size = pictures[0].shape[0]
    cell = size / grid[0]
    extent = (-0.5, size - 0.5, size - 0.5, -0.5)
    for r, picture in enumerate(pictures):
        axes[r, 0].imshow(picture)
        _outline(axes[r, 0], norm_outliers[r], grid, cell)
        axes[r, 0].set_ylabel(labels[r], fontsize=7)
        im = axes[r, 1].imshow(norm_maps[r].reshape(grid), cmap="viridis", extent=extent, interpolation="nearest")
        _outline(axes[r, 1], norm_outliers[r], grid, cell)
        fig.colorbar(im, ax=axes[r, 1], shrink=0.8, pad=0.02)
        if attention is not None:
            im = axes[r, 2].imshow(attention[r].reshape(grid), cmap="magma", extent=extent, interpolation="nearest")
            _outline(axes[r, 2], attention_outliers[r], grid, cell)
            fig.colorbar(im, ax=axes[r, 2], shrink=0.8, pad=0.02)
    axes[0, 0].set_title(f"image, block {block} outliers boxed", fontsize=8)
    axes[0, 1].set_title(f"block {block} token norm", fontsize=8)
    if attention is not None:
        axes[0, 2].set_title(f"block {attention_block} attention\n(head mean), its outliers boxed", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    return fig
