"""Tests of the prediction-vs-target errors, projections, neighbours and the across-checkpoint helpers."""

import numpy as np
import pytest

from hjepa_report.analysis.representations import checkpoints, embedding, predictions


def test_level_errors_known_answers_and_baseline():
    target = np.array([[[1.0, 0.0], [0.0, 1.0], [9.0, 9.0]]])  # third slot is padding
    predicted = np.array([[[2.0, 0.0], [1.0, 0.0], [0.0, 0.0]]])
    valid = np.array([[True, True, False]])
    lev = predictions.level_errors(
        0, predicted, target, valid, predictions.pooled_members(np.array([[5, 7, 0]]), valid, 1)
    )
    assert lev.cosine[0, :2] == pytest.approx([1.0, 0.0]) and np.isnan(lev.cosine[0, 2])
    assert lev.l2[0, :2] == pytest.approx([1.0, np.sqrt(2)])
    # baseline = mean of the two valid targets = (0.5, 0.5): cosine 1/sqrt(2) with both, L2 sqrt(0.5)
    assert lev.baseline_cosine[0, :2] == pytest.approx([2**-0.5] * 2)
    assert lev.baseline_l2[0, :2] == pytest.approx([0.5**0.5] * 2)
    row = predictions.summarise([lev])[0]
    assert row["tokens"] == 2 and row["cosine_mean"] == pytest.approx(0.5)
    assert row["beats_baseline"] is False


def test_pooled_members_follow_the_index_sorted_list():
    indices = np.array([[3, 4, 10, 11, 20, 0]])
    valid = np.array([[True, True, True, True, True, False]])
    members = predictions.pooled_members(indices, valid, 2)
    assert members.tolist() == [[[3, 4], [10, 11], [20, -1]]]
    grid = predictions.patch_grid(np.array([0.5, np.nan, 0.9]), members[0], 24)
    assert grid[[3, 4, 20]] == pytest.approx([0.5, 0.5, 0.9])
    assert np.isnan(grid[[10, 11, 0]]).all()


def test_pca_projection_reports_variance_and_is_deterministic():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((200, 5)) * [10.0, 3.0, 1.0, 1.0, 1.0]
    proj = embedding.pca_projection(z, np.arange(200))
    total = (z - z.mean(0)).var(axis=0).sum()
    assert proj.explained[0] == pytest.approx((z[:, 0] - z[:, 0].mean()).var() / total, rel=0.05)
    # sign convention: components are fixed by their largest loading, so negated data gives negated scores
    assert np.allclose(embedding.pca_projection(-z, np.arange(200)).coords, -proj.coords)


def test_projections_minimal_and_tiny_inputs_give_notes():
    z = np.random.default_rng(1).standard_normal((4, 3))
    projs = embedding.projections(z, seed=0, minimal=True)
    assert [p.method for p in projs] == ["pca", "tsne", "umap"]
    assert projs[1].coords is None and "minimal" in projs[1].note
    assert "too few" in embedding.tsne_projection(z, np.arange(4), 0).note
    assert embedding.subsample(10, 4, np.random.default_rng(0)).tolist() == sorted(
        embedding.subsample(10, 4, np.random.default_rng(0)).tolist()
    )


def test_nearest_neighbours_exclude_the_query():
    z = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [-1.0, 0.0]])
    idx, sim = embedding.nearest_neighbours(z, [0, 3], k=2)
    assert idx.tolist() == [[1, 2], [2, 1]]
    assert sim[0, 0] == pytest.approx(0.9 / np.hypot(0.9, 0.1))
    queries = embedding.pick_queries(6, np.array(list("aabbcc")), 3, np.random.default_rng(0))
    assert sorted({"aabbcc"[q] for q in queries}) == ["a", "b", "c"]


