"""The representations section of a V-JEPA / V-JEPA 2 run: the target encoder's embedding space of its clips.

Each sample clip (collect/clips.py: a frame folder or a decoded video) goes through the target encoder of each
evaluated checkpoint once (models/video_model.py, the rebuilt networks; the same checkpoints the image path
evaluates: checkpoints.spread_checkpoints), whole and unmasked. A clip's embedding is the mean of all its
tubelet tokens (video_model.POOLING). The measures and figures are the image path's own functions, fed with
these embeddings: the collapse measures against anchors (embedding_section.embedding_health), projections,
nearest neighbours (a clip shown by its middle frame), kNN and linear probe when the clips have class labels
(clips/<class>/<name>), RankMe / alpha-ReQ / isotropy / Gram drift per checkpoint and the best checkpoint.
What needs image-only machinery stays out, with one line each: LiDAR (augmented views of images), the
prediction cosine per checkpoint (the predictions section measures the chosen one on clips) and the
PCA-of-patch-tokens animation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ...errors import ReportError
from ..base import Presentation
from ..thresholds import threshold
from . import metrics
from .agreement import agreement as measure_agreement
from .captions import HEALTH_CAPTION
from .checkpoint_figures import VIDEO_UNITS
from .checkpoint_sweep import GRAM_IMAGES, Sweep, _isotropy
from .checkpoints import DEFAULT_CAP, agreeing_measures, best_checkpoint, best_rule, spread_checkpoints
from .checks import class_structure_check, collapse_check, collapse_thresholds
from .embedding import POINT_CAP, label_accuracies, nearest_neighbours, pick_queries, projections
from .embedding_section import (
    ClassProbes,
    RepresentationsResult,
    _fill_metrics,
    _nonfinite_findings,
    _present_checkpoints,
    _present_space,
    add_health_tables,
    embedding_health,
    logged_collapse,
)
from .figures import health_figure
from .gram import gram_drift, gram_matrices

MIN_PLOT_CLIPS = 8  # fewer clips: no projection or neighbour figure (t-SNE needs 5 points, UMAP 6; 2 is a line)
VIDEO_HEALTH_CAPTION = HEALTH_CAPTION.replace(
    "Patch tokens of the target encoder on the sample images",
    "Tubelet tokens of the target encoder on the sample clips",
).replace("for tokens, images and CLS", "for the tubelet tokens and the clip embeddings")

CHECK_WORDS = (  # (the shared checks' words for images, the clips' words): regular expressions
    (r"patch-token", "tubelet-token"),
    (r"image embeddings", "clip embeddings"),
    (r"--probe-images", "--max-images"),  # clips are capped by --max-images, all of them probed
    (r"(?<!--max-)\bimages\b", "clips"),
)


@dataclass
class VideoRepresentationsResult(RepresentationsResult):
    """The image path's result, measured on clips, with the clips' names, the chosen checkpoint's clip
    embeddings [B, D] and how they were pooled."""

    clip_names: list[str] = field(default_factory=list)
    clip_embeddings: np.ndarray | None = None
    pooling: str = ""
    checkpoint: str = ""


@dataclass
class _Clips:
    """The clips as the networks see them, read once for every checkpoint."""

    names: list[str]
    tensor: object  # torch.Tensor [B, 3, T, H, W]
    middle: list[np.ndarray]  # each clip's middle frame (RGB), for the neighbours figure
    labels: np.ndarray | None
    notes: list[str]


def video_representations_skip(ctx) -> str | None:
    """Why the clips' embedding space cannot be measured, or None."""
    from ..attention.video import video_attention_skip

    reason = video_attention_skip(ctx)
    if reason is None and len(ctx.run.clips) < 2:
        reason = f"An embedding space needs at least 2 sample clips; the run has {len(ctx.run.clips)}."
    return reason


