"""Bicubic interpolation kernel and its Fourier transform (C-COT Eq. 3/5)."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.interpolation import cubic_kernel, cubic_kernel_fourier, interpolation_fourier


def test_kernel_is_interpolating():
    assert cubic_kernel(0.0) == pytest.approx(1.0)
    np.testing.assert_allclose(cubic_kernel([-2, -1, 1, 2, 2.5]), 0.0, atol=1e-12)
    t = np.linspace(-3, 3, 61)
    np.testing.assert_allclose(cubic_kernel(t), cubic_kernel(-t))


@pytest.mark.parametrize("a", [-0.75, -0.5])
def test_fourier_transform_matches_numerical_integral(a):
    t = np.linspace(-2, 2, 200001)
    b = cubic_kernel(t, a)
    for f in [0.0, 1e-5, 0.05, 0.25, 0.5, 0.9, 1.3, 2.2]:
        numeric = np.trapezoid(b * np.cos(2 * np.pi * f * t), t)
        assert cubic_kernel_fourier(f, a) == pytest.approx(numeric, abs=1e-9)


@pytest.mark.parametrize("num_cells,centering", [(9, True), (9, False), (12, True)])
def test_interpolation_coefficients_match_dft_of_sampled_kernel(num_cells, centering):
    """Interpolating a unit impulse at cell 0 gives J(t) = b((t - t0) / c); its Fourier-series
    coefficients from a fine numerical DFT over one period must equal interpolation_fourier."""
    period = 1.0
    cell = period / num_cells
    t0 = cell / 2 if centering else 0.0
    m = 4096
    t = np.arange(m) * period / m
    # periodic summation of the shifted, scaled kernel
    d = (t - t0 + period / 2) % period - period / 2
    j = cubic_kernel(d / cell)
    coeffs = np.fft.fft(j) / m
    k = np.arange(-(num_cells // 2), num_cells // 2 + 1)
    numeric = coeffs[k % m]
    analytic = interpolation_fourier(num_cells, k, -0.75, centering)
    np.testing.assert_allclose(analytic, numeric, atol=2e-5)


def test_offset_shifts_phase():
    k = np.arange(-4, 5)
    base = interpolation_fourier(9, k, centering=False)
    shifted = interpolation_fourier(9, k, centering=False, offset_frac=0.1)
    np.testing.assert_allclose(shifted, base * np.exp(-2j * np.pi * k * 0.1), atol=1e-6)
    with pytest.raises(ValueError):
        interpolation_fourier(0, k)
