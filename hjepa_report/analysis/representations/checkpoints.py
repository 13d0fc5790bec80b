"""Measures across checkpoints: which checkpoints to evaluate, which is best, and a PCA-of-tokens animation.

The PCA animation shows, per checkpoint, the first three principal components of the patch tokens of a few
sample images as RGB. Each frame is fitted on its own checkpoint's tokens (projecting early checkpoints onto
the last one's components would show directions they do not use yet, i.e. washed-out frames), then its
components are matched to the previous frame's (permutation and sign chosen by the correlation of the
per-patch scores), so a part of the image keeps its colour while the features form.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np

from .embedding import pca

DEFAULT_CAP = 8


def select_evenly(epochs: list[float], cap: int = DEFAULT_CAP) -> list[int]:
    """Return positions (sorted) of at most `cap` entries spread evenly over the epoch range.

    For each of `cap` evenly spaced target epochs (first and last included) the nearest unused entry is taken.
    """
    order = sorted(range(len(epochs)), key=lambda i: epochs[i])
    if len(order) <= cap:
        return order
    chosen: list[int] = []
    for target in np.linspace(epochs[order[0]], epochs[order[-1]], cap):
        free = [i for i in order if i not in chosen]
        chosen.append(min(free, key=lambda i: (abs(epochs[i] - target), epochs[i])))
    return sorted(chosen, key=lambda i: epochs[i])


def spread_checkpoints(refs: list, chosen, cap: int = DEFAULT_CAP) -> list:
    """Up to `cap` of the run's unique checkpoints `refs` spread evenly over epochs (select_evenly; steps, then
    positions, where epochs are unknown), in epoch order; a byte copy of the `chosen` checkpoint is replaced by
    the chosen one, whose outputs the report already holds, so that no file is read twice."""
    epochs = [
        float(r.epoch if r.epoch is not None else (r.step if r.step is not None else i)) for i, r in enumerate(refs)
    ]
    return [chosen if same_file(refs[i], chosen) else refs[i] for i in select_evenly(epochs, cap)]


def same_file(a, b) -> bool:
    """Tell whether two checkpoint refs are the same file or byte-identical copies (the collector's same_as)."""
    if a is None or b is None:
        return False
    return a.path == b.path or a.same_as == b.name or b.same_as == a.name


BEST_RULE = (
    "the checkpoint with the lowest mean rank over the measures available for every checkpoint: "
    "kNN accuracy (higher is better), RankMe (higher), prediction cosine (higher) and "
    "|alpha-ReQ - 1| (lower; Agrawal et al. 2022 relate alpha near 1 to good representations); "
    "ties go to the later checkpoint"
)
DEFAULT_MEASURES = {"knn_accuracy": -1, "rankme": -1, "prediction_cosine": -1, "alpha_gap": 1}  # sign: lower is better


def agreeing_measures(agreement: dict) -> dict[str, int] | None:
    """The best-checkpoint measures when the run can tell which label-free measures track kNN accuracy
    (agreement.agreement over at least MIN_CHECKPOINTS checkpoints): kNN plus the ones that agree; None
    otherwise (DEFAULT_MEASURES then)."""
    from .agreement import MIN_CHECKPOINTS, ORIENTATION

    if not agreement or next(iter(agreement.values()))["checkpoints"] < MIN_CHECKPOINTS:
        return None
    return {"knn_accuracy": -1, **{m: -ORIENTATION[m] for m, a in agreement.items() if a["agrees"]}}


def best_rule(measures: dict[str, int] | None) -> str:
    """The rule naming the best checkpoint in words, for captions and report.json."""
    if measures is None:
        return BEST_RULE
    others = [m for m in measures if m != "knn_accuracy"]
    agreeing = ", ".join(others) if others else "none of the label-free measures"
    return (
        "the checkpoint with the lowest mean rank over kNN accuracy and the label-free measures that agree with "
        f"it on this run (Spearman rho >= 0.5 across the evaluated checkpoints: {agreeing}); "
        "ties go to the later checkpoint"
    )


def best_checkpoint(rows: list[dict], measures: dict[str, int] | None = None) -> str | None:
    """Return the `name` of the best row by `best_rule(measures)` (rows hold name, epoch and the measures, None
    if missing)."""
    if not rows:
        return None
    measures = measures or DEFAULT_MEASURES
    values = [dict(r, alpha_gap=None if r.get("alpha_req") is None else abs(r["alpha_req"] - 1.0)) for r in rows]
    used = [m for m in measures if all(v.get(m) is not None for v in values)]
    if not used:
        return None
    ranks = np.zeros(len(rows))
    for m in used:
        key = np.array([measures[m] * v[m] for v in values])
        ranks += np.argsort(np.argsort(key, kind="stable"), kind="stable")  # 0 = best
    epochs = [r.get("epoch") if r.get("epoch") is not None else -1 for r in rows]
    best = min(range(len(rows)), key=lambda i: (ranks[i], -epochs[i]))
    return rows[best]["name"]


def pca_rgb(tokens: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
    """Return per-patch RGB in [0, 1] ([B, N, 3]) from the first 3 principal components of tokens [B, N, D].

    With `previous` (the last frame's scores [B*N, 3]) the components are permuted and sign-flipped to match
    it best. Each channel is scaled by its 1st-99th percentile range.
    """
    b, n, d = tokens.shape
    scores, _, _ = pca(tokens.reshape(b * n, d), 3)
    scores = np.pad(scores, ((0, 0), (0, 3 - scores.shape[1])))
    if previous is not None:
        scores = align_components(scores, previous)
    lo, hi = np.percentile(scores, 1, axis=0), np.percentile(scores, 99, axis=0)
    rgb = np.clip((scores - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    return rgb.reshape(b, n, 3), scores


def align_components(scores: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Permute and sign-flip the columns of scores to maximise the summed |correlation| with previous."""

    def corr(a, c):
        a, c = a - a.mean(), c - c.mean()
        den = np.linalg.norm(a) * np.linalg.norm(c)
        return float(a @ c / den) if den > 0 else 0.0

    c = np.array([[corr(scores[:, i], previous[:, j]) for j in range(3)] for i in range(3)])
    perm = max(permutations(range(3)), key=lambda p: sum(abs(c[p[j], j]) for j in range(3)))
    signs = np.array([1.0 if c[perm[j], j] >= 0 else -1.0 for j in range(3)])
    return scores[:, list(perm)] * signs


def animation_frame(
    images: list[np.ndarray], rgb: np.ndarray, grid: tuple[int, int], label: str, size: int = 128
) -> np.ndarray:
    """Compose one frame: a caption strip, then each image (resized to `size`) above its PCA colours
    (nearest-neighbour upscaling, so every patch stays a visible square)."""
    from PIL import Image, ImageDraw

    strip, gap = 18, 4
    frame = np.full((strip + 2 * size + gap, len(images) * (size + gap), 3), 255, np.uint8)
    for i, img in enumerate(images):
        x = i * (size + gap) + gap // 2
        frame[strip : strip + size, x : x + size] = np.asarray(
            Image.fromarray(np.asarray(img)[..., :3]).resize((size, size), Image.BILINEAR)
        )
        colours = (rgb[i].reshape(grid[0], grid[1], 3) * 255).astype(np.uint8)
        frame[strip + size + gap :, x : x + size] = np.asarray(
            Image.fromarray(colours).resize((size, size), Image.NEAREST)
        )
    canvas = Image.fromarray(frame)
    ImageDraw.Draw(canvas).text((4, 3), label, fill=(0, 0, 0))
    return np.asarray(canvas)
