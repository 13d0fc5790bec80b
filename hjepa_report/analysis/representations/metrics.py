"""Pure measures of an embedding matrix z (n samples x d features): collapse, spectrum, class structure.

Every function takes numpy arrays, returns plain Python numbers or dicts, and follows a published definition
(named in its docstring, the formula's source next to the formula). No torch, no matplotlib; scikit-learn is
imported only inside the linear probe.
"""

from __future__ import annotations

import numpy as np


def _matrix(z) -> np.ndarray:
    """Return z as a float64 (n, d) matrix, or raise ValueError with a one-line reason."""
    z = np.asarray(z, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] < 2 or z.shape[1] < 1:
        raise ValueError(f"expected an embedding matrix of shape (n >= 2, d >= 1), got {z.shape}")
    if not np.isfinite(z).all():
        raise ValueError("the embedding matrix holds NaN or inf values")
    return z


def _entropy_rank(values: np.ndarray, eps: float) -> float:
    """Return exp(entropy) of values normalised to sum 1, with eps added to each share (0.0 for all zeros)."""
    values = np.clip(np.asarray(values, dtype=np.float64), 0.0, None)
    total = values.sum()
    if total <= 0:
        return 0.0  # no direction carries anything: the formula is undefined, report no rank
    p = values / total + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def singular_values(z) -> np.ndarray:
    """Return the singular values of z (not centred), largest first."""
    return np.linalg.svd(_matrix(z), compute_uv=False)


def rankme(z, eps: float = 1e-7) -> float:
    """RankMe (Garrido et al. 2023, ICML, "RankMe: Assessing the downstream performance of pretrained
    self-supervised representations by their rank", Eq. 1): exp of the entropy of the normalised singular values.

    Computed on the embedding matrix as given, NOT centred (the paper takes the singular values of the
    embeddings themselves), with the paper's eps = 1e-7. Ranges from ~1 (rank one) to min(n, d).
    """
    s = singular_values(z)
    # p_k = sigma_k / ||sigma||_1 + eps;  RankMe = exp(-sum_k p_k log p_k)   (Garrido et al. 2023, Eq. 1)
    return _entropy_rank(s, eps)


def covariance_eigenvalues(z) -> np.ndarray:
    """Return the eigenvalues of the sample covariance of z (centred, n - 1 denominator), largest first."""
    z = _matrix(z)
    s = np.linalg.svd(z - z.mean(axis=0), compute_uv=False)
    return s**2 / (z.shape[0] - 1)


def power_law_fit(eigenvalues, k_min: int = 1, k_max: int | None = None, rel_floor: float = 1e-10) -> dict:
    """Fit lambda_k ~ c * k^-alpha by ordinary least squares of log(lambda_k) on log(k), k = 1-based rank.

    Ranks k_min..k_max are used (k_max default: the last one), minus eigenvalues below rel_floor * lambda_1,
    which are numerically zero (a centred n x d matrix has at most n - 1 non-zero ones). Returns alpha,
    log_c, r2 and the fitted ranks; alpha is None when fewer than 3 ranks remain.
    """
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    ranks = np.arange(1, len(lam) + 1)
    keep = (ranks >= k_min) & (ranks <= (k_max or len(lam)))
    keep &= lam > rel_floor * lam[0] if len(lam) and lam[0] > 0 else False
    if keep.sum() < 3:
        return {"alpha": None, "log_c": None, "r2": None, "k_min": k_min, "k_max": k_max, "n_fit": int(keep.sum())}
    x, y = np.log(ranks[keep]), np.log(lam[keep])
    # log lambda_k = log c - alpha log k   (Agrawal et al. 2022, alpha-ReQ, Sec. 3: power-law decay)
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (intercept + slope * x)
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - residual @ residual / total if total > 0 else 1.0
    return {
        "alpha": float(-slope),
        "log_c": float(intercept),
        "r2": float(r2),
        "k_min": int(ranks[keep][0]),
        "k_max": int(ranks[keep][-1]),
        "n_fit": int(keep.sum()),
    }


def alpha_req(z, k_min: int = 1, k_max: int | None = None) -> float | None:
    """alpha-ReQ (Agrawal et al. 2022, NeurIPS, "alpha-ReQ: Assessing representation quality in self-supervised
    learning by measuring eigenspectrum decay"): the exponent alpha of a power law lambda_k ~ k^-alpha fitted to
    the eigenspectrum of the covariance of z.

    Fit: ordinary least squares in log-log over ranks k_min..k_max (default all non-zero eigenvalues; see
    `power_law_fit`). The paper reports alpha near 1 for good representations; a large alpha means a few
    directions dominate (towards collapse), a small one a flat, noise-like spectrum. None if < 3 ranks.
    """
    return power_law_fit(covariance_eigenvalues(z), k_min, k_max)["alpha"]


