"""Correlation-filter building blocks shared by the KCF and STRCF trackers: real FFTs, the
cosine window, the rolled Gaussian label (KCF), patch sampling with replicated borders,
min-max CNN feature normalisation, CNN maps resampled onto a feature grid (HCF), Newton
refinement of a response peak on its Fourier series (ECO/STRCF ``resp_newton``), and the
keyword-parameter -> config dataclass step of every tracker factory.

All FFTs are real-input (``scipy.fft``, one worker) in float32 / complex64.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.fft as sfft


def config_from(params: dict, base, what: str):
    """``base`` (a dataclass) with the fields in ``params`` replaced; unknown names raise
    TypeError listing the valid ones (``what`` names the tracker in the message)."""
    known = {f.name for f in dataclasses.fields(base)}
    unknown = set(params) - known
    if unknown:
        raise TypeError(f"unknown {what} parameter(s) {sorted(unknown)}; known: {sorted(known)}")
    return dataclasses.replace(base, **params)


# --------------------------------------------------------------------------- FFT helpers
def rfft2(x: np.ndarray) -> np.ndarray:
    """2-D real FFT over the first two axes (one worker, complex64 for float32 input)."""
    return sfft.rfft2(x, axes=(0, 1), workers=1)


def irfft2(xf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Inverse of :func:`rfft2` for a spatial ``shape`` (rows, cols)."""
    return sfft.irfft2(xf, s=shape, axes=(0, 1), workers=1)


def half_spectrum_energy(xf: np.ndarray, shape: tuple[int, int]) -> float:
    """Squared norm ``sum x^2`` of a real (H, W, ...) signal from its :func:`rfft2` half
    spectrum (Parseval, counting the columns that stand for two conjugate columns twice)."""
    h, w = shape
    power = np.abs(xf.astype(np.complex128)) ** 2
    total = 2.0 * power.sum() - power[:, 0].sum()
    if w % 2 == 0:
        total -= power[:, -1].sum()
    return float(total / (h * w))


def cosine_window(height: int, width: int) -> np.ndarray:
    """Separable Hann window ``hann(h) hann(w)^T`` (MATLAB's symmetric ``hann``), float32."""
    if height < 1 or width < 1:
        raise ValueError(f"window size must be positive, got {height}x{width}")
    return np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)


