"""numpy compositing of masks over images, shared by the figures (as panels) and the GIF frames.

Colours are the Okabe & Ito (2008) colour-blind-safe palette: the context is always blue (#0072B2), target
blocks take the other colours in order, so a reader can tell blocks apart without relying on red/green.
"""

from __future__ import annotations

import numpy as np

CONTEXT = "#0072B2"
TARGETS = ["#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
HIDDEN_GREY = (128, 128, 128)


def rgb(colour: str) -> np.ndarray:
    """'#RRGGBB' -> float array of 3 values in 0..255."""
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def target_colour(j: int) -> str:
    """Colour of target block j (cycles after 7 blocks)."""
    return TARGETS[j % len(TARGETS)]


def upscale(image: np.ndarray, grid: tuple[int, int], min_side: int = 224) -> np.ndarray:
    """Nearest-neighbour upscale so the image is >= min_side px and divides evenly into the patch grid."""
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    rows, cols = grid
    factor = max(1, int(np.ceil(min_side / min(img.shape[:2]))))
    img = img.repeat(factor, axis=0).repeat(factor, axis=1)
    # crop to a multiple of the grid so every patch has the same number of pixels
    h, w = img.shape[0] // rows * rows, img.shape[1] // cols * cols
    return img[:h, :w, :3]


def wash(image: np.ndarray, strength: float = 0.45) -> np.ndarray:
    """Light greyscale copy of an image (luminance, Rec. 601 weights), so coloured overlays read on any photo."""
    img = np.asarray(image, dtype=float)[..., :3]
    grey = img @ np.array([0.299, 0.587, 0.114])
    light = strength * 255 + (1 - strength) * grey
    return np.repeat(light[..., None], 3, axis=2).clip(0, 255).astype(np.uint8)


def pixel_mask(mask: np.ndarray, grid: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """Patch mask [N] -> pixel mask [h, w] for an image whose size is a multiple of the grid."""
    rows, cols = grid
    m = np.asarray(mask, bool).reshape(rows, cols)
    return m.repeat(shape[0] // rows, axis=0).repeat(shape[1] // cols, axis=1)


def tint(image: np.ndarray, mask_px: np.ndarray, colour: str, alpha: float) -> np.ndarray:
    """Blend `colour` over the masked pixels with weight alpha."""
    out = image.astype(float)
    out[mask_px] = (1 - alpha) * out[mask_px] + alpha * rgb(colour)
    return out.clip(0, 255).astype(np.uint8)


def fill(image: np.ndarray, mask_px: np.ndarray, value=HIDDEN_GREY) -> np.ndarray:
    """Replace the masked pixels with a flat colour (what a hidden patch looks like to the encoder)."""
    out = image.copy()
    out[mask_px] = value
    return out


def block_box(mask: np.ndarray, grid: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(top, left, height, width) in patches of the bounding box of a mask, None when empty."""
    m = np.asarray(mask, bool).reshape(grid)
    rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def outline(image: np.ndarray, box, grid: tuple[int, int], colour: str, width: int = 3) -> np.ndarray:
    """Draw the outline of a block (top, left, h, w in patches) onto an image, `width` px thick."""
    if box is None:
        return image
    out = image.copy()
    ph, pw = image.shape[0] // grid[0], image.shape[1] // grid[1]
    top, left, h, w = box
    y0, x0, y1, x1 = top * ph, left * pw, (top + h) * ph, (left + w) * pw
    c = rgb(colour).astype(np.uint8)
    out[y0 : y0 + width, x0:x1] = c
    out[max(y1 - width, y0) : y1, x0:x1] = c
    out[y0:y1, x0 : x0 + width] = c
    out[y0:y1, max(x1 - width, x0) : x1] = c
    return out


def patch_grid_rgba(targets: np.ndarray, context: np.ndarray, grid: tuple[int, int], alpha: float = 0.55) -> np.ndarray:
    """RGBA patch map [H, W, 4] in 0..1: context blue, target j in its colour, transparent elsewhere."""
    out = np.zeros((*grid, 4))
    out[np.asarray(context, bool).reshape(grid)] = (*rgb(CONTEXT) / 255, alpha)
    for j, t in enumerate(np.asarray(targets, bool)):
        out[t.reshape(grid)] = (*rgb(target_colour(j)) / 255, alpha)
    return out
