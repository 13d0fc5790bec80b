"""Figure helpers for every layer that draws (analysis, compare, render): no pyplot, one style via rc_context.

Passes create figures with `new_figure`; `AnalysisPass.run` draws them inside `plot_style()` and the
renderer saves them inside it too, so the global rcParams are never mutated.
"""

from __future__ import annotations

from contextlib import contextmanager

# Okabe & Ito (2008) colour-blind-safe palette, readable on the white figure cards in light and dark mode.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "axes.prop_cycle": None,  # filled in by plot_style (cycler import is cheap but keep it lazy)
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "image.cmap": "viridis",
}


@contextmanager
def plot_style():
    """Apply the report's matplotlib style for the duration of the block."""
    import matplotlib
    from cycler import cycler

    style = dict(STYLE, **{"axes.prop_cycle": cycler(color=PALETTE)})
    with matplotlib.rc_context(style):
        yield


def new_figure(width: float = 7.0, height: float = 3.2, nrows: int = 1, ncols: int = 1, **subplot_kw):
    """Return (Figure, axes) without pyplot; axes squeezed like pyplot.subplots. Sizes in inches."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, **subplot_kw)
    return fig, axes