def vicreg_terms(z, gamma: float = 1.0, eps: float = 1e-4) -> dict:
    """VICReg variance and covariance terms (Bardes et al. 2022, ICLR, "VICReg", Eqs. 1-4) of one batch z.

    variance = mean_j max(0, gamma - sqrt(Var(z_j) + eps)) (0 when every dimension has std >= gamma);
    covariance = sum of squared off-diagonal entries of the covariance matrix / d (0 when decorrelated).
    Var and the covariance use the n - 1 denominator, as in the paper.
    """
    z = _matrix(z)
    n, d = z.shape
    centred = z - z.mean(axis=0)
    cov = centred.T @ centred / (n - 1)  # C(Z) = 1/(n-1) sum_i (z_i - mean)(z_i - mean)^T   (Bardes et al., Eq. 3)
    std = np.sqrt(np.diag(cov) + eps)  # S(z_j, eps) = sqrt(Var(z_j) + eps)   (Bardes et al., Eq. 1)
    variance = np.mean(np.maximum(0.0, gamma - std))  # v(Z) = 1/d sum_j max(0, gamma - S)   (Eq. 1)
    off = cov - np.diag(np.diag(cov))
    covariance = np.sum(off**2) / d  # c(Z) = 1/d sum_{i != j} C(Z)_ij^2   (Bardes et al., Eq. 4)
    return {"variance": float(variance), "covariance": float(covariance)}


def l2_normalise(z, eps: float = 1e-12) -> np.ndarray:
    """Return the rows of z scaled to unit length (zero rows stay zero)."""
    z = _matrix(z)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), eps)


def cosine_similarity_matrix(z) -> np.ndarray:
    """Return the n x n matrix of cosine similarities between the rows of z."""
    u = l2_normalise(z)
    return u @ u.T


def pairwise_cosine_counts(z, bins: np.ndarray, rows_per_block: int = 256) -> np.ndarray:
    """Return the histogram (np.histogram's counts over `bins`) of the cosine similarities of all pairs i < j
    of rows (self-pairs excluded).

    Block by block of rows, each against the rows after it only: 4096 patch tokens are 8.4M pairs, and the
    whole matrix with its upper-triangle indices took 0.5 s and ~270 MB a call (three int64 / float64 arrays of
    the pairs) where a block takes 8 MB. The same counts as histogramming every pair at once (test). Cosines are
    clipped to [-1, 1]: rounding puts aligned rows at 1 + 2e-16, outside a histogram that ends at 1, and a
    collapsed embedding's pairs would all have gone uncounted."""
    u = l2_normalise(z)
    counts = np.zeros(len(bins) - 1, dtype=np.int64)
    for start in range(0, len(u), rows_per_block):
        block = u[start : start + rows_per_block] @ u[start:].T  # rows start.. against rows start..n
        upper = np.arange(block.shape[1])[None, :] > np.arange(block.shape[0])[:, None]  # column j > row i
        counts += _histogram(np.clip(block[upper], -1.0, 1.0), bins)
    return counts


def _histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram's counts (bins [e_i, e_i+1), the last one closed; values outside the edges not counted) by
    one binary search per value: np.histogram sorts its input in chunks when given the edges, 2x slower."""
    nb = len(edges) - 1
    inside = values[(values >= edges[0]) & (values <= edges[-1])]
    index = np.searchsorted(edges, inside, side="right") - 1  # e[index] <= v < e[index + 1]
    return np.bincount(np.minimum(index, nb - 1), minlength=nb)  # v == e[-1] goes in the last bin


def mean_pairwise_cosine(z) -> float:
    """Mean cosine similarity over all pairs of distinct rows: ~0 for isotropic data, 1 when all rows align.

    Without the n x n matrix: for the unit rows u_i (zero rows stay zero), sum_{i<j} u_i . u_j =
    (||sum_i u_i||^2 - sum_i ||u_i||^2) / 2, so O(n d) time and memory instead of O(n^2): 4096 patch tokens
    took a 134 MB matrix and 0.3-1.4 s on 2 cores. Equal to the mean over the matrix's pairs to ~1e-12 (test)."""
    u = l2_normalise(z)
    n = len(u)
    pairs = (float(np.sum(u.sum(axis=0) ** 2)) - float(np.sum(u**2))) / 2
    return pairs / (n * (n - 1) / 2)


