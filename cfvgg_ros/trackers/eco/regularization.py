"""Spatial regularisation of the filter (SRDCF window, C-COT Eq. 4 / ECO Eq. 1).

The penalty ``sum_c ||w . f_c||^2`` with the quadratic window
``w(t) = mu + eta * (|t_y / (s h)|^p + |t_x / (s w)|^p)`` becomes, in the Fourier domain, a
convolution of the filter coefficients with the (sparsified) DFT of ``w``: a small real kernel.
:class:`RegularizationOperator` applies ``W^H W`` to half-spectrum filters.
"""

from __future__ import annotations

import numpy as np

from .fourier import full_spectrum
from .kernels import convolve_taps, convolve_taps_half


def reg_window_filter(
    support_sz_hw,
    target_sz_hw,
    reg_window_min: float = 1e-4,
    reg_window_edge: float = 10e-3,
    reg_window_power: float = 2.0,
    sparsity_threshold: float = 0.05,
) -> np.ndarray:
    """Small centred real kernel: DFT coefficients (frequencies in cycles per support) of the
    regularisation window over the image support, scaled so that the target's half size reaches
    ``reg_window_edge``; coefficients below ``sparsity_threshold`` of the largest are dropped and
    the window's minimum is restored to ``reg_window_min`` (ECO's ``get_reg_filter``)."""
    sh, sw = (int(round(v)) for v in support_sz_hw)
    th, tw = (float(v) for v in target_sz_hw)
    if sh < 1 or sw < 1 or th <= 0 or tw <= 0:
        raise ValueError(f"bad support {support_sz_hw} or target size {target_sz_hw}")
    scale_h, scale_w = 0.5 * th, 0.5 * tw
    ry = np.arange(sh) - (sh - 1) / 2.0
    rx = np.arange(sw) - (sw - 1) / 2.0
    window = (reg_window_edge - reg_window_min) * (
        np.abs(ry[:, None] / scale_h) ** reg_window_power + np.abs(rx[None, :] / scale_w) ** reg_window_power
    ) + reg_window_min
    dft = np.fft.fft2(np.fft.ifftshift(window)) / window.size
    dft[np.abs(dft) < sparsity_threshold * np.abs(dft).max()] = 0
    sparse_window = np.real(np.fft.ifft2(dft)) * window.size
    dft[0, 0] += reg_window_min - sparse_window.min()
    centred = np.real(np.fft.fftshift(dft))
    rows = np.flatnonzero(np.any(centred != 0, axis=1))
    cols = np.flatnonzero(np.any(centred != 0, axis=0))
    cy, cx = sh // 2, sw // 2
    hy = max(cy - rows.min(), rows.max() - cy)
    hx = max(cx - cols.min(), cols.max() - cx)
    kernel = centred[cy - hy : cy + hy + 1, cx - hx : cx + hx + 1]
    # The filter's spatial origin is the support corner while the window is centred on the target
    # at T/2: the half-period shift multiplies coefficient k by exp(-i pi k) = (-1)^k.
    sign_y = (-1.0) ** np.abs(np.arange(-hy, hy + 1))
    sign_x = (-1.0) ** np.abs(np.arange(-hx, hx + 1))
    return np.ascontiguousarray(kernel * sign_y[:, None] * sign_x[None, :], dtype=np.float64)


class RegularizationOperator:
    """``f -> W^H W f`` on half-spectrum filters (C, 2Ky+1, Kx+1), where ``W`` is convolution with
    the real, centro-symmetric ``kernel``: one 'same' convolution with ``kernel * kernel`` (filter
    coefficients outside the filter support are zero)."""

    def __init__(self, kernel: np.ndarray):
        kernel = np.asarray(kernel, dtype=np.float64)
        if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
            raise ValueError(f"regularisation kernel must be 2-D with odd sides, got {kernel.shape}")
        from scipy.signal import convolve2d

        self.kernel = kernel
        self.energy = float(np.sum(kernel**2))
        k2 = convolve2d(kernel, kernel[::-1, ::-1], mode="full")
        self.ry, self.rx = (k2.shape[0] - 1) // 2, (k2.shape[1] - 1) // 2
        taps = [
            (dy - self.ry, dx - self.rx, float(k2[dy, dx]))
            for dy in range(k2.shape[0])
            for dx in range(k2.shape[1])
            if abs(k2[dy, dx]) > 0
        ]
        self.taps = taps
        self._dys = np.array([t[0] for t in taps], dtype=np.int64)
        self._dxs = np.array([t[1] for t in taps], dtype=np.int64)
        self._vals = np.array([t[2] for t in taps], dtype=np.float32)
        self.kernel2 = k2
        # W alone (applied twice by :meth:`accumulate`, as ECO does): ~9 taps instead of ~33
        ky, kx = (kernel.shape[0] - 1) // 2, (kernel.shape[1] - 1) // 2
        self.ky, self.kx = ky, kx
        nz = np.argwhere(kernel != 0)
        self._w_dys = (nz[:, 0] - ky).astype(np.int64)
        self._w_dxs = (nz[:, 1] - kx).astype(np.int64)
        self._w_vals = kernel[nz[:, 0], nz[:, 1]].astype(np.float32)

    def accumulate(self, hf: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out += W^H W hf`` for complex64 ``hf`` and ``out`` (C, 2Ky+1, Kx+1), in place: the CG hot
        path. ``W`` is applied twice on half spectra (a 'full' convolution to the grown spectrum,
        then the flipped kernel back onto the filter support), as ECO does; it equals
        :meth:`__call__` up to float32 rounding with about half the multiply-adds."""
        if hf.shape != out.shape or hf.ndim != 3:
            raise ValueError(f"need (C, Ny, Nx1) filter and output of one shape, got {hf.shape}, {out.shape}")
        if hf.dtype != np.complex64 or out.dtype != np.complex64 or not out.flags.c_contiguous:
            raise ValueError("accumulate needs complex64 arrays and a C-contiguous output")
        nc, ny, nx1 = hf.shape
        grown = np.zeros((nc, ny + 2 * self.ky, nx1 + self.kx), dtype=np.complex64)
        convolve_taps_half(np.ascontiguousarray(hf), self._w_dys, self._w_dxs, self._w_vals, self.ky, grown)
        convolve_taps_half(grown, -self._w_dys, -self._w_dxs, self._w_vals, -self.ky, out)
        return out

    def __call__(self, hf: np.ndarray) -> np.ndarray:
        """``W^H W hf`` for ``hf`` (..., 2Ky+1, Kx+1) complex."""
        ny, nx1 = hf.shape[-2:]
        kx = nx1 - 1
        ry, rx = self.ry, self.rx
        lead = hf.shape[:-2]
        flat = hf.reshape((-1, ny, nx1))
        padded = np.zeros((flat.shape[0], ny + 2 * ry, 2 * kx + 1 + 2 * rx), dtype=np.complex64)
        padded[:, ry : ry + ny, rx : rx + 2 * kx + 1] = full_spectrum(flat)  # columns -Kx..Kx
        out = np.empty(flat.shape, dtype=np.complex64)
        # out[ky, kx] = sum_t k2[t] * f[ky - dy_t, kx - dx_t]; padded column of kx = 0 is rx + Kx
        convolve_taps(padded, self._dys, self._dxs, self._vals, ry, rx + kx, out)
        return out.reshape(lead + (ny, nx1))
