"""What the predictor predicts, in pixels, without a decoder: nearest real patches to each predicted embedding.

JEPA predicts target-encoder features, not pixels, and its checkpoints hold no decoder. What a predicted
embedding means can still be shown with what the run has: for each hidden target patch, the real image patch
whose target-encoder embedding is nearest (cosine) to the prediction, taken from a bank of the patches of the
run's other sample images (never the same image, so no patch can retrieve itself), pasted in place gives a
mosaic of what the predictor "sees" (nearest-neighbour retrieval as a decoder stand-in, as in the feature
inversion by retrieval of Weinzaepfel et al. 2011, "Reconstructing an image from its local descriptors").

Three queries per hidden patch: the prediction; the mean-target-token baseline of the predictions section (the
mean of all valid target tokens of the batch, one constant query); and the true target embedding (the best
this bank can do). Each retrieval is scored by cosine(retrieved patch's embedding, the hidden patch's true
target embedding), its closeness to the hidden content, beside cosine(query, retrieved) and the mean absolute
pixel difference between the retrieved and the hidden patch. The bank lives in the space of the
Prediction's targets (models.Prediction.target_kind): H-JEPA's raw target-encoder patch tokens, I-JEPA's
layer-normed ones (F.layer_norm, no affine, eps 1e-5); `bank_mismatch` checks that the bank at the hidden
patches is exactly the targets. Pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .predictions import mean_target_token

LAYER_NORM_EPS = 1e-5  # torch.nn.functional.layer_norm's default, as I-JEPA's loss (src/train.py)
KINDS = ("prediction", "baseline", "oracle")  # the three queries (see the module docstring)


def layer_norm(tokens: np.ndarray, eps: float = LAYER_NORM_EPS) -> np.ndarray:
    """Layer-norm the last axis without affine weights: (x - mean) / sqrt(var + eps) (Ba et al. 2016)."""
    x = np.asarray(tokens, np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)


def bank_space(patch_tokens: np.ndarray, target_kind: str) -> np.ndarray:
    """Put target-encoder patch tokens [B, N, D] in the space of a Prediction's targets (see the docstring)."""
    tokens = np.asarray(patch_tokens, np.float64)
    return layer_norm(tokens) if target_kind.startswith("layer-normed") else tokens


def bank_mismatch(bank: np.ndarray, target: np.ndarray, indices: np.ndarray, valid: np.ndarray) -> float:
    """Largest |bank[b, indices[b, k]] - target[b, k]| over valid entries, relative to max |target|."""
    rows = np.arange(len(bank))[:, None]
    picked = bank[rows, np.asarray(indices)]
    valid = np.asarray(valid, bool)
    scale = max(float(np.abs(target[valid]).max()), 1e-12)
    return float(np.abs(picked[valid] - np.asarray(target, np.float64)[valid]).max() / scale)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


@dataclass
class Retrieval:
    """The nearest bank patch of every query entry [B, K] (-1 / NaN at padding)."""

    source_image: np.ndarray  # image the retrieved patch comes from
    source_patch: np.ndarray  # its patch index there
    query_similarity: np.ndarray  # cosine(query, retrieved patch's embedding)
    target_similarity: np.ndarray  # cosine(retrieved patch's embedding, the hidden patch's true target)


