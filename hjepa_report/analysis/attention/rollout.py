"""Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers", ACL), for encoders
with and without a CLS token.

Rollout follows attention through the layers: each layer's heads are fused into one token-to-token matrix,
its weakest links are dropped (the `discard_ratio` trick of the widely used vit-explain script), the identity
is added for the residual connection, rows are re-normalised, and the layer matrices are multiplied in order,
so entry [q, k] of the result says how much of output token q's information traces back to input token k.

Conventions: attention arrays are [B, H, T, T] probabilities (rows = query token, columns = key token, each
row sums to 1); with a CLS token it is token 0 and patch n is token n + 1; patches are in row-major order.
Everything here is plain numpy and float64.

Non-finite attention (NaN or inf, e.g. from a checkpoint whose weights overflowed) has no rollout: the layers
multiply, so one NaN head spreads NaN over every map. `attention_rollout` (and the per-head numbers in
metrics.py) raise `NonFiniteAttentionError`, naming the block and heads, instead of returning NaN-filled maps;
callers that must go on (the attention section) look with `nonfinite_heads` first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

HEAD_FUSIONS = ("mean", "max", "min")


class NonFiniteAttentionError(ValueError):
    """Attention holding NaN or inf: `block` (None when unknown), the `heads` holding them and how many `values`."""

    def __init__(self, heads: list[int], values: int, block: int | None = None):
        self.heads, self.values, self.block = heads, values, block
        where = f"block {block}, " if block is not None else ""
        super().__init__(
            f"attention holds {values} non-finite value(s) ({where}head{'s' if len(heads) > 1 else ''} "
            f"{', '.join(map(str, heads))}): no rollout, distance or entropy can be computed from it"
        )


def nonfinite_heads(attn: np.ndarray) -> tuple[list[int], int]:
    """Return (heads of [B, H, T, T] attention holding NaN or inf in any image, how many such values)."""
    bad = ~np.isfinite(np.asarray(attn))
    return [int(h) for h in np.flatnonzero(bad.any(axis=(0, 2, 3)))], int(bad.sum())


def check_finite_attention(attn: np.ndarray, block: int | None = None) -> np.ndarray:
    """Return `attn` as float64 [B, H, T, T], or raise NonFiniteAttentionError naming `block` and the heads."""
    attn = _check_attention(attn)
    heads, values = nonfinite_heads(attn)
    if values:
        raise NonFiniteAttentionError(heads, values, block)
    return attn


def fuse_heads(attn: np.ndarray, head_fusion: str = "mean") -> np.ndarray:
    """Fuse the heads of one layer: [B, H, T, T] -> [B, T, T] by the mean, max or min over heads."""
    attn = _check_attention(attn)
    if head_fusion == "mean":
        return attn.mean(axis=1)
    if head_fusion == "max":
        return attn.max(axis=1)
    if head_fusion == "min":
        return attn.min(axis=1)
    raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}")


def discard_count(num_tokens: int, discard_ratio: float) -> int:
    """Return how many entries of a row are discarded: floor(ratio * (T - 1)), T - 1 = the candidates.

    The protected entry (CLS key, or the query itself without CLS) is never a candidate, so a ratio of 0.9
    on T = 65 tokens discards floor(0.9 * 64) = 57 of the 64 other entries of every row.
    """
    if not 0.0 <= discard_ratio <= 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1], got {discard_ratio}")
    return int(math.floor(discard_ratio * (num_tokens - 1) + 1e-9))  # 1e-9: 0.9 * 10 must give 9, not 8


def discard_lowest(fused: np.ndarray, discard_ratio: float, has_cls: bool) -> np.ndarray:
    """Zero the (at most) `discard_count` smallest entries of every row of fused attention [B, T, T].

    Never discarded: the CLS key (column 0) when the encoder has a CLS token, otherwise the query's own
    entry (the diagonal), which plays the CLS token's role as the row's anchor. The cut is the value of the
    (count + 1)-th smallest candidate and only entries strictly below it go, so tied entries are kept or
    dropped together: the result does not depend on the order of the patches (uniform rows stay whole).
    """
    fused = np.asarray(fused, dtype=np.float64)
    num_tokens = fused.shape[-1]
    count = discard_count(num_tokens, discard_ratio)
    ranking = fused.copy()
    if has_cls:
        ranking[..., :, 0] = np.inf
    else:
        diagonal = np.arange(num_tokens)
        ranking[..., diagonal, diagonal] = np.inf
    if count >= num_tokens - 1:
        cut = np.full(fused.shape[:-1] + (1,), np.inf)
    else:
        cut = np.sort(ranking, axis=-1)[..., count : count + 1]
    return np.where(ranking < cut, 0.0, fused)


def residual_normalise(fused: np.ndarray) -> np.ndarray:
    """Add the identity for the residual connection and re-normalise rows: (A + I) / rowsum(A + I).

    Abnar & Zuidema (2020), Sec. 3: A_hat = 0.5 * W_att + 0.5 * I for row-stochastic W_att; after discarding,
    rows no longer sum to 1, so the sum is taken explicitly (the same for undisturbed rows).
    """
    eye = np.eye(fused.shape[-1])
    with_residual = fused + eye
    return with_residual / with_residual.sum(axis=-1, keepdims=True)


def attention_rollout(
    attn_list: Sequence[np.ndarray], head_fusion: str = "mean", discard_ratio: float = 0.9, has_cls: bool = True
) -> np.ndarray:
    """Return the attention rollout [B, T, T] of layers given first to last (each [B, H, T, T]).

    Per layer: fuse heads (`fuse_heads`), discard the lowest `discard_ratio` of each row (`discard_lowest`,
    never the CLS / query entry), add the identity and re-normalise rows (`residual_normalise`); then
    rollout = A_hat_L @ ... @ A_hat_1 (Abnar & Zuidema 2020, Eq. "A~(l_i) = A(l_i) A~(l_{i-1})").
    Row q of the result is a distribution over input tokens (rows sum to 1).
    Raises NonFiniteAttentionError (block = position in `attn_list`) when a layer holds NaN or inf: a rollout
    of it would be NaN everywhere.
    """
    if len(attn_list) == 0:
        raise ValueError("attention_rollout needs the attention of at least one layer")
    result = None
    for block, attn in enumerate(attn_list):
        fused = fuse_heads(check_finite_attention(attn, block), head_fusion)
        layer = residual_normalise(discard_lowest(fused, discard_ratio, has_cls))
        if result is not None and result.shape != layer.shape:
            raise ValueError(f"layers disagree on shape: {result.shape} vs {layer.shape}")
        result = layer if result is None else layer @ result
    return result


def rollout_cls_map(rollout: np.ndarray) -> np.ndarray:
    """Return the CLS token's rollout over the patches, [B, T, T] -> [B, N], re-normalised to sum to 1.

    Row 0 of the rollout without its CLS column: how the CLS output traces back to each input patch.
    """
    patches = np.asarray(rollout)[:, 0, 1:]
    return patches / patches.sum(axis=-1, keepdims=True)


def rollout_mean_query_map(rollout: np.ndarray) -> np.ndarray:
    """Return the rollout of the mean query for encoders without CLS, [B, N, N] -> [B, N] (sums to 1).

    The mean over all query rows: how much of the average output token traces back to each input patch.
    """
    mean_row = np.asarray(rollout).mean(axis=1)
    return mean_row / mean_row.sum(axis=-1, keepdims=True)


def rollout_patch_map(rollout: np.ndarray, has_cls: bool) -> np.ndarray:
    """Return the rollout map over patches [B, N]: the CLS row with a CLS token, else the mean query."""
    return rollout_cls_map(rollout) if has_cls else rollout_mean_query_map(rollout)


def describe_rollout(head_fusion: str, discard_ratio: float, has_cls: bool) -> str:
    """Return the one-line name of a rollout variant, for captions and report.json."""
    source = "CLS token" if has_cls else "mean query (no CLS token)"
    kept = "CLS key" if has_cls else "query's own entry"
    return (
        f"attention rollout (Abnar & Zuidema 2020) of the {source}: heads fused by {head_fusion}, "
        f"lowest {discard_ratio:.0%} of each row discarded (never the {kept}), identity added, rows "
        f"re-normalised"
    )


def _check_attention(attn: np.ndarray) -> np.ndarray:
    """Return `attn` as float64 [B, H, T, T] or raise ValueError naming the wrong shape."""
    attn = np.asarray(attn, dtype=np.float64)
    if attn.ndim != 4 or attn.shape[-1] != attn.shape[-2]:
        raise ValueError(f"attention must be [B, H, T, T], got shape {attn.shape}")
    return attn
