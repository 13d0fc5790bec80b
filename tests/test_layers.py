"""Layer by layer (analysis/representations/layers.py): the matrix entropy on known spectra, per-block rows,
and the best-block rule, which names an earlier block only when it beats the last one beyond noise."""

from __future__ import annotations

import numpy as np
import pytest

from hjepa_report.analysis.representations.layers import best_block, block_rows, matrix_entropy


def test_matrix_entropy_is_one_for_equal_directions_and_zero_for_rank_one():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    equal = q[:, :8] * np.sqrt(40)  # 40 x 8 with orthogonal columns of equal norm, centred below
    equal = np.vstack([equal, -equal])  # mean zero: centring changes nothing, all 8 eigenvalues equal
    assert matrix_entropy(equal) == pytest.approx(1.0, abs=1e-9)
    rank_one = np.outer(rng.standard_normal(50), rng.standard_normal(8))
    assert matrix_entropy(rank_one) == pytest.approx(0.0, abs=1e-9)
    two = np.vstack([np.c_[np.ones(10), np.zeros(10)], np.c_[-np.ones(10), np.zeros(10)]])
    assert 0.0 <= matrix_entropy(two) <= 1e-9  # one direction only, after centring


def _planted(separating_block: int, depth: int = 4, n: int = 80, d: int = 16):
    """Features per block; only `separating_block` puts the two classes apart."""
    rng = np.random.default_rng(1)
    labels = np.repeat(["a", "b"], n // 2)
    mean = rng.standard_normal((depth, n, d))
    mean[separating_block, : n // 2, 0] += 8.0
    return mean, labels


def test_a_block_that_separates_the_classes_is_named_best_beyond_noise():
    mean, labels = _planted(separating_block=1)
    rows = block_rows(mean, None, labels, seed=0)
    assert [r["pooling"] for r in rows].count("last 4") == 1
    best, rule = best_block(rows, images=len(labels))
    assert (best["block"], best["pooling"]) == (1, "mean") and best["probe_accuracy"] > 0.95
    assert "above the 95 % interval of the last block's mean accuracy" in rule


def test_no_labels_rank_by_rankme_and_noise_is_not_called_better():
    mean, labels = _planted(separating_block=3)
    rows = [dict(r, knn_accuracy=None, probe_accuracy=None) for r in block_rows(mean, None, None, seed=0)]
    assert "RankMe" in best_block(rows, 80)[1]
    noisy = [
        {"block": b, "pooling": "mean", "rankme": 1.0, "knn_accuracy": 0.5, "probe_accuracy": acc}
        for b, acc in enumerate([0.52, 0.55, 0.5, 0.5])
    ]
    best, rule = best_block(noisy, images=40)
    assert best["block"] == 1 and "no block is clearly better than the last" in rule
