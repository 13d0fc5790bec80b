"""Reduce one encoder's attention probabilities to the small per-image arrays the section shows.

Full attention is [B, H, T, T] per block (ViT-H/14 at 224 px: 34 MB per image and 32 blocks); the section
keeps only maps on the patch grid, per-head numbers and the rollout map, so it can reduce one chunk of
images at a time and drop the full tensors right away. Pure numpy, no model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .metrics import (
    attention_entropy,
    choose_query_patches,
    cls_attention_maps,
    mean_attention_distance,
    mean_received_attention,
    query_patch_attention,
)
from .rollout import attention_rollout, nonfinite_heads, rollout_patch_map


@dataclass
class EncoderAttention:
    """Per-image reductions of one encoder's attention over the captured blocks `layers` (ascending).

    head_maps [K, L, H, rows, cols]: CLS -> patch attention with a CLS token, else the mean attention each
    patch receives; distance [K, L, H] mean attention distance in patches; entropy [K, L, H] in nats;
    rollout [K, rows, cols] (sums to 1 per image; None unless every block was captured); queries[k] the
    chosen (label, patch index) pairs of image k and query_maps[k] [Q, L, rows, cols] their head-mean rows.
    nonfinite {block: {"heads": [...], "values": count}} names the blocks whose attention held NaN or inf (empty
    when all is finite); those heads' distance and entropy are NaN (not computed) and the rollout is None.
    """

    layers: list[int]
    head_maps: np.ndarray
    distance: np.ndarray
    entropy: np.ndarray
    rollout: np.ndarray | None
    queries: list[list[tuple[str, int]]] = field(default_factory=list)
    query_maps: list[np.ndarray] = field(default_factory=list)
    nonfinite: dict[int, dict] = field(default_factory=dict)


def head_maps(attn: np.ndarray, grid: tuple[int, int], has_cls: bool) -> np.ndarray:
    """Return the map drawn per head, [B, H, rows, cols]: CLS -> patch with CLS, else mean received attention."""
    return cls_attention_maps(attn, grid) if has_cls else mean_received_attention(attn, grid, has_cls)


def summarise_encoder(
    attentions: dict[int, np.ndarray],
    grid: tuple[int, int],
    has_cls: bool,
    depth: int,
    target_masks: np.ndarray | None = None,
    head_fusion: str = "mean",
    discard_ratio: float = 0.9,
) -> EncoderAttention:
    """Reduce {block: [B, H, T, T]} of unmasked images (every patch present) to an EncoderAttention.

    The rollout needs every block 0..depth-1 and is None otherwise. Query patches per image: most attended
    (largest head-mean received attention in the last captured block), image centre, and the centre of the
    image's target mask [B, N] (True = target) when given (see metrics.choose_query_patches).

    Attention is checked for NaN / inf here, where it enters: a head holding any gets NaN distance and entropy,
    the rollout is None, the most attended patch is chosen from the finite heads, and `nonfinite` says where.
    """
    layers = sorted(attentions)
    stack = [np.asarray(attentions[layer], dtype=np.float64) for layer in layers]
    nonfinite = {}
    for layer, a in zip(layers, stack, strict=True):
        heads, values = nonfinite_heads(a)
        if values:
            nonfinite[layer] = {"heads": heads, "values": values}
    maps = np.stack([head_maps(a, grid, has_cls) for a in stack], axis=1)
    distance = np.stack([_per_finite_head(mean_attention_distance, a, grid, has_cls) for a in stack], axis=1)
    entropy = np.stack([_per_finite_head(attention_entropy, a) for a in stack], axis=1)
    rollout = None
    if layers == list(range(depth)) and not nonfinite:
        rollout = rollout_patch_map(attention_rollout(stack, head_fusion, discard_ratio, has_cls), has_cls)
        rollout = rollout.reshape(-1, *grid)
    last = stack[-1]
    if layers[-1] in nonfinite and len(nonfinite[layers[-1]]["heads"]) < last.shape[1]:
        last = np.delete(last, nonfinite[layers[-1]]["heads"], axis=1)
    received = mean_received_attention(last, grid, has_cls).mean(axis=1)  # [B, rows, cols]
    queries, query_maps = [], []
    for b in range(received.shape[0]):
        mask = None if target_masks is None else target_masks[b]
        chosen = choose_query_patches(received[b], grid, mask)
        queries.append(chosen)
        query_maps.append(
            np.stack(
                [
                    np.stack([query_patch_attention(a[b : b + 1], index, grid, has_cls)[0].mean(0) for a in stack])
                    for _, index in chosen
                ]
            )
        )
    return EncoderAttention(layers, maps, distance, entropy, rollout, queries, query_maps, nonfinite)


def _per_finite_head(measure, attn: np.ndarray, *args) -> np.ndarray:
    """Return measure(attn, *args) [B, H] over the heads whose attention is finite in every image, NaN for the rest."""
    finite = np.isfinite(attn).all(axis=(0, 2, 3))
    if finite.all():
        return measure(attn, *args)
    out = np.full(attn.shape[:2], np.nan)
    if finite.any():
        out[:, finite] = measure(attn[:, finite], *args)
    return out


def merge_nonfinite(parts: list[dict[int, dict]]) -> dict[int, dict]:
    """Merge the `nonfinite` records of image chunks: the union of the heads, the sum of the values, per block."""
    merged: dict[int, dict] = {}
    for part in parts:
        for block, found in part.items():
            into = merged.setdefault(block, {"heads": [], "values": 0})
            into["heads"] = sorted(set(into["heads"]) | set(found["heads"]))
            into["values"] += found["values"]
    return dict(sorted(merged.items()))


def merge_chunks(parts: list[EncoderAttention]) -> EncoderAttention:
    """Concatenate the EncoderAttention of consecutive image chunks along the image axis."""
    first = parts[0]
    nonfinite = merge_nonfinite([p.nonfinite for p in parts])
    rollout = None if nonfinite or first.rollout is None else np.concatenate([p.rollout for p in parts])
    return EncoderAttention(
        layers=first.layers,
        head_maps=np.concatenate([p.head_maps for p in parts]),
        distance=np.concatenate([p.distance for p in parts]),
        entropy=np.concatenate([p.entropy for p in parts]),
        rollout=rollout,
        queries=[q for p in parts for q in p.queries],
        query_maps=[m for p in parts for m in p.query_maps],
        nonfinite=nonfinite,
    )


def context_head_mean_map(
    attn: np.ndarray, patch_indices: np.ndarray, valid: np.ndarray, grid: tuple[int, int], has_cls: bool
) -> np.ndarray:
    """Return the head-mean map of a context encoder's block on the full grid, [B, rows, cols].

    With CLS (H-JEPA: hidden tokens zeroed, sequence kept) the CLS -> patch map. Without CLS (I-JEPA: hidden
    tokens dropped) the mean attention each kept token receives from the kept tokens, placed at its patch
    (`patch_indices` [B, P], `valid` [B, P] from the encoder); patches the encoder never saw are NaN.
    """
    attn = np.asarray(attn, dtype=np.float64)
    batch, num_patches = attn.shape[0], grid[0] * grid[1]
    if has_cls and attn.shape[-1] == num_patches + 1:
        return cls_attention_maps(attn, grid).mean(axis=1)
    out = np.full((batch, num_patches), np.nan)
    for b in range(batch):
        tokens = np.flatnonzero(valid[b])
        offset = attn.shape[-1] - valid.shape[1]  # prefix tokens (CLS) before the patch tokens
        block = attn[b][:, tokens + offset][:, :, tokens + offset]  # [H, P_b, P_b]
        out[b, patch_indices[b, tokens]] = block.mean(axis=(0, 1))
    return out.reshape(batch, *grid)
