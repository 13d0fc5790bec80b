"""The "artifact-tokens" section: high-norm outlier patch tokens per block of the target encoder (Darcet et al.
2024, "Vision Transformers Need Registers"), where they sit, and whether the attention's bright spots are them.

compute reads ModelSession.block_outputs (one forward pass of the sample images with every block's output and
the last block's attention), finds each block's outliers (artifacts.py: norm > Q3 + 3 IQR), compares them
with the last block's attention and warns when the last block has them; present draws from the result alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from .artifact_figures import artifact_overlay_figure, norm_distribution_figure
from .artifacts import (
    FENCE_IQR,
    LAST_BLOCK_WARN_SHARE,
    AttentionOnOutliers,
    BlockArtifacts,
    attention_on_outliers,
    block_artifacts,
    shown_block,
    shown_images,
)

RULE = (
    f"a patch token is an outlier when its norm at a block's output (before the final norm) exceeds Q3 + "
    f"{FENCE_IQR:g} IQR of all patch-token norms of that block over the sample images (Tukey's far-out fence)"
)
INTRO = (
    "Large vision transformers can turn a few background patch tokens into high-norm scratch tokens that hold "
    "global information; their norms stand far above the rest and the CLS token's attention lands on them, so "
    'attention maps get bright specks unrelated to the image (Darcet et al. 2024, "Vision Transformers Need '
    f"Registers\"). Here {RULE}: scale-free and robust, where Darcet et al.'s cutoff (norm > 150) fits only "
    "DINOv2's scale."
)


@dataclass
class ArtifactResult(PassResult):
    """Per-block outliers of the target encoder's patch tokens on the sample images, with what is drawn."""

    blocks: list[BlockArtifacts]
    norms: np.ndarray  # [L, B, N] patch-token norms per block output
    outliers: np.ndarray  # [L, B, N] bool
    attention: np.ndarray | None  # [B, N] head-mean attention map of `attention_block`
    attention_block: int | None
    coincidence: AttentionOnOutliers | None
    pictures: list[np.ndarray]  # the shown images (as the network sees them)
    shown: list[int]  # their indices among the sample images
    names: list[str]
    overlay_block: int
    grid: tuple[int, int]
    has_cls: bool


class ArtifactTokensPass(AnalysisPass[ArtifactResult]):
    """High-norm artifact tokens of the target encoder per block, their place and their attention."""

    name = "artifact-tokens"
    title = "Artifact tokens (high-norm outliers)"
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        return ctx.session.part_skip_reason("encoder", "The target encoder cannot be run")

    def compute(self, ctx: ReportContext) -> ArtifactResult:
        session = ctx.session
        outputs = session.block_outputs()
        images = session.sample_images()
        found, masks = block_artifacts(outputs.norms)
        last = outputs.depth - 1
        attention = None if outputs.attention is None else outputs.attention.mean(axis=1).reshape(len(masks[0]), -1)
        coincidence = None
        if attention is not None:
            coincidence = attention_on_outliers(attention, masks[last], outputs.norms[last], last)
        overlay = shown_block(found)
        shown = shown_images(masks, overlay)
        result = ArtifactResult(
            blocks=found,
            norms=outputs.norms,
            outliers=masks,
            attention=attention,
            attention_block=outputs.attention_block,
            coincidence=coincidence,
            pictures=[images.pictures[i] for i in shown],
            shown=shown,
            names=[images.names[i] for i in shown],
            overlay_block=overlay,
            grid=tuple(outputs.grid),
            has_cls=outputs.cls is not None,
        )
        if attention is None:
            result.notes.append(outputs.attention_note)
        result.metrics.update(_metrics(result, outputs.seconds))
        _last_block_check(result)
        return result

    def present(self, result: ArtifactResult) -> Presentation:
        shown = Presentation(intro=INTRO)
        shown.add_figure(
            "norms",
            "Patch-token norms per block",
            _norms_caption(result),
            norm_distribution_figure(result.blocks, result.norms),
        )
        rows = result.shown
        last = result.attention_block
        shown.add_figure(
            "overlay",
            "Where the outliers sit",
            _overlay_caption(result),
            artifact_overlay_figure(
                result.pictures,
                [f"image {i + 1}: {name}" for i, name in zip(rows, result.names, strict=True)],
                result.norms[result.overlay_block][rows],
                result.outliers[result.overlay_block][rows],
                result.overlay_block,
                None if result.attention is None else result.attention[rows],
                None if last is None else result.outliers[last][rows],
                last,
                result.grid,
            ),
        )
        shown.add_table(
            "blocks",
            "Outlier tokens per block",
            ["block", "median norm", "fence", "max norm", "outliers", "share", "images with outliers", "norm ratio"],
            [
                [
                    b.block,
                    round(b.median_norm, 3),
                    round(b.fence, 3),
                    round(b.max_norm, 3),
                    b.outliers,
                    f"{b.share:.2%}",
                    b.images_with_outliers,
                    "-" if b.outlier_norm_ratio is None else round(b.outlier_norm_ratio, 2),
                ]
                for b in result.blocks
            ],
            caption=f"Outlier rule: {RULE}. Norm ratio: median norm of the outliers over the block's median norm "
            "(Darcet et al.'s artifacts: about 10).",
        )
        return shown