def per_dimension_std(z, normalise: bool = True) -> np.ndarray:
    """Standard deviation of each feature (n - 1 denominator), of L2-normalised rows when `normalise`.

    For normalised isotropic features every std is ~1/sqrt(d), the healthy reference (a fixed threshold such
    as 0.01 ignores d; see DESIGN.md, predecessor defect 2).
    """
    z = l2_normalise(z) if normalise else _matrix(z)
    return z.std(axis=0, ddof=1)


def norms(z) -> np.ndarray:
    """Return the L2 norm of each row of z."""
    return np.linalg.norm(_matrix(z), axis=1)


def lidar(z, groups, delta: float = 1e-4, eps: float = 1e-8) -> float:
    """LiDAR (Thilak et al. 2024, ICLR, "LiDAR: Sensing linear probing performance in joint embedding SSL
    architectures", Sec. 3): the effective rank of the LDA matrix, with groups as surrogate classes (in the
    paper: the augmented views of one clean image form one class).

    Sigma_b = 1/(C-1) sum_c (mu_c - mu)(mu_c - mu)^T, mu = mean of the class means;
    Sigma_w = 1/sum_c(n_c - 1) sum_c sum_i (z_i - mu_c)(z_i - mu_c)^T + delta I (equal groups of q views:
    the paper's 1/(n(q-1)));  Sigma_lidar = Sigma_w^-1/2 Sigma_b Sigma_w^-1/2;
    LiDAR = exp(-sum_i p_i log p_i), p_i = lambda_i / ||lambda||_1 + eps.  Defaults delta = 1e-4, eps = 1e-8
    (our reading of the paper's setup; both are arguments, and LiDAR barely moves with them while Sigma_w is
    well conditioned). At most C - 1 (Sigma_b has rank <= C - 1); ~k when the classes spread evenly along k
    directions. Needs >= 2 groups, each with >= 2 members.
    """
    z = _matrix(z)
    groups = np.asarray(groups)
    names, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(groups) != len(z) or len(names) < 2 or counts.min() < 2:
        raise ValueError("LiDAR needs one group per row, >= 2 groups and >= 2 rows per group")
    means = np.stack([z[inverse == c].mean(axis=0) for c in range(len(names))])
    between = (means - means.mean(axis=0)).T @ (means - means.mean(axis=0)) / (len(names) - 1)
    within_dev = z - means[inverse]
    within = within_dev.T @ within_dev / (len(z) - len(names)) + delta * np.eye(z.shape[1])
    w_val, w_vec = np.linalg.eigh(within)
    inv_sqrt = (w_vec / np.sqrt(w_val)) @ w_vec.T  # Sigma_w^-1/2 of the symmetric positive definite Sigma_w
    lam = np.linalg.eigvalsh(inv_sqrt @ between @ inv_sqrt)  # eigenvalues of Sigma_lidar (Thilak et al., Sec. 3)
    return _entropy_rank(lam, eps)


def knn_accuracy(z, labels, k: int = 5, metric: str = "cosine") -> float:
    """Leave-one-out k-nearest-neighbour accuracy (the kNN monitor of Wu et al. 2018 / DINO, without the
    temperature weighting): each row is classified by a majority vote of its k nearest other rows.

    metric: "cosine" (similarity of L2-normalised rows) or "euclidean". Ties between classes are broken by the
    larger summed similarity (negative distance) of their voters, so the nearer group wins.
    """
    z = _matrix(z)
    labels = np.asarray(labels)
    if len(labels) != len(z):
        raise ValueError(f"{len(labels)} labels for {len(z)} embeddings")
    if not 1 <= k < len(z):
        raise ValueError(f"k must be between 1 and n - 1 = {len(z) - 1}, got {k}")
    if metric == "cosine":
        sim = cosine_similarity_matrix(z)
    elif metric == "euclidean":
        sq = np.sum(z**2, axis=1)
        sim = -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0.0))
    else:
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    np.fill_diagonal(sim, -np.inf)  # leave one out: a row never votes for itself
    neighbours = np.argsort(-sim, axis=1, kind="stable")[:, :k]
    names, codes = np.unique(labels, return_inverse=True)
    correct = 0
    for i, row in enumerate(neighbours):
        votes = np.bincount(codes[row], minlength=len(names))
        strength = np.bincount(codes[row], weights=sim[i, row], minlength=len(names))
        tied = np.flatnonzero(votes == votes.max())
        winner = tied[np.argmax(strength[tied])]
        correct += winner == codes[i]
    return float(correct / len(z))


