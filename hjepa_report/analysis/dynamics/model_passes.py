"""Training-dynamics passes that run the rebuilt networks: gradient flow and the loss landscape.

Both evaluate the run's own loss (loss.py) on the first BATCH sample images with one seeded draw of the run's
own masks (analysis.masking samplers); the landscape keeps that batch and those masks fixed at every grid point.
"""

from __future__ import annotations

import time

import numpy as np

from ..base import AnalysisPass, ReportContext, Section
from ..thresholds import threshold
from . import figures as fg
from . import gradients as gr
from . import landscape as ls
from .loss import context_loss, jepa_loss, loss_settings, network_layout, target_cache, training_masks
from .section import json_friendly

BATCH = 8
MAX_CHECKPOINTS = 6  # gradient heatmap: at most this many checkpoints, evenly spaced, the last always in
MAX_PAIRS = 3  # interpolation: at most the last 3 consecutive checkpoint pairs, fewer (at least 1) when their
# evaluations would not fit half the landscape's time budget
INTERPOLATION_T = np.linspace(-0.25, 1.25, 7)
DEFAULT_GRID = 21  # points per axis asked for (settings.landscape_grid, --landscape-grid) ...
MIN_GRID = 5  # ... reduced in steps of 2, not below this, until the grid fits the time budget:
LANDSCAPE_BUDGET_S = 120.0  # settings.landscape_seconds when present; 0 or None = no limit


def choose_grid(asked: int, per_point: float, budget: float | None) -> int:
    """Return the grid size: `asked`, reduced by 2 at a time (not below MIN_GRID) until asked^2 loss evaluations
    at `per_point` seconds each fit `budget` seconds (no budget: `asked`). Measured on a ViT-B/16 with batch 8 on
    2 CPU threads, a point costs 1.2-2.9 s (benchmarks/bench_landscape.py), so the 120 s default gives 9x9 to 5x5
    there, while small models and GPUs keep 21x21."""
    n = asked
    while budget and n - 2 >= MIN_GRID and n * n * per_point > budget:
        n -= 2
    return n


class Batch:
    """The fixed batch of one report: images, masks drawn with a stated seed, the loss settings, the model."""

    def __init__(self, ctx: ReportContext, model):
        from ..model_access import sample_images

        self.model = model
        self.layout = network_layout(model)
        images = sample_images(ctx).tensor
        self.images = images[:BATCH].to(model.device)
        self.seed = int(ctx.rng("dynamics-masks").integers(2**31))
        info = model.info
        self.masks = training_masks(ctx.run.config, self.layout, len(self.images), self.seed, info.grid,
                                    info.patch_size)
        if self.layout == "hjepa":
            self.masks = self.masks.to(model.device)
        else:
            self.masks = tuple([m.to(model.device) for m in group] for group in self.masks)
        self.settings = loss_settings(ctx.run.config, self.layout, getattr(model.network, "num_levels", 1))

    def describe(self) -> str:
        return (f"{len(self.images)} sample images, one draw of the run's masks (seed {self.seed}), loss = "
                f"{self.settings.describe()}")

    def loss_with(self, model):
        """Return a closure computing the loss of `model` on this batch (targets computed once)."""
        cache = target_cache(model, self.images, self.masks, self.layout)
        return lambda: context_loss(model, self.images, cache, self.settings)[0]


def _model_reason(ctx: ReportContext) -> str | None:
    from ..model_access import model_skip_reason

    return model_skip_reason(ctx)


def _checkpoints(ctx: ReportContext, limit: int) -> list:
    """The run's distinct checkpoints in training order, thinned evenly to `limit` (the last kept)."""
    refs = sorted(ctx.run.unique_checkpoints(),
                  key=lambda c: (c.epoch if c.epoch is not None else -1, c.step if c.step is not None else -1))
    if len(refs) <= limit:
        return refs
    keep = np.unique(np.linspace(0, len(refs) - 1, limit).round().astype(int))
    return [refs[i] for i in keep]