def _metrics(result: ArtifactResult, seconds: float) -> dict:
    """The section's numbers for report.json."""
    last = result.blocks[-1]
    return {
        "rule": RULE,
        "fence_iqr": FENCE_IQR,
        "encoder": "target",
        "images": int(result.norms.shape[1]),
        "patch_tokens_per_block": int(result.norms.shape[1] * result.norms.shape[2]),
        "blocks": [b.as_dict() for b in result.blocks],
        "last_block_share": last.share,
        "last_block_outliers": last.outliers,
        "overlay_block": result.overlay_block,
        "overlay_images": list(result.shown),
        "attention_on_outliers": None if result.coincidence is None else result.coincidence.as_dict(),
        "seconds_block_pass": round(seconds, 3),
    }


def _last_block_check(result: ArtifactResult) -> None:
    """Add 'artifact-tokens-last-block': warn when >= 1 % of the last block's patch tokens are outliers."""
    last = result.blocks[-1]
    where = f"block {last.block} (the last): {last.outliers} of {result.norms[-1].size} patch tokens ({last.share:.2%})"
    c = result.coincidence
    if c is not None and c.enrichment is not None:
        where += (
            f"; they receive {c.mass:.0%} of the attention map's mass for {c.share:.1%} of the patches "
            f"({c.enrichment:.1f}x their share)"
        )
    if last.share >= LAST_BLOCK_WARN_SHARE:
        result.add_check(
            "artifact-tokens-last-block",
            "warn",
            f"high-norm outlier tokens in {where}: attention maps and dense features of this encoder carry "
            "artifacts (Darcet et al. 2024); registers or a different layer for dense tasks help",
            figure_id="overlay",
            value=last.share,
        )
    else:
        result.add_check(
            "artifact-tokens-last-block",
            "pass",
            f"outlier tokens in {where}, below {LAST_BLOCK_WARN_SHARE:.0%} (Darcet et al.'s artifacts: about 2 %)",
            figure_id="norms",
            value=last.share,
        )


def _norms_caption(result: ArtifactResult) -> str:
    images, patches = result.norms.shape[1:]
    return (
        f"Left: per block of the target encoder, the distribution of the L2 norms of all {images * patches} patch "
        f"tokens ({images} sample images x {patches} patches) at the block's output, before the final norm, as "
        'Darcet et al. 2024 ("Vision Transformers Need Registers", Fig. 3) measure; the black line is the median, '
        "the orange bar the outlier fence Q3 + 3 IQR (Tukey 1977), orange dots the outliers (log scale when the "
        "largest norm exceeds 5x a block's median). Right: their share per block (count on top). Healthy: one "
        "compact mode per block and no outliers in the last blocks; artifacts show as a separate cluster far above "
        "the fence (Darcet et al.: about 2 % of tokens at about 10x the norm)."
    )


def _overlay_caption(result: ArtifactResult) -> str:
    which = (
        f"The {len(result.shown)} sample images with the most outliers in block {result.overlay_block} (the block "
        "with the largest outlier share)"
        if result.blocks[result.overlay_block].outliers
        else f"No block has an outlier, so the first {len(result.shown)} sample images, block {result.overlay_block}"
    )
    text = which + "; left: outlier patches boxed in orange; middle: that block's patch-token norms."
    c = result.coincidence
    if c is None:
        return text + " No attention probabilities for this checkpoint, so no attention map."
    kind = "the CLS token's attention to each patch" if result.has_cls else "the mean attention each patch receives"
    text += (
        f" Right: {kind} in block {c.block} (the last), mean over heads, with that block's outliers boxed. "
        "Darcet et al.'s artifacts are where the attention's bright specks are; "
    )
    if c.enrichment is None:
        text += f"here block {c.block} has no outlier, so the attention cannot land on one"
    else:
        text += (
            f"here the outliers receive {c.mass:.1%} of the attention mass for {c.share:.1%} of the patches "
            f"({c.enrichment:.1f}x their share; 1x: no preference)"
        )
    if c.spearman is not None:
        text += f"; rank correlation of token norm and attention over the patches of an image: {c.spearman:.2f}"
    return text + "."
