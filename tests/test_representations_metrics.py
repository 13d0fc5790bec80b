"""Known-answer tests of the embedding measures (RankMe, alpha-ReQ, VICReg terms, LiDAR, kNN, probe)."""

import numpy as np
import pytest

from hjepa_report.analysis.representations import metrics


def _with_spectrum(s, n, seed=0):
    """Return an n x len(s) matrix whose centred singular values are exactly s (columns orthogonal to ones)."""
    rng = np.random.default_rng(seed)
    d = len(s)
    a = rng.standard_normal((n, d))
    a -= a.mean(axis=0)  # orthogonal to the ones vector, so centring changes nothing
    u, _ = np.linalg.qr(a)
    v, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return u @ np.diag(s) @ v.T


@pytest.mark.parametrize("r", [1, 3, 10])
def test_rankme_of_identity_like_matrix_is_its_rank(r):
    z = np.zeros((40, 16))
    z[:r, :r] = np.eye(r)
    assert metrics.rankme(z) == pytest.approx(r, abs=1e-3)


def test_rankme_matches_the_formula_on_a_known_spectrum():
    s = np.array([3.0, 2.0, 1.0, 0.0])
    p = s / s.sum() + 1e-7
    expected = np.exp(-np.sum(p * np.log(p)))  # Garrido et al. 2023, Eq. 1
    assert metrics.rankme(_with_spectrum(s, 30)) == pytest.approx(expected, rel=1e-6)


def test_rankme_of_rank_one_and_isotropic_gaussian():
    rng = np.random.default_rng(1)
    assert metrics.rankme(np.outer(rng.standard_normal(500), rng.standard_normal(32))) == pytest.approx(1.0, abs=1e-3)
    d = 16
    assert metrics.rankme(rng.standard_normal((20000, d))) > 0.995 * d


def test_rankme_is_scale_invariant_and_zero_matrix_has_no_rank():
    z = np.random.default_rng(2).standard_normal((50, 8))
    assert metrics.rankme(1000 * z) == pytest.approx(metrics.rankme(z), rel=1e-9)
    assert metrics.rankme(np.zeros((5, 4))) == 0.0


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_alpha_req_recovers_an_exact_power_law(alpha):
    k = np.arange(1, 33)
    z = _with_spectrum(k ** (-alpha / 2), n=100)  # singular values k^(-alpha/2): eigenvalues k^-alpha
    assert metrics.alpha_req(z) == pytest.approx(alpha, abs=1e-6)
    fit = metrics.power_law_fit(k**-alpha, k_min=2, k_max=20)
    assert (fit["alpha"], fit["k_min"], fit["k_max"], fit["n_fit"]) == (pytest.approx(alpha), 2, 20, 19)
    assert fit["r2"] == pytest.approx(1.0)


def test_alpha_req_on_sampled_gaussian_with_power_law_covariance():
    rng = np.random.default_rng(3)
    d, alpha = 32, 1.0
    z = rng.standard_normal((20000, d)) * np.arange(1, d + 1) ** (-alpha / 2)
    assert metrics.alpha_req(z) == pytest.approx(alpha, abs=0.05)


def test_power_law_fit_drops_numerically_zero_eigenvalues():
    lam = np.r_[np.arange(1, 11) ** -1.0, np.zeros(5)]
    fit = metrics.power_law_fit(lam)
    assert fit["n_fit"] == 10 and fit["alpha"] == pytest.approx(1.0)
    assert metrics.power_law_fit([1.0, 0.0, 0.0])["alpha"] is None


def test_vicreg_terms_known_answers():
    x = np.array([1.0, -1.0, 1.0, -1.0])  # unbiased variance 4/3
    var = 4.0 / 3.0
    z = np.stack([x, x, 3 * x], axis=1)  # covariances: var, 3 var, 3 var off the diagonal
    out = metrics.vicreg_terms(z, gamma=1.0, eps=0.0)
    std = np.sqrt([var, var, 9 * var])
    assert out["variance"] == pytest.approx(np.mean(np.maximum(0, 1 - std)))
    assert out["covariance"] == pytest.approx(2 * (var**2 + 2 * (3 * var) ** 2) / 3)
    collapsed = metrics.vicreg_terms(np.ones((10, 4)), gamma=1.0, eps=1e-4)
    assert collapsed["variance"] == pytest.approx(1 - 1e-2) and collapsed["covariance"] == 0.0


