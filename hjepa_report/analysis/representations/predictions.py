"""Predictor output against its targets, per predicted token and per hierarchy level, with a baseline.

The measures are pure numpy on arrays the model layer returns (predicted / target [B, K, D], valid [B, K],
patch indices [B, K]); `measure_levels` takes one checkpoint's models.Prediction through that model's level
heads first (ModelSession.prediction_errors calls it once per checkpoint and report). The baseline predicts,
for every target token, the mean of all valid target tokens of that level in the sample batch: a predictor
that does not beat this constant has learnt nothing about position or content.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import ReportError


@dataclass
class LevelErrors:
    """Per-token errors of one hierarchy level (NaN where the token is padding)."""

    level: int
    cosine: np.ndarray  # [B, K_l] cosine(predicted, target)
    l2: np.ndarray  # [B, K_l] ||predicted - target||_2
    baseline_cosine: np.ndarray  # [B, K_l] cosine(mean target token, target)
    baseline_l2: np.ndarray  # [B, K_l]
    valid: np.ndarray  # [B, K_l] bool
    members: np.ndarray  # [B, K_l, w] patch indices each token covers (-1: none)


def _cosine(a: np.ndarray, b: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Cosine similarity along the last axis."""
    num = np.sum(a * b, axis=-1)
    return num / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), eps)


def mean_target_token(target: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Return the mean [D] of the valid target tokens of a batch (the constant baseline prediction)."""
    if not valid.any():
        raise ValueError("no valid target token to average")
    return target[valid].mean(axis=0)


def pooled_members(indices: np.ndarray, valid: np.ndarray, width: int) -> np.ndarray:
    """Return [B, K // width, width] patch indices covered by each token after 1-D pooling of `width`
    consecutive entries of the index-sorted list (H-JEPA's AvgPool1d(2^l), src/models/hjepa.py); -1 marks
    padding entries."""
    b, k = indices.shape
    marked = np.where(valid, indices, -1)[:, : (k // width) * width]
    return marked.reshape(b, k // width, width)


def level_errors(level: int, predicted, target, valid, members) -> LevelErrors:
    """Compute cosine and L2 error of each valid token and of the mean-target-token baseline."""
    predicted, target = np.asarray(predicted, np.float64), np.asarray(target, np.float64)
    valid = np.asarray(valid, bool)
    base = mean_target_token(target, valid)

    def masked(x):
        return np.where(valid, x, np.nan)

    return LevelErrors(
        level=level,
        cosine=masked(_cosine(predicted, target)),
        l2=masked(np.linalg.norm(predicted - target, axis=-1)),
        baseline_cosine=masked(_cosine(np.broadcast_to(base, target.shape), target)),
        baseline_l2=masked(np.linalg.norm(base - target, axis=-1)),
        valid=valid,
        members=np.asarray(members),
    )


def patch_grid(values: np.ndarray, members: np.ndarray, num_patches: int) -> np.ndarray:
    """Paint one image's per-token values [K_l] onto its patches [N] (NaN where nothing was predicted)."""
    grid = np.full(num_patches, np.nan)
    for value, patches in zip(values, members, strict=False):
        if np.isfinite(value):
            grid[patches[patches >= 0]] = value
    return grid


def summarise(levels: list[LevelErrors]) -> list[dict]:
    """Return per-level JSON-friendly means: predictor vs baseline cosine and L2, token count, who wins."""
    rows = []
    for lev in levels:
        v = lev.valid
        cos, base_cos = float(np.mean(lev.cosine[v])), float(np.mean(lev.baseline_cosine[v]))
        rows.append(
            {
                "level": lev.level,
                "tokens": int(v.sum()),
                "cosine_mean": cos,
                "cosine_median": float(np.median(lev.cosine[v])),
                "l2_mean": float(np.mean(lev.l2[v])),
                "baseline_cosine_mean": base_cos,
                "baseline_l2_mean": float(np.mean(lev.baseline_l2[v])),
                "beats_baseline": bool(cos > base_cos),
            }
        )
    return rows


@dataclass
class PredictionErrors:
    """Per-level prediction errors of one checkpoint on the sample images under the report's masks."""

    levels: list[LevelErrors]
    summary: list[dict]  # summarise(levels)
    target_kind: str  # what the targets are (models.Prediction.target_kind)
    empty_levels: list[int] = field(default_factory=list)  # levels with no valid pooled token for these masks
    seconds: float = 0.0  # predicting and measuring, the first time


def measure_levels(model, prediction) -> PredictionErrors:
    """Project a Prediction's predicted tokens through each hierarchy level of `model` (JepaModel.levels) and
    its targets the way the loss does (JepaModel.level_targets), then measure the errors per level.

    Raises ReportError when the masks leave no predicted token at any level."""
    import torch

    indices, valid = prediction.indices.numpy(), prediction.valid.numpy()
    predicted, target, valid_on = (
        t.to(model.device) for t in (prediction.predicted, prediction.target, prediction.valid)
    )
    levels, empty = [], []
    with torch.inference_mode():
        for level in range(model.info.num_levels):
            ((p_l, v_l),) = model.levels(predicted, valid_on, [level])
            ((t_l, _),) = model.level_targets(target, valid_on, [level])  # what the loss compares
            v_l = valid if v_l is None else v_l.cpu().numpy()
            if not v_l.any():  # fewer hidden patches than one pooling window: the level has no token
                empty.append(level)
                continue
            members = pooled_members(indices, valid, 2**level)  # H-JEPA pools 2^l consecutive entries
            levels.append(level_errors(level, p_l.cpu().numpy(), t_l.cpu().numpy(), v_l, members))
    if not levels:
        raise ReportError("the sampled masks leave no predicted token at any level")
    return PredictionErrors(levels, summarise(levels), prediction.target_kind, empty)
