"""The figure of the predicted-patches section: image, mask and the three retrieval mosaics per image."""

from __future__ import annotations

import numpy as np

from ...plotting import new_figure

COLUMNS = {
    "prediction": "prediction mosaic",
    "baseline": "mean-token baseline\nmosaic",
    "oracle": "true-target mosaic\n(best possible)",
}


def retrieval_figure(
    pictures: list[np.ndarray],
    masks: list[np.ndarray],
    mosaics: dict[str, list[np.ndarray]],
    similarity: dict[str, list[float]],
    names: list[str],
):
    """Rows: the shown images. Columns: image, mask, then one mosaic per query kind with its mean similarity to
    the hidden content underneath."""
    kinds = [k for k in COLUMNS if k in mosaics]
    ncols = 2 + len(kinds)
    fig, axes = new_figure(1.75 * ncols + 0.3, 1.95 * len(pictures) + 0.5, len(pictures), ncols)
    axes = np.atleast_2d(axes)
    for r, picture in enumerate(pictures):
        axes[r, 0].imshow(picture, interpolation="nearest")
        axes[r, 0].set_ylabel(names[r], fontsize=6)
        axes[r, 1].imshow(masks[r], interpolation="nearest")
        for c, kind in enumerate(kinds, start=2):
            axes[r, c].imshow(mosaics[kind][r], interpolation="nearest")
            axes[r, c].set_xlabel(f"cosine to hidden {similarity[kind][r]:.2f}", fontsize=7)
    axes[0, 0].set_title("image", fontsize=8)
    axes[0, 1].set_title("mask (dark: hidden,\norange: predicted)", fontsize=8)
    for c, kind in enumerate(kinds, start=2):
        axes[0, c].set_title(COLUMNS[kind], fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    return fig
