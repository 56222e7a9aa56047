"""Felzenszwalb HOG ("fHOG") features as computed by Piotr Dollar's toolbox ``fhog``.

Felzenszwalb, Girshick, McAllester, Ramanan, "Object Detection with Discriminatively
Trained Part-Based Models", TPAMI 2010, Sec. 6 (the 31-dimensional variant); the cell
binning and normalisation follow the toolbox's ``gradientMex`` (``gradMag``,
``gradHist`` with ``softBin=-1``, ``hogNormMatrix``, ``hogChannels``), which is what
DSST, fDSST and ECO use. The toolbox returns a 32nd, all-zero channel; ECO drops it and so
do we.

Per pixel ``p``:

* gradient by central differences ``[-1, 0, 1] / 2`` (one-sided ``[-1, 1]`` on the image
  border); for colour images, the channel with the largest gradient magnitude;
* magnitude ``m = sqrt(gx^2 + gy^2)`` and orientation ``theta = atan2(gy, gx)`` in
  ``[0, 2 pi)`` (x to the right, y downwards), snapped to the nearest of ``2 * n_orients``
  directions ``k * pi / n_orients`` (bin ``k = floor(theta * n_orients / pi + 1/2)`` mod ``2 * n_orients``);
* its vote ``m / cell^2`` is split bilinearly between the four cells whose centres
  surround it (cell ``i`` is centred at pixel ``(i + 1/2) * cell - 1/2``).

Cells on the border of the map miss 1/8 of the votes an interior cell gets and are scaled
by 8/7 (corners twice). With ``C`` the 18 contrast-sensitive histograms and
``U[o] = C[o] + C[o + 9]`` the 9 contrast-insensitive ones, each 2x2 block of cells gets
the normaliser ``n = 1 / sqrt(sum_block ||U||^2 + eps)``; the block map is edge-replicated
so every cell has four blocks ``n_1..n_4`` (Felzenszwalb's ``N_{delta,gamma}``). With
``T(v) = min(v, clip)``, the 31 output channels of a cell are (Felzenszwalb Sec. 6)::

    0..17  : 0.5 * sum_b T(C[o] * n_b)                 contrast-sensitive orientations
    18..26 : 0.5 * sum_b T(U[o] * n_b)                 contrast-insensitive orientations
    27..30 : 0.2357 * sum_o T(C[o] * n_b), b = 1..4    gradient energy ("texture")

``0.2357 ~ 1/sqrt(18)`` and the 0.5 factor are the toolbox's constants. The texture
channels use, in this order, the block whose top-left cell is this cell, the block above,
the block to the left and the block above-left.

Only the top-left ``(H // cell) * cell`` by ``(W // cell) * cell`` pixels vote, as in
the toolbox. One difference: the toolbox takes the orientation from an ``acos`` look-up
table and the magnitude from SSE reciprocal-square-root approximations; we compute both
exactly. Maps one cell high or wide (no 2x2 block) use their single row/column twice.
"""

from __future__ import annotations

import math

import numpy as np

from cfvgg_ros.jit import cached_njit

DEFAULT_CELL_SIZE = 4
DEFAULT_N_ORIENTS = 9
DEFAULT_CLIP = 0.2
TEXTURE_WEIGHT = 0.2357  # the toolbox's constant, ~1/sqrt(18)
NUM_FHOG_CHANNELS = 3 * DEFAULT_N_ORIENTS + 4  # 31


def fhog_num_channels(n_orients: int = DEFAULT_N_ORIENTS) -> int:
    """Number of fHOG channels for ``n_orients`` contrast-insensitive orientations (31 for 9)."""
    return 3 * n_orients + 4


