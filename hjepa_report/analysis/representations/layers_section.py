"""The "layers" section: RankMe, matrix entropy and (with labels) kNN / linear-probe accuracy of every encoder
block's pooled features for the chosen checkpoint, the best block named (layers.py says how)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...plotting import PALETTE, new_figure
from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from .layers import best_block, block_rows

CAPTION = (
    "Per block of the target encoder (its output before the final norm, all blocks from one forward pass): RankMe"
    " (Garrido et al. 2023) and the normalised matrix entropy of the centred pooled features (Skean et al. 2025, "
    "'Layer by Layer'; 1 = every direction used equally, 0 = rank one), and with class labels the leave-one-out "
    "kNN and 5-fold linear-probe (ridge classifier) accuracies on the probe images (the sample images, whose "
    "blocks come from the report's one pass of them, then further images, whose blocks come from the pass that "
    "also gives their final embeddings). "
    "Pooling: mean of the patch tokens (I-JEPA's evaluation), the CLS token when the encoder has one, and the "
    "mean over the last four blocks (the I-JEPA evaluation variant, drawn at the last block as a separate "
    "marker). The last block's numbers differ from the representations section's, which measures the features "
    "after the final norm. Healthy: the measures rise with depth; a peak well before the last block means an "
    "earlier block is the better feature extractor for probing."
)


@dataclass
class LayersResult(PassResult):
    """Per-block measures of the chosen checkpoint's target encoder and the best block."""

    rows: list[dict]
    best: dict | None
    rule: str
    depth: int
    images: int
    labelled: bool


class LayersPass(AnalysisPass[LayersResult]):
    """Which block's features are best, by label-free measures and (with labels) probes."""

    name = "layers"
    title = "Layer by layer"
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        reason = ctx.session.skip_reason()
        if reason is None and len(ctx.run.images) < 4:
            reason = f"Per-block measures need at least 4 sample images; the run has {len(ctx.run.images)}."
        return reason

    def compute(self, ctx: ReportContext) -> LayersResult:
        session = ctx.session
        mean, cls = _block_features(session)
        probe = session.probe_images()
        labels = np.asarray(probe.labels) if probe.has_labels else None
        rows = block_rows(mean, cls, labels, int(ctx.rng("layers").integers(2**31)))
        best, rule = best_block(rows, mean.shape[1])
        result = LayersResult(rows, best, rule, len(mean), mean.shape[1], labels is not None)
        result.metrics.update({"blocks": rows, "best_block": best, "best_rule": rule, "images": mean.shape[1]})
        if labels is None:
            result.notes.append("The probe images have no class labels (at least two classes): no probe accuracy.")
        if best is not None:
            last = result.depth - 1
            where = "the last block" if best["block"] == last and best["pooling"] != "last 4" else None
            where = where or f"block {best['block']} ({best['pooling']} pooling)"
            result.notes.append(f"Best features: {where}, by the {rule}.")
        return result

    def present(self, result: LayersResult) -> Presentation:
        shown = Presentation(
            intro=(
                f"Every block of the target encoder measured on {result.images} probe images, to tell which "
                "block to probe."
            )
        )
        shown.add_figure("blocks", "Measures per encoder block", CAPTION, _figure(result))
        return shown


def _block_features(session) -> tuple[np.ndarray, np.ndarray | None]:
    """Every block's pooled features [L, n, D] (mean, CLS or None) of the probe images, sample images first."""
    sample = session.block_outputs()
    extra = session.probe_embeddings().extra_blocks
    if extra is None:
        return sample.mean_pooled, sample.cls
    mean = np.concatenate([sample.mean_pooled, extra[0]], axis=1)
    cls = None if sample.cls is None else np.concatenate([sample.cls, extra[1]], axis=1)
    return mean, cls


def _figure(result: LayersResult):
    panels = [("rankme", "RankMe"), ("entropy", "matrix entropy (normalised)")]
    if result.labelled:
        panels += [("knn_accuracy", "kNN accuracy"), ("probe_accuracy", "linear-probe accuracy")]
    fig, axes = new_figure(3.2 * len(panels) + 0.5, 3.0, 1, len(panels))
    axes = np.atleast_1d(axes)
    styles = {"mean": (PALETTE[0], "o", "-"), "cls": (PALETTE[1], "s", "--"), "last 4": (PALETTE[4], "*", "")}
    for ax, (key, title) in zip(axes, panels, strict=True):
        for pooling, (color, marker, line) in styles.items():
            rows = [r for r in result.rows if r["pooling"] == pooling and r.get(key) is not None]
            if rows:
                ms = 11 if pooling == "last 4" else 4
                x, y = [r["block"] for r in rows], [r[key] for r in rows]
                ax.plot(x, y, marker=marker, ms=ms, ls=line, color=color, label=f"{pooling} pooling")
        if result.best is not None and result.best.get(key) is not None:
            ax.axvline(result.best["block"], color=PALETTE[4], lw=6, alpha=0.2, label="best block")
        ax.set(title=title, xlabel="block")
        ax.set_xticks(range(result.depth))
        ax.set_xlim(-0.5, result.depth - 0.5)
        if key.endswith("accuracy"):
            ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=7, loc="best")
    return fig
