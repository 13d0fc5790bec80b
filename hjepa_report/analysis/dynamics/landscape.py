"""Loss landscape: filter-normalised random directions, a 2-D loss surface, and 1-D checkpoint interpolation.

Method: Li, Xu, Taylor, Studer & Goldstein 2018, "Visualizing the Loss Landscape of Neural Nets" (NeurIPS),
Sec. 4: draw a Gaussian direction d with the shape of the parameters, then rescale every filter d_{i,j} to the
norm of the corresponding weight filter, d_{i,j} <- d_{i,j} / ||d_{i,j}|| * ||theta_{i,j}||; bias and
normalisation parameters (1-D tensors) get a zero direction. A filter is one output row of a weight (dim 0:
a Linear's output unit, a conv's output channel); for [1, ...] tables (position embedding, CLS / mask token)
the whole table is one filter. Then L(theta + a d1 + b d2) is evaluated on one fixed batch with fixed masks
over a grid of (a, b). 1-D linear interpolation between checkpoints: Goodfellow, Vinyals & Saxe 2015,
"Qualitatively characterizing neural network optimization problems", L((1 - t) theta_A + t theta_B).

Which parameters move: the ones the optimizer trains (context encoder, predictor, hierarchy projections; every
parameter with requires_grad). The EMA target encoder is not trained by gradients and the loss stops its
gradient, so it is held fixed and its features are computed once per batch (JepaModel.loss_targets): the
surface is the one the optimizer descends on, and each grid point costs one context-encoder + predictor pass.
In end-to-end runs the targets come from the encoder being moved, so the loss recomputes them at every point
(models/loss.py), and a VICReg / SIGReg term is part of the loss at every point (its SIGReg directions seeded,
the same at every point, so the surface is a function of the weights).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

DIRECTION_DTYPE = "bfloat16"  # the torch dtype the random directions are stored in (direction_tensors)


def trainable_parameters(module) -> dict:
    """Return {name: parameter} of the parameters gradients train (requires_grad), in a stable order."""
    return {n: p for n, p in module.named_parameters() if p.requires_grad}


def direction_tensors(params: dict, seed: int):
    """Yield (name, direction tensor) of a random filter-normalised direction, one tensor at a time.

    Gaussian entries from torch.Generator seeded with `seed`, drawn parameter by parameter in sorted name order
    (so the direction does not depend on dict order); 1-D parameters (biases, norm scales) get zeros. The
    same seed yields the same tensors, so a direction can be drawn again instead of being stored.

    The direction is stored in bfloat16 (DIRECTION_DTYPE): it is a random direction, so its entries need no
    more digits, and the one direction the grid holds takes half the memory of the weights instead of as much
    (a ViT-B/16 H-JEPA: 0.29 GB instead of 0.58). Rounding moves each filter's norm from the weight filter's by
    at most 2^-8 relative, bfloat16's unit roundoff (tests/test_dynamics_model.py); theta + a d1 + b d2 is
    computed in the weights' dtype.
    """
    import torch

    dtype = getattr(torch, DIRECTION_DTYPE)
    gen = torch.Generator().manual_seed(int(seed))
    for name in sorted(params):
        w = params[name].detach()
        if w.ndim <= 1:
            yield name, torch.zeros(w.shape, dtype=dtype, device=w.device)
            continue
        # drawn on the CPU in float32, then moved: the same direction on any device and for any weight dtype
        d = torch.randn(w.shape, generator=gen, dtype=torch.float32).to(w.device)
        w_rows, d_rows = w.reshape(w.shape[0], -1).float(), d.reshape(d.shape[0], -1)
        scale = w_rows.norm(dim=1, keepdim=True) / d_rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        yield name, (d_rows * scale).reshape(w.shape).to(dtype)  # Li et al. 2018, Sec. 4


def filter_normalized_direction(params: dict, seed: int) -> dict:
    """Return the random direction of `direction_tensors(params, seed)` as {name: tensor}, in params' order."""
    direction = dict(direction_tensors(params, seed))
    return {name: direction[name] for name in params}


@dataclass
class Surface:
    """L(theta + a d1 + b d2) on a grid: loss[i, j] at (a = coords[j], b = coords[i])."""

    coords: np.ndarray
    loss: np.ndarray
    origin_loss: float  # loss of the unperturbed parameters, measured before the grid
    seconds: float
    checked: list[dict] = field(default_factory=list)  # points also evaluated by reference_fn (float32)


