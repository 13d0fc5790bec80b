"""Attention maps and per-head diagnostics as pure numpy functions (no model, no matplotlib).

Conventions: attention is [B, H, T, T] probabilities (rows = query token, columns = key token, rows sum to
1); `grid` is (rows, cols) of patches, N = rows * cols, patches in row-major order (patch n is at row
n // cols, column n % cols); with a CLS token T = N + 1 and patch n is token n + 1, otherwise T = N.
Maps come back on the grid: [B, H, rows, cols].
"""

from __future__ import annotations

import numpy as np

from .rollout import _check_attention, check_finite_attention


def patch_attention(attn: np.ndarray, grid: tuple[int, int], has_cls: bool) -> np.ndarray:
    """Return the patch-to-patch block [B, H, N, N] (CLS row and column removed), checking T against grid."""
    attn = _check_attention(attn)
    num_patches = grid[0] * grid[1]
    expected = num_patches + int(has_cls)
    if attn.shape[-1] != expected:
        raise ValueError(f"attention has {attn.shape[-1]} tokens; grid {grid} with has_cls={has_cls} needs {expected}")
    return attn[..., 1:, 1:] if has_cls else attn


def cls_attention_maps(attn: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Return the CLS query's attention to each patch, [B, H, T, T] -> [B, H, rows, cols] (raw weights).

    The map DINO draws (Caron et al. 2021, Fig. 1): row 0 of the attention without its CLS column; the
    values keep their scale (they sum to 1 minus the CLS token's attention to itself).
    """
    attn = _check_attention(attn)
    patch_attention(attn, grid, has_cls=True)  # shape check only
    return attn[:, :, 0, 1:].reshape(attn.shape[0], attn.shape[1], *grid)


def mean_received_attention(attn: np.ndarray, grid: tuple[int, int], has_cls: bool) -> np.ndarray:
    """Return the mean attention each patch receives from the patch queries, [B, H, rows, cols].

    For encoders without CLS the stand-in for the CLS map: mean over query patches q of a[q, k] for each
    key patch k (the CLS row and column are left out when present; no re-normalisation).
    """
    patches = patch_attention(attn, grid, has_cls)
    return patches.mean(axis=2).reshape(patches.shape[0], patches.shape[1], *grid)


def query_patch_attention(attn: np.ndarray, query_index: int, grid: tuple[int, int], has_cls: bool) -> np.ndarray:
    """Return where patch `query_index` (row-major patch index) looks: [B, H, rows, cols] of raw weights.

    Its query row, key patches only (the CLS key column is left out when present).
    """
    patches = patch_attention(attn, grid, has_cls)
    if not 0 <= query_index < patches.shape[-1]:
        raise ValueError(f"query patch {query_index} is outside the {grid[0]}x{grid[1]} grid")
    return patches[:, :, query_index, :].reshape(patches.shape[0], patches.shape[1], *grid)


def patch_distances(grid: tuple[int, int]) -> np.ndarray:
    """Return the Euclidean distance between patch centres, [N, N], in patches (row-major order)."""
    rows, cols = np.divmod(np.arange(grid[0] * grid[1]), grid[1])
    return np.hypot(rows[:, None] - rows[None, :], cols[:, None] - cols[None, :])


def mean_attention_distance(
    attn: np.ndarray, grid: tuple[int, int], has_cls: bool, patch_size: int | None = None, block: int | None = None
) -> np.ndarray:
    """Return the mean attention distance per image and head, [B, H, T, T] -> [B, H].

    Dosovitskiy et al. 2021 (ViT, Fig. 7 right / Appendix D.7): for each query patch q,
    sum_k a[q, k] * ||pos_q - pos_k||, averaged over the query patches. Only the patch-to-patch block is
    used: the CLS row and column are removed and each row is re-normalised to sum to 1 over the key patches,
    so the number is "how far a patch looks among patches". In patches (centre to centre), or in pixels when
    `patch_size` is given. Small = local head, large (up to about half the image width) = global head.
    Raises rollout.NonFiniteAttentionError (naming `block` when given, and the heads) on NaN or inf attention.
    """
    patches = patch_attention(check_finite_attention(attn, block), grid, has_cls)
    patches = patches / patches.sum(axis=-1, keepdims=True)  # re-normalise over key patches
    per_query = (patches * patch_distances(grid)).sum(axis=-1)  # sum_k a_qk * d(q, k)
    distance = per_query.mean(axis=-1)
    return distance * patch_size if patch_size else distance


def attention_entropy(attn: np.ndarray, block: int | None = None) -> np.ndarray:
    """Return the attention entropy per image and head in nats, [B, H, T, T] -> [B, H].

    H(q) = -sum_k a[q, k] * ln a[q, k] (0 ln 0 = 0), averaged over all query rows as given (CLS included).
    0 = every query looks at one token; ln T = every query looks uniformly at all T tokens.
    Raises rollout.NonFiniteAttentionError (naming `block` when given, and the heads) on NaN or inf attention.
    """
    attn = check_finite_attention(attn, block)
    logs = np.log(np.where(attn > 0, attn, 1.0))  # ln 1 = 0 makes the 0 * ln 0 terms vanish
    return -(attn * logs).sum(axis=-1).mean(axis=-1)


def threshold_top_mass(attention_map: np.ndarray, keep: float = 0.6) -> np.ndarray:
    """Return a bool mask of the smallest set of cells holding `keep` of the map's mass (last two axes).

    DINO's visualisation (Caron et al. 2021, visualize_attention.py, --threshold 0.6): sort the weights in
    decreasing order and keep them until their cumulative sum reaches `keep` of the total. Leading axes
    are independent maps. Ties are kept in row-major order.
    """
    if not 0.0 < keep <= 1.0:
        raise ValueError(f"keep must be in (0, 1], got {keep}")
    values = np.asarray(attention_map, dtype=np.float64)
    if values.ndim < 2:
        raise ValueError(f"threshold_top_mass needs a map [..., rows, cols], got shape {values.shape}")
    flat = values.reshape(*values.shape[:-2], -1)
    order = np.argsort(-flat, axis=-1, kind="stable")
    cumulative = np.cumsum(np.take_along_axis(flat, order, axis=-1), axis=-1)
    total = cumulative[..., -1:]
    # a cell is kept when the mass before it has not yet reached `keep` of the total
    before = cumulative - np.take_along_axis(flat, order, axis=-1)
    kept_sorted = before < keep * total * (1 - 1e-12)
    mask = np.zeros_like(flat, dtype=bool)
    np.put_along_axis(mask, order, kept_sorted, axis=-1)
    return mask.reshape(values.shape)


def most_attended_patch(received: np.ndarray) -> int:
    """Return the row-major index of the largest cell of one map [rows, cols] (first one on ties)."""
    return int(np.argmax(np.asarray(received).reshape(-1)))


def centre_patch(grid: tuple[int, int]) -> int:
    """Return the patch at the image centre: row rows // 2, column cols // 2 (below-right of it when even)."""
    return (grid[0] // 2) * grid[1] + grid[1] // 2


def target_block_patch(target_mask: np.ndarray, grid: tuple[int, int]) -> int | None:
    """Return the target patch nearest the centroid of the target mask [N] (True = target), None if empty.

    For one rectangular target block this is its centre patch; ties go to the lower index.
    """
    mask = np.asarray(target_mask, dtype=bool).reshape(-1)
    if mask.size != grid[0] * grid[1]:
        raise ValueError(f"target mask has {mask.size} entries, grid {grid} needs {grid[0] * grid[1]}")
    indices = np.flatnonzero(mask)
    if indices.size == 0:
        return None
    rows, cols = np.divmod(indices, grid[1])
    distance = np.hypot(rows - rows.mean(), cols - cols.mean())
    return int(indices[np.argmin(distance)])


def choose_query_patches(
    received: np.ndarray, grid: tuple[int, int], target_mask: np.ndarray | None = None
) -> list[tuple[str, int]]:
    """Return [(label, patch index)] for the patch-to-patch figure: most attended, image centre, target.

    `received` is one map [rows, cols] (e.g. the mean received attention of a late layer); the target-block
    patch is added when a target mask is given and not empty. Duplicates are dropped, first label wins.
    """
    choices = [("most attended", most_attended_patch(received)), ("image centre", centre_patch(grid))]
    if target_mask is not None:
        target = target_block_patch(target_mask, grid)
        if target is not None:
            choices.append(("target block", target))
    unique: list[tuple[str, int]] = []
    for label, index in choices:
        if all(index != seen for _, seen in unique):
            unique.append((label, index))
    return unique


def foreground_mass(patch_map: np.ndarray, foreground: np.ndarray) -> tuple[float, float]:
    """Return (share of the map's mass on foreground patches, foreground share of the patches).

    `patch_map` [N] (or [rows, cols]) of non-negative weights, `foreground` the same shape, values in [0, 1]
    (the fraction of each patch covered by the foreground). The first number above the second means the
    map prefers the object to the background.
    """
    weights = np.asarray(patch_map, dtype=np.float64).reshape(-1)
    cover = np.asarray(foreground, dtype=np.float64).reshape(-1)
    if weights.shape != cover.shape:
        raise ValueError(f"map has {weights.size} patches, foreground has {cover.size}")
    return float((weights * cover).sum() / weights.sum()), float(cover.mean())
