"""The "loss-landscape" section: the run's loss around the stored weights along two filter-normalised random
directions, and along the straight lines between consecutive checkpoints (landscape.py), on the report's
fixed batch (batch.py).

How many loss evaluations it makes follows from the model and the batch, never from a stopwatch: the grid
shrinks from --landscape-grid until grid^2 times the estimated FLOPs of one evaluation (models/flops.py) fit
the FLOP budget --landscape-tflop, and the interpolation takes as many checkpoint pairs as fit half of it. So
the same run and seed give the same report on any machine and under any load. The 25 TFLOP default keeps a
ViT-B/16 with a batch of 8 at about 120 s on 2 CPU threads (benchmarks/bench_landscape.py: ~0.54 TFLOP and
2.9 s per H-JEPA point, 5 x 5; ~0.25 TFLOP and 1.2 s per I-JEPA point, 9 x 9) while small models keep the
full 21 x 21. --landscape-seconds adds an opt-in time limit, measured, which the report names when it acted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise

import numpy as np

from ...memory import FilePages, byte_span, file_backed, release_free_memory
from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..precision import Precision, fell_back, sweep_precision
from . import figures, landscape
from .batch import LossBatch, checkpoints_in_order, loss_skip_reason

MAX_PAIRS = 3  # interpolation: at most the last 3 consecutive checkpoint pairs, fewer (at least 1) when their
# evaluations would not fit half of the landscape's budget
INTERPOLATION_T = np.linspace(-0.25, 1.25, 7)
PATH_PRECISION = Precision(
    "fp32",
    "always: consecutive checkpoints often differ in loss by less than bfloat16 resolves (~1e-4 of the loss; a "
    "generated ViT-B/16 run's paths spanned 1.5e-3 against a 6e-5 bfloat16 error)",
)
DEFAULT_GRID = 21  # points per axis asked for (settings.landscape_grid, --landscape-grid) ...
MIN_GRID = 5  # ... reduced in steps of 2, not below this, until the grid fits the budget


def choose_grid(asked: int, cost_per_point: float, budget: float | None) -> int:
    """Return the grid size: `asked`, reduced by 2 at a time (not below MIN_GRID) until asked^2 evaluations at
    `cost_per_point` each fit `budget` (the same unit: FLOPs, or seconds under --landscape-seconds); no
    budget (None or 0): `asked`."""
    n = asked
    while budget and n - 2 >= MIN_GRID and n * n * cost_per_point > budget:
        n -= 2
    return n


@dataclass
class Budget:
    """What limits the landscape's evaluations: the FLOP budget and, if asked for, a time limit."""

    point_flops: float  # estimated FLOPs of one grid point (the loss's context side)
    loss_flops: float  # estimated FLOPs of one whole loss (an interpolation point)
    flops: float | None  # settings.landscape_tflop * 1e12; None = no limit
    seconds: float | None = None  # settings.landscape_seconds; None = no time limit
    point_seconds: float | None = None  # one measured grid point, only under a time limit
    loss_seconds: float | None = None  # one measured whole loss, only under a time limit


@dataclass
class LandscapeResult(PassResult):
    """The loss surface, how its grid was chosen, the interpolation paths and the batch they all used."""

    surface: landscape.Surface
    seeds: list[int]
    grid_from: str
    batch: str  # the batch, its mask seed and the loss formula, in words
    interpolation: list[dict] = field(default_factory=list)
    pairs_from: str = ""
    distinct_checkpoints: int = 0
    surface_precision: Precision | None = None  # the grid's arithmetic and its measured error (precision.py)


