"""Continuous-domain interpolation operator of C-COT (Eq. 3) with the bicubic kernel.

The interpolated feature ``J(t) = sum_n x[n] b((t - t_n) / c)`` of cells of width ``c`` has the
Fourier coefficients ``X[k] * B(k c / T) * c / T * exp(-i 2 pi k t_0 / T)``, where ``B`` is the
continuous Fourier transform of the kernel ``b`` and ``t_0`` the position of cell 0 (C-COT
Eq. 5). :func:`interpolation_fourier` returns those per-frequency factors.
"""

from __future__ import annotations

import numpy as np


def cubic_kernel(t, a: float = -0.75) -> np.ndarray:
    """Keys' bicubic kernel ``b(t)`` (support ``|t| < 2``; ``a = -0.75`` in ECO)."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    out = np.zeros_like(t)
    inner = t <= 1
    outer = (t > 1) & (t < 2)
    ti, to = t[inner], t[outer]
    out[inner] = (a + 2) * ti**3 - (a + 3) * ti**2 + 1
    out[outer] = a * to**3 - 5 * a * to**2 + 8 * a * to - 4 * a
    return out


def cubic_kernel_fourier(f, a: float = -0.75) -> np.ndarray:
    """Continuous Fourier transform ``B(f) = int b(t) exp(-i 2 pi f t) dt`` of :func:`cubic_kernel`
    (real, since ``b`` is even), ``f`` in cycles per kernel unit.

    ``b`` is C1 and piecewise cubic with knots at 0, +-1, +-2, so ``B(w)`` (``w = 2 pi f``) is the
    sum over knots of the jumps of ``b''`` and ``b'''`` times ``exp(-i w t_k) / (i w)^3`` and
    ``/ (i w)^4``:  ``B = [12(a+2) - 24 cos w - 12 a cos 2w] / w^4 - 2[(8a+6) sin w + 2a sin 2w] / w^3``.
    """
    f = np.asarray(f, dtype=np.float64)
    w = 2.0 * np.pi * f
    out = np.ones_like(w)
    nz = np.abs(w) > 1e-3
    wn = w[nz]
    out[nz] = (12 * (a + 2) - 24 * np.cos(wn) - 12 * a * np.cos(2 * wn)) / wn**4 - 2 * (
        (8 * a + 6) * np.sin(wn) + 2 * a * np.sin(2 * wn)
    ) / wn**3
    small = ~nz
    if np.any(small):  # Taylor expansion about 0 (the closed form cancels badly there)
        ws = w[small]
        # B(w) = int b(t) (1 - w^2 t^2 / 2 + ...) dt; second moment of b is computed exactly.
        m2 = _cubic_second_moment(a)
        out[small] = 1.0 - 0.5 * m2 * ws**2
    return out


def _cubic_second_moment(a: float) -> float:
    """``int t^2 b(t) dt`` of the bicubic kernel (exact polynomial integrals)."""
    inner = (a + 2) / 6 - (a + 3) / 5 + 1 / 3  # int_0^1 t^2 b(t) dt
    # int_1^2 t^2 (a t^3 - 5a t^2 + 8a t - 4a) dt
    outer = a * (2**6 - 1) / 6 - 5 * a * (2**5 - 1) / 5 + 8 * a * (2**4 - 1) / 4 - 4 * a * (2**3 - 1) / 3
    return 2.0 * (inner + outer)


def interpolation_fourier(
    num_cells: int, ky: np.ndarray, a: float = -0.75, centering: bool = True, offset_frac: float = 0.0
) -> np.ndarray:
    """Per-frequency interpolation factors (complex64, like ``ky``) for ``num_cells`` cells per period.

    ``B(k / N) / N`` times, with ``centering``, the phase ``exp(-i pi k / N)`` that puts cell ``n`` at
    its centre ``(n + 1/2) T / N`` (ECO's ``interpolation_centering``); ``offset_frac`` is an extra
    displacement of the cells (fraction of the period, e.g. a CNN's receptive-field offset).
    """
    n = float(num_cells)
    if n <= 0:
        raise ValueError(f"num_cells must be positive, got {num_cells}")
    k = np.asarray(ky, dtype=np.float64)
    fs = cubic_kernel_fourier(k / n, a) / n
    t0 = (0.5 / n if centering else 0.0) + float(offset_frac)
    return (fs * np.exp(-2j * np.pi * k * t0)).astype(np.complex64)
