"""STRCF / fDeepSTRCF: ADMM closed forms against dense least squares, helpers, trackers."""

from __future__ import annotations

import numpy as np
import pytest
from test_kcf import cnn_model_path, moving_texture_sequence, run_tracker

from cfvgg_ros.core.contract import TrackerError
from cfvgg_ros.trackers.cf_common import irfft2, rfft2
from cfvgg_ros.trackers.strcf import (
    FDEEPSTRCF_DEFAULTS,
    STRCFConfig,
    STRCFTracker,
    create_fdeepstrcf,
    create_strcf,
    fourier_resize,
    solve_aux_step,
    solve_filter_step,
    spatial_reg_window,
    strcf_train,
)


def correlation_matrix(x: np.ndarray) -> np.ndarray:
    """Dense A with (A f)[n] = sum_d sum_m f_d[m] x_d[m + n] (circular), f flattened (m, d)."""
    h, w, d = x.shape
    a = np.zeros((h * w, h * w * d))
    for ny in range(h):
        for nx in range(w):
            shifted = np.roll(x, (-ny, -nx), axis=(0, 1))  # shifted[m] = x[m + n]
            a[ny * w + nx] = shifted.reshape(-1)
    return a


def dense_strcf(x, y, reg_window, f_prev, mu):
    """argmin_f 1/(2T)||A f - y||^2 + 1/2 sum_d ||w f_d||^2 + mu/2 ||f - f_prev||^2, densely."""
    h, w, d = x.shape
    t = h * w
    a = correlation_matrix(x.astype(np.float64))
    reg_sq = np.repeat(reg_window.reshape(-1).astype(np.float64) ** 2, d)
    lhs = a.T @ a / t + np.diag(reg_sq) + mu * np.eye(t * d)
    rhs = a.T @ y.reshape(-1) / t + mu * f_prev.reshape(-1)
    return np.linalg.solve(lhs, rhs).reshape(h, w, d)


def test_filter_step_matches_dense_per_frequency_solve():
    rng = np.random.default_rng(0)
    d, t, gamma, mu = 5, 35, 0.7, 15.0

    def cplx(*shape):
        return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)

    x, g, h, fp = cplx(d), cplx(d), cplx(d), cplx(d)
    y = cplx()
    got = solve_filter_step(x[None], np.array([y]), g[None], h[None], fp[None], gamma, mu, t)[0]
    lhs = np.outer(x, np.conj(x)) + t * (gamma + mu) * np.eye(d)
    rhs = x * np.conj(y) + t * (gamma * g - h + mu * fp)
    np.testing.assert_allclose(got, np.linalg.solve(lhs, rhs), rtol=1e-10, atol=1e-12)


def test_aux_step_is_elementwise_minimiser():
    rng = np.random.default_rng(1)
    f, h = rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 4, 2))
    w2 = rng.uniform(0.1, 2.0, (3, 4))
    g = solve_aux_step(f, h, w2, 0.5)
    # gradient of 1/2 w^2 g^2 + gamma/2 (f - g + h/gamma)^2 vanishes
    grad = w2[..., None] * g - 0.5 * (f - g + h / 0.5)
    np.testing.assert_allclose(grad, 0.0, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 9), (5, 6), (7, 5)])
def test_admm_converges_to_dense_least_squares(shape):
    rng = np.random.default_rng(2)
    h, w = shape
    x = rng.standard_normal((h, w, 2)).astype(np.float32)
    y = rng.standard_normal((h, w)).astype(np.float32)
    reg = rng.uniform(0.2, 2.0, (h, w)).astype(np.float32)
    f_prev = rng.standard_normal((h, w, 2)).astype(np.float32)
    mu = 0.7
    expected = dense_strcf(x, y, reg, f_prev, mu)
    ff = strcf_train(rfft2(x), rfft2(y), reg, rfft2(f_prev), mu, iterations=600,
                     gamma_init=1.0, gamma_max=1.0, gamma_step=1.0)
    np.testing.assert_allclose(irfft2(ff, shape), expected, atol=2e-3 * np.abs(expected).max())


def test_admm_first_frame_without_temporal_term():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 5, 3)).astype(np.float32)
    y = rng.standard_normal((5, 5)).astype(np.float32)
    reg = np.full((5, 5), 0.5, np.float32)
    expected = dense_strcf(x, y, reg, np.zeros_like(x), 0.0)
    ff = strcf_train(rfft2(x), rfft2(y), reg, None, 0.0, iterations=600,
                     gamma_init=1.0, gamma_max=1.0, gamma_step=1.0)
    np.testing.assert_allclose(irfft2(ff, (5, 5)), expected, atol=2e-3 * np.abs(expected).max())


def test_train_rejects_bad_shapes():
    with pytest.raises(ValueError):
        strcf_train(np.zeros((5, 3, 2), np.complex64), np.zeros((5, 4)), np.ones((5, 5)), None, 1.0)
    with pytest.raises(ValueError):
        strcf_train(np.zeros((5, 3, 2), np.complex64), np.zeros((5, 3)), np.ones((5, 5)), None, 1.0,
                    iterations=0)


def test_spatial_reg_window_centred_on_target():
    win = spatial_reg_window(9, (3, 5), 1e-3, 1e5)
    assert win.shape == (9, 9)
    low = np.argwhere(win < 1)
    assert low[:, 0].min() == 3 and low[:, 0].max() == 5
    assert low[:, 1].min() == 2 and low[:, 1].max() == 6
    assert np.count_nonzero(win < 1) == 15


