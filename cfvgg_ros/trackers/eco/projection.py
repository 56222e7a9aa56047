"""Factorized convolution operator (ECO Sec. 3.1, Eq. 3-6): a projection ``P`` (D x C) maps the
D feature channels to C; the filter acts on ``P^T x``. ``P`` starts from PCA of the first sample."""

from __future__ import annotations

import numpy as np


def pca_projection(features: np.ndarray, compressed_dim: int) -> np.ndarray:
    """Top-``compressed_dim`` principal directions of the channel vectors of ``features`` (h, w, D):
    orthonormal columns (D, C) float32, eigenvectors of the centred channel covariance sorted by
    decreasing eigenvalue (ECO's ``proj_init_method = 'pca'``)."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"features must be (h, w, D), got shape {x.shape}")
    d = x.shape[2]
    c = int(compressed_dim)
    if not 1 <= c <= d:
        raise ValueError(f"compressed_dim must lie in [1, {d}], got {compressed_dim}")
    flat = x.reshape(-1, d)
    flat = flat - flat.mean(axis=0, keepdims=True)
    cov = flat.T @ flat
    vals, vecs = np.linalg.eigh(cov)
    order = np.argsort(vals)[::-1][:c]
    p = vecs[:, order]
    # deterministic sign: largest-magnitude entry of each column positive
    signs = np.sign(p[np.argmax(np.abs(p), axis=0), np.arange(c)])
    signs[signs == 0] = 1.0
    return (p * signs).astype(np.float32)


def project_spatial(features: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """``P^T x`` per cell: (h, w, D) x (D, C) -> (C, h, w) float32, channel-first for the FFT."""
    h, w, d = features.shape
    if projection.shape[0] != d:
        raise ValueError(f"projection has {projection.shape[0]} rows but the features {d} channels")
    out = projection.T @ features.reshape(-1, d).T
    return out.reshape(projection.shape[1], h, w)


def project_fourier(xf: np.ndarray, projection: np.ndarray) -> np.ndarray:
    """``P^T x`` on Fourier coefficients: (D, Ny, Nx1) -> (C, Ny, Nx1) (linear, so it commutes
    with the DFT)."""
    d = xf.shape[0]
    if projection.shape[0] != d:
        raise ValueError(f"projection has {projection.shape[0]} rows but the sample {d} channels")
    flat = xf.reshape(d, -1)
    out = projection.T.astype(xf.dtype) @ flat
    return out.reshape((projection.shape[1],) + xf.shape[1:])
