"""Fourier-series helpers on ECO's half spectrum.

A real feature map or filter on a period of ``N`` cells is stored by its Fourier coefficients
``c[ky, kx]`` for ``ky = -Ky..Ky`` (rows, centred) and ``kx = 0..Kx`` (columns, the other half
follows from Hermitian symmetry ``c[-k] = conj(c[k])``), i.e. arrays ``(..., 2Ky+1, Kx+1)``.
The function they represent is ``f(y, x) = sum_k c[k] exp(i 2 pi (ky y / Ny + kx x / Nx))`` on
the grid scale where one sample is one cell (C-COT Sec. 3, Eq. 2). Even-sized inputs get their
Nyquist coefficient split evenly between ``+N/2`` and ``-N/2`` so the series stays real and
reproduces the samples.
"""

from __future__ import annotations

import numpy as np
from scipy import fft as sp_fft


def half_spectrum_shape(size_hw) -> tuple[int, int]:
    """Shape ``(2Ky+1, Kx+1)`` of the half spectrum of an ``(H, W)`` map (``K = floor(N/2)``)."""
    h, w = (int(v) for v in size_hw)
    return 2 * (h // 2) + 1, w // 2 + 1


def cfft2(x: np.ndarray) -> np.ndarray:
    """Centred half-spectrum DFT of real maps ``x`` (..., H, W) -> complex64 (..., 2Ky+1, Kx+1)."""
    x = np.asarray(x, dtype=np.float32)
    if x.ndim < 2:
        raise ValueError(f"cfft2 needs at least 2-D input, got shape {x.shape}")
    h, w = x.shape[-2:]
    xf = sp_fft.rfft2(x, axes=(-2, -1), workers=1)
    xf = np.fft.fftshift(xf, axes=-2)
    if w % 2 == 0:
        xf[..., -1] *= 0.5
    if h % 2 == 0:
        xf[..., 0, :] *= 0.5
        xf = np.concatenate([xf, xf[..., :1, :]], axis=-2)
    return xf.astype(np.complex64, copy=False)


def frequencies(shape_half) -> tuple[np.ndarray, np.ndarray]:
    """Integer frequencies ``ky`` (2Ky+1,) and ``kx`` (Kx+1,) of a half spectrum of shape ``shape_half``."""
    ny, nx1 = (int(v) for v in shape_half[-2:])
    if ny % 2 == 0:
        raise ValueError(f"half spectrum must have an odd number of rows, got {ny}")
    ky = np.arange(ny) - (ny - 1) // 2
    kx = np.arange(nx1)
    return ky, kx


def full_spectrum(xf: np.ndarray) -> np.ndarray:
    """Both halves: (..., 2Ky+1, Kx+1) -> (..., 2Ky+1, 2Kx+1) with columns ``kx = -Kx..Kx``."""
    neg = np.conj(xf[..., ::-1, :0:-1])
    return np.concatenate([neg, xf], axis=-1)


def hermitian_weights(shape_half, dtype=np.float32) -> np.ndarray:
    """Weights (..., Kx+1) that turn a half-spectrum sum into the full-spectrum sum: 1 for
    ``kx = 0``, 2 elsewhere (real part of the sum)."""
    w = np.full(int(shape_half[-1]), 2.0, dtype=dtype)
    w[0] = 1.0
    return w


def inner_product(a: np.ndarray, b: np.ndarray) -> float:
    """Real inner product ``Re <a, b>`` of two Hermitian-symmetric spectra stored as half spectra
    (full-spectrum sum: twice the half minus the ``kx = 0`` column)."""
    s = np.vdot(a, b).real
    s0 = np.vdot(a[..., 0], b[..., 0]).real
    return float(2.0 * s - s0)


def symmetrize_filter(hf: np.ndarray) -> np.ndarray:
    """Make the ``kx = 0`` column Hermitian (``c[-ky, 0] = conj(c[ky, 0])``), in place."""
    col = hf[..., :, 0]
    ny = col.shape[-1]
    c = (ny - 1) // 2
    upper = np.conj(col[..., :c][..., ::-1])
    col[..., c + 1 :] = 0.5 * (col[..., c + 1 :] + upper)
    col[..., :c] = np.conj(col[..., c + 1 :][..., ::-1])
    col[..., c] = col[..., c].real
    return hf


def sample_fs(xf: np.ndarray, grid_hw=None) -> np.ndarray:
    """Evaluate the Fourier series ``xf`` (..., 2Ky+1, Kx+1) on a ``grid_hw`` grid of the period
    (default the minimal odd grid ``(2Ky+1, 2Kx+1)``): sample ``(m, n)`` is ``f(m Ny/Gy, n Nx/Gx)``
    in cells. Returns float32 (..., Gy, Gx)."""
    ny, nx1 = xf.shape[-2:]
    kyc = (ny - 1) // 2
    kxc = nx1 - 1
    gy, gx = (ny, 2 * kxc + 1) if grid_hw is None else (int(grid_hw[0]), int(grid_hw[1]))
    if gy < ny or gx < 2 * kxc + 1:
        raise ValueError(f"grid {(gy, gx)} is smaller than the spectrum support {(ny, 2 * kxc + 1)}")
    buf = np.zeros(xf.shape[:-2] + (gy, gx // 2 + 1), dtype=np.complex64)
    buf[..., : kyc + 1, :nx1] = xf[..., kyc:, :]
    if kyc:
        buf[..., gy - kyc :, :nx1] = xf[..., :kyc, :]
    out = sp_fft.irfft2(buf, s=(gy, gx), axes=(-2, -1), workers=1)
    out *= gy * gx
    return out.astype(np.float32, copy=False)


def shift_sample(xf: np.ndarray, shift_frac_yx, ky: np.ndarray, kx: np.ndarray) -> np.ndarray:
    """Translate the function by ``-shift`` (``shift`` = fraction of the period, y and x):
    the result ``g(t) = f(t + shift)``, i.e. ``c[k] * exp(i 2 pi k . shift)``."""
    sy = np.exp(2j * np.pi * ky * float(shift_frac_yx[0])).astype(np.complex64)
    sx = np.exp(2j * np.pi * kx * float(shift_frac_yx[1])).astype(np.complex64)
    return xf * (sy[:, None] * sx[None, :])
