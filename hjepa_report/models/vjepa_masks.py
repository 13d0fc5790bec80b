"""V-JEPA's 3-D multi-block masks, sampled as its collator samples them (no training code needed).

facebookresearch/jepa src/masks/multiblock3d.py and facebookresearch/vjepa2 src/masks/multiseq_multiblock3d.py
(_MaskGenerator; the same sampler, V-JEPA 2 adds full_complement / pred_full_complement / inv_block). For each
entry of the config's `mask` list, on a grid of T = frames / tubelet, H = W = crop / patch tokens:
- one block size per batch, from a torch.Generator seeded with the collator's step counter (0 for the first
  batch): t = max(1, int(T * U(temporal_scale))), k = int(H * W * U(spatial_scale)), r = U(aspect_ratio),
  h = min(H, round(sqrt(k * r))), w = min(W, round(sqrt(k / r)));
- per clip, `num_blocks` blocks of that size at torch.randint positions (top, left, start) from the global
  RNG; the context is every token outside all blocks, except that frames at or after
  max(1, int(T * max_temporal_keep)) are never context; the targets are every other token (so they include
  those late frames). A draw with an empty context is redrawn.
- the batch is cut to its shortest context and shortest target list (the first indices in token order are
  kept, so the cut falls on the last frames), the context also to `max_keep`; with full_complement the targets
  become every token outside the cut context (pred_full_complement: the context outside the targets).
Tokens are indexed t * H * W + row * W + column. tests/test_vjepa_masks.py compares draws with masks the
original collator drew.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass
class VideoMaskSpec:
    """One entry of the config's `mask` list, with the grid it is drawn on."""

    duration: int
    height: int
    width: int
    temporal_scale: tuple[float, float]
    spatial_scale: tuple[float, float]
    aspect_ratio: tuple[float, float]
    num_blocks: int
    max_temporal_keep: float = 1.0
    max_keep: int | None = None
    full_complement: bool = False
    pred_full_complement: bool = False
    inv_block: bool = False

    @property
    def tokens(self) -> int:
        return self.duration * self.height * self.width

    @property
    def context_frames(self) -> int:
        return max(1, int(self.duration * self.max_temporal_keep))


def mask_specs(config: dict) -> list[VideoMaskSpec]:
    """The mask settings of a V-JEPA (2) config, in its `mask` list order; ValueError when it has none."""
    data = config.get("data") or {}
    entries = config.get("mask")
    if not isinstance(entries, list) or not entries:
        raise ValueError("the config has no `mask` list of 3-D multi-block settings")
    frames = data.get("num_frames") or max(data.get("dataset_fpcs") or [0])
    crop, patch, tubelet = int(data.get("crop_size", 224)), int(data.get("patch_size", 16)), int(data["tubelet_size"])
    grid = (int(frames) // tubelet, crop // patch, crop // patch)
    return [
        VideoMaskSpec(
            *grid,
            temporal_scale=tuple(m.get("temporal_scale", (1.0, 1.0))),
            spatial_scale=tuple(m.get("spatial_scale", (0.2, 0.8))),
            aspect_ratio=tuple(m.get("aspect_ratio", (0.3, 3.0))),
            num_blocks=int(m.get("num_blocks", 1)),
            max_temporal_keep=float(m.get("max_temporal_keep", 1.0)),
            max_keep=m.get("max_keep"),
            full_complement=bool(m.get("full_complement", False)),
            pred_full_complement=bool(m.get("pred_full_complement", False)),
            inv_block=bool(m.get("inv_block", False)),
        )
        for m in entries
    ]


def _block_size(spec: VideoMaskSpec, step: int) -> tuple[int, int, int]:
    import torch

    g = torch.Generator()
    g.manual_seed(step)
    u = [torch.rand(1, generator=g).item() for _ in range(3)]
    t = max(1, int(spec.duration * (spec.temporal_scale[0] + u[0] * (spec.temporal_scale[1] - spec.temporal_scale[0]))))
    keep = int(
        spec.height * spec.width * (spec.spatial_scale[0] + u[1] * (spec.spatial_scale[1] - spec.spatial_scale[0]))
    )
    ratio = spec.aspect_ratio[0] + u[2] * (spec.aspect_ratio[1] - spec.aspect_ratio[0])
    h = min(int(round(math.sqrt(keep * ratio))), spec.height)
    w = min(int(round(math.sqrt(keep / ratio))), spec.width)
    return t, h, w


def draw_masks(specs: list[VideoMaskSpec], batch_size: int, seed: int, step: int = 0):
    """One collation of `batch_size` clips: per spec (context indices [B, K], target indices [B, M]), int64.

    `seed` seeds the RNG of the block positions (the original uses torch's global RNG; torch.manual_seed(seed)
    before the original collator gives the same draw), `step` is the collator's counter (the batch number)."""
    import torch

    rng = torch.Generator()
    rng.manual_seed(seed)
    out = []
    for spec in specs:
        t, h, w = _block_size(spec, step)
        encs, preds = [], []
        while len(encs) < batch_size:
            keep = torch.ones((spec.duration, spec.height, spec.width), dtype=torch.int32)
            for _ in range(spec.num_blocks):
                top = torch.randint(0, spec.height - h + 1, (1,), generator=rng)
                left = torch.randint(0, spec.width - w + 1, (1,), generator=rng)
                start = torch.randint(0, spec.duration - t + 1, (1,), generator=rng)
                block = torch.ones_like(keep)
                block[start : start + t, top : top + h, left : left + w] = 0
                if spec.context_frames < spec.duration:
                    block[spec.context_frames :] = 0
                keep *= block
            flat = keep.flatten()
            if flat.any():
                encs.append(torch.nonzero(flat).flatten())
                preds.append(torch.nonzero(flat == 0).flatten())
        n_enc = min(len(e) for e in encs)
        n_enc = min(n_enc, spec.max_keep) if spec.max_keep is not None else n_enc
        n_pred = min(len(p) for p in preds)
        encs, preds = [e[:n_enc] for e in encs], [p[:n_pred] for p in preds]
        every = set(range(spec.tokens))
        if spec.full_complement:
            preds = [torch.tensor(sorted(every - set(e.tolist())), dtype=e.dtype) for e in encs]
        elif spec.pred_full_complement:
            encs = [torch.tensor(sorted(every - set(p.tolist())), dtype=p.dtype) for p in preds]
        enc, pred = torch.stack(encs), torch.stack(preds)
        out.append((pred, enc) if spec.inv_block else (enc, pred))
    return out


def as_grid(indices: np.ndarray, spec: VideoMaskSpec) -> np.ndarray:
    """Token index lists [B, K] -> boolean masks [B, T, H, W]."""
    indices = np.asarray(indices)
    grid = np.zeros((indices.shape[0], spec.tokens), dtype=bool)
    np.put_along_axis(grid, indices, True, axis=1)
    return grid.reshape(-1, spec.duration, spec.height, spec.width)