def test_pairwise_cosine_excludes_self_pairs():
    z = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    assert metrics.mean_pairwise_cosine(z) == pytest.approx(1 / 3)
    assert metrics.pairwise_cosine_counts(z, np.array([-0.5, 0.5, 1.5])).tolist() == [2, 1]


def test_pairwise_cosine_counts_equal_the_histogram_of_every_pair():
    rng = np.random.default_rng(1)
    bins = np.linspace(-1, 1, 41)
    for z in (rng.standard_normal((700, 16)), rng.standard_normal((300, 4)) + 2.0, np.ones((40, 3))):
        sim = metrics.cosine_similarity_matrix(z)
        every_pair = np.histogram(np.clip(sim[np.triu_indices(len(z), k=1)], -1, 1), bins=bins)[0]
        for block in (1, 7, 256, 1000):  # blocks that do and do not divide the rows
            assert metrics.pairwise_cosine_counts(z, bins, block).tolist() == every_pair.tolist()
        assert every_pair.sum() == len(z) * (len(z) - 1) // 2  # every pair counted, aligned rows (1 + eps) too
    assert metrics.pairwise_cosine_counts(np.ones((40, 3)), bins)[-1] == 40 * 39 // 2  # collapsed: all in the top bin
    edges = np.array([-0.5, 0.0, 0.25, 0.5])  # values on every edge and outside them, as np.histogram counts them
    values = np.concatenate([edges, [-0.7, 0.1, 0.3, 0.6], rng.uniform(-1, 1, 1000)])
    assert metrics._histogram(values, edges).tolist() == np.histogram(values, edges)[0].tolist()


def test_mean_pairwise_cosine_equals_the_mean_over_every_pair_of_the_matrix():
    rng = np.random.default_rng(0)
    for z in (rng.standard_normal((300, 16)), rng.standard_normal((200, 8)) + 3.0, np.ones((50, 4))):
        z[7] = 0.0  # a zero row: cosine 0 with every other row
        sim = metrics.cosine_similarity_matrix(z)
        by_pairs = sim[np.triu_indices(len(z), k=1)].mean()
        assert metrics.mean_pairwise_cosine(z) == pytest.approx(by_pairs, rel=1e-12, abs=1e-14)
    with pytest.raises(ValueError, match="n >= 2"):
        metrics.mean_pairwise_cosine(np.ones((1, 4)))


def test_per_dimension_std_and_norms():
    z = np.random.default_rng(4).standard_normal((20000, 64))
    assert metrics.per_dimension_std(z).mean() == pytest.approx(1 / 8, rel=0.02)
    assert metrics.norms(np.array([[3.0, 4.0], [0.0, 1.0]])) == pytest.approx([5.0, 1.0])


def _separated_classes(k, d, per_class, noise, seed=0):
    """Return 2k classes at +-5 e_j (j < k) with isotropic noise, and their group labels."""
    rng = np.random.default_rng(seed)
    centres = np.concatenate([5 * np.eye(d)[:k], -5 * np.eye(d)[:k]])
    groups = np.repeat(np.arange(2 * k), per_class)
    return centres[groups] + noise * rng.standard_normal((len(groups), d)), groups


@pytest.mark.parametrize("k", [1, 3, 6])
def test_lidar_counts_the_separated_directions(k):
    z, groups = _separated_classes(k, d=16, per_class=400, noise=0.0)
    assert metrics.lidar(z, groups) == pytest.approx(k, abs=1e-3)  # Sigma_w = delta I: exactly k equal eigenvalues
    z, groups = _separated_classes(k, d=16, per_class=400, noise=1.0)
    assert metrics.lidar(z, groups) == pytest.approx(k, rel=0.05)


def test_lidar_is_invariant_to_linear_maps_and_bounded_by_groups_minus_one():
    rng = np.random.default_rng(5)
    z, groups = _separated_classes(3, d=8, per_class=200, noise=1.0)
    a = rng.standard_normal((8, 8)) + 3 * np.eye(8)
    assert metrics.lidar(z @ a, groups) == pytest.approx(metrics.lidar(z, groups), rel=1e-3)
    noise = rng.standard_normal((300, 8))
    assert metrics.lidar(noise, rng.integers(0, 2, 300)) == pytest.approx(1.0, abs=1e-3)  # two groups: rank one
    assert metrics.lidar(noise, rng.integers(0, 4, 300)) <= 3.0 + 1e-6
    with pytest.raises(ValueError):
        metrics.lidar(noise[:3], [0, 1, 1])


