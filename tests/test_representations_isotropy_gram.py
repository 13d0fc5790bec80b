"""Known answers for the across-checkpoint measures of issue 15: LeJEPA's SIGReg isotropy statistic, the
patch-token Gram drift, and the Spearman agreement of label-free measures with kNN accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from hjepa_report.analysis.representations import checkpoints
from hjepa_report.analysis.representations.agreement import agreement, spearman
from hjepa_report.analysis.representations.gram import gram_drift, gram_matrices
from hjepa_report.analysis.representations.isotropy import isotropy, knots, random_directions, sigreg_statistic


def test_sigreg_statistic_of_standard_normal_samples_is_its_expected_value():
    # E[n |phi_n(t) - phi(t)|^2] = 1 - exp(-t^2) for N(0, 1) samples, so E[T] = sum_k w_k (1 - exp(-t_k^2))
    t, _, weights = knots()
    expected = float(weights @ (1 - np.exp(-(t**2))))
    z = np.random.default_rng(0).standard_normal((1000, 512))  # 256 nearly independent directions in 512-d
    assert sigreg_statistic(z, random_directions(512, 10)) == pytest.approx(expected, rel=0.06)


def test_sigreg_statistic_equals_the_direct_cosine_and_sine_sums():
    rng = np.random.default_rng(1)
    z, directions = 1.5 * rng.standard_normal((1500, 32)), random_directions(32, 2)  # two 1024-row chunks
    t, phi, weights = knots()
    xt = (z @ directions)[:, :, None] * t  # the integrand evaluated directly: [n, M, knots]
    err = (np.cos(xt).mean(0) - phi) ** 2 + np.sin(xt).mean(0) ** 2
    assert sigreg_statistic(z, directions) == pytest.approx(float((err @ weights * len(z)).mean()), rel=1e-12)


def test_isotropy_is_near_its_gaussian_reference_and_far_above_it_when_collapsed():
    rng = np.random.default_rng(0)
    gaussian = 5.0 * rng.standard_normal((3000, 256)) + 2.0  # any global scale and offset
    found = isotropy(gaussian, seed=3)
    assert found["statistic"] == pytest.approx(found["gaussian_reference"], rel=0.15)
    low_rank = rng.standard_normal((3000, 3)) @ rng.standard_normal((3, 256))
    assert isotropy(low_rank, seed=3)["statistic"] > 20 * found["gaussian_reference"]
    stretched = rng.standard_normal((3000, 256)) * np.r_[np.full(4, 6.0), np.ones(252)]  # 4 dominant directions
    assert isotropy(stretched, seed=3)["statistic"] > 1.5 * found["gaussian_reference"]  # not per-dim scaled


def test_gram_drift_is_zero_for_the_same_structure_and_grows_with_change():
    rng = np.random.default_rng(0)
    tokens = rng.standard_normal((3, 10, 8))
    rotation, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    same = gram_matrices(tokens)
    assert gram_drift(same, same) == 0.0
    rescaled = tokens @ rotation * rng.uniform(0.5, 2.0, (3, 10, 1))  # rotated features, per-token scale
    assert gram_drift(gram_matrices(rescaled), same) == pytest.approx(0.0, abs=1e-6)
    small = gram_drift(gram_matrices(tokens + 0.1 * rng.standard_normal(tokens.shape)), same)
    large = gram_drift(gram_matrices(rng.standard_normal(tokens.shape)), same)
    assert 0 < small < large
    assert np.allclose(np.diagonal(same, axis1=1, axis2=2), 1.0, atol=1e-6)


def test_spearman_known_values_and_degenerate_cases():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)  # 1 - 6 * 4 / (5 * 24)
    assert spearman([1, 2], [1, 2]) is None and spearman([1, 1, 1], [1, 2, 3]) is None


def _rows():
    knn = [0.2, 0.4, 0.5, 0.7, 0.8]
    return [
        {
            "name": f"c{i}",
            "epoch": i,
            "knn_accuracy": k,
            "rankme": 10 - i,  # falls while kNN rises: disagrees
            "isotropy": 5.0 - i,  # lower is better and falls: agrees
            "alpha_req": 1.0,
            "prediction_cosine": 0.5,  # constant: no rho
        }
        for i, k in enumerate(knn)
    ]


def test_agreement_orients_measures_and_the_best_rule_uses_those_that_agree():
    found = agreement(_rows())
    assert found["isotropy"]["rho"] == pytest.approx(1.0) and found["isotropy"]["agrees"]
    assert found["rankme"]["rho"] == pytest.approx(-1.0) and not found["rankme"]["agrees"]
    assert found["prediction_cosine"]["rho"] is None
    measures = checkpoints.agreeing_measures(found)
    assert measures == {"knn_accuracy": -1, "isotropy": 1}
    assert checkpoints.best_checkpoint(_rows(), measures) == "c4"
    assert "isotropy" in checkpoints.best_rule(measures) and "rankme" not in checkpoints.best_rule(measures)
    assert agreement([dict(r, knn_accuracy=None) for r in _rows()]) == {}
    assert checkpoints.agreeing_measures(agreement(_rows()[:3])) is None  # too few checkpoints to tell
