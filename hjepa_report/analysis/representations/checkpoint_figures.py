"""Figures across checkpoints: measured curves against epoch and the collapse metrics logged in training."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...plotting import PALETTE, new_figure

LOGGED_FAMILIES = {  # H-JEPA trainer tags (src/trainers/trainer.py, _compute_collapse_metrics)
    "std": ["train/context_std", "train/target_std"],
    "eff_rank": ["train/context_eff_rank", "train/target_eff_rank"],
    "norm": ["train/context_norm", "train/target_norm"],
    "knn": ["online_eval/knn_accuracy"],
}


def _x(rows: list[dict]) -> np.ndarray:
    return np.array([r["epoch"] if r.get("epoch") is not None else i for i, r in enumerate(rows)], float)


def _series(ax, x, rows, key, **style):
    y = np.array([np.nan if r.get(key) is None else r[key] for r in rows], float)
    if np.isfinite(y).any():
        ax.plot(x, y, marker="o", ms=4, **style)
    return y


@dataclass(frozen=True)
class Units:
    """What one sample and one token are called in the figures: an image and its patches, or a clip and its
    tubelets (video runs)."""

    sample: str = "image"
    token: str = "patch"


IMAGE_UNITS = Units()
VIDEO_UNITS = Units("clip", "tubelet")


def curves_figure(rows: list[dict], best: str | None, references: dict, units: Units = IMAGE_UNITS):
    """Panels vs epoch: RankMe, alpha-ReQ, kNN accuracy and, where the sweep measured the predictor, the level-0
    prediction cosine (best marked)."""
    rows = [r for r in rows if "error" not in r]
    predicted = any(r.get("prediction_cosine") is not None and np.isfinite(r["prediction_cosine"]) for r in rows)
    fig, axes = new_figure(9.0, 5.6, 2, 2) if predicted else new_figure(12.0, 3.4, 1, 3)
    axes = np.atleast_1d(axes).ravel()
    x = _x(rows)
    ax = axes[0]
    _series(ax, x, rows, "rankme", color=PALETTE[0], label=f"{units.sample} embeddings (mean-pooled)")
    _series(ax, x, rows, "rankme_tokens", color=PALETTE[2], label=f"{units.token} tokens")
    for key, color, text in (
        ("rankme_isotropic", PALETTE[0], f"isotropic, {units.sample} shape"),
        ("rankme_tokens_isotropic", PALETTE[2], "isotropic, token shape"),
    ):
        if references.get(key) is not None:
            ax.axhline(references[key], color=color, ls="--", lw=1, label=text)
    ax.set(title="RankMe (Garrido et al. 2023)", ylabel="RankMe")
    ax = axes[1]
    _series(ax, x, rows, "alpha_req", color=PALETTE[0], label=f"{units.token} tokens")
    ax.axhline(1.0, color="#7f7f7f", ls="--", lw=1, label="alpha = 1")
    ax.set(title="alpha-ReQ (Agrawal et al. 2022)", ylabel="alpha")
    ax = axes[2]
    knn = _series(ax, x, rows, "knn_accuracy", color=PALETTE[0], label="kNN (leave-one-out)")
    bands = np.array([r.get("knn_interval") or (np.nan, np.nan) for r in rows], float).reshape(-1, 2)
    if np.isfinite(bands).all() and len(rows):
        ax.fill_between(x, bands[:, 0], bands[:, 1], color=PALETTE[0], alpha=0.18, lw=0, label="95% interval")
    if references.get("chance") is not None:
        ax.axhline(references["chance"], color="#7f7f7f", ls="--", lw=1, label="chance (majority class)")
    if not np.isfinite(knn).any():
        ax.text(0.5, 0.5, "no class labels: no kNN accuracy", ha="center", va="center", transform=ax.transAxes)
    ax.set(title="kNN accuracy (leave-one-out)", ylabel="accuracy", ylim=(-0.02, 1.02))
    if predicted:
        ax = axes[3]
        _series(ax, x, rows, "prediction_cosine", color=PALETTE[0], label="predictor")
        _series(ax, x, rows, "baseline_cosine", color=PALETTE[1], ls="--", label="mean-token baseline")
        ax.set(title="Level-0 prediction cosine", ylabel="mean cosine")
    for ax in axes:
        ax.set_xlabel("epoch")
        if best is not None:
            for xi, r in zip(x, rows, strict=True):
                if r["name"] == best:
                    ax.axvline(xi, color=PALETTE[4], lw=6, alpha=0.25, label="best checkpoint")
        if ax.lines:
            ax.legend(fontsize=7, loc="best")
    return fig


def logged_figure(
    series: dict[str, tuple], tags: dict[str, list[str]], checkpoint_steps: list[float], isotropic_rank_cap=None
):
    """One panel per logged family (std, eff_rank, norm, kNN) vs training step, checkpoints marked; `series`
    holds (steps, values) of each logged tag."""
    families = [(name, found) for name, found in tags.items() if found]
    fig, axes = new_figure(3.3 * len(families) + 0.4, 3.0, 1, len(families))
    axes = np.atleast_1d(axes)
    titles = {
        "std": "std of all batch values",
        "eff_rank": "logged effective rank",
        "norm": "mean norm per image",
        "knn": "online kNN accuracy (%)",
    }
    for ax, (name, found) in zip(axes, families, strict=True):
        for i, tag in enumerate(found):
            steps, values = series[tag]
            ax.plot(steps, values, marker="o", ms=3, color=PALETTE[i], label=tag)
        if name == "eff_rank" and isotropic_rank_cap:
            ax.axhline(isotropic_rank_cap, color="#7f7f7f", ls="--", lw=1, label=f"cap = {isotropic_rank_cap}")
        for s in checkpoint_steps:
            ax.axvline(s, color=PALETTE[4], lw=1, alpha=0.6)
        ax.set(title=titles[name], xlabel="training step")
        ax.legend(fontsize=7, loc="best")
    return fig


def dense_figure(rows: list[dict], units: Units = IMAGE_UNITS):
    """Two panels vs epoch: the SIGReg isotropy statistic with its Gaussian reference, and the Gram drift."""
    rows = [r for r in rows if "error" not in r]
    fig, axes = new_figure(9.0, 3.0, 1, 2)
    x = _x(rows)
    ax = axes[0]
    _series(ax, x, rows, "isotropy", color=PALETTE[0], label=f"{units.token} tokens")
    _series(ax, x, rows, "isotropy_gaussian", color="#7f7f7f", ls="--", label="isotropic Gaussian, same shape")
    ax.set(title="Isotropy (SIGReg statistic; lower is more isotropic)", ylabel="statistic", xlabel="epoch")
    ax.set_yscale("log")
    ax = axes[1]
    drift = _series(ax, x, rows, "gram_drift", color=PALETTE[2], label="Gram drift to the last checkpoint")
    if not np.isfinite(drift).any():
        ax.text(0.5, 0.5, "no patch tokens", ha="center", va="center", transform=ax.transAxes)
    ax.set(title="Dense features: Gram drift", ylabel="relative Frobenius distance", xlabel="epoch")
    for ax in axes:
        if ax.lines:
            ax.legend(fontsize=7, loc="best")
    return fig
