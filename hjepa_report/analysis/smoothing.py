"""Curve smoothing and downsampling for drawing long logs.

The smoother is TensorBoard's: an exponential moving average with the zero-initialisation bias divided out
(tensorboard/webapp/widgets/line_chart_v2/lib/data_transformer.ts, `classicSmoothing`; the same debiasing as
Adam, Kingma & Ba 2015, Sec. 3). Unlike a boxcar window it does not shift the curve to the right by half a
window, and the first points are not dragged towards zero.
"""

from __future__ import annotations

import numpy as np


def debiased_ema(values: np.ndarray, weight: float = 0.6) -> np.ndarray:
    """Return TensorBoard's debiased exponential smoothing of `values` with smoothing weight in [0, 1).

    s_t = w * s_{t-1} + (1 - w) * x_t with s_0 = 0 over the finite points, reported as s_t / (1 - w^n_t)
    where n_t counts the finite points so far. Non-finite points are passed through unchanged and do not
    update the average. A constant series is returned as is.
    """
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1), got {weight}")
    x = np.asarray(values, dtype=float)
    out = x.copy()
    finite = np.isfinite(x)
    if weight == 0.0 or not finite.any():
        return out
    if np.all(x[finite] == x[finite][0]):
        return out
    last, n = 0.0, 0
    for i in np.flatnonzero(finite):
        last = last * weight + (1.0 - weight) * x[i]
        n += 1
        out[i] = last / (1.0 - weight**n)
    return out


def downsample_for_drawing(steps: np.ndarray, *series: np.ndarray, max_points: int = 2000):
    """Return (steps, *series) thinned to about `max_points` points, keeping every non-finite point.

    Call it AFTER smoothing: the smoothed curve is computed at full resolution, only drawing is thinned.
    Keeps the first and last point and every NaN/inf so markers for bad values are never lost.
    """
    n = len(steps)
    if n <= max_points:
        return (steps, *series)
    keep = np.zeros(n, dtype=bool)
    keep[np.linspace(0, n - 1, max_points).round().astype(int)] = True
    for s in series:
        keep |= ~np.isfinite(s)
    return (steps[keep], *(s[keep] for s in series))