def video_representations(ctx) -> VideoRepresentationsResult:
    """Encode the clips with every evaluated checkpoint, measure, check (see the module docstring)."""
    from ...models.video_model import POOLING, load_video_model

    session, settings = ctx.session, ctx.settings
    seed = int(ctx.rng("representations").integers(2**31))
    chosen = session.checkpoint
    model = _load(ctx, chosen, load_video_model)
    grid = model.grid
    clips = _read_clips(ctx, grid)
    tokens_of_chosen = _encode(model, clips.tensor)
    model = None  # one checkpoint's networks in memory at a time
    sweep = clip_sweep(ctx, clips, tokens_of_chosen, lambda ref: _load(ctx, ref, load_video_model))
    z = tokens_of_chosen.mean(axis=1, dtype=np.float64)  # POOLING: mean over all tubelet tokens
    from ..session import ImageEmbeddings

    embedding = embedding_health(ImageEmbeddings(mean_pooled=z, cls=None, patch_tokens=tokens_of_chosen), seed)
    evaluated = [r for r in sweep.rows if "error" not in r]
    agreement = measure_agreement(evaluated)
    measures = agreeing_measures(agreement)
    result = VideoRepresentationsResult(
        seed=seed,
        embedding=embedding,
        probes=clip_probes(z, clips, seed, settings.minimal, len(ctx.run.clips)),
        lidar={"lidar": None, "reason": "it needs augmented views of images; the video path draws none"},
        sweep=sweep,
        best=best_checkpoint(evaluated, measures),
        agreement=agreement,
        best_rule=best_rule(measures),
        animation_pictures=[],
        grid=(grid.height, grid.width),
        logged=logged_collapse(ctx, sweep.rows),
        minimal=settings.minimal,
        clip_names=clips.names,
        clip_embeddings=z,
        pooling=POOLING,
        checkpoint=chosen.name,
    )
    _fill_metrics(result)
    result.metrics.update({"pooling": POOLING, "clips": clips.names, "unit": "clip"})
    result.notes.extend(clips.notes)
    _video_notes(result, len(clips.names))
    if embedding.nonfinite or result.probes.nonfinite:
        _nonfinite_findings(result, chosen.name)
    else:
        collapse_check(result, embedding.health, embedding.anchor_health, collapse_thresholds(ctx))
    class_structure_check(result, result.probes.accuracy, int(threshold(ctx, "knn.min_images")))
    _clip_words(result)
    result.message = _message(result)
    return result


def clip_sweep(ctx, clips: _Clips, tokens_of_chosen: np.ndarray, load) -> Sweep:
    """Measure up to DEFAULT_CAP checkpoints spread over training (the image path's spread_checkpoints), each
    loaded once by `load(ref)` and passed the clips once; the chosen checkpoint's tokens are reused. Rows in
    epoch order; a checkpoint that cannot be rebuilt or gives NaN is an error row."""
    chosen = ctx.session.checkpoint
    refs = ctx.run.unique_checkpoints()
    picked = spread_checkpoints(refs, chosen, DEFAULT_CAP)
    iso_seed = int(ctx.rng("isotropy").integers(2**31))  # the same directions and subsample at every checkpoint
    rows: list[dict] = []
    grams: dict[int, np.ndarray] = {}
    for i, ref in enumerate(picked):
        ctx.progress(f"representations: checkpoint {ref.name}, {len(clips.names)} clips")
        row = {"name": ref.name, "epoch": ref.epoch, "step": ref.step}
        try:
            tokens = tokens_of_chosen if ref is chosen else _encode(load(ref), clips.tensor)
            row.update(clip_measures(tokens, clips.labels, iso_seed))
            grams[i] = gram_matrices(tokens[:GRAM_IMAGES])
        except ReportError as exc:
            row["error"] = str(exc)
        row["val_loss"] = ctx.run.scalars.value_at("val/loss", ref.step)
        rows.append(row)
    if grams:  # drift from the last evaluated checkpoint in training order
        last = max(grams)
        for i, gram in grams.items():
            rows[i]["gram_drift"] = gram_drift(gram, grams[last])
    return Sweep(rows=rows, total=len(refs), cap=DEFAULT_CAP)


