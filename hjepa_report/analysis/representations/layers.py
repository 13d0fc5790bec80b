"""Layer by layer: which encoder block's features are best, measured on every block of one forward pass.

Skean et al. 2025 ("Layer by Layer: Uncovering Hidden Representations in Language Models", ICML) find that
intermediate layers often give better features than the last, and propose label-free layer measures such as
the matrix entropy; I-JEPA's own evaluation probes the average of the last four blocks (ijepa #47). Per block
of the target encoder (block outputs before the final norm, from the one pass of ModelSession.block_outputs)
and per pooling: "mean" (mean of the patch tokens, I-JEPA's convention), "cls" (the CLS token, when present),
and one extra row "last 4" (the mean over the last four blocks of the mean-pooled features):
- RankMe (Garrido et al. 2023; metrics.rankme);
- the matrix entropy of the centred features: H = -sum_i p_i log p_i with p_i = lambda_i / sum_j lambda_j the
  eigenvalues of the Gram matrix Z Z^T (the alpha = 1 matrix-based entropy of Skean et al. 2025, Sec. 3),
  reported normalised by log(min(n, D)) so that 1 means every direction is used equally and 0 a rank-1 set;
- with labels: the leave-one-out kNN accuracy (embedding.label_accuracies, as the representations section
  measures the final embeddings) and a 5-fold linear-probe accuracy with a ridge classifier (standardised
  features, one-vs-all least squares with L2 penalty 1, closed form: scikit-learn RidgeClassifier), not the
  logistic probe of the representations section, which costs ~2 s per space and a ViT-B has 25 spaces here.
The best block is the one with the highest linear-probe accuracy (kNN accuracy breaks ties), or without labels
the highest RankMe; the rule is stated with it.
"""

from __future__ import annotations

import numpy as np

from . import metrics
from .embedding import label_accuracies

LAST_FOUR = 4


def matrix_entropy(z: np.ndarray) -> float:
    """Normalised alpha = 1 matrix entropy of centred features z [n, D] (see the module docstring)."""
    z = np.asarray(z, np.float64)
    z = z - z.mean(axis=0, keepdims=True)
    s2 = np.linalg.svd(z, compute_uv=False) ** 2  # eigenvalues of Z Z^T
    total = s2.sum()
    bound = np.log(min(z.shape))
    if total <= 0 or bound <= 0:
        return 0.0
    p = s2[s2 > total * 1e-12] / total
    return float(-(p * np.log(p)).sum() / bound)


def block_rows(mean_pooled: np.ndarray, cls: np.ndarray | None, labels, seed: int) -> list[dict]:
    """One row per (block, pooling) plus the last-four average: block, pooling, rankme, entropy and, with
    labels (None without), knn_accuracy, probe_accuracy. mean_pooled / cls: [L, B, D]."""
    spaces = [(b, "mean", mean_pooled[b]) for b in range(len(mean_pooled))]
    if cls is not None:
        spaces += [(b, "cls", cls[b]) for b in range(len(cls))]
    if len(mean_pooled) >= LAST_FOUR:
        spaces.append((len(mean_pooled) - 1, "last 4", mean_pooled[-LAST_FOUR:].mean(axis=0)))
    rows = []
    for block, pooling, z in spaces:
        nonfinite = metrics.nonfinite_reason(z, f"block {block}'s {pooling} features")
        row = {"block": int(block), "pooling": pooling, "rankme": None, "entropy": None, "reason": nonfinite or ""}
        if not nonfinite:
            row.update(rankme=metrics.rankme(z), entropy=matrix_entropy(z))
            if labels is not None:
                found = label_accuracies(z, labels, seed, linear_probe=False)
                row.update(knn_accuracy=found["knn_accuracy"], probe_accuracy=ridge_probe_accuracy(z, labels, seed))
        rows.append(row)
    return rows


def ridge_probe_accuracy(z: np.ndarray, labels, seed: int, folds: int = 5) -> float | None:
    """Mean stratified K-fold accuracy of a ridge classifier on standardised features (see the module
    docstring); None with fewer than 2 classes of at least 2 images. Images alone in their class are left out,
    as label_accuracies does."""
    from sklearn.linear_model import RidgeClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels)
    names, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    kept = counts[inverse] >= 2
    if (counts >= 2).sum() < 2:
        return None
    folds = int(min(folds, counts[counts >= 2].min()))
    probe = make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(probe, np.asarray(z, np.float64)[kept], labels[kept], cv=cv).mean())


def best_block(rows: list[dict], images: int) -> tuple[dict | None, str]:
    """The best row and the rule that chose it (see the module docstring); with probes, whether it beats the
    last block's same pooling beyond the 95 % Wilson interval of that accuracy on `images` images."""
    usable = [r for r in rows if r["rankme"] is not None]
    if not usable:
        return None, "no block has finite features"
    if not all(r.get("probe_accuracy") is not None for r in usable):
        best = max(usable, key=lambda r: (r["rankme"], r["block"]))
        return best, "highest RankMe (no class labels for a probe)"
    best = max(usable, key=lambda r: (r["probe_accuracy"], r.get("knn_accuracy") or 0.0, r["block"]))
    rule = "highest linear-probe accuracy (kNN accuracy breaks ties, then the later block)"
    pooling = "mean" if best["pooling"] == "last 4" else best["pooling"]
    last = max((r for r in usable if r["pooling"] == pooling), key=lambda r: r["block"])
    if last is not best:
        low, high = metrics.wilson_interval(last["probe_accuracy"], images)
        clear = best["probe_accuracy"] > high
        rule += (
            f"; {'above' if clear else 'within'} the 95 % interval of the last block's {pooling} accuracy "
            f"({low:.2f}-{high:.2f} on {images} images)"
            + ("" if clear else ": no block is clearly better than the last")
        )
    return best, rule