class LandscapePass(AnalysisPass[LandscapeResult]):
    """2-D loss surface along two filter-normalised directions, and 1-D interpolation between checkpoints."""

    name = "loss-landscape"
    title = "Loss landscape"
    minimal = False
    needs_model = True
    reads_encodings = False  # its own loss evaluations on the fixed batch

    def applies(self, ctx: ReportContext) -> str | None:
        if ctx.settings.minimal:
            return "skipped under --minimal (the landscape evaluates the loss hundreds of times)"
        return ctx.session.skip_reason() or loss_skip_reason(ctx)

    def compute(self, ctx: ReportContext) -> LandscapeResult:
        batch = LossBatch.draw(ctx, ctx.session.model())
        surface, seeds, budget, grid, why, surface_precision = _surface(ctx, batch)
        refs = checkpoints_in_order(ctx.run)
        count, pairs_from = pair_count(len(refs) - 1, budget)
        result = LandscapeResult(
            surface=surface,
            seeds=seeds,
            grid_from=why,
            batch=batch.describe(),
            interpolation=_interpolate(ctx, batch, refs[-(count + 1) :] if count else []),
            pairs_from=pairs_from,
            distinct_checkpoints=len(ctx.run.unique_checkpoints()),
            surface_precision=surface_precision,
        )
        summary = landscape.sharpness_summary(surface)
        finite = summary["non_finite_points"] == 0
        result.add_check(
            "landscape-finite",
            "pass" if finite else "warn",
            "the loss is finite on the whole grid"
            if finite
            else f"{summary['non_finite_points']} grid points give a non-finite loss",
            figure_id="contour",
        )
        if not result.interpolation:
            result.notes.append("No checkpoint interpolation: the run has fewer than two distinct checkpoints.")
        result.metrics.update(
            {
                "grid": grid,
                "grid_from": why,
                "batch_size": len(batch.images),
                "mask_seed": batch.seed,
                "direction_seeds": seeds,
                "seconds": surface.seconds,
                **summary,
                "interpolation": result.interpolation,
                "loss_grid": surface.loss.tolist(),
                "point_gflop": budget.point_flops / 1e9,
                "budget_tflop": ctx.settings.landscape_tflop,
                "time_limit_s": budget.seconds,
                "precision": {"grid": surface_precision.as_dict(), "interpolation": PATH_PRECISION.as_dict()},
            }
        )
        result.notes.extend(batch.settings.notes)
        return result

    def present(self, result: LandscapeResult) -> Presentation:
        s = result.surface
        n = len(s.coords)
        how = (
            f"{n}x{n} grid on [-1, 1]^2 ({result.grid_from}), {result.batch}, the same batch and masks at "
            f"every point; directions: Gaussian seeds {result.seeds[0]} and {result.seeds[1]}, "
            "filter-normalised (Li et al. 2018), biases and norm parameters fixed; only the trained parameters "
            "move (context encoder, predictor, projections), the EMA target encoder is held fixed"
        )
        shown = Presentation(
            intro=(
                "The loss around the stored weights along two random directions scaled to "
                "each filter's size (Li et al. 2018, 'Visualizing the Loss Landscape of Neural "
                "Nets')."
            )
        )
        shown.add_figure(
            "contour",
            "Loss landscape: contour",
            f"Loss L(theta + a d1 + b d2) over {how}. The star is the stored weights (a = b = 0), the cross the grid "
            f"minimum. Healthy: a basin around the star with roughly round contours; contours crowded near the "
            "star mean a sharp minimum, a minimum far from the star means training had not settled along these "
            f"directions. Arithmetic: {result.surface_precision.describe()}. Took {s.seconds:.0f} s.",
            figures.landscape_contour(s),
        )
        shown.add_figure(
            "surface",
            "Loss landscape: 3-D surface",
            "The same grid as the contour plot, drawn as a surface (height and colour = loss). Healthy: one smooth "
            "bowl; ridges, plateaus or spikes point to an irregular, chaotic landscape.",
            figures.landscape_surface(s),
        )
        pairs = result.interpolation
        if pairs:
            shown.add_figure(
                "interpolation",
                "Linear interpolation between consecutive checkpoints",
                "Loss on the same batch and masks at (1 - t) theta_A + t theta_B, all tensors interpolated (EMA "
                "target included), t from -0.25 to 1.25 (Goodfellow et al. 2015). t = 0 and t = 1 are the "
                "checkpoints (each checkpoint's loss is evaluated once per report, shared with gradient flow); "
                f"the last {len(pairs)} of {result.distinct_checkpoints - 1} consecutive pairs "
                f"({result.pairs_from}). Arithmetic: {PATH_PRECISION.describe()}. Healthy: a monotone or "
                "convex path with the later checkpoint lower; a bump between them is a barrier the optimiser crossed.",
                figures.interpolation_figure(pairs),
            )
        return shown


def grid_size(asked: int, budget: Budget) -> tuple[int, str]:
    """Return the grid size and how it was chosen: the FLOP rule, then the time limit if one was set."""
    n = choose_grid(asked, budget.point_flops, budget.flops)
    why = (
        f"{asked} points per axis as asked"
        if n == asked
        else (
            f"reduced from {asked} to {n} to fit the FLOP budget of {budget.flops / 1e12:g} TFLOP at an estimated "
            f"{budget.point_flops / 1e9:.3g} GFLOP per point; --landscape-grid and --landscape-tflop set it"
        )
    )
    if budget.seconds:
        timed = choose_grid(n, budget.point_seconds, budget.seconds)
        if timed < n:
            why += (
                f"; then reduced from {n} to {timed} by --landscape-seconds {budget.seconds:g} at a measured "
                f"{budget.point_seconds:.2f} s per point"
            )
        n = timed
    return n, why