def nearest_patches(queries: np.ndarray, valid: np.ndarray, bank: np.ndarray, target: np.ndarray) -> Retrieval:
    """For queries [B, K, D] (valid [B, K]) retrieve the most cosine-similar patch of bank [B, N, D] among the
    OTHER images' patches (image b never retrieves from itself) and score it against target [B, K, D]."""
    queries, bank = np.asarray(queries, np.float64), np.asarray(bank, np.float64)
    valid = np.asarray(valid, bool)
    b, n = bank.shape[:2]
    if b < 2:
        raise ValueError("the bank needs at least two images: each image retrieves from the others")
    flat = _unit(bank.reshape(b * n, -1))
    flat32 = flat.astype(np.float32)  # the [k, B * N] similarities in float32: half the time, cosines to 1e-6
    shape = valid.shape
    source = np.full(shape, -1)
    query_sim, target_sim = np.full(shape, np.nan), np.full(shape, np.nan)
    for i in range(b):
        rows = np.flatnonzero(valid[i])
        if not rows.size:
            continue
        asked = _unit(queries[i, rows])
        same = not np.ptp(asked, axis=0).any()  # one constant query (the baseline): one row does
        sims = asked[: 1 if same else None].astype(np.float32) @ flat32.T  # [k or 1, B * N]
        sims[:, i * n : (i + 1) * n] = -np.inf  # not the same image
        best = np.broadcast_to(np.argmax(sims, axis=1), rows.shape)
        source[i, rows] = best
        query_sim[i, rows] = np.sum(flat[best] * asked, axis=-1)
        target_sim[i, rows] = np.sum(flat[best] * _unit(target[i, rows]), axis=-1)
    return Retrieval(
        source_image=np.where(source >= 0, source // n, -1),
        source_patch=np.where(source >= 0, source % n, -1),
        query_similarity=query_sim,
        target_similarity=target_sim,
    )


def retrieve_all(predicted, target, valid, bank) -> dict[str, Retrieval]:
    """The three retrievals: prediction, mean-target-token baseline, true target (module docstring)."""
    target = np.asarray(target, np.float64)
    baseline = np.broadcast_to(mean_target_token(target, np.asarray(valid, bool)), target.shape)
    queries = {"prediction": predicted, "baseline": baseline, "oracle": target}
    return {kind: nearest_patches(queries[kind], valid, bank, target) for kind in KINDS}


def patch_pixels(picture: np.ndarray, index: int, grid: tuple[int, int], size: int) -> np.ndarray:
    """The pixels [size, size, C] of patch `index` (row-major) of a picture."""
    r, c = divmod(int(index), grid[1])
    return picture[r * size : (r + 1) * size, c * size : (c + 1) * size]


def pixel_errors(retrieval: Retrieval, indices, pictures, grid, size) -> np.ndarray:
    """Mean absolute difference (0-1) between each retrieved patch's pixels and the hidden patch's, [B, K]."""
    errors = np.full(retrieval.source_image.shape, np.nan)
    for i, k in zip(*np.nonzero(retrieval.source_image >= 0), strict=True):
        hidden = patch_pixels(pictures[i], indices[i, k], grid, size).astype(np.float64)
        found = patch_pixels(pictures[retrieval.source_image[i, k]], retrieval.source_patch[i, k], grid, size)
        errors[i, k] = np.abs(hidden - found).mean() / 255.0
    return errors


def mosaic(picture, image: int, retrieval: Retrieval, indices, pictures, grid, size) -> np.ndarray:
    """Image `image` with every retrieved patch pasted over the hidden patch it stands for (uint8). A patch
    predicted more than once (I-JEPA's overlapping target blocks) shows its first entry's retrieval."""
    out = np.array(picture, copy=True)
    done = set()
    for k in np.flatnonzero(retrieval.source_image[image] >= 0):
        index = int(indices[image, k])
        if index in done:
            continue
        done.add(index)
        r, c = divmod(index, grid[1])
        found = patch_pixels(pictures[retrieval.source_image[image, k]], retrieval.source_patch[image, k], grid, size)
        out[r * size : (r + 1) * size, c * size : (c + 1) * size] = found
    return out


def summarise_retrievals(retrievals: dict[str, Retrieval], pixel: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per query kind: mean similarity to the hidden content, to the query, and pixel error over valid entries."""
    out = {}
    for kind, found in retrievals.items():
        valid = found.source_image >= 0
        out[kind] = {
            "target_similarity_mean": float(np.mean(found.target_similarity[valid])),
            "query_similarity_mean": float(np.mean(found.query_similarity[valid])),
            "pixel_error_mean": float(np.mean(pixel[kind][valid])),
            "entries": int(valid.sum()),
        }
    return out
