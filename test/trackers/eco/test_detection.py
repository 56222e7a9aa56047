"""Score maximisation: grid search and Newton on the Fourier series (C-COT Sec. 3.4)."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.detection import evaluate_series, find_peak, newton_refine
from cfvgg_ros.trackers.eco.fourier import cfft2


def _gaussian_series(n, cy, cx, sigma=1.7):
    """Fourier coefficients (half spectrum) of a periodic Gaussian bump centred at (cy, cx) cells."""
    ky = np.arange(n) - n // 2
    kx = np.arange(n // 2 + 1)
    fy = np.exp(-2 * (np.pi * sigma * ky / n) ** 2) * np.exp(-2j * np.pi * ky * cy / n)
    fx = np.exp(-2 * (np.pi * sigma * kx / n) ** 2) * np.exp(-2j * np.pi * kx * cx / n)
    return (fy[:, None] * fx[None, :]) / n


def test_newton_finds_the_maximum_to_1e6():
    n = 15
    cy, cx = 2.3172, -3.6481
    sf = _gaussian_series(n, cy, cx)
    y, x, val = newton_refine(sf, round(cy), round(cx), (n, n), iterations=10)
    assert y == pytest.approx(cy, abs=1e-6)
    assert x == pytest.approx(cx, abs=1e-6)
    v, grad, hess = evaluate_series(sf, cy, cx, (n, n))
    assert val == pytest.approx(v, rel=1e-9)
    np.testing.assert_allclose(grad, 0, atol=1e-9)
    assert np.all(np.linalg.eigvalsh(hess) < 0)


def test_series_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    sf = cfft2(rng.standard_normal((9, 9)).astype(np.float32)).astype(np.complex128) / 81
    v, g, h = evaluate_series(sf, 1.3, -0.4, (9, 9))
    e = 1e-5
    vy = evaluate_series(sf, 1.3 + e, -0.4, (9, 9))[0]
    vx = evaluate_series(sf, 1.3, -0.4 + e, (9, 9))[0]
    assert g[0] == pytest.approx((vy - v) / e, abs=1e-3)
    assert g[1] == pytest.approx((vx - v) / e, abs=1e-3)
    gy = evaluate_series(sf, 1.3 + e, -0.4, (9, 9))[1]
    np.testing.assert_allclose(h[:, 0], (gy - g) / e, atol=1e-3)


def test_find_peak_over_scales_and_wraps():
    n = 15
    scores = np.stack([0.5 * _gaussian_series(n, 1.0, 1.0), _gaussian_series(n, -4.4, 5.2)])
    peak = find_peak(scores, (n, n), newton_iterations=8)
    assert peak.scale_index == 1
    assert peak.y == pytest.approx(-4.4, abs=1e-5)
    assert peak.x == pytest.approx(5.2, abs=1e-5)
    assert peak.value == pytest.approx(evaluate_series(scores[1], -4.4, 5.2, (n, n))[0], rel=1e-6)
