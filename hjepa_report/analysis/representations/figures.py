"""Figures of the embedding space: health panels, projections, nearest neighbours (matplotlib, no pyplot).

Each function takes numbers computed elsewhere and returns a Figure; captions live with the pass.
"""

from __future__ import annotations

import numpy as np

from ...plotting import PALETTE, new_figure
from . import metrics
from .embedding import Projection

ANCHOR_STYLE = {"isotropic": dict(color="#7f7f7f", ls="--"), "collapsed": dict(color="#000000", ls=":")}
ANCHOR_LABEL = {"isotropic": "isotropic Gaussian (healthy)", "collapsed": "rank-1 (collapsed)"}
MARKERS = "osD^vP*X"


def health_figure(z: np.ndarray, anchors: dict[str, np.ndarray], name: str = "embeddings"):
    """Draw the four embedding-health panels, with the healthy and collapsed anchors of the same shape."""
    fig, axes = new_figure(9.0, 6.0, 2, 2)
    (ax_std, ax_norm), (ax_sv, ax_cos) = axes
    d = z.shape[1]
    ranks = np.arange(1, d + 1)
    floor = 1e-4  # a collapsed anchor's stds are ~1e-16: draw them at the floor so the axis stays readable
    ax_std.plot(ranks, np.maximum(np.sort(metrics.per_dimension_std(z))[::-1], floor), color=PALETTE[0], label=name)
    for key, ref in anchors.items():
        ax_std.plot(
            ranks,
            np.maximum(np.sort(metrics.per_dimension_std(ref))[::-1], floor),
            label=ANCHOR_LABEL[key] + (" (at the 1e-4 floor)" if key == "collapsed" else ""),
            **ANCHOR_STYLE[key],
        )
    ax_std.axhline(1 / np.sqrt(d), color=PALETTE[1], lw=1, label=f"1/sqrt(d) = {1 / np.sqrt(d):.3f}")
    ax_std.set(
        title="Per-dimension std (L2-normalised rows, sorted)", xlabel="dimension (sorted)", ylabel="std", yscale="log"
    )
    ax_std.legend(loc="lower left")

    ax_norm.hist(metrics.norms(z), bins=30, color=PALETTE[0])
    ax_norm.set(title="Embedding norms", xlabel="L2 norm", ylabel="count")

    for label, mat, style in [(name, z, dict(color=PALETTE[0]))] + [
        (ANCHOR_LABEL[k], ref, ANCHOR_STYLE[k]) for k, ref in anchors.items()
    ]:
        s = metrics.singular_values(mat)
        ax_sv.plot(np.arange(1, len(s) + 1), np.maximum(s / s.sum(), 1e-12), label=label, **style)
    ax_sv.set(
        title="Singular values / their sum (RankMe's p_k)", xlabel="index k", ylabel="p_k", xscale="log", yscale="log"
    )
    ax_sv.set_ylim(bottom=1e-8)
    ax_sv.legend(loc="lower left")

    bins = np.linspace(-1, 1, 41)
    centres = (bins[:-1] + bins[1:]) / 2  # the counts are drawn as weights at the bin centres: the same bars
    ax_cos.hist(
        centres, bins=bins, weights=metrics.pairwise_cosine_counts(z, bins), color=PALETTE[0], alpha=0.8, label=name
    )
    ax_cos.hist(
        centres,
        bins=bins,
        weights=metrics.pairwise_cosine_counts(anchors["isotropic"], bins),
        histtype="step",
        lw=1.5,
        color=ANCHOR_STYLE["isotropic"]["color"],
        ls="--",
        label=ANCHOR_LABEL["isotropic"],
    )
    ax_cos.axvline(1.0, color="black", ls=":", label="rank-1 (collapsed): all at 1")
    ax_cos.set(title="Pairwise cosine similarity (distinct pairs)", xlabel="cosine", ylabel="pairs")
    ax_cos.legend(loc="upper left")
    return fig