def pair_count(available: int, budget: Budget) -> tuple[int, str]:
    """Return how many of the last consecutive checkpoint pairs to interpolate (0 without a pair, else 1 to
    MAX_PAIRS: as many as fit half the FLOP budget, and half the time limit if one was set) and why."""
    if available < 1:
        return 0, "the run has fewer than two distinct checkpoints"
    points = len(INTERPOLATION_T)
    fits = int(budget.flops / 2 / max(budget.loss_flops * points, 1.0)) if budget.flops else MAX_PAIRS
    count = max(1, min(available, MAX_PAIRS, fits))
    why = f"at most {MAX_PAIRS}, fewer when their evaluations would exceed half the FLOP budget"
    if budget.seconds:
        timed = max(1, int(budget.seconds / 2 / max(budget.loss_seconds * points, 1e-9)))
        if timed < count:
            count, why = (
                timed,
                (
                    f"{why}; reduced to {timed} by --landscape-seconds {budget.seconds:g} at a "
                    f"measured {budget.loss_seconds:.2f} s per loss"
                ),
            )
    return count, why


def _budget(ctx: ReportContext, model, batch: LossBatch, loss_fn) -> Budget:
    """The FLOP estimates of this batch against the settings' budget; under --landscape-seconds also one
    measured grid point and one measured whole loss (the only place a clock decides anything)."""
    flops = model.loss_flops(batch.masks, batch.settings)
    tflop, seconds = ctx.settings.landscape_tflop, ctx.settings.landscape_seconds
    budget = Budget(
        point_flops=flops.context,
        loss_flops=flops.total,
        flops=tflop * 1e12 if tflop else None,
        seconds=seconds or None,
    )
    if budget.seconds:
        budget.point_seconds = _timed(loss_fn)
        budget.loss_seconds = _timed(lambda: batch.full_loss(model))
    return budget


def _timed(fn) -> float:
    """Seconds one call of `fn` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _surface(ctx: ReportContext, batch: LossBatch):
    """The 2-D filter-normalised landscape of the chosen checkpoint: (surface, direction seeds, budget, grid,
    why that grid, precision). Its networks and directions are dropped on return, before other checkpoints are
    loaded. In bfloat16 (precision.py) the stored weights and the last grid point are also evaluated in
    float32, and the grid is redone in float32 when they differ by more than TOLERANCE of the grid's range."""
    model = ctx.session.model()
    closure = batch.loss_with(model)
    params = landscape.trainable_parameters(model.network)
    _hand_back_fixed(model, params)
    seeds = [int(s) for s in ctx.rng("landscape-directions").integers(2**31, size=2)]
    fp32 = partial(_inference, closure, model)
    budget = _budget(ctx, model, batch, fp32)
    grid, why = grid_size(int(ctx.settings.landscape_grid or DEFAULT_GRID), budget)
    coords = np.linspace(-1.0, 1.0, grid)
    chosen = sweep_precision(ctx.settings.precision, model, grid * grid * budget.point_flops)
    ctx.progress(f"loss landscape: {grid}x{grid} grid in {chosen.name}")
    sweep = partial(landscape.loss_surface, params=params, seeds=tuple(seeds), coords=coords, progress=ctx.progress)
    stored = _file_weights(ctx, ctx.session.checkpoint, params)
    known = ctx.session.batch_loss(ctx.session.checkpoint, batch.seed)  # gradient flow's, on the same batch
    if chosen.name == "fp32":
        surface = sweep(fp32, stored=stored, known=known)
    else:
        bf16 = partial(_inference, closure, model, "bf16")
        surface = sweep(bf16, reference_fn=fp32, stored=stored, known=known)
        if not chosen.measured(surface.checked, _loss_range(surface.loss), "the grid's loss range"):
            chosen = fell_back(chosen)
            ctx.progress("loss landscape: bfloat16 error too large, redoing the grid in float32")
            surface = sweep(fp32, stored=stored, known=known)
    return surface, seeds, budget, grid, why, chosen


