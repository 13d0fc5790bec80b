"""Attention maps, mean attention distance, entropy, DINO thresholding and query choice on known answers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.analysis.attention import (
    attention_entropy,
    centre_patch,
    choose_query_patches,
    cls_attention_maps,
    foreground_mass,
    mean_attention_distance,
    mean_received_attention,
    most_attended_patch,
    patch_distances,
    query_patch_attention,
    target_block_patch,
    threshold_top_mass,
)

FIXTURES = Path(__file__).parent / "fixtures"


def uniform(tokens, batch=1, heads=1):
    return np.full((batch, heads, tokens, tokens), 1.0 / tokens)


def test_mean_distance_of_uniform_attention_on_a_2x2_grid():
    # from any patch of a 2x2 grid the distances are 0, 1, 1, sqrt(2)
    expected = (2 + math.sqrt(2)) / 4
    np.testing.assert_allclose(mean_attention_distance(uniform(4), (2, 2), has_cls=False), [[expected]])
    # with CLS: the CLS row and column are dropped and rows renormalised, so the answer is the same
    np.testing.assert_allclose(mean_attention_distance(uniform(5), (2, 2), has_cls=True), [[expected]])
    np.testing.assert_allclose(mean_attention_distance(uniform(4), (2, 2), False, patch_size=16), [[16 * expected]])


def test_mean_distance_of_self_attention_is_zero_and_of_a_fixed_key_by_hand():
    eye = np.eye(4)[None, None]
    np.testing.assert_allclose(mean_attention_distance(eye, (2, 2), has_cls=False), [[0.0]])
    # 1x3 grid, every patch looks at patch 0: distances 0, 1, 2 -> mean 1
    to_first = np.zeros((1, 1, 3, 3))
    to_first[..., 0] = 1.0
    np.testing.assert_allclose(mean_attention_distance(to_first, (1, 3), has_cls=False), [[1.0]])


def test_mean_distance_renormalises_after_removing_cls():
    # 1x2 grid with CLS: each patch puts 0.5 on CLS and 0.5 on the other patch -> distance 1, not 0.5
    attn = np.array([[[[1.0, 0.0, 0.0], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]]]])
    np.testing.assert_allclose(mean_attention_distance(attn, (1, 2), has_cls=True), [[1.0]])


def test_entropy_of_uniform_and_one_hot_attention():
    np.testing.assert_allclose(attention_entropy(uniform(7, batch=2, heads=3)), np.full((2, 3), math.log(7)))
    np.testing.assert_allclose(attention_entropy(np.eye(5)[None, None]), [[0.0]])
    two = np.array([[[[0.5, 0.5], [1.0, 0.0]]]])  # ln 2 and 0 -> mean ln(2) / 2
    np.testing.assert_allclose(attention_entropy(two), [[math.log(2) / 2]])


def test_maps_pick_the_right_rows_and_columns():
    # 2 heads, CLS + 2x2 grid; entry value encodes (head, query, key)
    head, query, key = np.meshgrid(np.arange(2), np.arange(5), np.arange(5), indexing="ij")
    attn = (100 * head + 10 * query + key)[None].astype(float)
    np.testing.assert_array_equal(cls_attention_maps(attn, (2, 2))[0, 1], [[101, 102], [103, 104]])
    np.testing.assert_array_equal(query_patch_attention(attn, 2, (2, 2), True)[0, 0], [[31, 32], [33, 34]])
    received = mean_received_attention(attn, (2, 2), has_cls=True)  # mean over queries 1..4 = 25 + key
    np.testing.assert_array_equal(received[0, 0], [[26, 27], [28, 29]])
    no_cls = attn[:, :, 1:, 1:]
    np.testing.assert_array_equal(query_patch_attention(no_cls, 0, (2, 2), False)[0, 0], [[11, 12], [13, 14]])
    with pytest.raises(ValueError, match="tokens"):
        cls_attention_maps(no_cls, (2, 2))
    with pytest.raises(ValueError, match="outside"):
        query_patch_attention(no_cls, 4, (2, 2), False)


@pytest.mark.parametrize("run,has_cls", [("hjepa_small", True), ("ijepa_small", False)])
def test_metrics_on_reference_attention_are_in_range(run, has_cls):
    ref = np.load(FIXTURES / run / "reference" / "reference.npz")
    attn = ref["attn_block2"]
    tokens = attn.shape[-1]
    entropy = attention_entropy(attn)
    assert entropy.shape == (4, 2) and np.all(entropy >= 0) and np.all(entropy <= math.log(tokens) + 1e-6)
    distance = mean_attention_distance(attn, (8, 8), has_cls)
    assert distance.shape == (4, 2) and np.all(distance > 0) and np.all(distance < patch_distances((8, 8)).max())
    received = mean_received_attention(attn, (8, 8), has_cls)
    assert received.shape == (4, 2, 8, 8)
    if not has_cls:  # every query row sums to 1 over the patches, so does their mean
        np.testing.assert_allclose(received.sum((-1, -2)), 1.0, atol=1e-5)


def test_threshold_top_mass_by_hand():
    values = np.array([[0.1, 0.5], [0.3, 0.1]])
    np.testing.assert_array_equal(threshold_top_mass(values, 0.6), [[False, True], [True, False]])
    np.testing.assert_array_equal(threshold_top_mass(values, 0.5), [[False, True], [False, False]])
    np.testing.assert_array_equal(threshold_top_mass(values, 1.0), np.ones((2, 2), bool))
    # leading axes are independent maps, and the scale of a map does not matter
    stacked = np.stack([values, 10 * values[::-1]])
    np.testing.assert_array_equal(threshold_top_mass(stacked, 0.6)[1], [[True, False], [False, True]])


def test_query_choices():
    assert centre_patch((8, 8)) == 36 and centre_patch((3, 3)) == 4
    received = np.zeros((4, 4))
    received[3, 1] = 1.0
    assert most_attended_patch(received) == 13
    block = np.zeros((4, 4), bool)
    block[0:3, 1:4] = True  # 3x3 block, centre (1, 2)
    assert target_block_patch(block, (4, 4)) == 6
    square = np.zeros((4, 4), bool)
    square[1:3, 1:3] = True  # 2x2 block: four patches tie, the lowest index wins
    assert target_block_patch(square, (4, 4)) == 5
    assert target_block_patch(np.zeros(16, bool), (4, 4)) is None
    received[2, 2] = 2.0  # most attended = centre -> one entry
    assert choose_query_patches(received, (4, 4), block) == [("most attended", 10), ("target block", 6)]


def test_foreground_mass_by_hand():
    shares = foreground_mass(np.array([0.1, 0.6, 0.2, 0.1]), np.array([0.0, 1.0, 0.5, 0.0]))
    np.testing.assert_allclose(shares, (0.7, 0.375))


def test_summary_of_reference_attention_keeps_what_the_figures_need():
    from hjepa_report.analysis.attention import attention_rollout, rollout_patch_map
    from hjepa_report.analysis.attention.summary import merge_chunks, summarise_encoder

    ref = np.load(FIXTURES / "hjepa_small" / "reference" / "reference.npz")
    attentions = {i: ref[f"attn_block{i}"] for i in range(3)}
    whole = summarise_encoder(attentions, (8, 8), True, depth=3, target_masks=ref["context_mask"])
    assert whole.head_maps.shape == (4, 3, 2, 8, 8) and whole.distance.shape == (4, 3, 2)
    expected = rollout_patch_map(attention_rollout(list(attentions.values())), True).reshape(4, 8, 8)
    np.testing.assert_allclose(whole.rollout, expected)
    assert [label for label, _ in whole.queries[0]][-1] == "target block"
    assert whole.query_maps[0].shape == (len(whole.queries[0]), 3, 8, 8)
    # chunks of images reduce to the same arrays as the whole batch
    chunks = [
        summarise_encoder({i: a[s] for i, a in attentions.items()}, (8, 8), True, 3, ref["context_mask"][s])
        for s in (slice(0, 1), slice(1, 4))
    ]
    merged = merge_chunks(chunks)
    np.testing.assert_allclose(merged.rollout, whole.rollout)
    np.testing.assert_allclose(merged.entropy, whole.entropy)
    assert merged.queries == whole.queries
    # without every block there is no rollout
    assert summarise_encoder({2: attentions[2]}, (8, 8), True, depth=3).rollout is None


def test_context_map_places_kept_tokens_at_their_patches():
    from hjepa_report.analysis.attention.summary import context_head_mean_map

    # no CLS, 2x2 grid, patches 0, 2, 3 kept (token order 3, 0, 2) plus one padding slot
    attn = np.zeros((1, 1, 4, 4))
    attn[0, 0, :3, :3] = [[0.5, 0.25, 0.25], [0.5, 0.5, 0.0], [0.2, 0.2, 0.6]]
    maps = context_head_mean_map(
        attn, np.array([[3, 0, 2, 0]]), np.array([[True, True, True, False]]), (2, 2), has_cls=False
    )
    np.testing.assert_allclose(maps[0], [[0.95 / 3, np.nan], [0.85 / 3, 1.2 / 3]])
