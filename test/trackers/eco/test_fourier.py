"""Half-spectrum Fourier helpers."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.fourier import (
    cfft2,
    frequencies,
    full_spectrum,
    half_spectrum_shape,
    inner_product,
    sample_fs,
    shift_sample,
    symmetrize_filter,
)


@pytest.mark.parametrize("shape", [(7, 9), (8, 9), (7, 10), (8, 6)])
def test_cfft2_series_reproduces_samples(shape):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2,) + shape).astype(np.float32)
    xf = cfft2(x)
    assert xf.shape == (2,) + half_spectrum_shape(shape)
    # evaluating the series on the original grid (scaled by 1/N as an unnormalised DFT)
    ny, nx1 = xf.shape[-2:]
    ky, kx = frequencies(xf.shape)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    full = full_spectrum(xf[0])
    kxf = np.arange(-(nx1 - 1), nx1)
    phase = np.exp(
        2j * np.pi * (ky[:, None, None, None] * yy / shape[0] + kxf[None, :, None, None] * xx / shape[1])
    )
    values = np.einsum("ab,abij->ij", full, phase) / (shape[0] * shape[1])
    np.testing.assert_allclose(values.real, x[0], atol=1e-4)
    np.testing.assert_allclose(values.imag, 0, atol=1e-4)


def test_sample_fs_evaluates_series_on_a_finer_grid():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((9, 11)).astype(np.float32)
    xf = cfft2(x) / x.size
    np.testing.assert_allclose(sample_fs(xf), x, atol=1e-5)
    fine = sample_fs(xf, (18, 33))
    np.testing.assert_allclose(fine[::2, ::3], x, atol=1e-5)
    with pytest.raises(ValueError):
        sample_fs(xf, (5, 5))


def test_inner_product_is_parseval():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((3, 9, 9)).astype(np.float32)
    b = rng.standard_normal((3, 9, 9)).astype(np.float32)
    af, bf = cfft2(a), cfft2(b)
    assert inner_product(af, bf) == pytest.approx(np.sum(a * b) * 81, rel=1e-4)
    assert inner_product(af, bf) == pytest.approx(
        np.vdot(full_spectrum(af), full_spectrum(bf)).real, rel=1e-5
    )


def test_shift_sample_translates():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 9)).astype(np.float32)
    xf = cfft2(x) / x.size
    ky, kx = frequencies(xf.shape)
    shifted = shift_sample(xf, (2 / 9, -1 / 9), ky, kx)
    np.testing.assert_allclose(sample_fs(shifted), np.roll(x, (-2, 1), axis=(0, 1)), atol=1e-5)


def test_symmetrize_filter_makes_centre_column_hermitian():
    rng = np.random.default_rng(5)
    hf = (rng.standard_normal((2, 7, 4)) + 1j * rng.standard_normal((2, 7, 4))).astype(np.complex64)
    symmetrize_filter(hf)
    col = hf[:, :, 0]
    np.testing.assert_allclose(col, np.conj(col[:, ::-1]), atol=1e-6)