def gaussian_label(height: int, width: int, sigma: float) -> np.ndarray:
    """Gaussian regression target ``exp(-(dy^2 + dx^2) / (2 sigma^2))`` with its peak at
    index (0, 0) and circular offsets (KCF's ``gaussian_shaped_labels``), float32."""
    if sigma <= 0:
        raise ValueError(f"label sigma must be positive, got {sigma}")
    dy = (np.arange(height) + height // 2) % height - height // 2
    dx = (np.arange(width) + width // 2) % width - width // 2
    d2 = dy[:, None].astype(np.float64) ** 2 + dx[None, :].astype(np.float64) ** 2
    return np.exp(-0.5 * d2 / sigma**2).astype(np.float32)


def minmax_normalise(features: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Per-channel min-max normalisation of a CNN map to [0, 1] (as STRCF's
    ``extract_features`` does for CNN layers), float32."""
    lo = features.min(axis=(0, 1), keepdims=True)
    hi = features.max(axis=(0, 1), keepdims=True) + eps
    return ((features - lo) / (hi - lo)).astype(np.float32)


def cnn_map_to_grid(
    features: np.ndarray, stride: float, offset: float, grid_hw: tuple[int, int], cell_hw: tuple[float, float]
) -> np.ndarray:
    """Resample a CNN map (cell (i, j) centred at patch pixel ``offset + stride * (i, j)``) onto
    a feature grid whose cell (i, j) is centred at ``((i, j) + 0.5) * cell - 0.5`` (the grid
    fHOG uses), so all features of a patch are aligned. Box-filters first when the grid is
    coarser than the map (e.g. ``low``, stride 2, onto cell 4: 2x2 average pooling), then
    samples bilinearly with replicated borders. Returns (grid_h, grid_w, C) float32."""
    import cv2

    fmap = np.ascontiguousarray(features, dtype=np.float32)
    if fmap.ndim != 3:
        raise ValueError(f"feature map must be (h, w, C), got shape {fmap.shape}")
    shift = [0.0, 0.0]
    ratio = min(cell_hw) / float(stride)
    if ratio >= 1.5:
        k = int(round(ratio))
        fmap = cv2.blur(fmap, (k, k), borderType=cv2.BORDER_REPLICATE)
        if fmap.ndim == 2:
            fmap = fmap[:, :, None]
        # cv2.blur's box covers i - k//2 .. i - k//2 + k - 1: its centre sits at i + shift.
        shift = [(k - 1) / 2.0 - k // 2] * 2
    ay, ax = cell_hw[0] / stride, cell_hw[1] / stride
    by = (0.5 * cell_hw[0] - 0.5 - offset) / stride - shift[0]
    bx = (0.5 * cell_hw[1] - 0.5 - offset) / stride - shift[1]
    matrix = np.array([[ax, 0.0, bx], [0.0, ay, by]], dtype=np.float64)
    out = cv2.warpAffine(
        fmap, matrix, (int(grid_hw[1]), int(grid_hw[0])),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE,
    )
    return out[:, :, None] if out.ndim == 2 else out


# ------------------------------------------------------------------------ patch sampling
def sample_patch(
    frame: np.ndarray, center_yx: tuple[float, float], region_hw: tuple[int, int], out_hw: tuple[int, int]
) -> tuple[np.ndarray, tuple[float, float]]:
    """Crop a ``region_hw`` (rows, cols) pixel region centred at ``center_yx`` (pixel-index
    coordinates) with replicated borders, resized to ``out_hw``.

    The region's top-left corner is rounded to whole pixels (as STRCF/KCF's ``get_pixels``);
    returns the patch (uint8) and the exact frame coordinates of the patch centre.
    """
    import cv2

    rh, rw = max(1, int(region_hw[0])), max(1, int(region_hw[1]))
    top = int(math.floor(center_yx[0] - (rh - 1) / 2.0 + 0.5))
    left = int(math.floor(center_yx[1] - (rw - 1) / 2.0 + 0.5))
    fh, fw = frame.shape[:2]
    # In-frame part of the region, then replicate its edge rows/columns for the rest.
    y0, y1 = min(max(top, 0), fh - 1), max(min(top + rh, fh), 1)
    x0, x1 = min(max(left, 0), fw - 1), max(min(left + rw, fw), 1)
    region = frame[y0:y1, x0:x1]
    if region.shape[:2] != (rh, rw):
        pad_top, pad_left = y0 - top, x0 - left
        pad_bottom, pad_right = rh - pad_top - region.shape[0], rw - pad_left - region.shape[1]
        if min(pad_top, pad_left, pad_bottom, pad_right) < 0:  # region entirely outside the frame
            rows = np.clip(np.arange(top, top + rh), 0, fh - 1)
            cols = np.clip(np.arange(left, left + rw), 0, fw - 1)
            region = frame[rows[:, None], cols[None, :]]
        else:
            region = cv2.copyMakeBorder(np.ascontiguousarray(region), pad_top, pad_bottom, pad_left, pad_right,
                                        cv2.BORDER_REPLICATE)
    oh, ow = int(out_hw[0]), int(out_hw[1])
    if (rh, rw) != (oh, ow):
        interp = cv2.INTER_AREA if rh * rw > oh * ow else cv2.INTER_LINEAR
        region = cv2.resize(np.ascontiguousarray(region), (ow, oh), interpolation=interp)
    centre = (top + (rh - 1) / 2.0, left + (rw - 1) / 2.0)
    return np.ascontiguousarray(region), centre


# ------------------------------------------------------------------ peak localisation
def wrap_offset(index: float, size: int) -> float:
    """Map a circular index in [0, size) to a signed displacement in [-size/2, size/2)."""
    return ((index + size / 2.0) % size) - size / 2.0


def refine_peak(
    response_f: np.ndarray, shape: tuple[int, int], start_yx: tuple[float, float], iterations: int = 5
) -> tuple[float, float, float]:
    """Newton's method on the Fourier series of a real response (STRCF/ECO's
    ``resp_newton``): maximise r(y, x) = (1/HW) sum_k R_k exp(2 pi i (k_y y/H + k_x x/W))
    starting at ``start_yx``. ``response_f`` is the half spectrum (``rfft2``) of the response.

    Returns (y, x, value) with y, x in [0, H) x [0, W) (circular grid coordinates).
    """
    h, w = shape
    wh = response_f.shape[1]
    ky = 2j * np.pi * (sfft.fftfreq(h) * h) / h
    kx = 2j * np.pi * np.arange(wh) / w
    # Hermitian weights: columns 1..(W-1)//2 stand for two conjugate columns each.
    weights = np.full(wh, 2.0)
    weights[0] = 1.0
    if w % 2 == 0:
        weights[-1] = 1.0
    spec = response_f.astype(np.complex128) / float(h * w)
    y, x = float(start_yx[0]), float(start_yx[1])

    def terms(yy: float, xx: float):
        ey = np.exp(ky * yy)
        ex = np.exp(kx * xx) * weights
        rex = spec @ ex
        rbx = spec @ (kx * ex)
        rbbx = spec @ (kx * kx * ex)
        value = np.real(ey @ rex)
        grad = np.array([np.real((ky * ey) @ rex), np.real(ey @ rbx)])
        hess = np.array(
            [
                [np.real((ky * ky * ey) @ rex), np.real((ky * ey) @ rbx)],
                [np.real((ky * ey) @ rbx), np.real(ey @ rbbx)],
            ]
        )
        return value, grad, hess

    value, grad, hess = terms(y, x)
    for _ in range(max(0, iterations)):
        det = hess[0, 0] * hess[1, 1] - hess[0, 1] ** 2
        if not (hess[0, 0] < 0 and det > 0):
            break  # not a local maximum's basin: keep the current point
        step = np.linalg.solve(hess, grad)
        step = np.clip(step, -1.0, 1.0)  # never jump further than one cell per iteration
        new_value, new_grad, new_hess = terms(y - step[0], x - step[1])
        if new_value < value:
            break
        y, x = y - step[0], x - step[1]
        value, grad, hess = new_value, new_grad, new_hess
    return y % h, x % w, float(value)
