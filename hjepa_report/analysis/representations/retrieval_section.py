"""The "predicted-patches" section: for each hidden target patch of a few sample images, the real patches of the
run's other images whose target-encoder embeddings are nearest to the prediction, pasted in place (retrieval.py),
beside the mean-token baseline's and the true target's mosaics, with their similarity to the hidden content.

compute puts the prediction, the targets and the bank (the sample images' cached target-encoder patch tokens) in
the space the run's loss compares them in (level 0: JepaModel.levels / level_targets), retrieves, scores and
builds the mosaics; present draws them from the result alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import ReportError
from ..base import AnalysisPass, PassResult, Presentation
from ..context import ReportContext
from .prediction_figures import mask_picture
from .retrieval import (
    KINDS,
    Retrieval,
    bank_mismatch,
    bank_space,
    mosaic,
    pixel_errors,
    retrieve_all,
    summarise_retrievals,
)
from .retrieval_figures import retrieval_figure

SHOWN_IMAGES = 4
SPACE_TOLERANCE = 1e-4  # the bank at the hidden patches must equal the targets to this relative error
LOSS_SPACE = "level 0 of the run's loss (JepaModel.levels for the prediction, level_targets for targets and bank)"
INTRO = (
    "JEPA predicts features, not pixels, and the checkpoint holds no decoder. To see what a prediction "
    "contains, each hidden target patch is replaced by the real patch of another sample image whose "
    "target-encoder embedding is nearest (cosine) to the predicted embedding: a retrieval decoder built from "
    "the run's own images (as Weinzaepfel et al. 2011 reconstruct images from local descriptors). The same "
    "retrieval with the mean-target-token baseline of the predictions section, and with the true target "
    "embedding (the best the bank allows), says how much of the hidden content the prediction holds."
)


@dataclass
class RetrievalResult(PassResult):
    """The retrieval scores of the chosen checkpoint and the mosaics of the shown images."""

    summary: dict[str, dict]  # per query kind (retrieval.KINDS): mean similarities, pixel error, entries
    pictures: list[np.ndarray]  # the shown images as the network sees them
    masks: list[np.ndarray]  # mask pictures (hidden dark, predicted orange) of the shown images, float RGB
    mosaics: dict[str, list[np.ndarray]]  # per kind, the shown images with retrieved patches in place
    image_similarity: dict[str, list[float]]  # per kind, the shown images' mean similarity to the hidden content
    names: list[str]
    space: str
    bank_images: int
    bank_patches: int


class PatchRetrievalPass(AnalysisPass[RetrievalResult]):
    """What the predictor predicts, in pixels: nearest real patches to each predicted embedding, in place."""

    name = "predicted-patches"
    title = "What the predictor predicts, in pixels"
    needs_model = True

    def applies(self, ctx: ReportContext) -> str | None:
        reason = ctx.session.predictor_skip_reason()
        if reason:
            return reason
        if min(len(ctx.run.images), ctx.settings.max_images) < 2:
            return "Patch retrieval needs at least two sample images: each image's patches come from the others."
        return None

    def compute(self, ctx: ReportContext) -> RetrievalResult:
        session = ctx.session
        model, prediction = session.model(), session.predict()
        images, masks = session.sample_images(), session.masks()
        info = model.info
        queries, targets, bank, space, mismatch = _shared_space(model, prediction, session.embeddings().patch_tokens)
        valid, indices = prediction.valid.numpy(), prediction.indices.numpy()
        found = retrieve_all(queries, targets, valid, bank)
        grid, size = tuple(info.grid), info.patch_size
        pixel = {k: pixel_errors(r, indices, images.pictures, grid, size) for k, r in found.items()}
        summary = summarise_retrievals(found, pixel)
        shown = list(range(min(SHOWN_IMAGES, len(images.pictures))))
        result = RetrievalResult(
            summary=summary,
            pictures=[images.pictures[i] for i in shown],
            masks=[_mask(masks.hidden[i], indices[i], valid[i], images.pictures[i], grid) for i in shown],
            mosaics={
                k: [_mosaic(i, r, indices, masks.hidden, images.pictures, grid, size) for i in shown]
                for k, r in found.items()
            },
            image_similarity={k: [_image_mean(r, i) for i in shown] for k, r in found.items()},
            names=[images.names[i] for i in shown],
            space=space,
            bank_images=len(images.pictures) - 1,
            bank_patches=(len(images.pictures) - 1) * info.num_patches,
        )
        if space != LOSS_SPACE:
            result.notes.append(
                f"level 0 of the loss mixes neighbouring tokens here (bank vs targets differ by {mismatch:.1e}), so "
                "the retrieval uses the predictor's raw output space instead"
            )
        result.metrics.update(_metrics(result, prediction.target_kind, masks, mismatch, valid))
        return result

    def present(self, result: RetrievalResult) -> Presentation:
        shown = Presentation(intro=INTRO)
        shown.add_figure(
            "mosaics",
            "Nearest real patches to the predictions",
            _caption(result),
            retrieval_figure(result.pictures, result.masks, result.mosaics, result.image_similarity, result.names),
        )
        labels = {"prediction": "prediction", "baseline": "mean-token baseline", "oracle": "true target (best)"}
        shown.add_table(
            "scores",
            "Retrieval scores",
            ["query", "similarity to hidden content", "similarity to query", "pixel error", "patches"],
            [
                [
                    labels[kind],
                    round(s["target_similarity_mean"], 4),
                    round(s["query_similarity_mean"], 4),
                    round(s["pixel_error_mean"], 4),
                    s["entries"],
                ]
                for kind, s in result.summary.items()
            ],
            caption="Means over every predicted patch of the sample images. Similarity to hidden content: cosine "
            "between the retrieved patch's embedding and the hidden patch's target embedding; similarity to query: "
            "cosine between the query and the retrieved patch's embedding; pixel error: mean absolute difference "
            "(0-1) between the retrieved and the hidden patch's pixels.",
        )
        return shown


def _shared_space(model, prediction, patch_tokens):
    """Put prediction, targets and bank in level 0 of the loss (prediction through JepaModel.levels, targets and
    bank through level_targets) when the bank then equals the targets at the hidden patches, else in the
    Prediction's raw space; returns (queries, targets, bank, space, mismatch) as float64 numpy arrays."""
    import torch

    raw_bank = bank_space(patch_tokens, prediction.target_kind)
    indices, valid = prediction.indices.numpy(), prediction.valid.numpy()
    raw_targets = prediction.target.double().numpy()
    if bank_mismatch(raw_bank, raw_targets, indices, valid) > SPACE_TOLERANCE:
        raise ReportError("the predictor's targets are not the target encoder's patch tokens: no bank to retrieve from")
    on = {"device": model.device}
    with torch.inference_mode():
        ((queries, _),) = model.levels(prediction.predicted.to(**on), prediction.valid.to(**on), [0])
        ((targets, _),) = model.level_targets(prediction.target.to(**on), prediction.valid.to(**on), [0])
        ((bank, _),) = model.level_targets(torch.as_tensor(raw_bank, dtype=torch.float32, **on), None, [0])
    queries, targets, bank = (x.double().cpu().numpy() for x in (queries, targets, bank))
    if queries.shape[1] == valid.shape[1] and bank.shape[1] == raw_bank.shape[1]:
        mismatch = bank_mismatch(bank, targets, indices, valid)
        if mismatch <= SPACE_TOLERANCE:
            return queries, targets, bank, LOSS_SPACE, mismatch
    else:
        mismatch = float("inf")
    space = f"the predictor's raw output space ({prediction.target_kind})"
    return prediction.predicted.double().numpy(), raw_targets, raw_bank, space, mismatch


