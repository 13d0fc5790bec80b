"""Figures of the attention section, as matplotlib Figures (for the report and for notebooks).

Every function takes arrays only: `image` is uint8 [H, W, 3] (the model's input, de-normalised), maps are on
the patch grid [rows, cols] and are drawn over the image with nearest-neighbour upsampling (one block per
patch, the model's real resolution). Small multiples carry no colour bar: each panel is scaled to its own
range, brighter = more attention. No pyplot: figures come from `hjepa_report.plotting.new_figure`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from ...plotting import PALETTE, new_figure
from .metrics import threshold_top_mass

MAP_CMAP = "inferno"
PANEL_INCHES = 1.45


def draw_overlay(ax, image: np.ndarray, attention_map: np.ndarray, alpha: float = 0.6, title: str = ""):
    """Draw `attention_map` [rows, cols] over `image` [H, W, 3] on `ax`, without ticks; return the map artist.

    The image is shown in grey so that its colours do not compete with the colour map.
    """
    height, width = image.shape[:2]
    ax.imshow(grey(image), cmap="gray", vmin=0, vmax=255, extent=(0, width, height, 0))
    artist = ax.imshow(attention_map, cmap=MAP_CMAP, alpha=alpha, interpolation="nearest", extent=(0, width, height, 0))
    _bare(ax, title)
    return artist


def grey(image: np.ndarray) -> np.ndarray:
    """Return the luma of an RGB uint8 image [H, W, 3] as float [H, W] (ITU-R BT.601 weights)."""
    if image.ndim == 2:
        return image.astype(float)
    return image[..., :3].astype(float) @ np.array([0.299, 0.587, 0.114])


def draw_threshold(ax, image: np.ndarray, attention_map: np.ndarray, keep: float = 0.6, title: str = ""):
    """Draw `image` with the patches outside the top-`keep` attention mass dimmed (DINO's threshold view)."""
    height, width = image.shape[:2]
    kept = threshold_top_mass(attention_map, keep)
    shade = np.zeros((*kept.shape, 4))
    shade[~kept] = (0.0, 0.0, 0.0, 0.75)  # dim what lies outside the kept mass
    ax.imshow(image, extent=(0, width, height, 0))
    ax.imshow(shade, interpolation="nearest", extent=(0, width, height, 0))
    _bare(ax, title)


def mark_patch(ax, index: int, grid: tuple[int, int], image_shape: tuple[int, ...], colour: str = "#56B4E9"):
    """Outline patch `index` (row-major) on an image panel of `image_shape` [H, W, ...]."""
    from matplotlib.patches import Rectangle

    row, col = divmod(index, grid[1])
    cell_h, cell_w = image_shape[0] / grid[0], image_shape[1] / grid[1]
    ax.add_patch(Rectangle((col * cell_w, row * cell_h), cell_w, cell_h, fill=False, edgecolor=colour, linewidth=1.8))


def layer_head_maps_figure(
    image: np.ndarray, maps: np.ndarray, layers: Sequence[int], heads: Sequence[int], threshold: float | None = None
):
    """Small multiples: one row per layer, one column per head, each map [rows, cols] over the image.

    `maps` is [len(layers), len(heads), rows, cols]; with `threshold` the panels show DINO's view (the
    patches outside the top `threshold` of the mass dimmed) instead of the heat map.
    """
    fig, axes = _panel_grid(len(layers), len(heads))
    for i, layer in enumerate(layers):
        for j, head in enumerate(heads):
            title = f"layer {layer} head {head}"
            if threshold is None:
                draw_overlay(axes[i, j], image, maps[i, j], title=title)
            else:
                draw_threshold(axes[i, j], image, maps[i, j], threshold, title=title)
    return fig


def all_heads_figure(image: np.ndarray, maps: np.ndarray, layer: int, max_columns: int = 6):
    """All heads of one layer side by side: `maps` [H, rows, cols], wrapped after `max_columns` panels."""
    num_heads = maps.shape[0]
    ncols = min(num_heads, max_columns)
    nrows = -(-num_heads // ncols)
    fig, axes = _panel_grid(nrows, ncols)
    for head in range(nrows * ncols):
        ax = axes.flat[head]
        if head < num_heads:
            draw_overlay(ax, image, maps[head], title=f"layer {layer} head {head}")
        else:
            ax.set_visible(False)
    return fig


def rollout_figure(
    images: Sequence[np.ndarray],
    rollout_maps: np.ndarray,
    variant: str,
    titles: Sequence[str] | None = None,
    max_columns: int = 4,
):
    """Each image above its rollout map [K, rows, cols], `max_columns` pairs per row; `variant` as suptitle."""
    count = len(images)
    ncols = min(count, max_columns)
    pair_rows = -(-count // ncols)
    fig, axes = _panel_grid(2 * pair_rows, ncols, extra_height=0.35)
    for k in range(pair_rows * ncols):
        top, bottom = axes[2 * (k // ncols), k % ncols], axes[2 * (k // ncols) + 1, k % ncols]
        if k >= count:
            top.set_visible(False)
            bottom.set_visible(False)
            continue
        top.imshow(images[k])
        _bare(top, titles[k] if titles else f"image {k}")
        draw_overlay(bottom, images[k], rollout_maps[k], title="rollout")
    fig.suptitle(textwrap.fill(variant, width=int(13 * PANEL_INCHES * ncols)), fontsize=8)  # ~13 chars/inch
    return fig


def depth_comparison_figure(
    images: Sequence[np.ndarray],
    maps: np.ndarray,
    layers: Sequence[int],
    labels: Sequence[str] = ("early", "middle", "late"),
):
    """One row per image: the image, then its map at each chosen depth (`maps` [K, len(layers), rows, cols])."""
    fig, axes = _panel_grid(len(images), 1 + len(layers))
    for k, image in enumerate(images):
        axes[k, 0].imshow(image)
        _bare(axes[k, 0], "image" if k == 0 else "")
        for j, layer in enumerate(layers):
            title = f"{labels[j]}: layer {layer}" if k == 0 else ""
            draw_overlay(axes[k, 1 + j], image, maps[k, j], title=title)
    return fig


def distance_entropy_figure(
    distance: np.ndarray,
    entropy: np.ndarray,
    layers: Sequence[int],
    distance_unit: str = "patches",
    uniform_distance: float | None = None,
    max_entropy: float | None = None,
):
    """Two scatter panels, x = layer, one dot per head: mean attention distance and attention entropy.

    `distance` and `entropy` are [len(layers), H] (already averaged over images). Dashed lines show what
    uniform attention would give: `uniform_distance` (the mean distance between patches) and `max_entropy`
    (ln T); a head on the line looks everywhere alike, a head far below it looks locally / at few tokens.
    """
    fig, (left, right) = new_figure(7.0, 3.2, 1, 2)
    _head_scatter(left, distance, layers, uniform_distance, "uniform attention")
    left.set_ylabel(f"mean attention distance ({distance_unit})")
    _head_scatter(right, entropy, layers, max_entropy, "uniform attention")
    right.set_ylabel("attention entropy (nats)")
    handles, labels = left.get_legend_handles_labels()
    if len(handles) <= 13:
        fig.legend(handles, labels, loc="outside lower center", ncols=min(len(handles), 7), frameon=False)
    return fig


def query_attention_figure(
    image: np.ndarray,
    maps: np.ndarray,
    queries: Sequence[tuple[str, int]],
    layers: Sequence[int],
    grid: tuple[int, int],
):
    """Where chosen patches look: one row per query patch (outlined), one column per layer.

    `maps` is [len(queries), len(layers), rows, cols] (e.g. the head mean of the query's attention row).
    """
    fig, axes = _panel_grid(len(queries), len(layers))
    for i, (label, index) in enumerate(queries):
        for j, layer in enumerate(layers):
            draw_overlay(axes[i, j], image, maps[i, j], title=f"{label}, layer {layer}")
            mark_patch(axes[i, j], index, grid, image.shape)
    return fig


def encoder_comparison_figure(
    images: Sequence[np.ndarray],
    target_maps: np.ndarray,
    context_maps: np.ndarray,
    grid: tuple[int, int],
    hidden: np.ndarray | None = None,
):
    """One row per image: the image, the target encoder's map, the context encoder's map ([K, rows, cols]).

    `hidden` [K, N] (True = patch hidden from the context encoder) is hatched on the context panel.
    """
    fig, axes = _panel_grid(len(images), 3)
    for k, image in enumerate(images):
        axes[k, 0].imshow(image)
        _bare(axes[k, 0], "image" if k == 0 else "")
        draw_overlay(axes[k, 1], image, target_maps[k], title="target encoder" if k == 0 else "")
        draw_overlay(axes[k, 2], image, context_maps[k], title="context encoder" if k == 0 else "")
        if hidden is not None:
            _hatch_hidden(axes[k, 2], hidden[k], grid, image.shape)
    return fig


def _hatch_hidden(ax, hidden: np.ndarray, grid: tuple[int, int], image_shape: tuple[int, ...]):
    """Hatch the hidden patches (row-major [N] bool) of an image panel."""
    from matplotlib.patches import Rectangle

    cell_h, cell_w = image_shape[0] / grid[0], image_shape[1] / grid[1]
    for index in np.flatnonzero(hidden):
        row, col = divmod(int(index), grid[1])
        ax.add_patch(
            Rectangle(
                (col * cell_w, row * cell_h), cell_w, cell_h, fill=False, hatch="///", edgecolor="white", linewidth=0
            )
        )


def _head_scatter(ax, values: np.ndarray, layers: Sequence[int], reference: float | None, reference_label: str):
    """Scatter [L, H] values at x = layer (heads offset a little, one colour each) above a dashed reference."""
    num_heads = values.shape[1]
    offsets = np.linspace(-0.15, 0.15, num_heads) if num_heads > 1 else np.zeros(1)
    for head in range(num_heads):
        ax.scatter(
            np.asarray(layers) + offsets[head],
            values[:, head],
            s=18,
            alpha=0.85,
            linewidths=0,
            color=PALETTE[head % len(PALETTE)] if num_heads <= len(PALETTE) else PALETTE[0],
            label=f"head {head}",
        )
    top = float(np.nanmax(values))
    if reference is not None:
        ax.axhline(reference, color="0.4", linestyle="--", linewidth=1, label=reference_label)
        top = max(top, reference)
    ax.set_ylim(0, top * 1.12 if top > 0 else 1.0)
    ax.set_xlabel("layer (block index)")
    ax.set_xticks(list(layers))


def _panel_grid(nrows: int, ncols: int, extra_height: float = 0.0):
    """Return a Figure and a 2-D array of image axes sized for small multiples."""
    fig, axes = new_figure(PANEL_INCHES * ncols, PANEL_INCHES * nrows + 0.2 * nrows + extra_height, nrows, ncols)
    return fig, np.asarray(axes, dtype=object).reshape(nrows, ncols)


def _bare(ax, title: str) -> None:
    """Remove ticks and grid from an image panel and set a small title."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=7)
