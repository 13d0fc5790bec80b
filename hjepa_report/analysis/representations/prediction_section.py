"""The "predictions" section: the predictor's output against the target encoder's tokens at the hidden patches
of the sample images, per hierarchy level, with a mean-target-token baseline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from ..thresholds import threshold
from .captions import MAPS_CAPTION
from .checks import finite_predictions_check, prediction_check
from .prediction_figures import cosine_histogram_figure, prediction_maps_figure
from .predictions import LevelErrors

INTRO = (
    "The context encoder sees the visible patches, the predictor predicts the target encoder's tokens at the "
    "hidden ones. Each predicted token is compared with its target by cosine similarity and L2 distance, at "
    "every hierarchy level (after that level's projection and pooling), and against a baseline that "
    "predicts the mean target token for every position."
)


@dataclass
class PredictionsResult(PassResult):
    """The chosen checkpoint's prediction errors per level, with what the maps are drawn on."""

    levels: list[LevelErrors]
    summary: list[dict]  # per level: tokens, mean cosine / L2 of predictor and baseline (predictions.summarise)
    pictures: list[np.ndarray]  # the sample images as the network sees them
    hidden: np.ndarray  # [B, N] the report's masks: True = hidden from the context encoder
    grid: tuple[int, int]
    mask_strategy: str
    mask_seed: int
    target_kind: str


class PredictionsPass(AnalysisPass[PredictionsResult]):
    """Predicted vs target tokens at the hidden patches of the sample images, per hierarchy level."""

    name = "predictions"
    title = "Predictions vs targets"
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        if ctx.run.layout in ("vjepa", "vjepa2"):  # video networks, clips and 3-D masks: video_predictions.py
            from ..attention.video import video_attention_skip

            return video_attention_skip(ctx)
        return ctx.session.predictor_skip_reason()

    def compute(self, ctx: ReportContext) -> PredictionsResult:
        if ctx.run.layout in ("vjepa", "vjepa2"):
            from .video_predictions import video_predictions

            return video_predictions(ctx)
        session = ctx.session
        errors = session.prediction_errors()
        images, masks = session.sample_images(), session.masks()
        result = PredictionsResult(
            levels=errors.levels,
            summary=errors.summary,
            pictures=images.pictures,
            hidden=masks.hidden,
            grid=tuple(session.info().grid),
            mask_strategy=masks.strategy,
            mask_seed=masks.seed,
            target_kind=errors.target_kind,
        )
        result.notes.append(reconstruction_note(session.checkpoint))
        if errors.empty_levels:
            result.notes.append(
                f"Level(s) {errors.empty_levels} have no token for these masks (fewer hidden "
                "patches than one pooling window), so they are not shown."
            )
        result.metrics.update(
            {
                "levels": errors.summary,
                "mask_strategy": masks.strategy,
                "mask_seed": masks.seed,
                "images": len(images.labels),
                "target_kind": errors.target_kind,
                "seconds_predict": round(errors.seconds, 3),
            }
        )
        if finite_predictions_check(result, errors.levels, getattr(session.checkpoint, "name", None)):
            prediction_check(result, errors.summary, threshold(ctx, "prediction.baseline_margin"))
        return result

    def present(self, result: PredictionsResult) -> Presentation:
        from .video_predictions import VideoPredictionsResult, present_video_predictions

        if isinstance(result, VideoPredictionsResult):
            return present_video_predictions(result)
        shown = Presentation(intro=INTRO)
        shown.add_figure(
            "maps",
            "Prediction error per patch",
            MAPS_CAPTION.format(strategy=result.mask_strategy, seed=result.mask_seed, kind=result.target_kind),
            prediction_maps_figure(result.levels, result.pictures, result.hidden, result.grid),
        )
        shown.add_figure(
            "cosine",
            "Distribution of per-token cosine similarity",
            "Per level, the histogram of cosine(prediction, target) over all predicted tokens of "
            "the sample images (blue) and the same for the mean-target-token baseline (orange "
            "outline); dashed lines mark the means. Healthy: the blue mass sits to the right of the "
            "orange one at every level.",
            cosine_histogram_figure(result.levels),
        )
        shown.add_table(
            "levels",
            "Prediction quality per level",
            ["level", "tokens", "mean cosine", "baseline cosine", "mean L2", "baseline L2", "beats baseline"],
            [
                [
                    r["level"],
                    r["tokens"],
                    round(r["cosine_mean"], 4),
                    round(r["baseline_cosine_mean"], 4),
                    round(r["l2_mean"], 4),
                    round(r["baseline_l2_mean"], 4),
                    r["beats_baseline"],
                ]
                for r in result.summary
            ],
            caption="Means over the predicted tokens of the sample images; the baseline predicts "
            "the mean of the level's target tokens in this batch for every token.",
        )
        return shown


def reconstruction_note(ref) -> str:
    """One line on pixel reconstruction: JEPA checkpoints normally hold no pixel decoder."""
    decoders = sorted(k for k in (ref.param_counts if ref else {}) if "decoder" in k.lower())
    if decoders:
        return (
            f"The checkpoint holds {', '.join(decoders)}, but rebuilding a pixel decoder is not supported, "
            "so no reconstruction is shown."
        )
    return "No pixel decoder in the checkpoint (JEPA predicts features, not pixels): no reconstruction is shown."
