"""Normal equations of ECO's filter training (ECO Eq. 5 and Eq. 8) and their preconditioners.

Filter-only (every training frame): minimise ``sum_j alpha_j ||sum_d S_d{f_d} z_j,d - y||^2 +
sum_d ||w * f_d||^2`` over the filter ``f`` for projected samples ``z_j`` (Fourier half spectra),
i.e. ``A f = b`` with ``A f = sum_j alpha_j z_j^H (z_j f) + W^H W f``.

Joint (first frame, Gauss-Newton on filter and projection ``P``, ECO Eq. 7): linearising
``f . (P^T x)`` about ``(f0, P0)`` gives unknowns ``f`` and ``dP`` with residual
``z0 f + B dP - y``, ``B dP = sum_c f0_c (dP^T x)_c``, and the regulariser ``lambda ||P0 + dP||^2``.

Blocks with smaller spectra sit in the centre rows / first columns of the largest one
(frequencies are shared across blocks because all blocks span the same image support).
"""

from __future__ import annotations

import numpy as np

from .fourier import inner_product
from .kernels import accumulate_scores, filter_data_term, weighted_sum
from .projection import project_fourier
from .regularization import RegularizationOperator


class SpectrumLayout:
    """Where each block's half spectrum (Ny_d, Nx1_d) sits inside the output spectrum (Ny, Nx1)."""

    def __init__(self, block_shapes):
        self.block_shapes = [tuple(int(v) for v in s[-2:]) for s in block_shapes]
        ny = max(s[0] for s in self.block_shapes)
        nx1 = max(s[1] for s in self.block_shapes)
        self.output_shape = (ny, nx1)
        self.slices = []
        for by, bx1 in self.block_shapes:
            r0 = (ny - by) // 2
            self.slices.append((slice(r0, r0 + by), slice(0, bx1)))

    @property
    def grid_size(self) -> tuple[int, int]:
        """Spatial grid (odd) that samples the output series without aliasing."""
        return self.output_shape[0], 2 * (self.output_shape[1] - 1) + 1

    def scores(self, hf, z, blocks=None) -> np.ndarray:
        """Score spectra ``sum_d sum_c f_d,c z_d,c``; ``z`` blocks (S, C, ...) -> (S, Ny, Nx1).
        ``blocks``: only these block indices count (the others' ``z`` may be ``None``)."""
        chosen = range(len(self.slices)) if blocks is None else blocks
        num = z[chosen[0]].shape[0]
        out = np.zeros((num,) + self.output_shape, dtype=np.complex64)
        for d in chosen:
            rs, cs = self.slices[d]
            accumulate_scores(z[d], hf[d], out[:, rs, cs])
        return out


def filter_inner(a, b) -> float:
    """Real inner product of filter block lists (Hermitian half spectra)."""
    return float(sum(inner_product(x, y) for x, y in zip(a, b, strict=True)))


