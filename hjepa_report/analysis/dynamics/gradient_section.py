"""The "gradient-flow" section: per-layer gradient norms and gradient-to-weight ratios after one backward pass
of the run's own loss (gradients.py) on the report's fixed batch (batch.py), for the chosen checkpoint and,
per block, across up to MAX_CHECKPOINTS checkpoints; plus the gradient statistics the run logged itself."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from . import figures, gradients
from .batch import LossBatch, checkpoints_in_order, loss_skip_reason

MAX_CHECKPOINTS = 6  # the per-block heatmap: at most this many checkpoints, evenly spaced, the last always in
MAX_LOGGED = 8  # logged gradient tags drawn


@dataclass
class GradientFlowResult(PassResult):
    """Gradients of the chosen checkpoint, the per-block ratios across checkpoints, and the logged tags."""

    checkpoint: str
    flow: gradients.GradientFlow
    batch: str  # the batch, its mask seed and the loss formula, in words
    vanishing: float
    sweep_checkpoints: list[str] = field(default_factory=list)
    sweep_columns: list[tuple[str, str]] = field(default_factory=list)
    sweep_ratios: np.ndarray | None = None  # [checkpoints, columns] ||g_block|| / ||w_block||
    logged: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    smoothing: float = 0.6


class GradientFlowPass(AnalysisPass[GradientFlowResult]):
    """Per-layer gradient norms and gradient-to-weight ratios after one backward pass of the run's loss."""

    name = "gradient-flow"
    title = "Gradient flow"
    needs_model = True
    reads_encodings = False  # its own loss evaluations on the fixed batch

    def applies(self, ctx: ReportContext) -> str | None:
        return ctx.session.skip_reason() or loss_skip_reason(ctx)

    def compute(self, ctx: ReportContext) -> GradientFlowResult:
        session = ctx.session
        chosen = session.checkpoint
        shown = checkpoints_in_order(ctx.run, MAX_CHECKPOINTS)
        visits = shown + ([] if any(str(r.path) == str(chosen.path) for r in shown) else [chosen])
        flows, batch = {}, None
        for ref in session.visiting_order(visits):  # one network in memory at a time, each loaded once
            model = session.model(ref)
            batch = batch or LossBatch.draw(ctx, model)  # the same images and masks for every checkpoint
            ctx.progress(f"gradient flow: {ref.name}")
            terms = batch.terms_with(model)  # the targets: the EMA target encoder's one pass of this section
            session.hand_back_pages(ref, "target_encoder")  # its 0.34 GB of a ViT-B/16 are out of the peak
            with model.recomputing():  # ~1.5 GB less for a ViT-B/16, the same gradients, one more forward
                flows[str(ref.path)] = gradients.gradient_flow(model.network, terms, model.backward)
            session.record_batch_loss(ref, batch.seed, flows[str(ref.path)].loss)  # the landscape reads it
            del model
        flow = flows[str(chosen.path)]
        sweep = [(ref.name, flows[str(ref.path)]) for ref in shown]
        tags = [t for t in ctx.run.scalars.tags() if "grad" in t.lower()]
        result = GradientFlowResult(
            checkpoint=chosen.name,
            flow=flow,
            batch=batch.describe(),
            vanishing=threshold(ctx, "gradients.vanishing"),
            smoothing=ctx.settings.smoothing,
            logged={t: ctx.run.scalars.arrays(t) for t in tags[:MAX_LOGGED]},
        )
        if len(sweep) > 1:
            result.sweep_checkpoints = [name for name, _ in sweep]
            result.sweep_columns, result.sweep_ratios = gradients.as_matrix([f for _, f in sweep])
        _check(result, threshold(ctx, "gradients.exploding"))
        if not tags:
            result.notes.append("The run logged no gradient statistics of its own.")
        result.metrics.update(
            {
                "checkpoint": chosen.name,
                "loss": flow.loss,
                "mask_seed": batch.seed,
                "batch_size": len(batch.images),
                "loss_formula": batch.settings.describe(),
                "loss_type": batch.settings.loss_type,
                "loss_components": flow.components,
                "layers": [
                    {
                        "layer": lg.name,
                        "grad_norm": lg.grad_norm,
                        "mean_abs": lg.mean_abs,
                        "max_abs": lg.max_abs,
                        "weight_norm": lg.weight_norm,
                        "ratio": lg.ratio,
                        "finite": lg.finite,
                    }
                    for lg in flow.layers
                ],
                "no_gradient": flow.no_gradient,
            }
        )
        result.notes.extend(batch.settings.notes)
        return result

    def present(self, result: GradientFlowResult) -> Presentation:
        shown = Presentation(
            intro=(
                "One backward pass of the run's own loss through the stored weights shows "
                "where the gradient signal reaches and where it fades."
            )
        )
        shown.add_figure(
            "layers",
            f"Gradients per layer ({result.checkpoint})",
            f"One backward pass on {result.batch}. Top: gradient-to-weight ratio ||g|| / ||w|| per layer "
            "(log scale; the relative size of a plain gradient step, as in LARS, You et al. 2017), coloured by layer "
            "type, in forward order; bottom: mean and max |g| over each layer's entries. The target encoder gets "
            f"no gradient (EMA copy). Healthy: ratios within a few decades of each other from the first block to "
            f"the last; a steady fall towards the input means vanishing gradients. Red line: "
            f"{result.vanishing:g} (the vanishing threshold; absolute |g| scales with the "
            "loss, a mean over many entries, so compare the ratios across layers too).",
            figures.gradient_layers_figure(result.flow, result.vanishing),
        )
        if result.sweep_ratios is not None:
            shown.add_figure(
                "blocks",
                "Gradient-to-weight ratio per block across checkpoints",
                f"||g_block|| / ||w_block|| over all layers of each block (columns) for each checkpoint (rows, "
                f"training order; at most {MAX_CHECKPOINTS}), same batch and masks, colour on a log10 scale. "
                "Healthy: ratios shrink over training as the loss falls, without one block going dark (vanishing) "
                "or bright (exploding) alone.",
                figures.gradient_blocks_heatmap(result.sweep_checkpoints, result.sweep_columns, result.sweep_ratios),
            )
        if result.logged:
            shown.add_figure(
                "logged",
                "Gradient statistics the run logged",
                "Every logged tag whose name contains 'grad', as the run wrote it (bold: debiased EMA smoothing "
                f"{result.smoothing}). Healthy: steady or slowly decreasing, no spikes or NaN markers.",
                figures.logged_curves_figure(result.logged, result.smoothing),
            )
        return shown


