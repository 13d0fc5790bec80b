"""Model-side steps of the predictions and representations passes: masks, per-level predictions, embeddings,
augmented views for LiDAR and the sweep over checkpoints.

Networks and encodings come from `analysis.model_access` (each image passes each network once per report);
results are cached in the report context, per checkpoint, so both passes share them. torch is imported inside
functions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ...errors import ReportError
from .. import model_access as ma
from ..base import ReportContext
from . import metrics
from .checkpoints import DEFAULT_CAP, pca_rgb, select_evenly
from .embedding import label_accuracies
from .predictions import LevelErrors, level_errors, pooled_members, summarise

LIDAR_VIEWS = 6  # augmented views per sample image (surrogate class size for LiDAR)
ANIMATION_IMAGES = 4  # images shown in the PCA-of-tokens animation
BATCH = 16  # images per encoder call: as fast as 64 on CPUs, far less memory


@dataclass
class PredictionResult:
    """Per-level prediction errors of one checkpoint on the sample images."""

    levels: list[LevelErrors]
    summary: list[dict]
    masks: ma.ReportMasks
    target_kind: str
    seconds: float
    empty_levels: list[int] = field(default_factory=list)  # levels with no valid pooled token for these masks


def predict_levels(ctx: ReportContext, ref=None) -> PredictionResult:
    """Predict the target tokens of the hidden patches of the sample images and measure errors per level."""
    key = ("representations-predictions", str((ref or ma.chosen_checkpoint(ctx)).path))
    return ctx.cached(key, lambda: _predict_levels(ctx, ref))


def _predict_levels(ctx: ReportContext, ref) -> PredictionResult:
    import torch

    start = time.perf_counter()
    model = ma.model_for(ctx, ref)
    masks = ma.report_masks(ctx, model)
    pred = ma.predicted(ctx, ref)
    indices, valid = pred.indices.numpy(), pred.valid.numpy()
    predicted, target, valid_on = (t.to(model.device) for t in (pred.predicted, pred.target, pred.valid))
    with torch.inference_mode():
        levels, empty = [], []
        for level in range(model.info.num_levels):
            (p_l, v_l), = model.levels(predicted, valid_on, [level])
            (t_l, _), = model.level_targets(target, valid_on, [level])  # what the loss compares
            v_l = valid if v_l is None else v_l.cpu().numpy()
            if not v_l.any():  # fewer hidden patches than one pooling window: the level has no token
                empty.append(level)
                continue
            members = pooled_members(indices, valid, 2**level)  # H-JEPA pools 2^l consecutive entries
            levels.append(level_errors(level, p_l.cpu().numpy(), t_l.cpu().numpy(), v_l, members))
    if not levels:
        raise ReportError("the sampled masks leave no predicted token at any level")
    return PredictionResult(levels, summarise(levels), masks, pred.target_kind, time.perf_counter() - start, empty)


def image_embeddings(ctx: ReportContext, ref=None) -> dict:
    """Return the target encoder's mean-pooled patch tokens [B, D], CLS [B, D] (None without CLS) and the
    valid patch tokens [B, N, D] of the sample images, once per checkpoint (the health measures, the sweep,
    the probes and the PCA animation all read them)."""
    def make():
        out = ma.encoded(ctx, "target", ref)
        pooled, cls = pooled_embeddings(out)
        return {"mean_pooled": pooled, "cls": cls, "patch_tokens": out.patch_tokens.float().cpu().numpy()}

    return ctx.cached(("image-embeddings", str((ref or ma.chosen_checkpoint(ctx)).path)), make)


def pooled_embeddings(out) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (mean of the valid patch tokens [B, D], CLS token [B, D] or None) of an EncoderOutput."""
    tokens = out.patch_tokens.float().cpu().numpy()
    valid = out.valid.cpu().numpy().astype(np.float64)
    pooled = (tokens * valid[..., None]).sum(axis=1) / np.maximum(valid.sum(axis=1, keepdims=True), 1.0)
    cls = out.tokens[:, 0].float().cpu().numpy() if out.num_prefix_tokens else None
    return pooled, cls


def probe_embeddings(ctx: ReportContext, ref=None) -> dict:
    """Return the mean-pooled and CLS embeddings ({"image", "cls"}, CLS None without one) of the probe images
    (model_access.probe_images) for one checkpoint, once per report: the sample images' come from their cached
    encoding, the further images pass the target encoder here, in batches of 16, and only their pooled
    features are kept."""
    key = ("probe-embeddings", str((ref or ma.chosen_checkpoint(ctx)).path))
    return ctx.cached(key, lambda: _probe_embeddings(ctx, ref))


def _probe_embeddings(ctx: ReportContext, ref) -> dict:
    from ...models.images import normalise_batch

    sample = image_embeddings(ctx, ref)
    extra = ma.probe_images(ctx).extra
    if not extra:
        return {"image": sample["mean_pooled"], "cls": sample["cls"]}
    model = ma.model_for(ctx, ref)
    info = model.info
    pooled, cls = encode_pooled(model, (normalise_batch(extra[i:i + BATCH], info.norm_mean, info.norm_std)
                                        for i in range(0, len(extra), BATCH)))
    return {"image": np.concatenate([sample["mean_pooled"], pooled]),
            "cls": None if cls is None else np.concatenate([sample["cls"], cls])}


def encode_pooled(model, batches) -> tuple[np.ndarray, np.ndarray | None]:
    """Pass image batches through the target encoder under inference mode and keep only each image's pooled
    features (mean patch token, CLS or None): for images no other measure needs (probe images, LiDAR views)."""
    import torch

    pooled, cls = [], []
    with torch.inference_mode():
        for batch in batches:
            p, c = pooled_embeddings(model.encode(batch, encoder="target"))
            pooled.append(p)
            cls.append(c)
    return np.concatenate(pooled), None if cls[0] is None else np.concatenate(cls)