def nonfinite_reason(z, what: str) -> str | None:
    """Return "<what> hold k NaN or inf value(s) in r of n rows" (rows: the first axis), None when z is finite.

    The measures here refuse such input (`_matrix`); passes call this where embeddings enter and say
    "not computed: <reason>" instead of failing the whole section."""
    z = np.asarray(z, dtype=np.float64)
    bad = ~np.isfinite(z.reshape(len(z), -1)) if z.ndim else ~np.isfinite(z)
    count = int(bad.sum())
    if not count:
        return None
    rows = int(bad.any(axis=-1).sum()) if z.ndim else 1
    return f"{what} hold {count} NaN or inf value(s) in {rows} of {len(z) if z.ndim else 1} rows"


def wilson_interval(accuracy: float, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927, JASA 22:209) of a proportion `accuracy` measured on n trials; the
    default z gives 95 %. Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 and 1.

    For a leave-one-out accuracy the n predictions are not independent (every image is also a neighbour of
    others), so the interval is an approximation of the sampling error, not an exact one.

    Raises ValueError when `accuracy` is NaN, infinite or outside [0, 1]: the formula would clip such a value
    to the uninformative [0, 1] as if it had been measured. Callers check their embeddings first
    (`nonfinite_reason`) and report "not computed" instead.
    """
    if n <= 0:
        raise ValueError(f"an interval needs n >= 1 trials, got {n}")
    if not (np.isfinite(accuracy) and 0.0 <= accuracy <= 1.0):
        raise ValueError(f"a Wilson interval needs an accuracy in [0, 1], got {accuracy}")
    # centre = (p + z^2 / 2n) / (1 + z^2 / n);  half = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
    denominator = 1.0 + z * z / n
    centre = (accuracy + z * z / (2 * n)) / denominator
    half = z / denominator * np.sqrt(accuracy * (1.0 - accuracy) / n + z * z / (4 * n * n))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def chance_accuracy(labels) -> float:
    """Accuracy of always guessing the most frequent class: the chance level for kNN and probe accuracy."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    return float(counts.max() / counts.sum())


def linear_probe_accuracy(z, labels, folds: int = 5, seed: int = 0) -> dict:
    """Cross-validated accuracy of a linear probe: standardised features, then scikit-learn LogisticRegression
    (L2, C = 1, lbfgs), stratified K-fold with shuffling seeded by `seed`.

    folds is lowered to the smallest class count (stratification needs one sample per class and fold).
    Returns {accuracy, accuracy_std, folds, chance, reason}; accuracy is None with a reason when there are
    fewer than 2 classes or a class has fewer than 2 samples.
    """
    z = _matrix(z)
    labels = np.asarray(labels)
    names, counts = np.unique(labels, return_counts=True)
    result = {"accuracy": None, "accuracy_std": None, "folds": 0, "chance": chance_accuracy(labels), "reason": ""}
    if len(names) < 2 or counts.min() < 2:
        result["reason"] = (
            f"too few samples for a cross-validated probe: {len(names)} classes, "
            f"smallest has {counts.min()} sample(s); need >= 2 classes of >= 2"
        )
        return result
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = int(min(folds, counts.min()))
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    scores = cross_val_score(probe, z, labels, cv=StratifiedKFold(folds, shuffle=True, random_state=seed))
    result.update(accuracy=float(scores.mean()), accuracy_std=float(scores.std()), folds=folds)
    return result


def reference_embeddings(n: int, d: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Return seeded anchors of the same shape as the embeddings under study.

    "isotropic": i.i.d. N(0, 1) entries, the healthy reference (what no collapse looks like at this n and d;
    RankMe < d when n ~ d, by the Marchenko-Pastur spread of its singular values).
    "collapsed": every row a positive multiple (1 + 0.1 g_i) of one random direction: rank one, all rows
    aligned (complete collapse).
    """
    rng = np.random.default_rng(seed)
    isotropic = rng.standard_normal((n, d))
    direction = rng.standard_normal(d)
    scale = np.clip(1.0 + 0.1 * rng.standard_normal(n), 0.5, None)
    return {"isotropic": isotropic, "collapsed": scale[:, None] * direction[None, :]}


def embedding_health(z) -> dict:
    """Return the label-free health measures of z in one JSON-friendly dict (see each function's reference)."""
    z = _matrix(z)
    std = per_dimension_std(z, normalise=True)
    vic = vicreg_terms(z)
    return {
        "n": int(z.shape[0]),
        "d": int(z.shape[1]),
        "rankme": rankme(z),
        "alpha_req": alpha_req(z),
        "vicreg_variance": vic["variance"],
        "vicreg_covariance": vic["covariance"],
        "mean_pairwise_cosine": mean_pairwise_cosine(z),
        "normalised_std_mean": float(std.mean()),
        "isotropic_std": float(1.0 / np.sqrt(z.shape[1])),
        "norm_mean": float(norms(z).mean()),
    }