class GradientFlowPass(AnalysisPass):
    """Per-layer gradient norms and gradient-to-weight ratios after one backward pass of the run's loss."""

    name = "gradient-flow"
    title = "Gradient flow"

    def applies(self, ctx: ReportContext) -> str | None:
        return _model_reason(ctx)

    def compute(self, ctx: ReportContext) -> dict:
        from ..model_access import chosen_checkpoint, model_for

        model = model_for(ctx)
        batch = Batch(ctx, model)
        ctx.progress("gradient flow: one backward pass")
        flow = gr.gradient_flow(model.network, batch.loss_with(model))
        sweep = []
        for ref in _checkpoints(ctx, MAX_CHECKPOINTS):
            if str(ref.path) == str(chosen_checkpoint(ctx).path):
                sweep.append((ref.name, flow))
                continue
            ctx.progress(f"gradient flow: {ref.name}")
            other = model_for(ctx, ref)
            sweep.append((ref.name, gr.gradient_flow(other.network, batch.loss_with(other))))
        return {"batch": batch, "flow": flow, "sweep": sweep, "checkpoint": chosen_checkpoint(ctx).name,
                "logged": [t for t in ctx.run.scalars.tags() if "grad" in t.lower()]}

    def present(self, result: dict, ctx: ReportContext, section: Section) -> None:
        flow, batch = result["flow"], result["batch"]
        section.intro = ("One backward pass of the run's own loss through the stored weights shows where the "
                         "gradient signal reaches and where it fades.")
        section.add_figure(
            "layers", f"Gradients per layer ({result['checkpoint']})",
            f"One backward pass on {batch.describe()}. Top: gradient-to-weight ratio ||g|| / ||w|| per layer "
            "(log scale; the relative size of a plain gradient step, as in LARS, You et al. 2017), coloured by layer "
            "type, in forward order; bottom: mean and max |g| over each layer's entries. The target encoder gets "
            f"no gradient (EMA copy). Healthy: ratios within a few decades of each other from the first block to "
            f"the last; a steady fall towards the input means vanishing gradients. Red line: "
            f"{threshold(ctx, 'gradients.vanishing'):g} (the vanishing threshold; absolute |g| scales with the "
            "loss, a mean over many entries, so compare the ratios across layers too).",
            fg.gradient_layers_figure(flow, threshold(ctx, "gradients.vanishing")))
        if len(result["sweep"]) > 1:
            cols, matrix = gr.as_matrix([f for _, f in result["sweep"]])
            section.add_figure(
                "blocks", "Gradient-to-weight ratio per block across checkpoints",
                f"||g_block|| / ||w_block|| over all layers of each block (columns) for each checkpoint (rows, "
                f"training order; at most {MAX_CHECKPOINTS}), same batch and masks, colour on a log10 scale. "
                "Healthy: ratios shrink over training as the loss falls, without one block going dark (vanishing) "
                "or bright (exploding) alone.",
                fg.gradient_blocks_heatmap([n for n, _ in result["sweep"]], cols, matrix))
        vanishing = threshold(ctx, "gradients.vanishing")
        self._checks(flow, section, vanishing, threshold(ctx, "gradients.exploding"))
        self._logged(result["logged"], ctx, section)
        section.metrics.update({
            "checkpoint": result["checkpoint"], "loss": flow.loss, "mask_seed": batch.seed,
            "batch_size": len(batch.images), "loss_formula": batch.settings.describe(),
            "layers": [{"layer": lg.name, "grad_norm": lg.grad_norm, "mean_abs": lg.mean_abs, "max_abs": lg.max_abs,
                        "weight_norm": lg.weight_norm, "ratio": lg.ratio, "finite": lg.finite}
                       for lg in flow.layers],
            "no_gradient": flow.no_gradient})
        section.metrics = json_friendly(section.metrics)
        section.notes.extend(batch.settings.notes)

    def _checks(self, flow: gr.GradientFlow, section: Section, vanishing: float, exploding: float) -> None:
        """One check: fail on non-finite gradients, warn on vanishing or exploding layers, else pass."""
        found = flow.problems(vanishing, exploding)
        rules = {"non-finite": "non-finite gradients", "vanishing": f"every |g| < {vanishing:g}",
                 "exploding": f"||g|| > {exploding:g}"}
        bad = [f"{len(found[k])} layers with {rules[k]} ({', '.join(lg.name for lg in found[k][:4])}"
               f"{', ...' if len(found[k]) > 4 else ''})" for k in rules if found[k]]
        if bad:
            section.add_check("gradient-flow", "fail" if found["non-finite"] else "warn", "; ".join(bad),
                              figure_id="layers")
        else:
            low = min(flow.layers, key=lambda lg: lg.max_abs)
            section.add_check("gradient-flow", "pass", f"all {len(flow.layers)} layers have finite gradients, none "
                              f"vanishing (< {vanishing:g}) or exploding (> {exploding:g}); smallest max |g| "
                              f"{low.max_abs:.2g} in {low.name}", figure_id="layers", value=low.max_abs)
        if flow.no_gradient:
            section.notes.append("No gradient reaches " + ", ".join(flow.no_gradient)
                                 + " (not used by the loss's forward pass).")

    def _logged(self, tags: list[str], ctx: ReportContext, section: Section) -> None:
        if not tags:
            section.notes.append("The run logged no gradient statistics of its own.")
            return
        section.add_figure(
            "logged", "Gradient statistics the run logged",
            "Every logged tag whose name contains 'grad', as the run wrote it (bold: debiased EMA smoothing "
            f"{ctx.settings.smoothing}). Healthy: steady or slowly decreasing, no spikes or NaN markers.",
            fg.logged_curves_figure(ctx.run.scalars, tags[:8], ctx.settings.smoothing))


