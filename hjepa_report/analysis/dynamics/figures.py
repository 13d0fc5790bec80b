"""Figures of the training-dynamics sections. Each function takes computed numbers and returns a Figure.

No pyplot (analysis.plotting.new_figure); the caller draws inside plot_style() (AnalysisPass.run does).
"""

from __future__ import annotations

import numpy as np

from ..plotting import PALETTE, new_figure

SCHEDULE_LABELS = {"lr": "learning rate", "weight_decay": "weight decay", "ema_momentum": "EMA momentum"}


def hierarchy_levels_figure(h, weight: float):
    """Per-level loss curves (left) and each level's share of the weighted total (right)."""
    from ..curves import draw_curve

    shares = h.shares()
    fig, axes = new_figure(9.0, 3.3, 1, 2 if shares is not None else 1)
    ax_curves = axes[0] if shares is not None else axes
    for k, (level, tag) in enumerate(h.tags.levels.items()):
        draw_curve(ax_curves, h.steps, h.levels[k], weight=weight, label=f"level {level} ({tag})", color=PALETTE[k % 8])
    ax_curves.set(xlabel="step", ylabel="loss", title="loss per hierarchy level")
    ax_curves.legend(loc="upper right")
    if shares is not None:
        ax = axes[1]
        ax.stackplot(h.steps, np.nan_to_num(shares), colors=PALETTE[: len(shares)],
                     labels=[f"level {lv} (w={w:g})" for lv, w in zip(h.tags.levels, h.weights)], alpha=0.85)
        ax.set(xlabel="step", ylabel="share of weighted total", ylim=(0, 1), xlim=(h.steps[0], h.steps[-1]),
               title="share  w_l L_l / sum_k w_k L_k")
        ax.legend(loc="lower left", framealpha=0.9)
    return fig


def weighted_sum_figure(h):
    """Logged total vs the weighted sum of the logged levels (top) and their difference (bottom)."""
    fig, (ax, ax_res) = new_figure(7.0, 4.2, 2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    ax.plot(h.total_steps, h.total, "o", ms=4, color=PALETTE[0], label=f"logged total ({h.tags.total})")
    w = ", ".join(f"{x:g}" for x in h.weights)
    ax.plot(h.total_steps, h.weighted_sum, "-", lw=1.4, color=PALETTE[1], label=f"sum of levels, weights [{w}]")
    ax.set(ylabel="loss", title="logged total vs recomputed weighted sum")
    ax.legend(loc="upper right")
    ax_res.axhline(0.0, color="#555555", lw=0.8)
    ax_res.plot(h.total_steps, h.residual, "o-", ms=3, lw=1, color=PALETTE[2])
    ax_res.set(xlabel="step", ylabel="total - sum")
    ax_res.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
    return fig


def schedules_figure(implied, logged: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str]):
    """One panel per schedule: the config-implied curve (line) and the logged values (dots) if any."""
    fig, axes = new_figure(3.2 * len(names), 3.0, 1, len(names))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names):
        curve = implied.get(name) if implied is not None else None
        if curve is not None:
            ax.plot(implied.steps, curve, "-", lw=1.6, color=PALETTE[1], label="implied by config")
            if np.ptp(curve) == 0 and name not in logged:  # a constant: show it against zero, not as noise
                ax.set_ylim(min(0.0, curve[0] * 1.5), max(0.0, curve[0] * 1.5) or 1.0)
        if name in logged:
            s, v = logged[name]
            ax.plot(s, v, "o", ms=3.5, color=PALETTE[0], label="logged", zorder=3)
        suffix = "" if name in logged else " (config only)"
        ax.set(title=SCHEDULE_LABELS[name] + suffix, xlabel="step")
        if name == "ema_momentum":
            ax.ticklabel_format(axis="y", useOffset=False)
        ax.legend(loc="best")
    return fig


def drift_heatmap(table):
    """Heatmap of the relative target-context distance: checkpoints (rows) x encoder parts (columns)."""
    values = table.values
    fig, ax = new_figure(max(4.5, 0.75 * len(table.parts) + 2.5), 0.5 * len(table.checkpoints) + 1.8)
    im = ax.imshow(values, aspect="auto", cmap="viridis")
    ax.set_xticks(range(len(table.parts)), table.parts, rotation=30, ha="right")
    ax.set_yticks(range(len(table.checkpoints)), table.checkpoints)
    ax.grid(False)
    finite = values[np.isfinite(values)]
    mid = (finite.min() + finite.max()) / 2 if len(finite) else 0.0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7,
                    color="black" if v > mid else "white")
    fig.colorbar(im, ax=ax, label="||target - context|| / ||target||")
    ax.set_title("EMA drift per encoder part")
    return fig
