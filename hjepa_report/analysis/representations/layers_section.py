"""The "layers" section: RankMe, matrix entropy and (with labels) kNN / linear-probe accuracy of every encoder
block's pooled features for the chosen checkpoint, the best block named (layers.py says how)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ReportError
from ...plotting import PALETTE, new_figure
from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..session import LAYER_CHECKPOINTS
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

ACROSS_CAPTION = (
    "The same per-block measures for {count} checkpoints spread evenly over training (at most {cap}), on the "
    "same {n} probe images: one colour per checkpoint (darker is later), mean pooling solid and CLS dashed, and "
    "a star at each checkpoint's best block by the rule above (a last-4 winner is named in report.json, not "
    "drawn). The blocks come from each checkpoint's own target pass of these images (the one the "
    "representations section measures), not from extra passes. A best block that moves towards the last one "
    "as training goes on is the usual picture; one that moves away from it says to probe an earlier block of "
    "the later checkpoints."
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
    across: list[dict]  # per checkpoint (epoch order): name, epoch, rows, best block, or error


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
        across = across_checkpoints(ctx, rows) if len(session.block_checkpoints()) > 1 else []
        result = LayersResult(rows, best, rule, len(mean), mean.shape[1], labels is not None, across)
        result.metrics.update({"blocks": rows, "best_block": best, "best_rule": rule, "images": mean.shape[1]})
        result.metrics["across_checkpoints"] = across
        if len(session.block_checkpoints()) < 2:
            result.notes.append("One checkpoint: no per-block view across checkpoints.")
        elif moved := _best_moved(across):
            result.notes.append(moved)
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
        measured = [a for a in result.across if a.get("rows")]
        if len(measured) > 1:
            caption = ACROSS_CAPTION.format(count=len(result.across), cap=LAYER_CHECKPOINTS, n=result.images)
            shown.add_figure("across", "Measures per block across checkpoints", caption, _across_figure(result))
        return shown


def across_checkpoints(ctx: ReportContext, chosen_rows: list[dict]) -> list[dict]:
    """Per-block measures (layers.block_rows) of every ModelSession.block_checkpoints() checkpoint on the probe
    images, with each one's best block (layers.best_block); visited in the session's order so that no
    checkpoint is loaded twice, returned in epoch order. A checkpoint that cannot be measured gets an error
    row. The probes' seed is the main figure's, so their folds are the same at every checkpoint, and the chosen
    checkpoint's rows are the main figure's own (`chosen_rows`)."""
    session = ctx.session
    probe = session.probe_images()
    labels = np.asarray(probe.labels) if probe.has_labels else None
    seed = int(ctx.rng("layers").integers(2**31))
    refs = session.block_checkpoints()
    found: dict[str, dict] = {}
    for ref in session.visiting_order(refs):
        row = {"checkpoint": ref.name, "epoch": ref.epoch, "step": ref.step}
        try:
            mean, cls = _block_features(session, ref)
            chosen = str(ref.path) == str(session.checkpoint.path)
            rows = chosen_rows if chosen else block_rows(mean, cls, labels, seed)
            best, _ = best_block(rows, mean.shape[1])
            row.update(rows=rows, best_block=None if best is None else {k: best[k] for k in ("block", "pooling")})
        except ReportError as exc:
            row["error"] = str(exc)
        found[str(ref.path)] = row
    return [found[str(r.path)] for r in refs]


def _best_moved(across: list[dict]) -> str | None:
    """One line naming the best block at the first and the last measured checkpoint, when it differs."""
    bests = [(a["checkpoint"], a["best_block"]) for a in across if a.get("best_block")]
    if len(bests) < 2 or bests[0][1] == bests[-1][1]:
        return None
    (first, a), (last, b) = bests[0], bests[-1]
    return (
        f"The best block moved from block {a['block']} ({a['pooling']}) at {first} to block "
        f"{b['block']} ({b['pooling']}) at {last}."
    )


def _block_features(session, checkpoint=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Every block's pooled features [L, n, D] (mean, CLS or None) of the probe images, sample images first, for
    a checkpoint (default the chosen one)."""
    sample = session.block_outputs(checkpoint)
    extra = session.probe_embeddings(checkpoint).extra_blocks
    if extra is None:
        return sample.mean_pooled, sample.cls
    mean = np.concatenate([sample.mean_pooled, extra[0]], axis=1)
    cls = None if sample.cls is None else np.concatenate([sample.cls, extra[1]], axis=1)
    return mean, cls


def _across_figure(result: LayersResult):
    """One panel per measure (RankMe, and kNN accuracy with labels, else the matrix entropy): x block, per
    checkpoint a line per pooling (mean solid, CLS dashed), coloured from light (early) to dark (late), a star
    at each checkpoint's best block and pooling (the last-4 average is left out here: one point per line)."""
    import matplotlib
    from matplotlib.lines import Line2D

    measured = [a for a in result.across if a.get("rows")]
    second = ("knn_accuracy", "kNN accuracy") if result.labelled else ("entropy", "matrix entropy (normalised)")
    panels = [("rankme", "RankMe"), second]
    fig, axes = new_figure(9.0, 3.4, 1, len(panels))
    axes = np.atleast_1d(axes)
    colours = matplotlib.colormaps["viridis_r"](np.linspace(0.15, 0.95, len(measured)))
    styles = {"mean": "-", "cls": "--"}
    for ax, (key, title) in zip(axes, panels, strict=True):
        for a, colour in zip(measured, colours, strict=True):
            best = a.get("best_block") or {}
            for pooling, line in styles.items():
                rows = [r for r in a["rows"] if r["pooling"] == pooling and r.get(key) is not None]
                if not rows:
                    continue
                ax.plot([r["block"] for r in rows], [r[key] for r in rows], line, marker="o", ms=3, color=colour)
                hit = [r for r in rows if best.get("pooling") == pooling and r["block"] == best.get("block")]
                if hit:
                    ax.plot(hit[0]["block"], hit[0][key], "*", ms=13, color=colour, mec="black", mew=0.6)
        ax.set(title=title, xlabel="block")
        ax.set_xticks(range(result.depth))
        ax.set_xlim(-0.5, result.depth - 0.5)
        if key.endswith("accuracy"):
            ax.set_ylim(-0.02, 1.02)
    handles = [
        Line2D([], [], color=c, marker="o", ms=3, label=_checkpoint_label(a))
        for a, c in zip(measured, colours, strict=True)
    ]
    pooled = {r["pooling"] for a in measured for r in a["rows"]}
    handles += [Line2D([], [], color="grey", ls=ls, label=f"{p} pooling") for p, ls in styles.items() if p in pooled]
    handles.append(Line2D([], [], color="grey", marker="*", ms=11, ls="", mec="black", label="best block"))
    axes[-1].legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return fig


def _checkpoint_label(row: dict) -> str:
    """'epoch N' when the checkpoint names its epoch, else its file name."""
    return f"epoch {row['epoch']}" if row.get("epoch") is not None else str(row["checkpoint"]).rsplit("/", 1)[-1]


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