def _herm_real_gram(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``Re sum_k conj(x_d[k]) g_c[k]`` over the full spectrum: (D, ...) and (C, ...) -> (D, C)."""
    d, c = x.shape[0], g.shape[0]
    full = np.conj(x.reshape(d, -1)) @ g.reshape(c, -1).T
    col0 = np.conj(x[..., 0].reshape(d, -1)) @ g[..., 0].reshape(c, -1).T
    return (2.0 * full.real - col0.real).astype(np.float32)


class FilterSystem:
    """``A f`` and ``b`` of the filter-only problem for samples ``z`` (blocks (S, C, ...)) with
    weights ``alpha`` (S,), labels ``yf`` (blocks (Ny, Nx1) real) and regulariser ``reg``."""

    def __init__(self, layout: SpectrumLayout, reg: RegularizationOperator, yf):
        self.layout = layout
        self.reg = reg
        self.yf = yf
        self.z = None
        self.alpha = None
        self._anchor = None

    def set_samples(self, z, alpha) -> None:
        self.z = z
        self.alpha = np.asarray(alpha, dtype=np.float32)
        # homogeneous tuples, not numba typed lists: those compile at run time on first use
        self._z_list = tuple(np.ascontiguousarray(zz) for zz in z)
        self._rows = np.array([rs.start for rs, _ in self.layout.slices], dtype=np.int64)
        self._anchor = None

    def set_anchor(self, z, hf_prev, weight: float) -> None:
        """Add ARCF's response-consistency term ``weight * ||sum_d z_d (f_d - f_prev,d)||^2`` for
        one sample ``z`` (blocks (C, ...)): the response on ``z`` is kept near the one ``hf_prev``
        gives it. Its normal-equation part is ``weight * z^H z (f - f_prev)``: ``A`` gains
        ``weight * z^H z``, ``b`` gains the same operator applied to ``f_prev``. Cleared by
        :meth:`set_samples`."""
        self._anchor = (tuple(np.ascontiguousarray(zz[None], dtype=np.complex64) for zz in z),
                        np.array([weight], dtype=np.float32))
        self._anchor_rhs = self._anchor_term(tuple(np.ascontiguousarray(f, dtype=np.complex64) for f in hf_prev))

    def _anchor_term(self, hf):
        z, weight = self._anchor
        outs = tuple(np.empty(f.shape, dtype=np.complex64) for f in hf)
        ny, nx1 = self.layout.output_shape
        filter_data_term(z, hf, self._rows, weight, ny, nx1, outs)
        return outs

    def rhs(self):
        """``b_d = sum_j alpha_j conj(z_j,d) y_d`` (+ the anchor's part, :meth:`set_anchor`)."""
        out = []
        for zz, y in zip(self.z, self.yf, strict=True):
            acc = np.empty(zz.shape[1:], dtype=np.complex64)
            weighted_sum(self.alpha, zz, acc)
            out.append(np.conj(acc) * y)
        if self._anchor is not None:
            out = [o + a for o, a in zip(out, self._anchor_rhs, strict=True)]
        return out

    def apply(self, hf):
        outs = [np.empty(f.shape, dtype=np.complex64) for f in hf]
        ny, nx1 = self.layout.output_shape
        hf = tuple(np.ascontiguousarray(f, dtype=np.complex64) for f in hf)
        filter_data_term(self._z_list, hf, self._rows, self.alpha, ny, nx1, tuple(outs))
        if self._anchor is not None:
            for o, a in zip(outs, self._anchor_term(hf), strict=True):
                o += a
        for o, f in zip(outs, hf, strict=True):
            self.reg.accumulate(f, o)
        return outs


def filter_preconditioner(sample_energy, reg_energy: float, data_param: float, reg_param: float):
    """ECO's diagonal preconditioner: ``(1-r)(d E + (1-d) mean_c E) + r * reg_energy`` per block,
    ``E = |z|^2`` the (running) sample energy."""
    out = []
    for e in sample_energy:
        m = (1.0 - reg_param) * (data_param * e + (1.0 - data_param) * e.mean(axis=0, keepdims=True))
        out.append((m + reg_param * reg_energy).astype(np.float32))
    return out


class JointSystem:
    """Gauss-Newton normal equations in ``(f, dP)`` about ``(f0, P0)`` for one sample ``x``
    (unprojected blocks (D, ...)); vectors are ``hf blocks + dP blocks``."""

    def __init__(self, layout: SpectrumLayout, reg: RegularizationOperator, yf, x, projection_reg: float):
        self.layout = layout
        self.reg = reg
        self.yf = yf
        self.x = x
        self.lam = float(projection_reg)
        self.num_blocks = len(x)

    def linearise(self, hf0, p0) -> None:
        self.hf0 = hf0
        self.p0 = p0
        self.z = [project_fourier(x, p) for x, p in zip(self.x, p0, strict=True)]

    def rhs(self):
        bf = [np.conj(z) * y for z, y in zip(self.z, self.yf, strict=True)]
        bp = [
            _herm_real_gram(x, np.conj(f0) * y) - self.lam * p
            for x, f0, y, p in zip(self.x, self.hf0, self.yf, self.p0, strict=True)
        ]
        return bf + bp

    def apply(self, v):
        nb = self.num_blocks
        hf, dp = v[:nb], v[nb:]
        sh = np.zeros(self.layout.output_shape, dtype=np.complex64)
        for (rs, cs), z, f, x, f0, d in zip(
            self.layout.slices, self.z, hf, self.x, self.hf0, dp, strict=True
        ):
            sh[rs, cs] += np.sum(z * f, axis=0)
            sh[rs, cs] += np.sum(f0 * project_fourier(x, d), axis=0)
        out_f, out_p = [], []
        for (rs, cs), z, f, x, f0, d in zip(
            self.layout.slices, self.z, hf, self.x, self.hf0, dp, strict=True
        ):
            s = sh[rs, cs]
            out_f.append(np.conj(z) * s + self.reg(f))
            out_p.append(_herm_real_gram(x, np.conj(f0) * s) + self.lam * d)
        return out_f + out_p

    def inner(self, a, b) -> float:
        nb = self.num_blocks
        return filter_inner(a[:nb], b[:nb]) + float(
            sum(np.vdot(x, y).real for x, y in zip(a[nb:], b[nb:], strict=True))
        )


def joint_preconditioner(
    sample_energy,
    reg_energy: float,
    yf,
    feature_dims,
    data_param: float,
    reg_param: float,
    proj_param: float,
    projection_reg: float,
):
    """Filter part as :func:`filter_preconditioner`; projection part ``proj_param * (2 sum|y|^2 /
    sum_d D_d + lambda)`` (ECO's ``precond_proj_param``)."""
    diag_f = filter_preconditioner(sample_energy, reg_energy, data_param, reg_param)
    total_dim = float(sum(feature_dims))
    diag_p = []
    for y, d, e in zip(yf, feature_dims, sample_energy, strict=True):
        proj_energy = 2.0 * float(np.sum(np.abs(y) ** 2)) / total_dim
        diag_p.append(np.full((d, e.shape[0]), proj_param * (proj_energy + projection_reg), dtype=np.float32))
    return diag_f + diag_p