def _image_mean(found: Retrieval, image: int) -> float:
    valid = found.source_image[image] >= 0
    return float(np.mean(found.target_similarity[image][valid])) if valid.any() else float("nan")


def _mask(hidden, indices, valid, picture, grid) -> np.ndarray:
    predicted = np.zeros(grid[0] * grid[1], bool)
    predicted[indices[valid]] = True
    return mask_picture(picture, hidden, predicted, grid)


def _mosaic(image, found, indices, hidden, pictures, grid, size) -> np.ndarray:
    """The mosaic of one image; hidden patches nothing predicts (I-JEPA's context gaps) are darkened."""
    out = mosaic(pictures[image], image, found, indices, pictures, grid, size).astype(np.float64)
    predicted = np.zeros(grid[0] * grid[1], bool)
    predicted[indices[image][found.source_image[image] >= 0]] = True
    gaps = np.kron((hidden[image] & ~predicted).reshape(grid).astype(float), np.ones((size, size)))[..., None]
    return (out * (1 - 0.6 * gaps)).astype(np.uint8)


def _metrics(result: RetrievalResult, target_kind: str, masks, mismatch: float, valid) -> dict:
    """The section's numbers for report.json."""
    pred, base = (result.summary[k]["target_similarity_mean"] for k in ("prediction", "baseline"))
    return {
        **{kind: result.summary[kind] for kind in KINDS},
        "beats_baseline": bool(pred > base),
        "space": result.space,
        "space_mismatch": mismatch if np.isfinite(mismatch) else None,
        "target_kind": target_kind,
        "images": int(len(valid)),
        "bank_images_per_query": result.bank_images,
        "bank_patches_per_query": result.bank_patches,
        "mask_strategy": masks.strategy,
        "mask_seed": masks.seed,
        "shown_images": result.names,
        "shown_similarity": result.image_similarity,
    }


def _caption(result: RetrievalResult) -> str:
    s = result.summary
    verdict = (
        "closer to"
        if s["prediction"]["target_similarity_mean"] > s["baseline"]["target_similarity_mean"]
        else ("no closer to")
    )
    return (
        f"Rows: the first {len(result.pictures)} sample images under the report's masks. Columns: the image; the mask "
        "(dark: hidden from the context encoder, orange: predicted); the prediction mosaic, each predicted patch "
        f"replaced by the patch of the other {result.bank_images} sample images ({result.bank_patches} patches) "
        "whose target-encoder embedding is most cosine-similar to the predicted embedding; the same with the "
        "mean-target-token baseline as query (one constant query: the same patch everywhere); the same with the "
        "true target embedding (the best this bank allows). Embeddings compared in "
        f"{result.space}. Under each mosaic: the mean cosine between the retrieved patches' embeddings and the "
        f"hidden patches' target embeddings. Over all sample images: prediction "
        f"{s['prediction']['target_similarity_mean']:.3f}, baseline {s['baseline']['target_similarity_mean']:.3f}, "
        f"true target {s['oracle']['target_similarity_mean']:.3f}: the predictions retrieve content {verdict} the "
        "hidden patches than the baseline. Healthy: prediction mosaics that continue the visible image (edges, "
        "textures), scoring between the baseline and the true target."
    )
