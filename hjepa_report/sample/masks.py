"""Seeded multi-block masks for the sample trainer, following H-JEPA's level-0 target sampling.

H-JEPA (src/masks/hierarchical.py, HierarchicalMaskGenerator) draws `num_masks` target blocks per image at level
0: block area = scale * N patches with scale ~ U(mask_scale), aspect ~ U(max(lo, 0.85), min(hi, 1.15)) (level 0
prefers square blocks), height = round(sqrt(area / aspect)), width = round(height * aspect), clipped to the grid,
position uniform; up to 10 attempts to avoid overlapping earlier blocks, else a fallback block of side
grid // 2. The trainer hides the union of the blocks (HJEPATrainer._train_step: targets.any(dim=1)).
This is our own sampler with those rules, driven by a numpy Generator instead of numpy's global state.
"""

from __future__ import annotations

import numpy as np

_ATTEMPTS = 10


def hidden_masks(
    rng: np.random.Generator,
    batch: int,
    grid: int,
    num_masks: int,
    scale: tuple[float, float],
    aspect: tuple[float, float],
) -> np.ndarray:
    """Return bool [batch, grid * grid] (True = hidden patch, row-major): the union of the target blocks."""
    out = np.zeros((batch, grid, grid), bool)
    for b in range(batch):
        occupied = np.zeros((grid, grid), bool)
        for _ in range(num_masks):
            top, left, h, w = _block(rng, grid, scale, aspect, occupied)
            occupied[top : top + h, left : left + w] = True
        out[b] = occupied
    return out.reshape(batch, grid * grid)


def _block(rng: np.random.Generator, grid: int, scale, aspect, occupied: np.ndarray) -> tuple[int, int, int, int]:
    """Draw one (top, left, height, width) block that avoids `occupied` if it can (H-JEPA _sample_block)."""
    lo, hi = max(aspect[0], 0.85), min(aspect[1], 1.15)
    for _ in range(_ATTEMPTS):
        area = rng.uniform(*scale) * grid * grid
        ratio = rng.uniform(lo, hi)
        h = int(np.clip(np.round(np.sqrt(area / ratio)), 1, grid))
        w = int(np.clip(np.round(h * ratio), 1, grid))
        top, left = int(rng.integers(0, grid - h + 1)), int(rng.integers(0, grid - w + 1))
        if not occupied[top : top + h, left : left + w].any():
            return top, left, h, w
    side = max(1, grid // 2)  # H-JEPA's fallback: grid // (level + 2) at level 0
    return int(rng.integers(0, grid - side + 1)), int(rng.integers(0, grid - side + 1)), side, side
