"""The representation measures across checkpoints: RankMe, alpha-ReQ, kNN accuracy and level-0 prediction
cosine per evaluated checkpoint, and the PCA-of-tokens colours of the animation.

The session holds one checkpoint's networks at a time and keeps every checkpoint's embeddings and prediction
errors, so the checkpoints are measured in the session's visiting order (ModelSession.visiting_order): the
one in memory first (the chosen one, whose outputs are already cached, when the sweep starts), the others
loaded once each, and the chosen one never loaded again just to read what the session already holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ...errors import ReportError
from . import metrics
from .checkpoints import DEFAULT_CAP, pca_rgb, spread_checkpoints
from .embedding import label_accuracies
from .gram import gram_drift, gram_matrices
from .isotropy import isotropy

if TYPE_CHECKING:  # pragma: no cover
    from ...collect.run import CheckpointRef
    from ..context import ReportContext
    from ..session import ModelSession

ANIMATION_IMAGES = 4  # images shown in the PCA-of-tokens animation
GRAM_IMAGES = 16  # sample images whose patch-token Gram matrices are compared across checkpoints
ISOTROPY_TOKENS = 4096  # patch tokens the isotropy statistic is measured on (seeded subsample above this)


@dataclass
class Sweep:
    """Measures per evaluated checkpoint and the PCA-of-tokens colours for the animation."""

    rows: list[dict] = field(default_factory=list)
    rgb: list[np.ndarray] = field(default_factory=list)  # per row with tokens: [A, N, 3]
    rgb_rows: list[int] = field(default_factory=list)  # which row each rgb belongs to
    total: int = 0  # checkpoints in the run (unique)
    cap: int = DEFAULT_CAP


def checkpoint_sweep(ctx: ReportContext, labels, cap: int = DEFAULT_CAP) -> Sweep:
    """Evaluate up to `cap` unique checkpoints spread evenly over epochs (see checkpoints.select_evenly); kNN on
    the probe images with `labels` (None without labels). Rows are in epoch order; the chosen checkpoint is
    measured first (see the module docstring)."""
    session = ctx.session
    refs = ctx.run.unique_checkpoints()
    picked = spread_checkpoints(refs, session.checkpoint, cap)
    rows: dict[int, dict] = {}
    grams: dict[int, np.ndarray] = {}
    seed = int(ctx.rng("isotropy").integers(2**31))  # the same directions and token subsample at every checkpoint
    order = session.visiting_order(picked)
    for i in sorted(range(len(picked)), key=lambda i: order.index(picked[i])):
        ref = picked[i]
        ctx.progress(f"representations: checkpoint {ref.name}")
        rows[i] = {"name": ref.name, "epoch": ref.epoch, "step": ref.step}
        try:
            rows[i].update(checkpoint_measures(session, ref, labels, seed))
            grams[i] = gram_matrices(session.embeddings(ref).patch_tokens[:GRAM_IMAGES])
        except ReportError as exc:
            rows[i]["error"] = str(exc)
        rows[i]["val_loss"] = ctx.run.scalars.value_at("val/loss", ref.step)
        session.forget(ref, keep_tokens=ANIMATION_IMAGES)  # memory stays flat over the checkpoints
    if grams:  # drift from the last evaluated checkpoint in training order
        last = max(grams)
        for i, gram in grams.items():
            rows[i]["gram_drift"] = gram_drift(gram, grams[last])
    sweep = Sweep(rows=[rows[i] for i in range(len(picked))], total=len(refs), cap=cap)
    previous = None
    for i, ref in enumerate(picked):  # in epoch order: each frame's colours follow the previous frame's
        if "error" in sweep.rows[i]:
            continue
        rgb, previous = pca_rgb(session.embeddings(ref).patch_tokens[:ANIMATION_IMAGES], previous)
        sweep.rgb.append(rgb)
        sweep.rgb_rows.append(i)
    return sweep


def _isotropy(tokens: np.ndarray, seed: int) -> dict:
    """isotropy.isotropy of at most ISOTROPY_TOKENS patch tokens (a seeded subsample)."""
    if len(tokens) > ISOTROPY_TOKENS:
        tokens = tokens[np.sort(np.random.default_rng(seed).choice(len(tokens), ISOTROPY_TOKENS, replace=False))]
    found = isotropy(tokens, seed)
    return {"isotropy": found["statistic"], "isotropy_gaussian": found["gaussian_reference"]}


def checkpoint_measures(session: ModelSession, ref: CheckpointRef, labels, seed: int = 0) -> dict:
    """RankMe, alpha-ReQ, the SIGReg isotropy statistic (seeded by `seed`) and level-0 prediction cosine of one
    checkpoint on the sample images, and its kNN accuracy on the probe images (`labels`: theirs, None without
    labels). Raises ReportError when the sample images' patch tokens hold NaN or inf."""
    embeddings = session.embeddings(ref)
    tokens = embeddings.patch_tokens.reshape(-1, embeddings.patch_tokens.shape[-1])
    nonfinite = metrics.nonfinite_reason(tokens, "the sample images' patch tokens")
    if nonfinite:  # RankMe & co. refuse NaN: the row says why (an error row, left out of curves and best)
        raise ReportError(nonfinite)
    row = {
        "rankme": metrics.rankme(embeddings.mean_pooled),
        "rankme_tokens": metrics.rankme(tokens),
        "alpha_req": metrics.alpha_req(tokens),
        **_isotropy(tokens, seed),
        "knn_accuracy": None,
        "prediction_cosine": None,
        "baseline_cosine": None,
    }
    if labels is not None:
        accuracy = label_accuracies(session.probe_embeddings(ref).image, labels, linear_probe=False)
        row["knn_accuracy"], row["knn_interval"] = accuracy["knn_accuracy"], accuracy["knn_interval"]
    if str(ref.path) != str(session.checkpoint.path):  # its target passes are done: later passes read the cache
        session.hand_back_pages(ref, "target_encoder")
    try:
        level0 = session.prediction_errors(ref).summary[0]
        row["prediction_cosine"], row["baseline_cosine"] = level0["cosine_mean"], level0["baseline_cosine_mean"]
    except ReportError as exc:
        row["prediction_note"] = str(exc)
    return row
