"""Token helpers shared by the networks, the model interface, the feature cache and the loss: pure tensor
functions that gather, pool, index and pad token lists, defined once so every caller uses the same semantics.

Shapes: B images, N patches (row-major), K tokens kept or predicted per image, D width. Index tensors hold
patch indices (0..N-1) without the CLS token; "hidden" masks are bool [B, N] with True = hidden.

Two index conventions, as the two original code bases use them:
- H-JEPA (github.com/jonwiggins/H-JEPA src/models/hjepa.py HJEPA.forward): one [B, K] index tensor of the
  hidden patches, ascending, padded with 0 (hidden_indices); levels average-pool consecutive entries of that
  list (pool_level / pool_valid).
- I-JEPA (github.com/facebookresearch/ijepa src/masks/utils.py apply_masks, src/utils/tensors.py
  repeat_interleave_batch): a list of [B, K] index tensors; the output for mask j and sample b sits at row
  j * B + b (gather_each, repeat_groups).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gather_tokens(tokens: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Gather tokens [B, N, D] at indices [B, K] -> [B, K, D] (torch.gather along the token axis, as
    H-JEPA HJEPA.forward takes the target tokens and position embeddings at the hidden patches)."""
    return torch.gather(tokens, 1, indices.long().unsqueeze(-1).expand(-1, -1, tokens.shape[-1]))


def keep_tokens(x: torch.Tensor, keep_indices: torch.Tensor, prefix: int) -> torch.Tensor:
    """Keep the listed patch tokens of a [B, prefix + N, D] sequence, prefix (CLS) tokens staying in front:
    [B, prefix + K, D] (I-JEPA src/masks/utils.py apply_masks, which I-JEPA's encoder applies after the
    position table)."""
    kept = gather_tokens(x[:, prefix:], keep_indices)
    return torch.cat([x[:, :prefix], kept], dim=1) if prefix else kept


def hidden_indices(hidden_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (indices [B, K], valid [B, K]): each row's hidden patches ascending, padded with 0 up to the
    largest hidden count K (padding marked invalid), as H-JEPA HJEPA.forward builds them."""
    hidden = hidden_mask.bool()
    b, n = hidden.shape
    counts = hidden.sum(dim=1)
    k = int(counts.max()) if b else 0
    positions = torch.arange(n, device=hidden.device).expand(b, n)
    # hidden patches sort before the visible ones (their keys are shifted by n), each group in index order
    order = torch.where(hidden, positions, positions + n).argsort(dim=1)[:, :k]
    valid = torch.arange(k, device=hidden.device)[None] < counts[:, None]
    return torch.where(valid, order, torch.zeros_like(order)), valid


def visible_indices(hidden: torch.Tensor) -> list[torch.Tensor]:
    """Per sample, the ascending indices of the visible (not hidden) patches of a bool [B, N] hidden mask
    (a list: rows may keep different numbers; I-JEPA's MaskCollator lists context patches ascending)."""
    return [(~row).nonzero()[:, 0] for row in hidden]


def pool_level(tokens: torch.Tensor, level: int) -> torch.Tensor:
    """Average-pool 2^level consecutive tokens of [B, K, D] (H-JEPA HJEPA.forward: AvgPool1d(2^l, 2^l) over
    the token list; the remainder is dropped)."""
    if level == 0:
        return tokens
    size = 2**level
    if tokens.shape[1] < size:  # fewer tokens than one window: no pooled token (AvgPool1d itself would raise)
        return tokens[:, :0]
    return F.avg_pool1d(tokens.transpose(1, 2), size, size).transpose(1, 2)


def pool_valid(valid: torch.Tensor, level: int) -> torch.Tensor:
    """Pool a validity mask [B, K] like the tokens (pool_level), then > 0.5 (H-JEPA HJEPA.forward, no FPN)."""
    if level == 0:
        return valid.bool()
    size = 2**level
    if valid.shape[1] < size:
        return valid[:, :0].bool()
    return F.avg_pool1d(valid.float()[:, None], size, size)[:, 0] > 0.5


def as_mask_list(masks) -> list[torch.Tensor]:
    """Accept one [B, K] index tensor or a list of them (I-JEPA passes masks as lists)."""
    return list(masks) if isinstance(masks, (list, tuple)) else [masks]


def gather_each(x: torch.Tensor, masks: list[torch.Tensor]) -> torch.Tensor:
    """Gather x [B, N, D] at each [B, K] index mask and stack the results block-major: [len(masks) * B, K, D]
    (I-JEPA src/masks/utils.py apply_masks)."""
    return torch.cat([gather_tokens(x, m) for m in masks], dim=0)


def repeat_groups(x: torch.Tensor, batch: int, repeat: int) -> torch.Tensor:
    """Repeat every consecutive group of `batch` rows `repeat` times, keeping group order (I-JEPA
    src/utils/tensors.py repeat_interleave_batch)."""
    groups = x.split(batch, dim=0)
    return torch.cat([g for g in groups for _ in range(repeat)], dim=0)


def pad_rows(rows: list[torch.Tensor], axes: tuple[int, ...] = (0,)) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack per-sample tensors whose `axes` (all of the same length K_i) differ between samples, zero-padded
    to the largest K; return (stacked [B, ...], valid [B, Kmax]). Our own: the original code cuts every row
    to the batch minimum instead (I-JEPA MaskCollator), which would change the tokens an analysis sees."""
    lengths = [r.shape[axes[0]] for r in rows]
    kmax = max(lengths)
    padded = []
    for r in rows:
        pad = []
        for axis in reversed(range(r.ndim)):
            pad += [0, kmax - r.shape[axis]] if axis in axes else [0, 0]
        padded.append(F.pad(r, pad))
    valid = torch.stack([torch.arange(kmax, device=rows[0].device) < k for k in lengths])
    return torch.stack(padded), valid
