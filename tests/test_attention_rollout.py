"""Attention rollout against hand-computed cases and an independent per-row implementation of the paper.

The independent version (`paper_rollout`) is written from Abnar & Zuidema (2020) with python loops and
torch matrices, sharing no code with hjepa_report.analysis.attention.rollout; both must agree on random
tensors and on the real attention probabilities stored by the original H-JEPA (CLS) and I-JEPA (no CLS) code.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hjepa_report.analysis.attention import (
    attention_rollout,
    discard_lowest,
    fuse_heads,
    rollout_cls_map,
    rollout_mean_query_map,
    rollout_patch_map,
)

FIXTURES = Path(__file__).parent / "fixtures"


def paper_rollout(layers, head_fusion, discard_ratio, has_cls):
    """Rollout per image and per row in plain python: fuse, drop the weakest links, add I, renormalise, chain."""
    import torch

    batch, _, tokens, _ = layers[0].shape
    drop = math.floor(discard_ratio * (tokens - 1) + 1e-9)
    results = []
    for b in range(batch):
        joint = torch.eye(tokens, dtype=torch.float64)
        for layer in layers:
            heads = torch.as_tensor(np.asarray(layer[b], dtype=np.float64))
            fused = {"mean": heads.mean(0), "max": heads.amax(0), "min": heads.amin(0)}[head_fusion]
            rows = []
            for q in range(tokens):
                anchor = 0 if has_cls else q
                row = fused[q].tolist()
                others = sorted(row[k] for k in range(tokens) if k != anchor)
                cut = others[drop] if drop < len(others) else math.inf  # ties at the cut are kept
                row = [0.0 if k != anchor and row[k] < cut else row[k] for k in range(tokens)]
                row[q] += 1.0  # residual connection
                total = sum(row)
                rows.append([value / total for value in row])
            joint = torch.tensor(rows, dtype=torch.float64) @ joint
        results.append(joint.numpy())
    return np.stack(results)


def random_attention(rng, batch, heads, tokens):
    logits = rng.normal(scale=2.0, size=(batch, heads, tokens, tokens))
    probs = np.exp(logits)
    return probs / probs.sum(-1, keepdims=True)


@pytest.mark.parametrize("head_fusion", ["mean", "max", "min"])
@pytest.mark.parametrize("has_cls", [True, False])
@pytest.mark.parametrize("discard_ratio", [0.0, 0.5, 0.9])
def test_rollout_matches_paper_implementation_on_random_attention(head_fusion, has_cls, discard_ratio):
    rng = np.random.default_rng(7)
    layers = [random_attention(rng, 2, 3, 10) for _ in range(3)]
    ours = attention_rollout(layers, head_fusion, discard_ratio, has_cls)
    np.testing.assert_allclose(ours, paper_rollout(layers, head_fusion, discard_ratio, has_cls), atol=1e-12)
    np.testing.assert_allclose(ours.sum(-1), 1.0, atol=1e-12)


@pytest.mark.parametrize("run,has_cls", [("hjepa_small", True), ("ijepa_small", False)])
@pytest.mark.parametrize("head_fusion", ["mean", "max", "min"])
def test_rollout_matches_paper_implementation_on_reference_attention(run, has_cls, head_fusion):
    ref = np.load(FIXTURES / run / "reference" / "reference.npz")
    layers = [ref[f"attn_block{i}"] for i in range(3)]
    assert layers[0].shape[-1] == (65 if has_cls else 64)
    ours = attention_rollout(layers, head_fusion, 0.9, has_cls)
    np.testing.assert_allclose(ours, paper_rollout(layers, head_fusion, 0.9, has_cls), atol=1e-12)
    patch_map = rollout_patch_map(ours, has_cls)
    assert patch_map.shape == (4, 64)
    np.testing.assert_allclose(patch_map.sum(-1), 1.0, atol=1e-12)


def test_two_tokens_with_cls_by_hand():
    # one head, A = [[.7, .3], [.4, .6]]; T - 1 = 1 candidate, floor(0.9) = 0 entries discarded
    attn = np.array([[[[0.7, 0.3], [0.4, 0.6]]]])
    one = attention_rollout([attn], discard_ratio=0.9, has_cls=True)
    np.testing.assert_allclose(one[0], [[0.85, 0.15], [0.2, 0.8]])  # (A + I) / 2
    two = attention_rollout([attn, attn], discard_ratio=0.9, has_cls=True)
    np.testing.assert_allclose(two[0], [[0.7525, 0.2475], [0.33, 0.67]])  # [[.85,.15],[.2,.8]]^2
    np.testing.assert_allclose(rollout_cls_map(two), [[1.0]])


def test_three_tokens_with_cls_discard_keeps_the_cls_key():
    # discard 0.5 of the 2 non-CLS entries = 1 per row; row 1's CLS weight (0.1) is its smallest, yet kept
    attn = np.array([[[[0.5, 0.2, 0.3], [0.1, 0.6, 0.3], [0.05, 0.15, 0.8]]]])
    rollout = attention_rollout([attn], discard_ratio=0.5, has_cls=True)
    expected = [[1.5 / 1.8, 0.0, 0.3 / 1.8], [0.1 / 1.7, 1.6 / 1.7, 0.0], [0.05 / 1.85, 0.0, 1.8 / 1.85]]
    np.testing.assert_allclose(rollout[0], expected)
    np.testing.assert_allclose(rollout_cls_map(rollout), [[0.0, 1.0]])


def test_three_tokens_without_cls_discard_keeps_the_query_itself():
    # row 0's own weight (0.2) is its smallest, yet kept; 0.3 (key 2) goes
    attn = np.array([[[[0.2, 0.5, 0.3], [0.3, 0.3, 0.4], [0.6, 0.3, 0.1]]]])
    kept = discard_lowest(fuse_heads(attn), 0.5, has_cls=False)
    np.testing.assert_allclose(kept[0], [[0.2, 0.5, 0.0], [0.0, 0.3, 0.4], [0.6, 0.0, 0.1]])
    rollout = attention_rollout([attn], discard_ratio=0.5, has_cls=False)
    expected = np.array([[1.2, 0.5, 0.0], [0.0, 1.3, 0.4], [0.6, 0.0, 1.1]])
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(rollout[0], expected)
    np.testing.assert_allclose(rollout_mean_query_map(rollout)[0], expected.mean(0))


def test_ties_at_the_cut_are_kept_together():
    # uniform rows: no entry is below the cut, nothing is discarded, the rollout stays uniform over patches
    uniform = np.full((1, 1, 5, 5), 0.2)
    np.testing.assert_allclose(discard_lowest(fuse_heads(uniform), 0.9, has_cls=True)[0], 0.2)
    np.testing.assert_allclose(rollout_cls_map(attention_rollout([uniform, uniform])), [[0.25] * 4])
    # one row [CLS .1 | .1 .3 .3 .2], discard 2 of 4: cut = 3rd smallest = .3, so .1 and .2 go, both .3 stay
    row = np.array([[[[0.1, 0.1, 0.3, 0.3, 0.2]] * 5]])
    np.testing.assert_allclose(discard_lowest(fuse_heads(row), 0.5, True)[0, 0], [0.1, 0.0, 0.3, 0.3, 0.0])
    # ... and with 3 to discard the cut is .3 as well: ties keep the count at most 3 (here 2)
    np.testing.assert_allclose(discard_lowest(fuse_heads(row), 0.75, True)[0, 0], [0.1, 0.0, 0.3, 0.3, 0.0])


def test_head_fusion_by_hand():
    heads = np.array([[[[0.9, 0.1], [0.5, 0.5]], [[0.3, 0.7], [0.1, 0.9]]]])
    np.testing.assert_allclose(fuse_heads(heads, "mean")[0], [[0.6, 0.4], [0.3, 0.7]])
    np.testing.assert_allclose(fuse_heads(heads, "max")[0], [[0.9, 0.7], [0.5, 0.9]])
    np.testing.assert_allclose(fuse_heads(heads, "min")[0], [[0.3, 0.1], [0.1, 0.5]])
    with pytest.raises(ValueError, match="head_fusion"):
        fuse_heads(heads, "median")


def test_discard_count_on_a_real_sized_row():
    rng = np.random.default_rng(0)
    fused = fuse_heads(random_attention(rng, 1, 2, 65))
    kept = discard_lowest(fused, 0.9, has_cls=True)
    assert np.all((kept[0] == 0).sum(-1) == 57)  # floor(0.9 * 64)
    assert np.all(kept[0, :, 0] > 0)


def test_rejects_bad_input():
    with pytest.raises(ValueError, match="at least one layer"):
        attention_rollout([])
    with pytest.raises(ValueError, match=r"\[B, H, T, T\]"):
        attention_rollout([np.ones((2, 3, 3)) / 3])
    with pytest.raises(ValueError, match="discard_ratio"):
        attention_rollout([np.ones((1, 1, 3, 3)) / 3], discard_ratio=1.5)
