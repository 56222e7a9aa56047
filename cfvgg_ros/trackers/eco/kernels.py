"""Fused numba loops for the per-frequency sums that dominate ECO's CG and detection (scores
``sum_c z[s, c] * f[c]``, the CG data term of ECO Eq. 5, the sparse regularisation convolution and
the sample-space inner products): streaming passes without temporaries."""

from __future__ import annotations

import numpy as np

from cfvgg_ros.jit import cached_njit

_njit = cached_njit(fastmath=True)


@_njit
def accumulate_scores(z, f, sh):
    """``sh[s, y, x] += sum_c z[s, c, y, x] * f[c, y, x]`` (sh may be a strided view)."""
    ns, nc, ny, nx = z.shape
    for s in range(ns):
        for c in range(nc):
            for y in range(ny):
                for x in range(nx):
                    sh[s, y, x] += z[s, c, y, x] * f[c, y, x]


@_njit
def convolve_taps(padded, dys, dxs, vals, row0, col0, out):
    """``out[..., y, x] = sum_t vals[t] * padded[..., row0 - dys[t] + y, col0 - dxs[t] + x]`` for the
    3-D arrays ``padded`` (C, Py, Px) and ``out`` (C, Ny, Nx): a sparse 'same' convolution."""
    nc, ny, nx = out.shape
    out[:] = 0
    for t in range(vals.shape[0]):
        r = row0 - dys[t]
        q = col0 - dxs[t]
        v = vals[t]
        for c in range(nc):
            for y in range(ny):
                for x in range(nx):
                    out[c, y, x] += v * padded[c, r + y, q + x]


@_njit
def weighted_inner_all(stored, sample, n):
    """``g[l] = Re sum_k w_k conj(sample[k]) stored[l, k]`` for ``l < n`` with Hermitian half-spectrum
    weights ``w = 1`` on the ``kx = 0`` column and 2 elsewhere; stored (L, C, Y, X), sample (C, Y, X)."""
    nl = stored.shape[0]
    _, nc, ny, nx = stored.shape
    g = np.zeros(nl)
    for l in range(n):
        acc = 0.0
        acc0 = 0.0
        for c in range(nc):
            for y in range(ny):
                acc0 += (sample[c, y, 0].conjugate() * stored[l, c, y, 0]).real
                for x in range(nx):
                    acc += (sample[c, y, x].conjugate() * stored[l, c, y, x]).real
        g[l] = 2.0 * acc - acc0
    return g


@_njit
def weighted_sum(alpha, z, out):
    """``out[c, y, x] = sum_s alpha[s] * z[s, c, y, x]``."""
    ns, nc, ny, nx = z.shape
    out[:] = 0
    for s in range(ns):
        a = alpha[s]
        for c in range(nc):
            for y in range(ny):
                for x in range(nx):
                    out[c, y, x] += a * z[s, c, y, x]


@_njit
def filter_data_term(zs, fs, rows, alpha, ny, nx1, outs):
    """ECO Eq. 5 data term ``out_b[c] = sum_s alpha_s conj(z_b[s, c]) sum_b' sum_c' z_b'[s, c'] f_b'[c']``
    over all blocks ``b`` (tuples of (S, C, Y, X) samples, (C, Y, X) filters and outputs; block
    ``b``'s rows start at ``rows[b]`` of the (ny, nx1) output spectrum). Sample by sample, so each
    sample is read twice while it is still in cache."""
    nb = len(zs)
    ns = zs[0].shape[0]
    sh = np.zeros((ny, nx1), dtype=np.complex64)
    for b in range(nb):
        outs[b][:] = 0
    for s in range(ns):
        sh[:] = 0
        for b in range(nb):
            z = zs[b]
            f = fs[b]
            r0 = rows[b]
            _, nc, by, bx = z.shape
            for c in range(nc):
                for y in range(by):
                    for x in range(bx):
                        sh[r0 + y, x] += z[s, c, y, x] * f[c, y, x]
        a = alpha[s]
        for b in range(nb):
            z = zs[b]
            o = outs[b]
            r0 = rows[b]
            _, nc, by, bx = z.shape
            for c in range(nc):
                for y in range(by):
                    for x in range(bx):
                        o[c, y, x] += a * (z[s, c, y, x].conjugate() * sh[r0 + y, x])


@_njit
def convolve_taps_half(f, dys, dxs, vals, row_off, out):
    """``out[c, y, x] += sum_t vals[t] * F[c, y - row_off - dys[t], x - dxs[t]]`` on half spectra of
    Hermitian-symmetric series: ``f`` (C, Ny, Nx1) holds columns ``kx >= 0`` (column 0 is
    ``kx = 0`` in ``f`` and ``out`` alike), columns ``x < 0`` are read as
    ``conj(F[c, Ny-1-y, -x])`` and coefficients outside ``f`` as zero; ``out`` (C, Ny', Nx1') may
    be larger (a 'full' convolution, ``row_off > 0``) or smaller (``row_off < 0``) than ``f``.
    One output row is accumulated in a local buffer over all taps."""
    nc, ny, nx1 = f.shape
    ny_out, nx1_out = out.shape[1], out.shape[2]
    row = np.empty(nx1_out, dtype=np.complex64)
    for c in range(nc):
        for y in range(ny_out):
            row[:] = 0
            for t in range(vals.shape[0]):
                yy = y - row_off - dys[t]
                if yy < 0 or yy >= ny:
                    continue
                dx = dxs[t]
                v = vals[t]
                for x in range(max(dx, 0), min(nx1_out, nx1 + dx)):
                    row[x] += v * f[c, yy, x - dx]
                # source columns x - dx < 0, mirrored: F[yy, -m] = conj(F[Ny-1-yy, m])
                ym = ny - 1 - yy
                for x in range(0, min(dx, nx1_out)):
                    m = dx - x
                    if m < nx1:
                        row[x] += v * f[c, ym, m].conjugate()
            for x in range(nx1_out):
                out[c, y, x] += row[x]