def test_select_evenly_spreads_over_epochs():
    epochs = list(range(10)) + [50, 100]
    picked = checkpoints.select_evenly(epochs, cap=3)
    assert [epochs[i] for i in picked] == [0, 50, 100]
    assert checkpoints.select_evenly([3, 1, 2], cap=8) == [1, 2, 0]
    assert len(checkpoints.select_evenly(list(range(20)), cap=8)) == 8


def test_best_checkpoint_mean_rank_rule():
    rows = [
        {"name": "a", "epoch": 0, "knn_accuracy": 0.3, "rankme": 5.0, "alpha_req": 3.0, "prediction_cosine": 0.2},
        {"name": "b", "epoch": 1, "knn_accuracy": 0.6, "rankme": 9.0, "alpha_req": 1.1, "prediction_cosine": 0.5},
        {"name": "c", "epoch": 2, "knn_accuracy": 0.5, "rankme": 8.0, "alpha_req": 1.0, "prediction_cosine": 0.6},
    ]
    assert checkpoints.best_checkpoint(rows) == "c"  # rank sums a 8, b 2, c 2: the tie goes to the later checkpoint
    rows[1]["prediction_cosine"] = 0.7  # b now best on three of four measures
    assert checkpoints.best_checkpoint(rows) == "b"
    assert checkpoints.best_checkpoint([{"name": "x", "epoch": 0, "rankme": None}]) is None


def test_pca_rgb_alignment_keeps_colours_between_frames():
    rng = np.random.default_rng(2)
    tokens = rng.standard_normal((2, 16, 8)) * [5, 3, 2, 0.1, 0.1, 0.1, 0.1, 0.1]
    rgb, scores = checkpoints.pca_rgb(tokens)
    assert rgb.shape == (2, 16, 3) and rgb.min() >= 0 and rgb.max() <= 1
    swapped = tokens[..., [1, 0, 2, 3, 4, 5, 6, 7]] * [1, -1, 1, 1, 1, 1, 1, 1]
    rgb2, _ = checkpoints.pca_rgb(swapped * [1.0, 1.8, 1, 1, 1, 1, 1, 1], previous=scores)
    assert np.allclose(rgb2, rgb, atol=0.05)  # same colours although components are reordered and flipped
    frame = checkpoints.animation_frame([np.zeros((64, 64, 3), np.uint8)] * 2, rgb, (4, 4), "epoch 1")
    assert frame.dtype == np.uint8 and frame.shape == (18 + 2 * 128 + 4, 2 * 132, 3)


def test_umap_import_failure_becomes_a_note(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "umap", None)  # makes `import umap` raise ImportError
    proj = embedding.umap_projection(np.random.default_rng(3).standard_normal((20, 4)), np.arange(20), seed=0)
    assert proj.coords is None and "UMAP unavailable" in proj.note


def test_label_accuracies_report_chance_and_reasons():
    z = np.repeat(np.eye(3)[:2], 4, axis=0) + np.random.default_rng(4).normal(0, 0.01, (8, 3))  # two directions
    out = embedding.label_accuracies(z, np.array(list("aaaabbbb")))
    assert out["knn_k"] == 3  # 5 lowered to (smallest class - 1)
    assert out["knn_accuracy"] == 1.0 and out["chance"] == 0.5 and out["probe"]["accuracy"] == 1.0
    assert out["knn_interval"] == pytest.approx([0.6756, 1.0], abs=1e-4)  # Wilson, 8 of 8 right
    lonely = embedding.label_accuracies(np.vstack([z, np.eye(3)[[2, 2]]]), np.array(list("aaaabbbbcd")))
    assert lonely["alone"] == 2 and lonely["samples"] == 8 and lonely["classes"] == 2  # c and d cannot be judged
    assert lonely["knn_accuracy"] == 1.0 and lonely["chance"] == 0.5
    single = embedding.label_accuracies(z, np.array(list("aaaaaaaa")))
    assert single["knn_accuracy"] is None and "fewer than 2 classes" in single["reason"]