def _check(result: GradientFlowResult, exploding: float) -> None:
    """One check: fail on non-finite gradients, warn on vanishing or exploding layers, else pass."""
    flow, vanishing = result.flow, result.vanishing
    found = flow.problems(vanishing, exploding)
    rules = {
        "non-finite": "non-finite gradients",
        "vanishing": f"every |g| < {vanishing:g}",
        "exploding": f"||g|| > {exploding:g}",
    }
    bad = [
        f"{len(found[k])} layers with {rules[k]} ({', '.join(lg.name for lg in found[k][:4])}"
        f"{', ...' if len(found[k]) > 4 else ''})"
        for k in rules
        if found[k]
    ]
    if bad:
        result.add_check("gradient-flow", "fail" if found["non-finite"] else "warn", "; ".join(bad), figure_id="layers")
    else:
        low = min(flow.layers, key=lambda lg: lg.max_abs)
        result.add_check(
            "gradient-flow",
            "pass",
            f"all {len(flow.layers)} layers have finite gradients, none "
            f"vanishing (< {vanishing:g}) or exploding (> {exploding:g}); smallest max |g| "
            f"{low.max_abs:.2g} in {low.name}",
            figure_id="layers",
            value=low.max_abs,
        )
    if flow.no_gradient:
        result.notes.append(
            "No gradient reaches " + ", ".join(flow.no_gradient) + " (not used by the loss's forward pass)."
        )
