"""Feature plumbing: windows, pooling, normalisation, patch sampling and sample-size choice."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.config import FeatureConfig
from cfvgg_ros.trackers.eco.feature_blocks import (
    FeatureExtractor,
    average_pool,
    cosine_window,
    normalize_features,
    sample_patch,
)


def test_cosine_window_has_no_zeros_and_peaks_in_centre():
    w = cosine_window(7, 9)
    assert w.shape == (7, 9, 1) and w.min() > 0
    assert np.unravel_index(np.argmax(w[:, :, 0]), (7, 9)) == (3, 4)
    np.testing.assert_allclose(w[:, :, 0], w[::-1, ::-1, 0], atol=1e-7)


def test_average_pool_and_normalisation():
    x = np.arange(5 * 4 * 2, dtype=np.float32).reshape(5, 4, 2)
    p = average_pool(x, 2)
    assert p.shape == (2, 2, 2)
    assert p[0, 0, 0] == pytest.approx(np.mean(x[:2, :2, 0]))
    with pytest.raises(ValueError):
        average_pool(np.zeros((1, 1, 1), np.float32), 2)
    y = np.random.default_rng(0).standard_normal((6, 5, 3)).astype(np.float32)
    normalize_features(y, 2.0, True, True)
    assert np.mean(y**2) == pytest.approx(1.0, rel=1e-4)


def test_sample_patch_centre_scale_and_borders():
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :, 0] = np.arange(80, dtype=np.uint8)[None, :]
    patch, centre, scale = sample_patch(frame, (30.0, 40.0), (20, 20), (20, 20))
    assert patch.shape == (20, 20, 3) and centre == (30.0, 40.0) and scale == (1.0, 1.0)
    assert patch[0, 0, 0] == 30  # columns 30..49
    patch, centre, scale = sample_patch(frame, (5.0, 2.0), (40, 40), (10, 10))
    assert patch.shape == (10, 10, 3) and scale == (4.0, 4.0)
    assert patch[:, 0, 0].max() == 0  # replicated left border
    patch, _, _ = sample_patch(frame, (-500.0, -500.0), (10, 10), (5, 5))  # fully outside
    assert patch.shape == (5, 5, 3)


def test_grey_extractor_geometry_and_odd_sample_size():
    ext = FeatureExtractor([FeatureConfig("grey", compressed_dim=1, cell_size=4)])
    size = ext.choose_sample_size((101.0, 101.0))
    assert size[0] % 4 == 0 and (size[0] // 4) % 2 == 1 and abs(size[0] - 101) <= 8
    geo = ext.geometry(size)[0]
    assert geo.size == (size[0] // 4, size[1] // 4) and geo.stride == 4 and geo.offset == 2
    maps = ext.extract(np.full((size[0], size[1], 3), 128, np.uint8))
    assert maps[0].shape == geo.size + (1,)


def test_compressed_dim_larger_than_channels_is_rejected():
    with pytest.raises(ValueError, match="compressed_dim"):
        FeatureExtractor([FeatureConfig("grey", compressed_dim=2)])
