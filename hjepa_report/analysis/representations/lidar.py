"""LiDAR of the chosen checkpoint's target encoder, with each sample image's augmented views as one class.

The views are other images than the sample images (seeded crops and flips), so they pass the encoder here,
in batches, keeping only their pooled features (JepaModel.pooled_features); torch is imported inside.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from ..precision import Precision, fell_back, sweep_precision
from ..session import BATCH
from . import metrics

if TYPE_CHECKING:  # pragma: no cover
    from ..session import ModelSession

LIDAR_VIEWS = 6  # augmented views per sample image (surrogate class size for LiDAR)


def augmented_views(images, views: int, seed: int):
    """Return [B * views, 3, S, S]: per image, `views` random resized crops (scale 0.4-1, aspect 3/4-4/3,
    bilinear back to S) with a random horizontal flip, seeded; row b * views + v is view v of image b."""
    import torch
    import torch.nn.functional as functional

    gen = torch.Generator().manual_seed(seed)
    b, _, s, _ = images.shape
    out = []
    for i in range(b):
        for _ in range(views):
            area = s * s * (0.4 + 0.6 * torch.rand(1, generator=gen).item())
            aspect = float(np.exp(np.log(3 / 4) + np.log(16 / 9) * torch.rand(1, generator=gen).item()))
            h = int(min(s, round((area / aspect) ** 0.5)))
            w = int(min(s, round((area * aspect) ** 0.5)))
            top = int(torch.randint(0, s - h + 1, (1,), generator=gen))
            left = int(torch.randint(0, s - w + 1, (1,), generator=gen))
            crop = functional.interpolate(
                images[i : i + 1, :, top : top + h, left : left + w], size=(s, s), mode="bilinear", align_corners=False
            )
            out.append(crop.flip(-1) if torch.rand(1, generator=gen).item() < 0.5 else crop)
    return torch.cat(out)


def lidar_score(session: ModelSession, seed: int, views: int = LIDAR_VIEWS) -> dict:
    """LiDAR (metrics.lidar, Thilak et al. 2024) of the chosen target encoder's mean-pooled tokens, each sample
    image's `views` augmented views (seeded by `seed`) forming one class; with the views, images, seed,
    seconds and the upper bound (images - 1), or a reason when it cannot be computed (e.g. the views'
    embeddings hold NaN or inf)."""
    images = session.sample_images()
    if len(images.labels) < 2:
        return {"lidar": None, "reason": "LiDAR needs at least 2 sample images"}
    start = time.perf_counter()
    batch = augmented_views(images.tensor, views, seed)
    z, chosen = view_embeddings(session, batch)
    nonfinite = metrics.nonfinite_reason(z, "the embeddings of the augmented views")
    if nonfinite:
        return {"lidar": None, "reason": nonfinite}
    value = metrics.lidar(z, np.repeat(np.arange(len(images.labels)), views))
    return {
        "precision": chosen.as_dict(),
        "precision_text": chosen.describe(),
        "lidar": value,
        "views": views,
        "images": len(images.labels),
        "seed": seed,
        "seconds": round(time.perf_counter() - start, 3),
        "reason": "",
        "max": len(images.labels) - 1,
    }


def view_embeddings(session: ModelSession, views) -> tuple[np.ndarray, Precision]:
    """Mean-pooled target-encoder embeddings of the augmented views, and the arithmetic used (precision.py):
    in bfloat16 the first batch is also encoded in float32 and the largest ||z_bf16 - z_fp32|| is judged on the
    float32 embeddings' mean norm; above TOLERANCE of it every view is encoded again in float32."""
    model = session.model()
    batches = [views[i : i + BATCH] for i in range(0, len(views), BATCH)]
    chosen = sweep_precision(session.settings.precision, model, model.encode_flops(len(views)))
    if chosen.name == "fp32":
        return model.pooled_features(batches)[0], chosen
    with model.autocast("bf16"):
        z, _ = model.pooled_features(batches)
    reference, _ = model.pooled_features(batches[:1])
    gap = float(np.linalg.norm(z[: len(reference)] - reference, axis=1).max())
    scale = float(np.linalg.norm(reference, axis=1).mean()) or 1.0
    checked = [{"at": f"the first {len(reference)} views, largest ||z_bf16 - z_fp32||", "bf16": gap, "fp32": 0.0}]
    if chosen.measured(checked, scale, "the embeddings' mean norm"):
        return z, chosen
    return model.pooled_features(batches)[0], fell_back(chosen)