def test_fourier_resize_interpolates_band_limited_response():
    rng = np.random.default_rng(4)
    small = rng.standard_normal((5, 5))
    big = irfft2(fourier_resize(rfft2(small), (5, 5), (15, 15)), (15, 15))
    np.testing.assert_allclose(big[::3, ::3], small, atol=1e-10)


def test_config_defaults_and_validation():
    cfg = STRCFConfig()
    assert (cfg.temporal_regularization, cfg.admm_iterations) == (15.0, 2)
    assert (cfg.init_penalty, cfg.max_penalty, cfg.penalty_scale_step) == (1.0, 0.1, 10.0)
    assert (cfg.number_of_scales, cfg.scale_step) == (5, 1.01)
    assert cfg.reg_downsample(16) == 14.0 and cfg.reg_downsample(8) == 8.0
    assert FDEEPSTRCF_DEFAULTS["number_of_scales"] == 3
    with pytest.raises(ValueError):
        STRCFConfig(admm_iterations=0)
    with pytest.raises(ValueError):
        STRCFConfig(min_image_sample_size=300.0**2)
    with pytest.raises(TypeError):
        create_strcf(mu=3)
    with pytest.raises(ValueError):
        STRCFTracker(feature_fn=lambda p, g: [])


def test_update_before_init_raises():
    with pytest.raises(TrackerError):
        create_strcf(features=("grey", "hog")).update(np.zeros((40, 40, 3), np.uint8))


def test_strcf_hog_gray_tracks_moving_texture():
    frames, boxes = moving_texture_sequence()
    ious = run_tracker(create_strcf(features=("grey", "hog")), frames, boxes)
    assert min(ious) > 0.6


def test_strcf_scale_search_follows_growing_target():
    synthetic = pytest.importorskip("cfvgg_ros.datasets.synthetic")
    seq = synthetic.make_sequence("scale", num_frames=40, width=320, height=240)
    growth = seq.boxes[20, 2] * seq.boxes[20, 3] / (seq.boxes[0, 2] * seq.boxes[0, 3])
    assert growth > 2.0  # the preset's target grows first
    tracker = create_strcf(features=("grey", "hog"))
    tracker.init(seq.frame(0), seq.boxes[0])
    for i in range(1, 21):
        result = tracker.update(seq.frame(i))
    estimated = result.box[2] * result.box[3] / (seq.boxes[0, 2] * seq.boxes[0, 3])
    assert estimated > 1.4  # 5 scales 1.01 apart follow at most ~2 % per frame


def test_strcf_with_injected_two_block_features():
    def features(patches: np.ndarray, grids) -> list[np.ndarray]:
        out = []
        for grid in grids:
            cell = patches.shape[1] // grid
            g = patches.astype(np.float32).mean(axis=3) / 255.0 - 0.5
            g = g[:, : grid * cell, : grid * cell]
            g = g.reshape(len(patches), grid, cell, grid, cell).mean(axis=(2, 4))
            gy, gx = np.gradient(g, axis=(1, 2))
            out.append(np.stack([g, gx, gy], axis=3))
        return out

    frames, boxes = moving_texture_sequence(num_frames=25)
    tracker = create_fdeepstrcf(feature_fn=features, block_cells=(4, 16))
    ious = run_tracker(tracker, frames, boxes)
    assert min(ious) > 0.6


@pytest.mark.shared
def test_fdeepstrcf_tracks_moving_texture():
    model = cnn_model_path()
    frames, boxes = moving_texture_sequence(num_frames=30)
    ious = run_tracker(create_fdeepstrcf(model_path=model), frames, boxes)
    assert min(ious) > 0.6


def test_reinit_matches_fresh_tracker_and_edge_boxes_run():
    frames, boxes = moving_texture_sequence(num_frames=6)
    used = create_strcf(features=("grey", "hog"))
    used.init(frames[3], boxes[3])
    used.update(frames[4])
    used.init(frames[0], boxes[0])
    fresh = create_strcf(features=("grey", "hog"))
    fresh.init(frames[0], boxes[0])
    for frame in frames[1:4]:
        a, b = used.update(frame), fresh.update(frame)
        np.testing.assert_allclose(a.box, b.box)
        assert a.score == pytest.approx(b.score)
    # a small box hanging over the frame corner, on a tiny frame
    small = frames[0][:40, :50]
    tracker = create_strcf(features=("grey", "hog"))
    tracker.init(small, (-3.0, -2.0, 8.0, 6.0))
    result = tracker.update(small)
    assert np.all(np.isfinite(result.box)) and result.box[2] > 0


def test_factories_work_through_the_registry():
    from cfvgg_ros.core.registry import create_tracker, register_tracker

    register_tracker("strcf", "cfvgg_ros.trackers.strcf:create_strcf")
    register_tracker("fdeepstrcf", "cfvgg_ros.trackers.strcf:create_fdeepstrcf")
    register_tracker("fkcf", "cfvgg_ros.trackers.kcf:create_fkcf")
    tracker = create_tracker("strcf", features=("grey", "hog"), number_of_scales=3)
    assert isinstance(tracker, STRCFTracker) and tracker.name == "strcf"
    assert tracker.config.number_of_scales == 3
    deep = create_tracker("fdeepstrcf", model_path="unused.onnx")  # features load at init()
    assert deep.config.features == FDEEPSTRCF_DEFAULTS["features"]
    assert create_tracker("fkcf", feature="cnn:low").config.level == "low"


def test_missing_cnn_model_is_a_clear_error():
    from cfvgg_ros.features.cnn import ModelError

    frame = np.zeros((60, 60, 3), np.uint8)
    with pytest.raises(ModelError, match="not found"):
        create_fdeepstrcf(model_path="/nonexistent/cf_vgg.onnx").init(frame, (20, 20, 10, 10))