def _clip_words(result: VideoRepresentationsResult) -> None:
    """Say clips and tubelet tokens in the shared checks' details, which speak of images and patch tokens."""
    for check in result.checks:
        for image_word, clip_word in CHECK_WORDS:
            check.detail = re.sub(image_word, clip_word, check.detail)


def _load(ctx, ref, load_video_model):
    """One checkpoint's VideoModel, its passes counted by the report's pass meter; a one-line ReportError when
    it cannot be rebuilt."""
    try:
        model = load_video_model(ref, ctx.run.config or {}, ctx.run.layout, ctx.settings)
    except ReportError as exc:
        raise ReportError(f"the video networks of {ref.name} could not be rebuilt: {exc}") from None
    ctx.session.meter.attach(model, ref.name)
    return model


def _encode(model, tensor) -> np.ndarray:
    """The target encoder's tubelet tokens [B, N, D] (float32: a clip has depth x an image's tokens) of every
    clip, one pass per clip."""
    return model.encode_clips(tensor, encoder="target").numpy()


def _read_clips(ctx, grid) -> _Clips:
    """Read up to --max-images clips; a clip that cannot be read is left out with one note."""
    import torch

    from ...collect.clips import ClipError
    from ...models.vjepa_nets import load_clip
    from ..session import has_classes

    names, tensors, middle, labels, notes = [], [], [], [], []
    chosen = ctx.run.clips[: ctx.settings.max_images]
    if len(ctx.run.clips) > len(chosen):
        notes.append(f"The first {len(chosen)} of {len(ctx.run.clips)} clips are used (--max-images).")
    for clip in chosen:
        try:
            tensor, pictures, note = load_clip(clip, grid, ctx.run.config)
        except ClipError as exc:
            notes.append(f"Clip '{clip.name}' left out: {exc}")
            continue
        if note:
            notes.append(f"Clip '{clip.name}': {note}.")
        names.append(clip.name)
        tensors.append(tensor)
        middle.append(pictures[len(pictures) // 2])
        labels.append(clip.label)
    if len(names) < 2:
        raise ReportError(f"an embedding space needs at least 2 readable clips; {len(names)} could be read")
    return _Clips(
        names,
        torch.stack(tensors),
        middle,
        np.asarray(labels) if has_classes(labels) else None,
        notes,
    )


def clip_measures(tokens: np.ndarray, labels, seed: int) -> dict:
    """One checkpoint's row of the sweep, as checkpoint_sweep.checkpoint_measures makes it for images: RankMe of
    the clip embeddings and of the tubelet tokens, alpha-ReQ and the isotropy statistic of the tokens, kNN
    accuracy of the clip embeddings (with labels). The prediction cosine is not measured per checkpoint here.
    Raises ReportError when the tokens hold NaN or inf."""
    flat = tokens.reshape(-1, tokens.shape[-1])
    nonfinite = metrics.nonfinite_reason(flat, "the sample clips' tubelet tokens")
    if nonfinite:  # an error row, left out of curves and best, as the image path does
        raise ReportError(nonfinite)
    row = {
        "rankme": metrics.rankme(tokens.mean(axis=1, dtype=np.float64)),
        "rankme_tokens": metrics.rankme(flat),
        "alpha_req": metrics.alpha_req(flat),
        **_isotropy(flat, seed),
        "knn_accuracy": None,
        "prediction_cosine": None,
        "baseline_cosine": None,
    }
    if labels is not None:
        accuracy = label_accuracies(tokens.mean(axis=1, dtype=np.float64), labels, linear_probe=False)
        row["knn_accuracy"], row["knn_interval"] = accuracy["knn_accuracy"], accuracy["knn_interval"]
    return row


def clip_probes(z: np.ndarray, clips: _Clips, seed: int, minimal: bool, available: int) -> ClassProbes:
    """Projections and neighbours of the clip embeddings (with at least MIN_PLOT_CLIPS clips), accuracies with
    labels."""
    labels, n = clips.labels, len(z)
    nonfinite = metrics.nonfinite_reason(z, "the clip embeddings")
    drawn = n >= MIN_PLOT_CLIPS and not nonfinite
    queries = pick_queries(n, labels, 4, np.random.default_rng(seed)) if drawn else np.zeros(0, dtype=int)
    return ClassProbes(
        pictures=clips.middle,
        labels=labels,
        projections=projections(z, seed, POINT_CAP, minimal) if drawn else [],
        queries=queries,
        neighbours=nearest_neighbours(z, queries, 5) if drawn else None,
        accuracy={"image": label_accuracies(z, labels, seed)} if labels is not None else None,
        sample=n,
        available=available,
        nonfinite=nonfinite,
    )


def _video_notes(result: VideoRepresentationsResult, clips: int) -> None:
    """The one-line notes of the video path (the image path's _add_notes speaks of images)."""
    notes = result.notes
    notes.extend(p.note for p in result.probes.projections if p.note)
    if clips < MIN_PLOT_CLIPS:
        notes.append(
            f"No embedding-space figure or nearest neighbours: {clips} sample clips are too few for a projection "
            f"(at least {MIN_PLOT_CLIPS}); the collapse measures below use all their tubelet tokens."
        )
    if result.probes.accuracy is None:
        notes.append("The clips have no class labels (clips/<class>/<name>, two classes at least): no kNN or probe.")
    notes.append(f"LiDAR not computed: {result.lidar['reason']}.")
    notes.append(
        "Not measured per checkpoint for clips: the prediction cosine (the predictions section measures the chosen "
        "checkpoint) and the PCA-of-tokens animation."
    )
    notes.extend(f"Checkpoint {r['name']} was not evaluated: {r['error']}" for r in result.sweep.rows if "error" in r)
    if result.logged is None:
        notes.append("The run logged no collapse metrics (e.g. train/context_std, train/target_eff_rank).")


def _message(result: VideoRepresentationsResult) -> str:
    health = result.embedding.health
    rankme = health["image"].get("rankme")
    shown = f"{len(result.clip_names)} clips of {result.checkpoint}"
    if rankme is not None:
        shown += f"; RankMe of the clip embeddings {rankme:.2f} (d = {health['image']['d']})"
    return shown + f"; {len([r for r in result.sweep.rows if 'error' not in r])} checkpoints evaluated"


def present_video_representations(result: VideoRepresentationsResult) -> Presentation:
    """The image path's figures and tables, with the clips' words."""
    health, n = result.embedding.health, len(result.clip_names)
    used = f"the {n} sample clips (each shown by its middle frame)"
    shown = Presentation(
        intro=(
            f"What the target encoder's embedding space of the run's clips looks like ({result.checkpoint}): is it "
            "collapsed, does it separate the classes, and how did that change over the checkpoints. A clip's "
            f"embedding is the {result.pooling}; each clip passed each evaluated checkpoint's target encoder once, "
            "whole and unmasked. Anchors of the same shape (a seeded isotropic Gaussian and a rank-1 matrix) show "
            "where healthy and collapsed lie on each scale."
        )
    )
    if "tokens" not in result.embedding.nonfinite:
        shown.add_figure(
            "health",
            "Embedding health (tubelet tokens)",
            VIDEO_HEALTH_CAPTION.format(n=health["tokens"]["n"], d=health["tokens"]["d"], seed=result.seed),
            health_figure(result.embedding.tokens, result.embedding.token_anchors, "tubelet tokens"),
        )
    titles = (("tokens", "tubelet tokens"), ("image", "clip embeddings (mean over tubelet tokens)"))
    add_health_tables(shown, health, result.embedding.anchor_health, titles)
    _present_space(shown, result.probes, used)
    _present_checkpoints(shown, result, VIDEO_UNITS)
    return shown
