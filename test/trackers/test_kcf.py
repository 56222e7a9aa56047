"""KCF / fKCF: Gaussian kernel correlation, closed-form training, peak refinement, trackers."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult
from cfvgg_ros.evaluation.metrics import box_iou as _iou
from cfvgg_ros.trackers.cf_common import (
    cnn_map_to_grid,
    cosine_window,
    gaussian_label,
    half_spectrum_energy,
    irfft2,
    refine_peak,
    rfft2,
    sample_patch,
)
from cfvgg_ros.trackers.kcf import (
    KCFConfig,
    create_fkcf,
    create_kcf,
    gaussian_correlation,
    gaussian_kernel_correlation,
    kcf_detect,
    kcf_train,
)


def moving_texture_sequence(num_frames: int = 40, width: int = 320, height: int = 240):
    """``synthetic.make_sequence("translation")`` when available, else a textured square
    translating over a textured background. Returns (frames, boxes)."""
    try:
        from cfvgg_ros.datasets.synthetic import make_sequence
    except ImportError:
        rng = np.random.default_rng(3)
        background = (rng.random((height, width, 3)) * 255).astype(np.uint8)
        target = (rng.random((40, 40, 3)) * 255).astype(np.uint8)
        frames, boxes = [], []
        for t in range(num_frames):
            x, y = 60 + 3 * t, 80 + int(20 * np.sin(t / 6))
            frame = background.copy()
            frame[y : y + 40, x : x + 40] = target
            frames.append(frame)
            boxes.append((x, y, 40.0, 40.0))
        return frames, np.asarray(boxes, dtype=float)
    seq = make_sequence("translation", num_frames=num_frames, width=width, height=height)
    return [seq.frame(i) for i in range(len(seq))], seq.boxes


def run_tracker(tracker: Tracker, frames, boxes) -> list[float]:
    tracker.init(frames[0], boxes[0])
    ious = []
    for frame, box in zip(frames[1:], boxes[1:], strict=True):
        result = tracker.update(frame)
        assert isinstance(result, TrackResult)
        assert np.isfinite(result.score)
        ious.append(_iou(result.box, box))
    return ious


def cnn_model_path():
    try:
        from cfvgg_ros.models.store import default_model_path

        return str(default_model_path())
    except Exception as exc:  # noqa: BLE001 - any missing-model reason skips
        pytest.skip(f"no CF-VGG feature model available: {exc}")


# ----------------------------------------------------------------------------- maths
def test_gaussian_kernel_correlation_matches_all_circular_shifts():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 3)).astype(np.float32)
    z = rng.standard_normal((5, 6, 3)).astype(np.float32)
    sigma = 2.0
    k = gaussian_kernel_correlation(x, z, sigma)
    direct = np.empty((5, 6))
    for dy in range(5):
        for dx in range(6):
            shifted = np.roll(z, (-dy, -dx), axis=(0, 1))  # shifted[m] = z[m + n]
            direct[dy, dx] = np.exp(-np.sum((x - shifted) ** 2) / (sigma**2 * x.size))
    np.testing.assert_allclose(k, direct, rtol=1e-4, atol=1e-6)


def test_gaussian_kernel_self_correlation_peaks_at_zero_shift():
    x = np.random.default_rng(1).standard_normal((7, 7, 2)).astype(np.float32)
    k = gaussian_kernel_correlation(x, x, 0.5)
    assert k[0, 0] == pytest.approx(1.0, abs=1e-5)
    assert np.unravel_index(np.argmax(k), k.shape) == (0, 0)


def test_closed_form_filter_recovers_known_translation():
    rng = np.random.default_rng(2)
    h, w = 24, 30
    x = rng.standard_normal((h, w, 4)).astype(np.float32)
    shape = (h, w)
    yf = rfft2(gaussian_label(h, w, 2.0))
    xf = rfft2(x)
    x_sq = float(np.sum(x * x))
    alphaf = kcf_train(gaussian_correlation(xf, x_sq, xf, x_sq, 0.5, shape), yf, 1e-4)
    # The training sample's own response is the label.
    own = irfft2(kcf_detect(alphaf, gaussian_correlation(xf, x_sq, xf, x_sq, 0.5, shape)), shape)
    np.testing.assert_allclose(own, gaussian_label(h, w, 2.0), atol=1e-3)
    for shift in [(3, -5), (-7, 2), (0, 11)]:
        z = np.roll(x, shift, axis=(0, 1))
        zf = rfft2(z)
        kzf = gaussian_correlation(xf, x_sq, zf, float(np.sum(z * z)), 0.5, shape)
        resp = irfft2(kcf_detect(alphaf, kzf), shape)
        peak = np.unravel_index(int(np.argmax(resp)), resp.shape)
        assert peak == (shift[0] % h, shift[1] % w)
        assert resp.max() == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("shape", [(5, 6), (7, 9)])
def test_half_spectrum_energy_is_parseval(shape):
    x = np.random.default_rng(5).standard_normal(shape + (3,))
    assert half_spectrum_energy(rfft2(x), shape) == pytest.approx(float(np.sum(x * x)), rel=1e-10)


def test_label_and_window():
    y = gaussian_label(7, 8, 1.5)
    assert y[0, 0] == pytest.approx(1.0)
    assert y[1, 0] == pytest.approx(np.exp(-0.5 / 1.5**2), rel=1e-6)
    assert y[-1, 0] == pytest.approx(y[1, 0])
    win = cosine_window(5, 7)
    assert win.shape == (5, 7) and win.dtype == np.float32
    assert win[2, 3] == pytest.approx(1.0) and win[0, 0] == 0.0
    with pytest.raises(ValueError):
        gaussian_label(5, 5, 0.0)


def test_refine_peak_finds_off_grid_maximum():
    h, w = 15, 12
    y0, x0 = 4.3, 7.6
    yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    r = np.cos(2 * np.pi * (yy - y0) / h) + np.cos(2 * np.pi * (xx - x0) / w)
    y, x, value = refine_peak(rfft2(r.astype(np.float64)), (h, w), (4.0, 8.0), iterations=10)
    assert y == pytest.approx(y0, abs=1e-6)
    assert x == pytest.approx(x0, abs=1e-6)
    assert value == pytest.approx(2.0, abs=1e-9)


def test_sample_patch_centre_and_border_replication():
    frame = np.arange(20 * 30, dtype=np.uint8).reshape(20, 30, 1).repeat(3, axis=2)
    patch, centre = sample_patch(frame, (10.0, 15.0), (5, 7), (5, 7))
    assert patch.shape == (5, 7, 3)
    assert centre == (10.0, 15.0)
    np.testing.assert_array_equal(patch[:, :, 0], frame[8:13, 12:19, 0])
    patch, _ = sample_patch(frame, (0.0, 0.0), (5, 5), (5, 5))
    assert (patch[:3, :3] == frame[0, 0]).all()
    np.testing.assert_array_equal(patch[2, 2:, 0], frame[0, :3, 0])
    patch, _ = sample_patch(frame, (100.0, -50.0), (4, 6), (8, 12))  # entirely outside: edge pixel
    assert patch.shape == (8, 12, 3) and (patch == frame[19, 0]).all()


def test_cnn_map_alignment_reproduces_linear_ramp():
    # A map whose value is the patch pixel coordinate of its cell centre stays so on the grid.
    stride, offset = 16, 17.0
    ii, jj = np.meshgrid(np.arange(13), np.arange(13), indexing="ij")
    fmap = np.stack([offset + stride * ii, offset + stride * jj], axis=2).astype(np.float32)
    grid = cnn_map_to_grid(fmap, stride, offset, (15, 15), (220 / 15, 220 / 15))
    centres = (np.arange(15) + 0.5) * 220 / 15 - 0.5
    inner = slice(2, 13)  # away from the replicated border
    tol = stride / 32 + 1e-3  # OpenCV's bilinear weights are quantised to 1/32 of a cell
    np.testing.assert_allclose(grid[inner, 5, 0], centres[inner], atol=tol)
    np.testing.assert_allclose(grid[5, inner, 1], centres[inner], atol=tol)
    low = np.stack([3.0 + 2 * ii, 3.0 + 2 * jj], axis=2).astype(np.float32)
    pooled = cnn_map_to_grid(low, 2, 3.0, (6, 6), (4.0, 4.0))
    centres4 = np.arange(6) * 4 + 1.5
    np.testing.assert_allclose(pooled[2:5, 3, 0], centres4[2:5], atol=2 / 32 + 1e-3)


# --------------------------------------------------------------------------- trackers
def test_config_validation():
    with pytest.raises(ValueError):
        KCFConfig(feature="sift")
    with pytest.raises(ValueError):
        KCFConfig(feature="cnn:top")
    with pytest.raises(ValueError, match="hog"):
        KCFConfig(feature="colour")  # a vocabulary name KCF does not take
    with pytest.raises(ValueError):
        KCFConfig(padding=0)
    with pytest.raises(TypeError):
        create_fkcf(lamda=1.0)
    assert KCFConfig(feature="hog").learning_rate == 0.02
    assert KCFConfig(feature="cnn:mid").learning_rate == 0.01


def test_update_before_init_raises():
    with pytest.raises(TrackerError):
        create_kcf().update(np.zeros((50, 50, 3), np.uint8))


def test_hog_kcf_tracks_moving_texture():
    frames, boxes = moving_texture_sequence()
    ious = run_tracker(create_kcf(), frames, boxes)
    assert min(ious) > 0.6


def test_kcf_with_injected_features():
    def gradients(patch: np.ndarray) -> np.ndarray:
        g = patch.astype(np.float32).mean(axis=2) / 255.0
        gy, gx = np.gradient(g)
        feat = np.stack([g - g.mean(), np.abs(gx), np.abs(gy)], axis=2)
        h, w = patch.shape[0] // 4, patch.shape[1] // 4
        return feat[: h * 4, : w * 4].reshape(h, 4, w, 4, 3).mean(axis=(1, 3))

    frames, boxes = moving_texture_sequence(num_frames=25)
    ious = run_tracker(create_fkcf(feature_fn=gradients, feature="hog"), frames, boxes)
    assert min(ious) > 0.6


@pytest.mark.shared
@pytest.mark.parametrize("level", ["low", "mid", "high"])
def test_fkcf_cnn_levels_track_moving_texture(level):
    model = cnn_model_path()
    frames, boxes = moving_texture_sequence(num_frames=30)
    ious = run_tracker(create_fkcf(feature=f"cnn:{level}", model_path=model), frames, boxes)
    assert np.mean(ious) > 0.6


def test_kcf_small_box_over_frame_corner():
    frame = (np.random.default_rng(6).random((40, 50, 3)) * 255).astype(np.uint8)
    tracker = create_kcf()
    tracker.init(frame, (-3.0, -2.0, 8.0, 6.0))
    result = tracker.update(frame)
    np.testing.assert_allclose(result.box, (-3.0, -2.0, 8.0, 6.0), atol=1.0)