@cached_njit
def _row_gradients(img, y, w0, gx, gy, best):
    """Gradient of image row ``y`` for columns ``0..w0-1`` into ``gx``, ``gy``: central
    differences inside, one-sided on the image border; per pixel the channel with the
    largest magnitude (the first one on ties). ``img`` is planar (C, H, W); ``best`` a
    scratch row of squared magnitudes."""
    nch, h, w = img.shape
    if h == 1:
        yp, yn, ry = 0, 0, np.float32(0.0)
    elif y == 0:
        yp, yn, ry = 0, 1, np.float32(1.0)
    elif y == h - 1:
        yp, yn, ry = h - 2, h - 1, np.float32(1.0)
    else:
        yp, yn, ry = y - 1, y + 1, np.float32(0.5)
    half = np.float32(0.5)
    x_end = min(w0, w - 1)  # columns 1..x_end-1 have both neighbours
    for x in range(1, x_end):
        best[x] = np.float32(-1.0)
    for c in range(nch):  # channel by channel: contiguous rows, the loop vectorises
        row = img[c, y]
        row_p = img[c, yp]
        row_n = img[c, yn]
        for x in range(1, x_end):
            cx = (row[x + 1] - row[x - 1]) * half
            cy = (row_n[x] - row_p[x]) * ry
            m2 = cx * cx + cy * cy
            better = m2 > best[x]
            best[x] = m2 if better else best[x]
            gx[x] = cx if better else gx[x]
            gy[x] = cy if better else gy[x]
    # border columns: one-sided differences
    for x in (0, w - 1):
        if x >= w0:
            continue
        if w == 1:
            xp, xn, rx = 0, 0, np.float32(0.0)
        elif x == 0:
            xp, xn, rx = 0, 1, np.float32(1.0)
        else:
            xp, xn, rx = w - 2, w - 1, np.float32(1.0)
        bm = np.float32(-1.0)
        bx = np.float32(0.0)
        by = np.float32(0.0)
        for c in range(nch):
            cx = (img[c, y, xn] - img[c, y, xp]) * rx
            cy = (img[c, yn, x] - img[c, yp, x]) * ry
            m2 = cx * cx + cy * cy
            if m2 > bm:
                bm = m2
                bx = cx
                by = cy
        gx[x] = bx
        gy[x] = by


@cached_njit
def _cell_histograms(img, cell, n_orients):
    """Contrast-sensitive gradient histograms ``(hb, wb, 2 * n_orients)`` (toolbox gradHist
    with softBin=-1), including the 8/7 border-cell compensation. ``img`` is planar (C, H, W)."""
    nch, h, w = img.shape
    hb = h // cell
    wb = w // cell
    h0 = hb * cell
    w0 = wb * cell
    n_bins = 2 * n_orients
    hist = np.zeros((hb, wb, n_bins), dtype=np.float32)
    inv_cell = 1.0 / cell
    norm = np.float32(1.0 / (cell * cell))

    # Orientation bin k covers [(k - 1/2), (k + 1/2)) * pi / n_orients. For a gradient in
    # the upper half plane (gy > 0, or gy == 0 and gx >= 0) the bin is the number of
    # boundaries (j + 1/2) * pi / n_orients, j = 0..n_orients-1, it lies at or beyond:
    # theta >= beta  <=>  gy * cos(beta) >= gx * sin(beta). The lower half plane is the
    # upper one rotated by pi, i.e. n_orients bins further.
    bound_cos = np.empty(n_orients, dtype=np.float32)
    bound_sin = np.empty(n_orients, dtype=np.float32)
    for j in range(n_orients):
        beta = (j + 0.5) * math.pi / n_orients
        bound_cos[j] = math.cos(beta)
        bound_sin[j] = math.sin(beta)

    # Bilinear cell weights of each row / column: cell index i0 (may be -1) and the fraction
    # d that goes to cell i0 + 1.
    col_cell = np.empty(w0, dtype=np.int64)
    col_frac = np.empty(w0, dtype=np.float32)
    for x in range(w0):
        xb = (x + 0.5) * inv_cell - 0.5
        x0 = int(math.floor(xb))
        col_cell[x] = x0
        col_frac[x] = xb - x0

    gx = np.empty(w0, dtype=np.float32)
    gy = np.empty(w0, dtype=np.float32)
    mag = np.empty(w0, dtype=np.float32)
    obin = np.empty(w0, dtype=np.int32)
    best = np.empty(w0, dtype=np.float32)
    # votes of one image row, binned along x only; cell column c is stored at c + 1 so that
    # the virtual column -1 needs no test
    row_acc = np.zeros((wb + 2, n_bins), dtype=np.float32)

    for y in range(h0):
        _row_gradients(img, y, w0, gx, gy, best)
        # branch-free passes over the row (they vectorise): magnitude, half plane, then one
        # boundary test per orientation for the whole row
        for x in range(w0):
            ax = gx[x]
            ay = gy[x]
            mag[x] = np.float32(math.sqrt(ax * ax + ay * ay)) * norm
            lower = (ay < 0.0) or (ay == 0.0 and ax < 0.0)
            gx[x] = -ax if lower else ax
            gy[x] = -ay if lower else ay
            obin[x] = n_orients if lower else 0
        for j in range(n_orients):
            bc = bound_cos[j]
            bs = bound_sin[j]
            for x in range(w0):
                obin[x] += np.int32(1) if gy[x] * bc >= gx[x] * bs else np.int32(0)
        for x in range(w0):
            if obin[x] >= n_bins:
                obin[x] -= n_bins
        row_acc[:, :] = 0.0
        for x in range(w0):
            m = mag[x]
            if m == 0.0:
                continue
            o = obin[x]
            c1 = col_cell[x] + 1
            d = col_frac[x]
            row_acc[c1, o] += m * (np.float32(1.0) - d)
            row_acc[c1 + 1, o] += m * d
        yb = (y + 0.5) * inv_cell - 0.5
        y0 = int(math.floor(yb))
        dy = np.float32(yb - y0)
        if y0 >= 0:
            wt = np.float32(1.0) - dy
            for cx in range(wb):
                for o in range(n_bins):
                    hist[y0, cx, o] += wt * row_acc[cx + 1, o]
        if y0 + 1 < hb:
            for cx in range(wb):
                for o in range(n_bins):
                    hist[y0 + 1, cx, o] += dy * row_acc[cx + 1, o]

    # Border cells only collect 7/8 of an interior cell's votes (toolbox; corners twice).
    comp = np.float32(8.0 / 7.0)
    for x in range(wb):
        for o in range(n_bins):
            hist[0, x, o] *= comp
            hist[hb - 1, x, o] *= comp
    for y in range(hb):
        for o in range(n_bins):
            hist[y, 0, o] *= comp
            hist[y, wb - 1, o] *= comp
    return hist


