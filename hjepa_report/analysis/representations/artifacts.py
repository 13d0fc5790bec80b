"""High-norm artifact tokens (Darcet et al. 2024, "Vision Transformers Need Registers", arXiv:2309.16588).

Large ViTs trained long enough recycle a few low-information patch tokens (about 2 % of them in DINOv2 ViT-g)
as global scratch space: their output norm is about ten times the others' (Darcet et al., Fig. 3), and the
CLS token's attention concentrates on them, which makes attention maps look like noise with bright specks.

Which tokens are outliers. Darcet et al. read a fixed cutoff (norm > 150) off DINOv2's bimodal norm
histogram; that number belongs to that model's scale. Here a token is an outlier when its norm exceeds Tukey's
far-out fence of its block, Q3 + 3 IQR of all patch-token norms of that block over the sample images (Tukey
1977, "Exploratory Data Analysis", Sect. 2H): scale-free, robust to the outliers themselves (quartiles), and
needing no visible second mode. For a Gaussian spread of norms the fence is 4.7 standard deviations above the
median and flags about one token in a million, so a share of a percent is a separate population, as Darcet's.

Pure numpy on ModelSession.block_outputs (norms [L, B, N], the last block's attention maps).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

FENCE_IQR = 3.0  # Tukey's far-out fence: Q3 + 3 IQR
LAST_BLOCK_WARN_SHARE = 0.01  # warn when >= 1 % of the last block's patch tokens are outliers (Darcet: ~2 %)


@dataclass
class BlockArtifacts:
    """One block's patch-token norms and their outliers over the sample images."""

    block: int
    median_norm: float
    q1: float
    q3: float
    fence: float  # Q3 + 3 IQR
    max_norm: float
    outliers: int
    share: float  # outliers / patch tokens
    images_with_outliers: int
    outlier_norm_ratio: float | None  # median outlier norm / median norm of the block (None without outliers)

    def as_dict(self) -> dict:
        """JSON-friendly numbers of this block."""
        return asdict(self)


def outlier_fence(norms: np.ndarray, k: float = FENCE_IQR) -> float:
    """Return Q3 + k IQR of all values (Tukey's fence; k = 3: 'far out')."""
    q1, q3 = np.percentile(np.asarray(norms, np.float64), [25, 75])
    return float(q3 + k * (q3 - q1))


def block_artifacts(norms: np.ndarray) -> tuple[list[BlockArtifacts], np.ndarray]:
    """Find the outlier tokens of every block: (per-block numbers, outlier masks [L, B, N]) for norms [L, B, N]."""
    norms = np.asarray(norms, np.float64)
    if norms.ndim != 3 or norms.size == 0:
        raise ValueError(f"norms must be [blocks, images, patches], not {norms.shape}")
    found, masks = [], np.zeros(norms.shape, bool)
    for block, values in enumerate(norms):
        fence = outlier_fence(values)
        masks[block] = values > fence
        out = values[masks[block]]
        q1, median, q3 = np.percentile(values, [25, 50, 75])
        found.append(
            BlockArtifacts(
                block=block,
                median_norm=float(median),
                q1=float(q1),
                q3=float(q3),
                fence=fence,
                max_norm=float(values.max()),
                outliers=int(out.size),
                share=float(out.size / values.size),
                images_with_outliers=int(masks[block].any(axis=1).sum()),
                outlier_norm_ratio=float(np.median(out) / median) if out.size and median > 0 else None,
            )
        )
    return found, masks


@dataclass
class AttentionOnOutliers:
    """Whether the attention's bright spots are the outlier tokens (one block, its attention and outliers).

    mass: mean over the images that have outliers of the share of the attention map's mass on them; share:
    mean share of patches that are outliers in those images (what uniform attention would put there);
    enrichment = mass / share (1: no preference, Darcet et al.'s artifacts: far above); spearman: mean over
    all images of the rank correlation between token norm and attention received (defined without outliers)."""

    block: int
    images: int  # images with at least one outlier
    mass: float | None
    share: float | None
    enrichment: float | None
    spearman: float | None

    def as_dict(self) -> dict:
        """JSON-friendly numbers."""
        return asdict(self)


def attention_on_outliers(attention: np.ndarray, outliers: np.ndarray, norms: np.ndarray, block: int):
    """Compare head-mean attention maps [B, N] (any positive scale) with outlier masks [B, N] and norms [B, N]."""
    attention = np.asarray(attention, np.float64).reshape(len(outliers), -1)
    outliers = np.asarray(outliers, bool).reshape(attention.shape)
    norms = np.asarray(norms, np.float64).reshape(attention.shape)
    totals = attention.sum(axis=1)
    usable = np.isfinite(totals) & (totals > 0)
    having = usable & outliers.any(axis=1)
    mass = share = enrichment = None
    if having.any():
        masses = (attention * outliers).sum(axis=1)[having] / totals[having]
        mass, share = float(masses.mean()), float(outliers[having].mean(axis=1).mean())
        enrichment = mass / share
    return AttentionOnOutliers(block, int(having.sum()), mass, share, enrichment, _mean_spearman(norms, attention))


def _mean_spearman(a: np.ndarray, b: np.ndarray) -> float | None:
    """Mean over rows of Spearman's rank correlation of a[i] and b[i] (rows with a constant side left out)."""
    from scipy.stats import rankdata

    values = []
    for x, y in zip(a, b, strict=True):
        if np.ptp(x) > 0 and np.ptp(y) > 0 and np.isfinite(y).all():
            values.append(np.corrcoef(rankdata(x), rankdata(y))[0, 1])
    return float(np.mean(values)) if values else None


def shown_images(masks: np.ndarray, block: int, count: int = 3) -> list[int]:
    """The images to overlay: those with the most outliers in `block` (ties: first images), `count` at most."""
    per_image = masks[block].sum(axis=1)
    order = sorted(range(len(per_image)), key=lambda i: (-int(per_image[i]), i))
    return order[: min(count, len(order))]


def shown_block(found: list[BlockArtifacts]) -> int:
    """The block whose outliers the overlay marks: the one with the largest outlier share (ties: the later)."""
    return max(found, key=lambda b: (b.share, b.block)).block
