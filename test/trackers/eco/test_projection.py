"""PCA initialisation of the projection matrix (ECO Sec. 3.1)."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.fourier import cfft2
from cfvgg_ros.trackers.eco.projection import pca_projection, project_fourier, project_spatial


def test_pca_orthonormal_and_spans_top_components():
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((8, 8)))[0]
    scales = np.array([10, 6, 3, 0.5, 0.2, 0.1, 0.05, 0.01])
    coeffs = rng.standard_normal((20 * 20, 8)) * scales
    x = (coeffs @ basis.T + 3.0).reshape(20, 20, 8).astype(np.float32)
    p = pca_projection(x, 3)
    assert p.shape == (8, 3) and p.dtype == np.float32
    np.testing.assert_allclose(p.T @ p, np.eye(3), atol=1e-5)
    flat = x.reshape(-1, 8).astype(np.float64)
    flat -= flat.mean(0)
    u, s, vt = np.linalg.svd(flat, full_matrices=False)
    top = vt[:3].T
    # same subspace: projector difference vanishes
    np.testing.assert_allclose(p @ p.T, top @ top.T, atol=1e-4)


def test_projection_commutes_with_dft():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((9, 9, 5)).astype(np.float32)
    p = rng.standard_normal((5, 2)).astype(np.float32)
    a = cfft2(project_spatial(x, p))
    b = project_fourier(cfft2(np.ascontiguousarray(x.transpose(2, 0, 1))), p)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_bad_dims():
    x = np.zeros((4, 4, 3), np.float32)
    with pytest.raises(ValueError):
        pca_projection(x, 4)
    with pytest.raises(ValueError):
        project_spatial(x, np.zeros((2, 1), np.float32))
