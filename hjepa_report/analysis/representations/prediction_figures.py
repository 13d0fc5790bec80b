"""Figures of predictor output against targets: per-patch maps on the image grid and cosine distributions."""

from __future__ import annotations

import numpy as np

from ...plotting import PALETTE, new_figure
from .predictions import LevelErrors, patch_grid

MAX_MAP_IMAGES = 4
HIDDEN_TINT = np.array([0.0, 0.0, 0.0])
TARGET_TINT = np.array([230, 159, 0]) / 255.0  # Okabe-Ito orange


def mask_picture(picture: np.ndarray, hidden: np.ndarray, predicted: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Return the image with hidden patches darkened and predicted patches tinted orange (float RGB in [0, 1])."""
    h, w = picture.shape[:2]
    rows, cols = grid

    def upsample(mask):
        cell = mask.reshape(rows, cols).astype(float)
        return np.kron(cell, np.ones((h // rows, w // cols)))[..., None]

    img = picture[..., :3] / 255.0
    img = img * (1 - 0.6 * upsample(hidden))
    tint = upsample(predicted)
    return img * (1 - 0.55 * tint) + TARGET_TINT * 0.55 * tint


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="#e6e6e6")


def prediction_maps_figure(
    levels: list[LevelErrors], pictures: list[np.ndarray], hidden: np.ndarray, grid: tuple[int, int]
):
    """Rows: up to 4 images, then the mean-target-token baseline for the first image. Columns: image, mask,
    then per level the cosine map and the L2 map (grey: patch not predicted)."""
    n_img = min(MAX_MAP_IMAGES, len(pictures))
    n_patches = grid[0] * grid[1]
    ncols = 2 + 2 * len(levels)
    fig, axes = new_figure(1.35 * ncols + 0.4, 1.45 * (n_img + 1) + 0.9, n_img + 1, ncols)
    axes = np.atleast_2d(axes)
    l2_max = [float(np.nanpercentile(np.r_[lev.l2[lev.valid], lev.baseline_l2[lev.valid]], 99)) for lev in levels]
    rows = [(i, False) for i in range(n_img)] + [(0, True)]
    for r, (i, baseline) in enumerate(rows):
        predicted = np.zeros(n_patches, bool)
        idx = levels[0].members[i].ravel()
        predicted[idx[idx >= 0]] = True
        axes[r, 0].imshow(pictures[i])
        axes[r, 1].imshow(mask_picture(pictures[i], hidden[i], predicted, grid))
        axes[r, 0].set_ylabel("baseline\n(mean token)" if baseline else f"image {i + 1}", fontsize=8)
        for j, lev in enumerate(levels):
            cos = lev.baseline_cosine[i] if baseline else lev.cosine[i]
            l2 = lev.baseline_l2[i] if baseline else lev.l2[i]
            im_c = axes[r, 2 + 2 * j].imshow(
                patch_grid(cos, lev.members[i], n_patches).reshape(grid),
                cmap=_cmap("RdBu"),
                vmin=-1,
                vmax=1,
                interpolation="nearest",
            )
            im_l = axes[r, 3 + 2 * j].imshow(
                patch_grid(l2, lev.members[i], n_patches).reshape(grid),
                cmap=_cmap("viridis"),
                vmin=0,
                vmax=l2_max[j],
                interpolation="nearest",
            )
            if r == 0:
                axes[r, 2 + 2 * j].set_title(f"level {lev.level}\ncosine", fontsize=8)
                axes[r, 3 + 2 * j].set_title(f"level {lev.level}\nL2 error", fontsize=8)
            if r == len(rows) - 1:
                fig.colorbar(im_c, ax=axes[:, 2 + 2 * j], location="bottom", shrink=0.9, pad=0.02)
                fig.colorbar(im_l, ax=axes[:, 3 + 2 * j], location="bottom", shrink=0.9, pad=0.02)
    axes[0, 0].set_title("image", fontsize=8)
    axes[0, 1].set_title("mask (dark: hidden,\norange: predicted)", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    return fig


def cosine_histogram_figure(levels: list[LevelErrors]):
    """Per level, the distribution of per-token cosine similarity: predictor vs the mean-token baseline."""
    fig, axes = new_figure(3.2 * len(levels) + 0.4, 2.9, 1, len(levels), sharey=False)
    axes = np.atleast_1d(axes)
    bins = np.linspace(-1, 1, 41)
    for ax, lev in zip(axes, levels, strict=True):
        pred, base = lev.cosine[lev.valid], lev.baseline_cosine[lev.valid]
        ax.hist(pred, bins=bins, color=PALETTE[0], alpha=0.8, label=f"predictor (mean {pred.mean():.3f})")
        ax.hist(
            base,
            bins=bins,
            histtype="step",
            lw=1.6,
            color=PALETTE[1],
            label=f"mean-token baseline (mean {base.mean():.3f})",
        )
        ax.axvline(pred.mean(), color=PALETTE[0], ls="--", lw=1)
        ax.axvline(base.mean(), color=PALETTE[1], ls=":", lw=1)
        ax.set(
            title=f"level {lev.level} ({int(lev.valid.sum())} tokens)",
            xlabel="cosine(prediction, target)",
            ylabel="tokens",
        )
        ax.legend(loc="upper left", fontsize=7)
    return fig