@cached_njit
def _normalise_cells(hist, n_orients, clip, cell, out):
    """Block normalisation, truncation and the 31 output channels (toolbox hogNormMatrix +
    hogChannels) written into ``out`` ``(hb, wb, 3 * n_orients + 4)``."""
    hb, wb, n_bins = hist.shape
    eps = np.float32(1e-4 / 4.0 / cell / cell / cell / cell)
    clip = np.float32(clip)
    half = np.float32(0.5)
    tex = np.float32(TEXTURE_WEIGHT)

    # contrast-insensitive histograms and cell energies
    unsigned = np.empty((hb, wb, n_orients), dtype=np.float32)
    energy = np.empty((hb, wb), dtype=np.float32)
    for y in range(hb):
        for x in range(wb):
            e = np.float32(0.0)
            for o in range(n_orients):
                u = hist[y, x, o] + hist[y, x, o + n_orients]
                unsigned[y, x, o] = u
                e += u * u
            energy[y, x] = e

    # 1/norm of each 2x2 block; a map one cell wide uses its single row/column twice
    bh = max(hb - 1, 1)
    bw = max(wb - 1, 1)
    block = np.empty((bh, bw), dtype=np.float32)
    for i in range(bh):
        i1 = min(i + 1, hb - 1)
        for j in range(bw):
            j1 = min(j + 1, wb - 1)
            s = energy[i, j] + energy[i1, j] + energy[i, j1] + energy[i1, j1] + eps
            block[i, j] = np.float32(1.0) / np.float32(math.sqrt(s))

    for y in range(hb):
        yc = min(y, bh - 1)
        ya = min(max(y - 1, 0), bh - 1)
        for x in range(wb):
            xc = min(x, bw - 1)
            xl = min(max(x - 1, 0), bw - 1)
            n0 = block[yc, xc]  # block starting at this cell
            n1 = block[ya, xc]  # block above
            n2 = block[yc, xl]  # block to the left
            n3 = block[ya, xl]  # block above-left
            # texture sums in registers (same order of additions as summing into ``out``)
            e0 = np.float32(0.0)
            e1 = np.float32(0.0)
            e2 = np.float32(0.0)
            e3 = np.float32(0.0)
            for o in range(n_bins):
                v = hist[y, x, o]
                t0 = min(v * n0, clip)
                t1 = min(v * n1, clip)
                t2 = min(v * n2, clip)
                t3 = min(v * n3, clip)
                e0 += t0 * tex
                e1 += t1 * tex
                e2 += t2 * tex
                e3 += t3 * tex
                out[y, x, o] = (((np.float32(0.0) + t0) + t1) + t2 + t3) * half
            out[y, x, 3 * n_orients] = e0
            out[y, x, 3 * n_orients + 1] = e1
            out[y, x, 3 * n_orients + 2] = e2
            out[y, x, 3 * n_orients + 3] = e3
            for o in range(n_orients):
                v = unsigned[y, x, o]
                t0 = min(v * n0, clip)
                t1 = min(v * n1, clip)
                t2 = min(v * n2, clip)
                t3 = min(v * n3, clip)
                out[y, x, n_bins + o] = (((np.float32(0.0) + t0) + t1) + t2 + t3) * half
    return out


