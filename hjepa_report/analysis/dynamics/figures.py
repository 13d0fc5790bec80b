"""Figures of the training-dynamics sections. Each function takes computed numbers (a pass's result) and
returns a Figure.

No pyplot (hjepa_report.plotting.new_figure); the caller draws inside plot_style() (AnalysisPass.run does).
"""

from __future__ import annotations

import numpy as np

from ...plotting import PALETTE, new_figure


def short_name(name: str) -> str:
    """A checkpoint's file name without its folder, for axis labels and legends."""
    return name.replace("\\", "/").rsplit("/", 1)[-1]


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
        ax.stackplot(
            h.steps,
            np.nan_to_num(shares),
            colors=PALETTE[: len(shares)],
            labels=[f"level {lv} (w={w:g})" for lv, w in zip(h.tags.levels, h.weights, strict=True)],
            alpha=0.85,
        )
        ax.set(
            xlabel="step",
            ylabel="share of weighted total",
            ylim=(0, 1),
            xlim=(h.steps[0], h.steps[-1]),
            title="share  w_l L_l / sum_k w_k L_k",
        )
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


CURVE_POINTS = 4000  # points drawn per smooth curve: about four per pixel of the widest panel


def thinned(x: np.ndarray, y: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced samples of a smooth curve (first and last kept), for drawing: an implied schedule has one
    value per training step (1.5M for 300 ImageNet epochs), which as a matplotlib line costs hundreds of MB and
    seconds to draw while looking the same at 4000 points (warm-up and cosine change over thousands of steps)."""
    if len(x) <= points:
        return x, y
    keep = np.unique(np.linspace(0, len(x) - 1, points).round().astype(int))
    return x[keep], y[keep]


def schedules_figure(implied, logged: dict[str, tuple[np.ndarray, np.ndarray]], names: list[str]):
    """One panel per schedule: the config-implied curve (line) and the logged values (dots) if any."""
    fig, axes = new_figure(3.2 * len(names), 3.0, 1, len(names))
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, names, strict=True):
        curve = implied.get(name) if implied is not None else None
        if curve is not None:
            steps, values = thinned(implied.steps, curve)
            ax.plot(steps, values, "--", lw=1.4, color=PALETTE[1], label="implied by config")
            if np.ptp(curve) == 0 and name not in logged:  # a constant: show it against zero, not as noise
                ax.set_ylim(min(0.0, curve[0] * 1.5), max(0.0, curve[0] * 1.5) or 1.0)
        if name in logged:
            s, v = logged[name]
            if len(s) <= 60:
                ax.plot(s, v, "o", ms=3.5, color=PALETTE[0], label="logged", zorder=3)
            else:  # dense logs: a thin line, so the implied curve drawn on top stays visible
                ax.plot(s, v, "-", lw=3.5, alpha=0.45, color=PALETTE[0], label=f"logged ({len(s)} points)", zorder=2)
            if curve is not None:
                ax.lines[0].set_zorder(3)
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
    ax.set_yticks(range(len(table.checkpoints)), [short_name(c) for c in table.checkpoints])
    ax.grid(False)
    finite = values[np.isfinite(values)]
    mid = (finite.min() + finite.max()) / 2 if len(finite) else 0.0
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            ax.text(j, i, f"{v:.2g}", ha="center", va="center", fontsize=7, color="black" if v > mid else "white")
    fig.colorbar(im, ax=ax, label="||target - context|| / ||target||")
    ax.set_title("EMA drift per encoder part")
    return fig


LAYER_KINDS = (  # (substring of the layer name, label, colour) in matching order
    ("qkv", "attention", PALETTE[0]),
    ("in_proj", "attention", PALETTE[0]),
    ("attn", "attention", PALETTE[0]),
    ("mlp", "MLP", PALETTE[1]),
    ("norm", "norm", PALETTE[2]),
    ("embed", "embedding", PALETTE[3]),
    ("token", "embedding", PALETTE[3]),
    ("hierarchy", "hierarchy", PALETTE[4]),
    ("", "other", PALETTE[5]),
)


def _layer_kind(name: str) -> tuple[str, str]:
    return next((label, colour) for key, label, colour in LAYER_KINDS if key in name)


def gradient_layers_figure(flow, vanishing: float):
    """Per layer, in forward order: ||g||/||w|| bars (top) and mean / max |g| (bottom), encoder then predictor."""
    from .gradients import block_order

    layers = sorted(flow.layers, key=lambda lg: block_order((lg.part, lg.block)))
    x = np.arange(len(layers))
    fig, (ax, ax_g) = new_figure(max(7.0, 0.09 * len(layers) + 3), 5.0, 2, 1, sharex=True)
    kinds = [_layer_kind(lg.name) for lg in layers]
    ratio = np.array([lg.ratio for lg in layers])
    ax.bar(x, np.where(np.isfinite(ratio) & (ratio > 0), ratio, np.nan), color=[c for _, c in kinds], width=0.85)
    ax.set(yscale="log", ylabel="||g|| / ||w||")
    for label, colour in dict(kinds).items():
        ax.bar([0], [np.nan], color=colour, label=label)
    ax_g.plot(x, [max(lg.max_abs, 1e-30) for lg in layers], "v", ms=3.5, color=PALETTE[1], label="max |g|")
    ax_g.plot(x, [max(lg.mean_abs, 1e-30) for lg in layers], "o", ms=3, color=PALETTE[0], label="mean |g|")
    ax_g.axhline(vanishing, color="#C0392B", lw=1)
    ax_g.set(yscale="log", ylabel="|g|")
    handles = ax.get_legend_handles_labels()[0] + ax_g.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=4, frameon=False)
    _group_ticks(ax_g, [(lg.part, lg.block) for lg in layers])
    return fig


def _group_ticks(ax, keys: list[tuple[str, str]]) -> None:
    """Label the x-axis once per (part, block) group at its first layer, with separators between parts."""
    starts = [i for i, k in enumerate(keys) if i == 0 or keys[i - 1] != k]
    short = {"encoder": "enc", "predictor": "pred", "hierarchy": "hier"}
    ax.set_xticks(
        starts,
        [f"{short.get(keys[i][0], keys[i][0])} {keys[i][1].replace('block ', 'b')}" for i in starts],
        rotation=90,
        fontsize=7,
    )
    for i in starts[1:]:
        if keys[i][0] != keys[i - 1][0]:
            for a in ax.figure.axes:
                a.axvline(i - 0.5, color="#555555", lw=0.8)


def gradient_blocks_heatmap(checkpoints: list[str], columns: list[tuple[str, str]], matrix: np.ndarray):
    """log10(||g||/||w||) per block (columns) and checkpoint (rows)."""
    from matplotlib.colors import LogNorm

    fig, ax = new_figure(max(6.0, 0.38 * len(columns) + 2.5), 0.45 * len(checkpoints) + 2.2)
    shown = np.where(matrix > 0, matrix, np.nan)
    finite = shown[np.isfinite(shown)]
    norm = LogNorm(vmin=finite.min(), vmax=finite.max()) if len(finite) and finite.min() < finite.max() else None
    im = ax.imshow(shown, aspect="auto", cmap="magma", norm=norm)
    short = {"encoder": "enc", "predictor": "pred", "hierarchy": "hier"}
    ax.set_xticks(
        range(len(columns)),
        [f"{short.get(p, p)} {b.replace('block ', 'b')}" for p, b in columns],
        rotation=90,
        fontsize=7,
    )
    ax.set_yticks(range(len(checkpoints)), [short_name(c) for c in checkpoints])
    ax.grid(False)
    fig.colorbar(im, ax=ax, label="||g|| / ||w||")
    return fig


def logged_curves_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]], weight: float):
    """The run's own gradient tags, one curve each: {tag: (steps, values)}."""
    from ..curves import draw_curve

    fig, ax = new_figure(7.0, 3.2)
    for k, (tag, (steps, values)) in enumerate(curves.items()):
        draw_curve(ax, steps, values, weight=weight, label=tag, color=PALETTE[k % 8])
    ax.set(xlabel="step", ylabel="value")
    ax.legend(loc="best")
    return fig


def landscape_contour(surface):
    """Filled contours of the loss grid, the stored weights at the origin (star) and the grid minimum (cross)."""
    c = surface.coords
    fig, ax = new_figure(5.6, 4.6)
    loss = np.ma.masked_invalid(surface.loss)
    filled = ax.contourf(c, c, loss, levels=20, cmap="viridis")
    ax.contour(c, c, loss, levels=10, colors="white", linewidths=0.5, alpha=0.6)
    i, j = np.unravel_index(np.nanargmin(surface.loss), surface.loss.shape)
    ax.plot([0], [0], "*", ms=14, color="#D55E00", markeredgecolor="white", label="stored weights")
    ax.plot([c[j]], [c[i]], "X", ms=9, color="white", markeredgecolor="black", label="grid minimum")
    ax.set(xlabel="a (direction 1)", ylabel="b (direction 2)", aspect="equal")
    ax.grid(False)
    ax.legend(loc="upper right", framealpha=0.9)
    fig.colorbar(filled, ax=ax, label="loss")
    return fig


def landscape_surface(surface):
    """3-D surface of the loss grid (mpl_toolkits.mplot3d through add_subplot(projection='3d'))."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.0, 4.6), layout="constrained")
    ax = fig.add_subplot(projection="3d")
    a, b = np.meshgrid(surface.coords, surface.coords)
    ax.plot_surface(a, b, np.ma.masked_invalid(surface.loss), cmap="viridis", linewidth=0, antialiased=True)
    ax.set(xlabel="a", ylabel="b", zlabel="loss")
    ax.view_init(elev=30, azim=-60)
    return fig


def interpolation_figure(pairs: list[dict]):
    """Loss along the straight line between consecutive checkpoints; t = 0 and 1 marked."""
    fig, ax = new_figure(6.5, 3.2)
    for k, pair in enumerate(pairs):
        t = np.asarray(pair["t"])
        loss = np.asarray(pair["loss"], dtype=float)
        ax.plot(
            t, loss, "o-", ms=3.5, color=PALETTE[k % 8], label=f"{short_name(pair['from'])} -> {short_name(pair['to'])}"
        )
    for t0 in (0.0, 1.0):
        ax.axvline(t0, color="#555555", lw=0.8, ls="--")
    ax.set(xlabel="t  (0 = earlier checkpoint, 1 = later)", ylabel="loss")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=1 if len(pairs) > 2 else len(pairs), frameon=False)
    return fig