def health_table_rows(health: dict, anchor_health: dict[str, dict]) -> list[list]:
    """Return table rows: measure, value, isotropic anchor, collapsed anchor, what healthy looks like."""
    spec = [
        ("RankMe (Garrido et al. 2023)", "rankme", "high: near the isotropic anchor"),
        ("alpha-ReQ (Agrawal et al. 2022)", "alpha_req", "near 1 (large: few directions dominate)"),
        ("VICReg variance term (Bardes et al. 2022)", "vicreg_variance", "low (0: every std >= 1)"),
        ("VICReg covariance term (Bardes et al. 2022)", "vicreg_covariance", "low (0: decorrelated)"),
        ("mean pairwise cosine", "mean_pairwise_cosine", "well below 1 (1: all rows aligned)"),
        ("mean std of normalised dims", "normalised_std_mean", f"near 1/sqrt(d) = {health['isotropic_std']:.3f}"),
    ]
    return [
        [
            label,
            _round(health.get(key)),
            _round(anchor_health["isotropic"].get(key)),
            _round(anchor_health["collapsed"].get(key)),
            hint,
        ]
        for label, key, hint in spec
    ]


def _round(value):
    return None if value is None else round(float(value), 4)


def projection_figure(projs: list[Projection], labels):
    """Scatter each available projection, coloured (and marked) by class label, one legend."""
    shown = [p for p in projs if p.coords is not None]
    fig, axes = new_figure(3.3 * max(1, len(shown)) + 1.6, 3.6, 1, max(1, len(shown)))
    axes = np.atleast_1d(axes)
    names = np.unique(labels) if labels is not None else np.array(["all images"])
    for ax, proj in zip(axes, shown, strict=False):  # one blank axis when nothing was projected
        lab = np.asarray(labels)[proj.indices] if labels is not None else np.full(len(proj.indices), names[0])
        for i, name in enumerate(names):
            sel = lab == name
            ax.scatter(
                proj.coords[sel, 0],
                proj.coords[sel, 1],
                s=22 if len(lab) > 100 else 45,
                color=PALETTE[i % len(PALETTE)],
                marker=MARKERS[(i // len(PALETTE)) % len(MARKERS)],
                label=str(name),
                alpha=0.85,
                edgecolors="none",
            )
        if proj.method == "pca":
            ax.set(
                xlabel=f"PC1 ({100 * proj.explained[0]:.1f}% var.)", ylabel=f"PC2 ({100 * proj.explained[1]:.1f}% var.)"
            )
        else:
            ax.set(xlabel=f"{proj.method.upper()} 1", ylabel=f"{proj.method.upper()} 2")
            ax.set_xticks([]), ax.set_yticks([])
        ax.set_title({"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}[proj.method])
    handles, texts = axes[0].get_legend_handles_labels()
    if len(names) > 1:
        fig.legend(handles, texts, loc="outside right upper", title="class", markerscale=1.3)
    return fig


def neighbours_figure(images: list[np.ndarray], queries, neighbours, scores, labels=None):
    """Draw each query image followed by its nearest neighbours, titled with cosine similarity (and class)."""
    rows, k = neighbours.shape
    fig, axes = new_figure(1.45 * (k + 1), 1.6 * rows + 0.2, rows, k + 1)
    axes = np.atleast_2d(axes)
    for r, q in enumerate(queries):
        panels = [(q, "query")] + [(int(j), f"cos {s:.3f}") for j, s in zip(neighbours[r], scores[r], strict=True)]
        for c, (idx, title) in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(images[idx], interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if labels is not None:
                title += f"\n{labels[idx]}"
                if c > 0:
                    same = labels[idx] == labels[q]
                    for spine in ax.spines.values():
                        spine.set(visible=True, color=PALETTE[2] if same else PALETTE[1], lw=2.5)
            ax.set_title(title, fontsize=8, fontweight="bold" if c == 0 else "normal")
    return fig