def _check_params(cell_size, n_orients, clip) -> tuple[int, int, float]:
    cell_size = int(cell_size)
    n_orients = int(n_orients)
    if cell_size < 1:
        raise ValueError(f"cell_size must be >= 1, got {cell_size}")
    if n_orients < 1:
        raise ValueError(f"n_orients must be >= 1, got {n_orients}")
    if not clip > 0:
        raise ValueError(f"clip must be > 0, got {clip}")
    return cell_size, n_orients, float(clip)


def _planar_float(images: np.ndarray, what: str) -> np.ndarray:
    """(..., H, W, C) integer/float images -> planar (..., C, H, W) finite float32."""
    if not (np.issubdtype(images.dtype, np.integer) or np.issubdtype(images.dtype, np.floating)):
        raise ValueError(f"{what} expects integer or float images, got dtype {images.dtype}")
    img = np.ascontiguousarray(np.moveaxis(images, -1, -3), dtype=np.float32)
    if not np.isfinite(img).all():
        raise ValueError(f"{what} input contains non-finite values")
    return img


def fhog(
    image: np.ndarray,
    cell_size: int = DEFAULT_CELL_SIZE,
    n_orients: int = DEFAULT_N_ORIENTS,
    clip: float = DEFAULT_CLIP,
) -> np.ndarray:
    """31-channel fHOG of ``image`` (see the module docstring).

    ``image``: HxW (grey) or HxWxC (e.g. RGB; per pixel the channel with the strongest
    gradient is used), uint8 or float with values on the 0-255 scale.
    Returns ``(H // cell_size, W // cell_size, 3 * n_orients + 4)`` float32.
    Raises ValueError for a malformed image or one smaller than a cell.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] < 1:
        raise ValueError(f"fhog expects an HxW or HxWxC image, got shape {image.shape}")
    cell_size, n_orients, clip = _check_params(cell_size, n_orients, clip)
    h, w = image.shape[:2]
    if h < cell_size or w < cell_size:
        raise ValueError(f"image {h}x{w} is smaller than one {cell_size}x{cell_size} cell")
    img = _planar_float(image, "fhog")
    hist = _cell_histograms(img, cell_size, n_orients)
    out = np.empty((h // cell_size, w // cell_size, fhog_num_channels(n_orients)), dtype=np.float32)
    return _normalise_cells(hist, n_orients, float(clip), cell_size, out)


@cached_njit
def _fhog_many(imgs, cell, n_orients, clip, out):
    for i in range(imgs.shape[0]):
        _normalise_cells(_cell_histograms(imgs[i], cell, n_orients), n_orients, clip, cell, out[i])
    return out


def fhog_batch(
    images: np.ndarray,
    cell_size: int = DEFAULT_CELL_SIZE,
    n_orients: int = DEFAULT_N_ORIENTS,
    clip: float = DEFAULT_CLIP,
) -> np.ndarray:
    """:func:`fhog` of ``N`` same-sized images ``(N, H, W, C)`` in one compiled call (no per-image
    Python overhead: the fDSST scale filter's 17 small samples). Returns
    ``(N, H // cell_size, W // cell_size, 3 * n_orients + 4)`` float32, equal to stacking
    :func:`fhog` of each image."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] < 1 or images.shape[3] < 1:
        raise ValueError(f"fhog_batch expects an NxHxWxC stack of images (N >= 1), got shape {images.shape}")
    cell_size, n_orients, clip = _check_params(cell_size, n_orients, clip)
    n, h, w = images.shape[:3]
    if h < cell_size or w < cell_size:
        raise ValueError(f"images {h}x{w} are smaller than one {cell_size}x{cell_size} cell")
    img = _planar_float(images, "fhog_batch")
    out = np.empty((n, h // cell_size, w // cell_size, fhog_num_channels(n_orients)), dtype=np.float32)
    return _fhog_many(img, cell_size, n_orients, clip, out)