def loss_surface(
    loss_fn,
    params: dict,
    seeds: tuple[int, int],
    coords,
    progress=None,
    reference_fn=None,
    stored=None,
    known: float | None = None,
) -> Surface:
    """Evaluate `loss_fn()` (a float) with params moved to theta + a d1 + b d2 for every (a, b) in coords^2,
    d1 and d2 the filter-normalised directions of the two seeds. `reference_fn` (e.g. the float32 loss when
    loss_fn runs in bfloat16) is also evaluated at the stored weights and at the last grid point, into
    Surface.checked. `known`: the float32 loss at the stored weights when another pass has already evaluated
    it (session.batch_loss): it stands for the reference there, or for loss_fn itself without a reference
    (then loss_fn is the float32 loss), instead of an evaluation of the same weights.

    Memory: d1 is held (in bfloat16: half a copy of the trained parameters); d2 is drawn again at the start of each row
    instead of being stored, and along a row the parameters step by (a' - a) d1 (at most len(coords) float32
    additions, ~1e-6 relative, deterministic). theta is read from `stored` when given (a StoredWeights: the
    checkpoint's own file pages, handed back after each read, so no copy is held), else from a copy. The
    parameters are changed in place and restored exactly afterwards, even on error.
    """
    import time

    import torch

    coords = np.asarray(coords, dtype=float)
    start = time.perf_counter()
    if stored is None:
        stored = StoredWeights({n: p.detach().clone() for n, p in params.items()})
    saved, done = stored.tensors, stored.done
    d1 = filter_normalized_direction(params, seeds[0])
    loss = np.full((len(coords), len(coords)), np.nan)
    try:
        with torch.no_grad():
            if reference_fn is None:
                origin, checked = float(loss_fn() if known is None else known), []
            else:
                origin = float(loss_fn())
                at_origin = reference_fn if known is None else lambda: known
                checked = [_checked("stored weights", origin, at_origin)]
            for i, b in enumerate(coords):
                for n, d2 in direction_tensors(saved, seeds[1]):  # theta + b d2 + a_0 d1, d2 drawn again
                    params[n].copy_(saved[n]).add_(d2, alpha=float(b)).add_(d1[n], alpha=float(coords[0]))
                    done(saved[n])
                for j, a in enumerate(coords):
                    if j:
                        for n, p in params.items():
                            p.add_(d1[n], alpha=float(a - coords[j - 1]))
                    loss[i, j] = float(loss_fn())
                if reference_fn is not None and i == len(coords) - 1:
                    checked.append(_checked(f"(a, b) = ({coords[-1]:g}, {b:g})", loss[i, -1], reference_fn))
                if progress:
                    progress(f"loss landscape: row {i + 1}/{len(coords)}")
    finally:
        with torch.no_grad():
            for n, p in params.items():
                p.copy_(saved[n])
                done(saved[n])
    return Surface(coords=coords, loss=loss, origin_loss=origin, seconds=time.perf_counter() - start, checked=checked)


@dataclass
class StoredWeights:
    """Read-only tensors by parameter name and what to call after reading one: the stored weights theta of the
    landscape, or the two ends of an interpolation. From a zero-copy checkpoint load, `done` hands the pages
    read back to the kernel (memory.FilePages.drop); for tensors in memory it does nothing."""

    tensors: dict
    done: Callable = lambda tensor: None


def _checked(at: str, value: float, reference_fn) -> dict:
    """One point evaluated both ways: the sweep's value and the reference's (float32) on the same weights."""
    return {"at": at, "bf16": float(value), "fp32": float(reference_fn())}


def interpolation(loss_fn, params: dict, end: dict, ts, known: dict | None = None) -> np.ndarray:
    """Return L((1 - t) theta_A + t theta_B) for each t of `ts` (Goodfellow et al. 2015); at a t in `known`
    (t -> loss: the checkpoints' own losses at t = 0 and 1, already evaluated) the known loss is taken.

    `params`: the tensors of a scratch network holding theta_A, moved along the path and left at the last t;
    `end`: theta_B's tensors (a second scratch network's), overwritten with theta_B - theta_A. From t to the
    next t the parameters step by (t' - t)(theta_B - theta_A): nothing beyond the two networks is held (a
    ViT-B/16 H-JEPA pair: ~1.7 GB instead of 3.4), at the cost of one float32 rounding per step (~1e-7
    relative, deterministic).
    """
    import torch

    known = known or {}
    out, previous = [], 0.0
    with torch.no_grad():
        for n, p in params.items():
            end[n].sub_(p)
        for t in ts:
            for n, p in params.items():
                p.add_(end[n].to(p.dtype), alpha=float(t) - previous)
            previous = float(t)
            out.append(float(known[t] if t in known else loss_fn()))
    return np.asarray(out)


def interpolation_between(
    loss_fn, params: dict, start: StoredWeights, end: StoredWeights, ts, known: dict | None = None
) -> np.ndarray:
    """Return L((1 - t) theta_A + t theta_B) for each t of `ts` (Goodfellow et al. 2015), every point computed
    from the two checkpoints themselves (torch.lerp: exactly theta_A at t = 0 and theta_B at t = 1), or
    taken from `known` (t -> loss, e.g. the checkpoints' own losses at t = 0 and 1) without evaluating.

    `params`: the tensors of a scratch network, overwritten at each t; `start` / `end`: theta_A's and
    theta_B's tensors read-only by the same names, from zero-copy loads whose pages are handed back after each
    read, so the pass holds one network's memory (a ViT-B/16 H-JEPA: 0.87 GB instead of two networks' 1.7 GB).
    """
    import torch

    known = known or {}
    out = []
    with torch.no_grad():
        for t in ts:
            if t in known:
                out.append(float(known[t]))
                continue
            for n, p in params.items():
                a, b = start.tensors[n], end.tensors[n]
                torch.lerp(a.to(p.dtype), b.to(p.dtype), float(t), out=p)
                start.done(a)
                end.done(b)
            out.append(float(loss_fn()))
    return np.asarray(out)


def sharpness_summary(surface: Surface) -> dict:
    """Numbers a reader can compare across runs: loss at the origin, grid min / max, and where the min is.

    `rise_at_edge`: mean loss on the grid border divided by the loss at the origin (> 1: the run sits in a
    basin at this scale; close to 1: flat; < 1: it is not at a minimum along these directions).
    """
    loss = surface.loss
    finite = np.isfinite(loss)
    border = np.concatenate([loss[0], loss[-1], loss[1:-1, 0], loss[1:-1, -1]])
    i, j = np.unravel_index(np.nanargmin(loss), loss.shape) if finite.any() else (0, 0)
    return {
        "origin_loss": surface.origin_loss,
        "grid_min": float(np.nanmin(loss)) if finite.any() else None,
        "grid_max": float(np.nanmax(loss)) if finite.any() else None,
        "argmin": [float(surface.coords[j]), float(surface.coords[i])],
        "rise_at_edge": float(np.nanmean(border) / surface.origin_loss) if surface.origin_loss else None,
        "non_finite_points": int((~finite).sum()),
    }