class LandscapePass(AnalysisPass):
    """2-D loss surface along two filter-normalised directions, and 1-D interpolation between checkpoints."""

    name = "loss-landscape"
    title = "Loss landscape"
    minimal = False

    def applies(self, ctx: ReportContext) -> str | None:
        if ctx.settings.minimal:
            return "skipped under --minimal (the landscape evaluates the loss hundreds of times)"
        return _model_reason(ctx)

    def compute(self, ctx: ReportContext) -> dict:
        from ..model_access import model_for

        model = model_for(ctx)
        batch = Batch(ctx, model)
        closure = batch.loss_with(model)
        loss_fn = lambda: _inference(closure)  # noqa: E731
        params = ls.trainable_parameters(model.network)
        rng = ctx.rng("landscape-directions")
        seeds = [int(s) for s in rng.integers(2**31, size=2)]
        d1, d2 = (ls.filter_normalized_direction(params, s) for s in seeds)
        grid, why = self._grid(ctx, loss_fn)
        ctx.progress(f"loss landscape: {grid}x{grid} grid")
        surface = ls.loss_surface(loss_fn, params, d1, d2, np.linspace(-1.0, 1.0, grid), ctx.progress)
        return {"batch": batch, "surface": surface, "seeds": seeds, "grid_why": why,
                "interpolation": self._interpolate(ctx, model, batch),
                "distinct_checkpoints": len(ctx.run.unique_checkpoints())}

    def _grid(self, ctx: ReportContext, loss_fn) -> tuple[int, str]:
        """Return the grid size (see choose_grid) and how it was chosen, timing one loss evaluation."""
        asked = int(getattr(ctx.settings, "landscape_grid", None) or DEFAULT_GRID)
        budget = _budget(ctx)
        start = time.perf_counter()
        loss_fn()
        per_point = time.perf_counter() - start
        n = choose_grid(asked, per_point, budget)
        if n == asked:
            return n, f"{asked} points per axis as asked"
        return n, (f"reduced from {asked} to fit {budget:.0f} s at {per_point:.2f} s per point; "
                   "--landscape-grid and the time budget set it")

    def _interpolate(self, ctx: ReportContext, model, batch: Batch) -> list[dict]:
        """L((1 - t) theta_A + t theta_B) for the last consecutive checkpoint pairs (all tensors, EMA included).

        As many pairs as fit half the time budget at the measured cost of one full loss (at least one, at most
        MAX_PAIRS)."""
        from ..model_access import model_for

        refs = _checkpoints(ctx, 10**9)
        if len(refs) < 2:
            return []
        state = {k: v for k, v in model.network.state_dict().items() if v.is_floating_point()}
        loss_fn = lambda: _inference(lambda: jepa_loss(model, batch.images, batch.masks, ctx.run.config)[0])  # noqa
        start = time.perf_counter()
        loss_fn()
        per_eval = time.perf_counter() - start
        budget = _budget(ctx)
        fits = int(budget / 2 / max(per_eval * len(INTERPOLATION_T), 1e-9)) if budget else MAX_PAIRS
        refs = refs[-(max(1, min(MAX_PAIRS, fits)) + 1):]
        pairs = []
        for a, b in zip(refs, refs[1:]):
            ctx.progress(f"loss landscape: interpolating {a.name} -> {b.name}")
            # cloned: one of them may be the very network whose tensors the interpolation overwrites
            sa, sb = ({k: v.detach().clone() for k, v in model_for(ctx, r).network.state_dict().items()}
                      for r in (a, b))
            losses = ls.interpolation(loss_fn, state, sa, sb, INTERPOLATION_T)
            pairs.append({"from": a.name, "to": b.name, "t": INTERPOLATION_T.tolist(),
                          "loss": losses.tolist()})
        return pairs

    def present(self, result: dict, ctx: ReportContext, section: Section) -> None:
        s, batch = result["surface"], result["batch"]
        summary = ls.sharpness_summary(s)
        n = len(s.coords)
        how = (f"{n}x{n} grid on [-1, 1]^2 ({result['grid_why']}), {batch.describe()}, the same batch and masks "
               f"at every point; directions: Gaussian seeds {result['seeds'][0]} and {result['seeds'][1]}, "
               "filter-normalised (Li et al. 2018), biases and norm parameters fixed; only the trained parameters "
               "move (context encoder, predictor, projections), the EMA target encoder is held fixed")
        section.intro = ("The loss around the stored weights along two random directions scaled to each filter's "
                         "size (Li et al. 2018, 'Visualizing the Loss Landscape of Neural Nets').")
        section.add_figure(
            "contour", "Loss landscape: contour",
            f"Loss L(theta + a d1 + b d2) over {how}. The star is the stored weights (a = b = 0), the cross the grid "
            f"minimum. Healthy: a basin around the star with roughly round contours; contours crowded near the "
            "star mean a sharp minimum, a minimum far from the star means training had not settled along these "
            f"directions. Took {s.seconds:.0f} s.", fg.landscape_contour(s))
        section.add_figure(
            "surface", "Loss landscape: 3-D surface",
            f"The same grid as the contour plot, drawn as a surface (height and colour = loss). Healthy: one smooth "
            "bowl; ridges, plateaus or spikes point to an irregular, chaotic landscape.", fg.landscape_surface(s))
        pairs = result["interpolation"]
        if pairs:
            section.add_figure(
                "interpolation", "Linear interpolation between consecutive checkpoints",
                "Loss on the same batch and masks at (1 - t) theta_A + t theta_B, all tensors interpolated (EMA "
                "target included), t from -0.25 to 1.25 (Goodfellow et al. 2015). t = 0 and t = 1 are the "
                f"checkpoints; the last {len(pairs)} of {result['distinct_checkpoints'] - 1} consecutive pairs "
                f"(at most {MAX_PAIRS}, fewer when their evaluations would exceed half the time budget). "
                "Healthy: a monotone or convex path with the later checkpoint lower; a bump between them is a "
                "barrier the optimiser crossed.", fg.interpolation_figure(pairs))
        else:
            section.notes.append("No checkpoint interpolation: the run has fewer than two distinct checkpoints.")
        finite = summary["non_finite_points"] == 0
        section.add_check("landscape-finite", "pass" if finite else "warn",
                          "the loss is finite on the whole grid" if finite else
                          f"{summary['non_finite_points']} grid points give a non-finite loss", figure_id="contour")
        section.metrics.update({"grid": n, "grid_from": result["grid_why"], "batch_size": len(batch.images),
                                "mask_seed": batch.seed, "direction_seeds": result["seeds"], "seconds": s.seconds,
                                **summary, "interpolation": pairs,
                                "loss_grid": s.loss.tolist()})
        section.metrics = json_friendly(section.metrics)
        section.notes.extend(batch.settings.notes)


def _budget(ctx: ReportContext) -> float | None:
    """The landscape's time budget in seconds (settings.landscape_seconds, default LANDSCAPE_BUDGET_S)."""
    return getattr(ctx.settings, "landscape_seconds", LANDSCAPE_BUDGET_S)


def _inference(closure) -> float:
    """Evaluate a loss closure under torch.inference_mode and return a float."""
    import torch

    with torch.inference_mode():
        return float(closure())

