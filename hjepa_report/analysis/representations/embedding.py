"""Views of an embedding space: PCA, t-SNE and UMAP projections, nearest neighbours, label-based accuracies.

Everything random is seeded by an argument; t-SNE and UMAP are imported only when used (scikit-learn's
manifold module costs ~1 s to import, umap ~2 s plus ~12 s of numba compilation on its first fit on a
machine, kept in numba's on-disk cache afterwards: numba_cache.py) and each projection reports the seconds it took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .numba_cache import cache_umap_functions, use_numba_cache

POINT_CAP = 2000  # most points drawn in a projection (t-SNE ~4.5 s for 2k points of 384 dims on 2 cores)


@dataclass
class Projection:
    """2-D coordinates of the (subsampled) points by one method, or the reason it is missing."""

    method: str  # pca | tsne | umap
    coords: np.ndarray | None  # [m, 2] for the points in `indices`
    indices: np.ndarray  # rows of the embedding matrix that were projected
    seconds: float = 0.0
    detail: str = ""  # parameters (seed, perplexity, ...) for the caption
    note: str = ""  # why it is missing, when coords is None
    explained: list[float] = field(default_factory=list)  # PCA: variance ratio of the two axes


def subsample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Return at most `cap` sorted row indices out of n, drawn without replacement by `rng`."""
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, size=cap, replace=False))


def pca(z, n_components: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (scores [n, c], components [c, d], explained variance ratio [c]) of the centred rows of z.

    Signs are fixed so that each component's largest-magnitude loading is positive (deterministic output).
    """
    z = np.asarray(z, dtype=np.float64)
    centred = z - z.mean(axis=0)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    c = min(n_components, len(s))
    signs = np.sign(vt[np.arange(c), np.argmax(np.abs(vt[:c]), axis=1)])
    signs[signs == 0] = 1.0
    components = vt[:c] * signs[:, None]
    total = np.sum(s**2)
    ratio = s[:c] ** 2 / total if total > 0 else np.zeros(c)
    return centred @ components.T, components, ratio


def pca_projection(z, indices: np.ndarray) -> Projection:
    """Project the chosen rows on the first two principal components, with the variance each explains."""
    start = time.perf_counter()
    scores, _, ratio = pca(np.asarray(z)[indices], 2)
    if scores.shape[1] < 2:
        scores = np.pad(scores, ((0, 0), (0, 2 - scores.shape[1])))
        ratio = np.pad(ratio, (0, 2 - len(ratio)))
    return Projection(
        "pca",
        scores,
        indices,
        time.perf_counter() - start,
        "centred, no whitening",
        explained=[float(r) for r in ratio],
    )


def tsne_projection(z, indices: np.ndarray, seed: int) -> Projection:
    """Embed the chosen rows with scikit-learn's t-SNE (PCA init, perplexity min(30, (m - 1) / 3), seeded)."""
    m = len(indices)
    if m < 5:
        return Projection("tsne", None, indices, note=f"t-SNE skipped: {m} points are too few (need >= 5)")
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (m - 1) / 3.0))  # must be < m; ~m/3 keeps neighbourhoods local for small m
    start = time.perf_counter()
    coords = TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(
        np.asarray(z, dtype=np.float64)[indices]
    )
    return Projection(
        "tsne", coords, indices, time.perf_counter() - start, f"perplexity {perplexity:.1f}, PCA init, seed {seed}"
    )


def umap_projection(z, indices: np.ndarray, seed: int) -> Projection:
    """Embed the chosen rows with UMAP (McInnes et al. 2018; n_neighbors min(15, m - 1), cosine, seeded).

    Optional: when umap-learn cannot be imported or fails on this input, the projection carries a note.
    """
    m = len(indices)
    if m < 6:
        return Projection("umap", None, indices, note=f"UMAP skipped: {m} points are too few (need >= 6)")
    try:
        use_numba_cache()  # before numba is imported: it reads NUMBA_CACHE_DIR once
        import umap

        cache_umap_functions()
    except Exception as exc:  # noqa: BLE001 - an optional dependency: any import failure becomes a note
        return Projection("umap", None, indices, note=f"UMAP unavailable ({type(exc).__name__}: {exc})")
    neighbours = int(min(15, m - 1))
    start = time.perf_counter()
    try:
        reducer = umap.UMAP(
            n_neighbors=neighbours,
            metric="cosine",
            random_state=seed,
            n_jobs=1,
            init="spectral" if m > 16 else "random",
        )
        coords = reducer.fit_transform(np.asarray(z, dtype=np.float32)[indices])
    except Exception as exc:  # noqa: BLE001 - report, do not fail the section
        return Projection(
            "umap",
            None,
            indices,
            time.perf_counter() - start,
            note=f"UMAP failed on {m} points ({type(exc).__name__}: {exc})",
        )
    return Projection(
        "umap",
        np.asarray(coords, dtype=np.float64),
        indices,
        time.perf_counter() - start,
        f"n_neighbors {neighbours}, cosine metric, seed {seed} (first fit includes numba compilation)",
    )