def test_knn_accuracy_separable_random_and_tie_break():
    rng = np.random.default_rng(6)
    z, labels = _separated_classes(2, d=8, per_class=30, noise=0.5)
    assert metrics.knn_accuracy(z, labels, k=5) == 1.0
    assert metrics.knn_accuracy(z, labels, k=5, metric="euclidean") == 1.0
    noise, random_labels = rng.standard_normal((600, 16)), rng.integers(0, 4, 600)
    assert abs(metrics.knn_accuracy(noise, random_labels, k=5) - 0.25) < 0.07
    # row 0's two neighbours are one "a" (nearer) and one "b": the tie goes to the nearer group
    z = np.array([[1.0, 0.0], [0.9, 0.1], [0.8, 0.6], [-1.0, 0.0]])
    assert metrics.knn_accuracy(z[:3], ["a", "a", "b"], k=2) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        metrics.knn_accuracy(z, ["a"] * 4, k=4)


def test_wilson_interval_known_answers():
    # closed forms at the ends: 0 of n -> upper z^2 / (n + z^2); n of n -> lower n / (n + z^2); z = 1.96
    assert metrics.wilson_interval(0.0, 10) == pytest.approx((0.0, 3.8415 / 13.8415), abs=1e-4)
    assert metrics.wilson_interval(1.0, 10) == pytest.approx((10 / 13.8415, 1.0), abs=1e-4)
    # 5 of 10: centre 0.5, half-width z / (1 + z^2/n) * sqrt(0.025 + z^2 / 400) = 0.2634
    assert metrics.wilson_interval(0.5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    low, high = metrics.wilson_interval(0.3, 10**6)  # large n: the normal approximation p +- z sqrt(p(1-p)/n)
    assert (low, high) == pytest.approx((0.3 - 1.96 * np.sqrt(0.21 / 1e6), 0.3 + 1.96 * np.sqrt(0.21 / 1e6)), abs=2e-6)
    assert (
        metrics.wilson_interval(0.3, 256)[1] - metrics.wilson_interval(0.3, 256)[0]
        < metrics.wilson_interval(0.3, 64)[1] - metrics.wilson_interval(0.3, 64)[0]
    )
    with pytest.raises(ValueError):
        metrics.wilson_interval(0.5, 0)


def test_linear_probe_separable_random_and_too_few():
    rng = np.random.default_rng(7)
    z, labels = _separated_classes(2, d=8, per_class=20, noise=0.5)
    out = metrics.linear_probe_accuracy(z, labels, folds=5, seed=0)
    assert out["accuracy"] == 1.0 and out["folds"] == 5 and out["chance"] == 0.25
    noise, coin = rng.standard_normal((80, 10)), np.repeat([0, 1], 40)
    assert metrics.linear_probe_accuracy(noise, coin, folds=5)["accuracy"] < 0.7
    few = metrics.linear_probe_accuracy(z[:41], labels[:41], folds=5)  # last class has 1 sample
    assert few["accuracy"] is None and "too few" in few["reason"]
    assert metrics.linear_probe_accuracy(z[:23], labels[:23], folds=5)["folds"] == 3  # class 1 has 3 samples


def test_reference_anchors_span_healthy_to_collapsed():
    ref = metrics.reference_embeddings(400, 32, seed=0)
    assert ref["isotropic"].shape == ref["collapsed"].shape == (400, 32)
    healthy, collapsed = metrics.embedding_health(ref["isotropic"]), metrics.embedding_health(ref["collapsed"])
    assert healthy["rankme"] > 28 and collapsed["rankme"] == pytest.approx(1.0, abs=1e-3)
    assert abs(healthy["mean_pairwise_cosine"]) < 0.02 and collapsed["mean_pairwise_cosine"] == pytest.approx(1.0)
    assert healthy["vicreg_variance"] < 0.02 and collapsed["vicreg_variance"] > 0.8
    assert np.array_equal(metrics.reference_embeddings(400, 32, seed=0)["isotropic"], ref["isotropic"])


def test_bad_input_is_a_value_error():
    with pytest.raises(ValueError):
        metrics.rankme(np.ones(5))
    with pytest.raises(ValueError):
        metrics.rankme(np.array([[np.nan, 1.0], [1.0, 1.0]]))