def augmented_views(images, views: int, seed: int):
    """Return [B * views, 3, S, S]: per image, `views` random resized crops (scale 0.4-1, aspect 3/4-4/3,
    bilinear back to S) with a random horizontal flip, seeded; row b * views + v is view v of image b."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(seed)
    b, _, s, _ = images.shape
    out = []
    for i in range(b):
        for _ in range(views):
            area = s * s * (0.4 + 0.6 * torch.rand(1, generator=gen).item())
            aspect = float(np.exp(np.log(3 / 4) + np.log(16 / 9) * torch.rand(1, generator=gen).item()))
            h = int(min(s, round((area / aspect) ** 0.5)))
            w = int(min(s, round((area * aspect) ** 0.5)))
            top = int(torch.randint(0, s - h + 1, (1,), generator=gen))
            left = int(torch.randint(0, s - w + 1, (1,), generator=gen))
            crop = F.interpolate(images[i:i + 1, :, top:top + h, left:left + w], size=(s, s), mode="bilinear",
                                 align_corners=False)
            out.append(crop.flip(-1) if torch.rand(1, generator=gen).item() < 0.5 else crop)
    return torch.cat(out)


def lidar_score(ctx: ReportContext, views: int = LIDAR_VIEWS) -> dict:
    """LiDAR of the target encoder's mean-pooled tokens with each sample image's augmented views as one class."""
    images = ma.sample_images(ctx)
    if len(images.labels) < 2:
        return {"lidar": None, "reason": "LiDAR needs at least 2 sample images"}
    seed = int(ctx.rng("representations-lidar-views").integers(2**31))
    start = time.perf_counter()
    batch = augmented_views(images.tensor, views, seed)
    z, _ = encode_pooled(ma.model_for(ctx), (batch[i:i + BATCH] for i in range(0, len(batch), BATCH)))
    value = metrics.lidar(z, np.repeat(np.arange(len(images.labels)), views))
    return {"lidar": value, "views": views, "images": len(images.labels), "seed": seed,
            "seconds": round(time.perf_counter() - start, 3), "reason": "",
            "max": len(images.labels) - 1}


@dataclass
class Sweep:
    """Measures per evaluated checkpoint and the PCA-of-tokens colours for the animation."""

    rows: list[dict] = field(default_factory=list)
    rgb: list[np.ndarray] = field(default_factory=list)  # per row with tokens: [A, N, 3]
    rgb_rows: list[int] = field(default_factory=list)  # which row each rgb belongs to
    total: int = 0  # checkpoints in the run (unique)
    cap: int = DEFAULT_CAP


def checkpoint_sweep(ctx: ReportContext, cap: int = DEFAULT_CAP) -> Sweep:
    """Evaluate up to `cap` unique checkpoints spread evenly over epochs (see checkpoints.select_evenly)."""
    refs = ctx.run.unique_checkpoints()
    epochs = [float(r.epoch if r.epoch is not None else (r.step if r.step is not None else i))
              for i, r in enumerate(refs)]
    sweep = Sweep(total=len(refs), cap=cap)
    probe = ma.probe_images(ctx)
    chosen = ma.chosen_checkpoint(ctx)
    previous = None
    for i in select_evenly(epochs, cap):
        ref = chosen if _same_file(refs[i], chosen) else refs[i]  # reuse the chosen checkpoint's cached outputs
        ctx.progress(f"representations: checkpoint {ref.name}")
        row = {"name": ref.name, "epoch": ref.epoch, "step": ref.step}
        try:
            row.update(checkpoint_measures(ctx, ref, probe.labels if probe.has_labels else None))
        except ReportError as exc:
            row["error"] = str(exc)
            sweep.rows.append(row)
            continue
        tokens = image_embeddings(ctx, ref)["patch_tokens"][:ANIMATION_IMAGES]
        rgb, previous = pca_rgb(tokens, previous)
        sweep.rgb.append(rgb)
        sweep.rgb_rows.append(len(sweep.rows))
        sweep.rows.append(row)
    return sweep


def _same_file(a, b) -> bool:
    """Tell whether two checkpoint refs are the same file or byte-identical copies (collector's same_as)."""
    if a is None or b is None:
        return False
    return a.path == b.path or a.same_as == b.name or b.same_as == a.name


def checkpoint_measures(ctx: ReportContext, ref, labels) -> dict:
    """RankMe, alpha-ReQ and level-0 prediction cosine of one checkpoint on the sample images, and its kNN
    accuracy on the probe images (`labels`: theirs, None without labels)."""
    emb = image_embeddings(ctx, ref)
    tokens = emb["patch_tokens"].reshape(-1, emb["patch_tokens"].shape[-1])
    row = {"rankme": metrics.rankme(emb["mean_pooled"]), "rankme_tokens": metrics.rankme(tokens),
           "alpha_req": metrics.alpha_req(tokens), "knn_accuracy": None,
           "prediction_cosine": None, "baseline_cosine": None}
    if labels is not None:
        acc = label_accuracies(probe_embeddings(ctx, ref)["image"], labels, linear_probe=False)
        row["knn_accuracy"], row["knn_interval"] = acc["knn_accuracy"], acc["knn_interval"]
    try:
        level0 = predict_levels(ctx, ref).summary[0]
        row["prediction_cosine"], row["baseline_cosine"] = level0["cosine_mean"], level0["baseline_cosine_mean"]
    except ReportError as exc:
        row["prediction_note"] = str(exc)
    return row