def projections(z, seed: int, cap: int = POINT_CAP, minimal: bool = False) -> list[Projection]:
    """Return the PCA, t-SNE and UMAP projections of at most `cap` seeded rows (PCA only when `minimal`)."""
    indices = subsample(len(z), cap, np.random.default_rng(seed))
    out = [pca_projection(z, indices)]
    if minimal:
        note = "skipped under --minimal"
        out += [
            Projection("tsne", None, indices, note=f"t-SNE {note}"),
            Projection("umap", None, indices, note=f"UMAP {note}"),
        ]
    else:
        out += [tsne_projection(z, indices, seed), umap_projection(z, indices, seed)]
    return out


def nearest_neighbours(z, queries, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Return (indices [q, k], cosine similarities [q, k]) of the k most similar other rows of each query."""
    sim = metrics.cosine_similarity_matrix(z)
    queries = np.asarray(queries, dtype=int)
    k = min(k, len(sim) - 1)
    rows = sim[queries].copy()
    rows[np.arange(len(queries)), queries] = -np.inf  # a query is not its own neighbour
    order = np.argsort(-rows, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(rows, order, axis=1)


def pick_queries(n: int, labels, count: int, rng: np.random.Generator) -> np.ndarray:
    """Return up to `count` sorted query rows out of n: one per class first when labels exist, seeded."""
    picks: list[int] = []
    if labels is not None:
        labels = np.asarray(labels)
        picks = [int(rng.choice(np.flatnonzero(labels == name))) for name in np.unique(labels)][:count]
    rest = [int(i) for i in rng.permutation(n) if i not in picks]
    return np.array(sorted(picks + rest[: max(0, count - len(picks))]), dtype=int)


def knn_k(labels, k: int = 5) -> int:
    """Return k (default 5), lowered to (smallest class size - 1) so that a class can hold the majority of a
    left-out image's neighbours (at least 1, at most n - 1)."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return int(max(1, min(k, counts.min() - 1, len(labels) - 1)))


def label_accuracies(z, labels, seed: int = 0, *, k: int = 5, linear_probe: bool = True) -> dict:
    """Return leave-one-out kNN accuracy with its 95 % Wilson interval, a cross-validated linear probe (unless
    `linear_probe` is False) and the chance level (majority class share), or a reason; embeddings holding NaN
    or inf get no accuracy (None), the reason and `nonfinite` True.

    Images that are alone in their class are left out (counted in `alone`): no neighbour can share their
    label, so they would only pull the accuracy down, e.g. when a few images come from many classes.
    k = knn_k(labels of the rest, k).
    """
    labels = np.asarray(labels)
    names, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    kept = counts[inverse] >= 2
    z, labels = np.asarray(z)[kept], labels[kept]
    classes = int((counts >= 2).sum())
    out = {
        "classes": classes,
        "samples": int(kept.sum()),
        "alone": int((~kept).sum()),
        "knn_k": None,
        "knn_accuracy": None,
        "knn_interval": None,
        "reason": "",
        "chance": metrics.chance_accuracy(labels) if len(labels) else None,
    }
    if classes < 2:
        out["reason"] = "fewer than 2 classes with at least 2 images: no accuracy can be measured"
        out["probe"] = {"accuracy": None, "reason": out["reason"]}
        return out
    nonfinite = metrics.nonfinite_reason(z, "the embeddings")
    if nonfinite:  # the measures refuse such input: say why instead of failing the section
        out.update(reason=nonfinite, nonfinite=True)
        out["probe"] = {"accuracy": None, "reason": nonfinite}
        return out
    k_eff = knn_k(labels, k)
    accuracy = metrics.knn_accuracy(z, labels, k=k_eff)
    out.update(knn_k=k_eff, knn_accuracy=accuracy, knn_interval=list(metrics.wilson_interval(accuracy, len(labels))))
    if linear_probe:
        out["probe"] = metrics.linear_probe_accuracy(z, labels, folds=5, seed=seed)
    return out
    k_eff = int(min(k, len(labels) - 1))
    accuracy = metrics.knn_accuracy(z, labels, k=k_eff)
    out.update(knn_k=k_eff, knn_accuracy=accuracy, knn_interval=list(metrics.wilson_interval(accuracy, len(labels))))
    out["probe"] = metrics.linear_probe_accuracy(z, labels, folds=5, seed=seed)
    return out