def _file_weights(ctx: ReportContext, ref, like: dict) -> landscape.StoredWeights | None:
    """The tensors of `ref`'s networks named as in `like`, read-only from a second zero-copy load whose file
    pages are handed back after each read (memory.FilePages), or None when they would not be file pages
    (another dtype, a GPU, a factory's model): then the caller holds a copy, as before."""
    if FilePages.of(like.values()) is None:  # not even the session's own load maps the file: a load copies
        return None
    tensors = _float_tensors(ctx.session.scratch_model(ref))
    if not set(like) <= set(tensors):
        return None
    chosen = {name: tensors[name] for name in like}
    pages = FilePages.of(chosen.values())
    return None if pages is None else landscape.StoredWeights(chosen, pages.drop)


def _hand_back_fixed(model, params: dict) -> None:
    """Hand back the file pages of the tensors the grid never moves nor reads again (the EMA target encoder,
    whose targets the loss closure has already computed): a ViT-B/16's 0.34 GB of the peak. Only tensors of a
    zero-copy load, which the report never writes (it moves only `params`), are dropped (memory.FilePages); a
    later read faults them back in from the file, unchanged."""
    pages = FilePages.available()
    if pages is None:
        return
    moved = [byte_span(p) for p in params.values()]
    for tensor in file_backed(
        t for t in _float_tensors(model).values() if not any(_overlap(byte_span(t), m) for m in moved)
    ):
        pages.drop(tensor)


def _overlap(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _loss_range(values) -> float:
    """The range a landscape figure shows (max - min of the finite values), or 1 when there is none."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    return spread if spread > 0 else 1.0


def _interpolate(ctx: ReportContext, batch: LossBatch, refs: list) -> list[dict]:
    """L((1 - t) theta_A + t theta_B) for consecutive pairs of `refs` (all tensors, EMA included), in float32.

    Each pair is evaluated on a scratch load of A (session.scratch_model) overwritten at every t from A's and
    B's file pages (landscape.interpolation_between: one network's memory); where a load copies the weights
    (other dtypes, a GPU) A's copy steps along B - A instead (landscape.interpolation: two networks). The
    session's networks are released first, and freed memory is returned to the system after each pair.

    t = 0 and t = 1 are the checkpoints themselves: their losses on this batch are taken from the session
    when a pass has evaluated them (gradient flow, or the previous pair), and kept there when evaluated here,
    so no checkpoint's loss is evaluated twice ("reused" in each pair lists the t taken so)."""
    session = ctx.session
    session.release()
    pairs = []
    for a, b in pairwise(refs):
        ctx.progress(f"loss landscape: interpolating {a.name} -> {b.name}")
        ends = {0.0: a, 1.0: b}
        known = {t: session.batch_loss(ref, batch.seed) for t, ref in ends.items()}
        known = {t: loss for t, loss in known.items() if loss is not None}
        vessel = session.scratch_model(a)
        params = _float_tensors(vessel)
        start, end = _file_weights(ctx, a, params), _file_weights(ctx, b, params)
        loss_fn = partial(batch.full_loss, vessel)
        if start is not None and end is not None:
            losses = landscape.interpolation_between(loss_fn, params, start, end, INTERPOLATION_T, known)
        else:  # weights copied on load: step A's copy along B - A (two networks in memory)
            start = end = None
            b_copy = _float_tensors(session.scratch_model(b))
            losses = landscape.interpolation(loss_fn, params, b_copy, INTERPOLATION_T, known)
            del b_copy
        for t, ref in ends.items():
            session.record_batch_loss(ref, batch.seed, losses[list(INTERPOLATION_T).index(t)])
        pairs.append(
            {
                "from": a.name,
                "to": b.name,
                "t": INTERPOLATION_T.tolist(),
                "loss": losses.tolist(),
                "reused": sorted(known),
            }
        )
        del vessel, params, start, end
        release_free_memory()  # this pair's written weights, before the next pair is loaded
    return pairs


def _float_tensors(model) -> dict:
    """Every floating-point tensor of a model's networks by state-dict name (the tensors themselves, sharing the
    parameters' memory), each once: a network registered under two names (one encoder in both roles) would
    otherwise be stepped twice."""
    out, seen = {}, set()
    for name, tensor in model.network.state_dict().items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if tensor.is_floating_point() and key not in seen:
            seen.add(key)
            out[name] = tensor
    return out


def _inference(closure, model, precision: str = "fp32") -> float:
    """Evaluate a loss closure of `model` under torch.inference_mode in `precision` and return a float."""
    import torch

    with torch.inference_mode(), model.autocast(precision):
        return float(closure())
