"""The curve smoother is TensorBoard's debiased EMA; downsampling keeps every bad point."""

import numpy as np
import pytest

from hjepa_report.analysis.smoothing import debiased_ema, downsample_for_drawing


def test_debiased_ema_matches_hand_computation():
    w = 0.6
    x = np.array([1.0, 2.0, 4.0])
    # s1 = 0.4*1 = 0.4 -> 0.4/(1-0.6) = 1; s2 = 0.6*0.4 + 0.4*2 = 1.04 -> 1.04/(1-0.36) = 1.625
    # s3 = 0.6*1.04 + 0.4*4 = 2.224 -> 2.224/(1-0.216) = 2.836734...
    np.testing.assert_allclose(debiased_ema(x, w), [1.0, 1.625, 2.224 / 0.784])


def test_first_point_is_not_dragged_to_zero_and_curve_not_shifted():
    x = np.full(50, 5.0)
    x[25:] = 1.0
    s = debiased_ema(x, 0.9)
    assert s[0] == pytest.approx(5.0)
    # a step down starts moving the smoothed curve at the step itself (no lag of half a window before it)
    assert s[24] == pytest.approx(5.0) and s[25] < 5.0


def test_non_finite_points_pass_through_and_do_not_poison_the_average():
    x = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    s = debiased_ema(x, 0.5)
    assert np.isnan(s[1]) and np.isinf(s[3])
    assert np.isfinite(s[[0, 2, 4]]).all()
    np.testing.assert_allclose(s[[0, 2, 4]], debiased_ema(np.array([1.0, 3.0, 5.0]), 0.5))


def test_weight_zero_and_constant_series_are_identity():
    x = np.array([3.0, 1.0, 2.0])
    np.testing.assert_array_equal(debiased_ema(x, 0.0), x)
    np.testing.assert_array_equal(debiased_ema(np.full(4, 2.0), 0.9), np.full(4, 2.0))
    with pytest.raises(ValueError):
        debiased_ema(x, 1.0)


def test_downsample_keeps_ends_and_every_non_finite_point():
    steps = np.arange(10_000, dtype=float)
    values = np.sin(steps)
    values[[17, 4321, 9998]] = [np.nan, np.inf, -np.inf]
    s, v = downsample_for_drawing(steps, values, max_points=500)
    assert len(s) <= 503 and s[0] == 0 and s[-1] == 9999
    assert {17, 4321, 9998} <= set(s.astype(int))
