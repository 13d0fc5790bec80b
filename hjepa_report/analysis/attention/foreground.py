"""Does the rollout look at the objects? Rollout mass on the foreground vs the foreground's share of the image.

Only runs that know their images' foreground can answer this: this project's sample runs store a bool mask
[H, W] per image in sample_meta/foreground.npz, which the collector reads into `Run.foreground`, keyed by the
image's resolved path (collect/foreground.py). The mask goes through the same resize / crop as the image
(models/images.py), then each patch gets the fraction of its pixels that are foreground.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .metrics import foreground_mass


def image_foreground(stored: Mapping[Path, np.ndarray], image_paths: Sequence[Path]) -> list[np.ndarray | None]:
    """Return the run's foreground mask of each image (None where it has none, e.g. an image from --images)."""
    return [stored.get(Path(image).resolve()) for image in image_paths]


def patch_coverage(mask: np.ndarray, image_size: int, method: str, grid: tuple[int, int]) -> np.ndarray:
    """Return the foreground fraction of each patch [N] after the image's own resize / crop `method`.

    The bool mask is resized as a float image with the same filter as the pixels (so its edges are soft, as
    the image's are) and clipped to [0, 1]; a patch's value is the mean over its pixels.
    """
    from PIL import Image

    from ...models.images import PREPROCESS

    as_float = Image.fromarray(np.asarray(mask, dtype=np.float32), mode="F")
    resized = np.clip(np.asarray(PREPROCESS[method](as_float, image_size), dtype=np.float64), 0.0, 1.0)
    rows, cols = grid
    cell_h, cell_w = resized.shape[0] // rows, resized.shape[1] // cols
    cells = resized[: rows * cell_h, : cols * cell_w].reshape(rows, cell_h, cols, cell_w)
    return cells.mean(axis=(1, 3)).reshape(-1)


def rollout_foreground_shares(
    rollout_maps: np.ndarray, coverages: Sequence[np.ndarray | None], names: Sequence[str]
) -> dict | None:
    """Compare rollout mass on the foreground with the foreground's area share, per image and on average.

    rollout_maps [K, rows, cols]; coverages[k] [N] (None: the image has no mask, left out). Returns None when
    no image has a mask.
    """
    per_image = []
    for rollout, cover, name in zip(rollout_maps, coverages, names, strict=True):
        if cover is None:
            continue
        mass, area = foreground_mass(rollout, cover)
        per_image.append({"image": name, "rollout_mass": round(mass, 6), "area_share": round(area, 6)})
    if not per_image:
        return None
    mass = float(np.mean([p["rollout_mass"] for p in per_image]))
    area = float(np.mean([p["area_share"] for p in per_image]))
    return {
        "method": "share of the rollout map's mass on foreground patches (each patch weighted by its foreground "
        "fraction) vs the foreground's share of the image area, averaged over images",
        "rollout_mass_on_foreground": round(mass, 6),
        "foreground_area_share": round(area, 6),
        "ratio": round(mass / area, 6) if area > 0 else None,
        "images_above_area_share": sum(p["rollout_mass"] > p["area_share"] for p in per_image),
        "images": len(per_image),
        "per_image": per_image,
    }
