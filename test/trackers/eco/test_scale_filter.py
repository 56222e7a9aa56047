"""fDSST scale filter (ECO configuration): parabola refinement, scale grids, spectrum
interpolation, model geometry, and end-to-end scale estimation on a synthetic texture."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from cfvgg_ros.core.contract import TrackerError
from cfvgg_ros.trackers.eco.scale_filter import (
    AspectFilter,
    ScaleFilter,
    ScaleFilterConfig,
    interpolate_response,
    parabola_peak,
)

CENTER = (120.0, 120.0)
BASE_HW = np.array([48.0, 64.0])


def _texture(seed=0, size=240):
    noise = np.random.default_rng(seed).normal(size=(size, size, 3)).astype(np.float32)
    tex = cv2.GaussianBlur(noise, (0, 0), 2.0)
    return ((tex - tex.min()) / (tex.max() - tex.min()) * 255).astype(np.uint8)


def _render(texture, scale, center=CENTER):
    """The texture magnified by ``scale`` about ``center`` (row, col)."""
    cy, cx = center
    warp = np.array([[scale, 0, (1 - scale) * cx], [0, scale, (1 - scale) * cy]])
    size = (texture.shape[1], texture.shape[0])
    return cv2.warpAffine(texture, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_parabola_peak_matches_hand_computed_vertex():
    # y = -2 (x - 1.3)^2 + 5 sampled at 1, 2, 3: 4.82, 4.02, -0.78
    xv, yv = parabola_peak([1.0, 2.0, 3.0], [4.82, 4.02, -0.78])
    assert xv == pytest.approx(1.3) and yv == pytest.approx(5.0)
    # on ECO's scale grid a^-1, 1, a: y = -(x - 1.005)^2 + 1 -> vertex (1.005, 1)
    xs = [1 / 1.02, 1.0, 1.02]
    xv, yv = parabola_peak(xs, [1 - (x - 1.005) ** 2 for x in xs])
    assert xv == pytest.approx(1.005) and yv == pytest.approx(1.0)
    # no maximum (convex or straight): the middle point
    assert parabola_peak([0, 1, 2], [1.0, 0.0, 1.0]) == (1.0, 0.0)
    assert parabola_peak([0, 1, 2], [0.0, 1.0, 2.0]) == (1.0, 1.0)
    assert parabola_peak([1, 1, 2], [0.0, 1.0, 0.0]) == (1.0, 1.0)


def test_scale_factor_grids():
    sf = ScaleFilter()
    factors = sf.scale_factors
    assert factors.shape == (17,)
    assert factors[8] == pytest.approx(1.0)
    # sample n sits n * 33 / 17 interpolated steps of 1.02 from the centre
    np.testing.assert_allclose(factors, 1.02 ** ((np.arange(17) - 8) * 33 / 17))
    # 8 * 33 / 17 = 15.529 steps: 1.02^15.529 = exp(15.529 * 0.019803) = 1.3600
    assert factors[0] == pytest.approx(1 / 1.3600, abs=1e-4) and factors[-1] == pytest.approx(1.3600, abs=1e-4)
    interp = sf.interp_scale_factors
    assert interp.shape == (33,)
    assert interp[0] == 1.0 and interp[1] == pytest.approx(1.02) and interp[32] == pytest.approx(1 / 1.02)
    assert interp[16] == pytest.approx(1.02**16) and interp[17] == pytest.approx(1.02**-16)
    # the window is MATLAB's hann(17): zero at both ends, one in the middle
    assert sf.window[0] == 0 and sf.window[-1] == 0 and sf.window[8] == pytest.approx(1.0)


def test_interpolate_response_is_trigonometric_interpolation():
    k = np.arange(17)
    signal = 0.3 + np.cos(2 * np.pi * 3 * k / 17 + 0.4)
    fine = interpolate_response(np.fft.fft(signal), 33)
    j = np.arange(33)
    np.testing.assert_allclose(fine, 0.3 + np.cos(2 * np.pi * 3 * j / 33 + 0.4), atol=1e-12)


def test_model_size_and_scale_limits():
    frame = _render(_texture(), 1.0)  # 240 x 240
    sf = ScaleFilter()
    sf.init(frame, CENTER, (60.0, 80.0))
    # 60 x 80 = 4800 px > 512: shrink by sqrt(512 / 4800) -> floor(19.6), floor(26.1)
    assert sf.scale_model_sz == (19, 26)
    # target >= 5 px: 1.02^ceil(log(5/60)/log(1.02)) = 1.02^-125; <= frame: 1.02^floor(log(240/80)/log(1.02))
    assert sf.min_scale_factor == pytest.approx(1.02**-125)
    assert sf.max_scale_factor == pytest.approx(1.02**55)
    assert sf.clamp_scale(100.0) == pytest.approx(1.02**55) and sf.clamp_scale(1.3) == 1.3
    small = ScaleFilter()
    small.init(frame, CENTER, (10.0, 12.0), current_scale=1.5)  # initial size 15 x 18 < 512 px
    assert small.scale_model_sz == (15, 18)
    thin = ScaleFilter()
    thin.init(frame, CENTER, (4.0, 30.0))  # fHOG needs two cells: at least 8 px
    assert thin.scale_model_sz == (8, 30)


def test_unchanged_target_gives_unit_scale_change():
    frame = _render(_texture(), 1.0)
    sf = ScaleFilter()
    sf.init(frame, CENTER, BASE_HW)
    change, score = sf.track(frame, CENTER, BASE_HW, 1.0)
    assert change == pytest.approx(1.0, abs=2e-3)
    assert score == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("scales", [(1.05, 1.05, 1.1, 1.1), (0.95, 0.95, 0.9, 0.9)])
@pytest.mark.parametrize(
    ("texture_size", "base_hw"),
    [
        (240, BASE_HW),
        # a large target: its patches are cut from a region shrunk by 2 first
        (400, np.array([130.0, 150.0])),
    ],
)
def test_estimates_known_scale_changes(scales, texture_size, base_hw):
    texture = _texture(size=texture_size)
    center = (texture_size / 2, texture_size / 2)
    sf = ScaleFilter()
    sf.init(_render(texture, 1.0, center), center, base_hw)
    current = 1.0
    for i, true_scale in enumerate(scales):
        frame = _render(texture, true_scale, center)
        change, score = sf.track(frame, center, base_hw, current)
        current = sf.clamp_scale(current * change)
        # fDSST recovers most of a jump at once (the scale window pulls towards no change)
        # and the rest on the next frame at the same scale
        tolerance = 0.02 if i % 2 == 0 else 0.01
        assert current == pytest.approx(true_scale, rel=tolerance), (i, true_scale, current)
        assert score > 0.5
        sf.update(frame, center, base_hw, current)


class _ShiftedSamples(ScaleFilter):
    """Feeds a fixed random sample matrix, circularly shifted along the scales."""

    def __init__(self):
        super().__init__()
        self.samples = np.random.default_rng(3).normal(size=(124, 17)).astype(np.float32)
        self.shift = 0

    def extract_samples(self, frame, center_yx, base_target_sz_hw, current_scale):
        return np.roll(self.samples, self.shift, axis=1)


@pytest.mark.parametrize("shift", [-2, -1, 1, 2, 3])
def test_circular_shift_of_the_samples_is_recovered(shift):
    # with the scale window switched off, a shift by n samples is exactly a scale change of
    # 1.02^(n * 33 / 17); the parabola refines it to within a small fraction of a step
    sf = _ShiftedSamples()
    sf.window = np.ones_like(sf.window)
    frame = np.zeros((64, 64, 3), np.uint8)
    sf.init(frame, (32, 32), (20, 20))
    sf.shift = shift
    change, score = sf.track(frame, (32, 32), (20, 20), 1.0)
    assert math.log(change) / math.log(1.02) == pytest.approx(shift * 33 / 17, abs=0.05)
    assert score == pytest.approx(1.0, abs=0.01)


def test_targets_at_the_border_and_grey_frames():
    frame = _render(_texture(), 1.0)
    sf = ScaleFilter()
    sf.init(frame, (3.0, 236.0), BASE_HW)  # mostly outside: replicated borders
    change, score = sf.track(frame, (3.0, 236.0), BASE_HW, 1.0)
    assert math.isfinite(change) and math.isfinite(score)
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    sf_grey = ScaleFilter()
    sf_grey.init(grey, CENTER, BASE_HW)
    assert sf_grey.track(grey, CENTER, BASE_HW, 1.0)[0] == pytest.approx(1.0, abs=2e-3)
    # a very large scale subsamples the frame first
    sf.update(frame, CENTER, BASE_HW, 3.0)
    assert math.isfinite(sf.track(frame, CENTER, BASE_HW, 3.0)[0])


def test_rejects_bad_calls_and_configs():
    frame = _render(_texture(), 1.0)
    sf = ScaleFilter()
    with pytest.raises(TrackerError):
        sf.track(frame, CENTER, BASE_HW, 1.0)
    with pytest.raises(TrackerError):
        sf.update(frame, CENTER, BASE_HW, 1.0)
    with pytest.raises(TrackerError):
        sf.init(frame.astype(np.float32), CENTER, BASE_HW)
    with pytest.raises(TrackerError):
        sf.init(frame[:, :, :2], CENTER, BASE_HW)
    with pytest.raises(TrackerError):
        sf.init(frame, CENTER, (0.0, 10.0))
    with pytest.raises(TrackerError):
        sf.init(frame, (np.nan, 3.0), BASE_HW)
    with pytest.raises(TrackerError):
        sf.init(frame, CENTER, BASE_HW, current_scale=-1.0)
    with pytest.raises(TrackerError):
        sf.init(frame, (1.0, 2.0, 3.0), BASE_HW)
    for bad in (
        {"number_of_scales": 2},
        {"number_of_interp_scales": 9},
        {"scale_step": 1.0},
        {"learning_rate": 0.0},
        {"reg_lambda": 0.0},
        {"cell_size": 4, "min_model_px": 4},
        {"num_compressed_dim": 0},
        {"anchor": 1.0},
        {"anchor": -0.1},
    ):
        with pytest.raises(ValueError):
            ScaleFilterConfig(**bad)
    # fewer compressed dimensions still works
    sf_small = ScaleFilter(ScaleFilterConfig(num_compressed_dim=5))
    sf_small.init(frame, CENTER, BASE_HW)
    assert sf_small.track(frame, CENTER, BASE_HW, 1.0)[0] == pytest.approx(1.0, abs=5e-3)


@pytest.mark.parametrize("compressed", [None, 9])
def test_sample_energy_matches_the_qr_projection(compressed):
    """fDSST's denominator term sum_rows |F(w * Q^T x)|^2: the S x S Gram shortcut (all basis
    vectors kept) and the truncated-basis path both equal the explicit QR projection."""
    import scipy.fft

    sf = ScaleFilter(ScaleFilterConfig(num_compressed_dim=compressed))
    rng = np.random.default_rng(4)
    x = rng.random((300, 17)).astype(np.float32)
    x[:, 6] = x[:, 5] * 1.001  # nearly dependent scale samples, as neighbouring scales are
    q = np.linalg.qr(x.astype(np.float64))[0][:, : compressed or 17]
    f = scipy.fft.fft((q.T @ x.astype(np.float64)) * sf.window, axis=1)
    expected = np.sum(np.abs(f) ** 2, axis=0)
    np.testing.assert_allclose(sf._sample_energy(x), expected, rtol=1e-6, atol=1e-9 * expected.max())


def test_scale_filter_config_given_as_a_dict_of_its_fields():
    """Tracker specs (``cfvgg:scale_filter_config={"learning_rate": 0.015}``) pass the scale
    filter's settings as a dict: it becomes a ScaleFilterConfig, unknown fields raise."""
    from cfvgg_ros.trackers.eco.config import ECOConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    config = ECOConfig.cfvgg(scale_filter_config={"learning_rate": 0.015})
    assert config.scale_filter_config == ScaleFilterConfig(learning_rate=0.015)
    tracker = ECOTracker(config)
    frame = np.full((120, 160, 3), 90, dtype=np.uint8)
    frame[40:80, 60:100] = 200
    tracker.init(frame, (60.0, 40.0, 40.0, 40.0))
    assert tracker.scale_filter.config.learning_rate == 0.015
    with pytest.raises(TypeError):
        ECOConfig.cfvgg(scale_filter_config={"learnrate": 0.015})


def test_anchor_builds_the_filter_from_the_first_template_mixed_in():
    """``anchor`` a: the numerator comes from (1 - a) * running template + a * first template (its
    QR basis and windowed DFT, by hand here); the running template itself is fDSST's; a re-init
    takes a new first template."""
    import scipy.fft
    import scipy.linalg

    a, eta = 0.4, 0.5  # a fast rate keeps the running and the mixed templates far apart
    first, second = _render(_texture(), 1.0), _render(_texture(seed=1), 1.0)
    sf = ScaleFilter(ScaleFilterConfig(anchor=a, learning_rate=eta))
    sf.init(first, CENTER, BASE_HW)
    x0 = sf.extract_samples(first, CENTER, BASE_HW, 1.0)
    x1 = sf.extract_samples(second, CENTER, BASE_HW, 1.0)
    sf.update(second, CENTER, BASE_HW, 1.0)
    running = (1 - eta) * x0 + eta * x1
    np.testing.assert_allclose(sf._template, running, rtol=1e-5, atol=1e-6)
    mixed = (1 - a) * running + a * x0
    basis = scipy.linalg.qr(mixed.astype(np.float64), mode="economic")[0].T
    expected = sf._label_f[None, :] * np.conj(scipy.fft.fft((basis @ mixed) * sf.window, axis=1))
    # QR's column signs are arbitrary per row: compare the sum over rows the response uses
    np.testing.assert_allclose(np.abs(sf._num_f), np.abs(expected), rtol=1e-3, atol=1e-4 * np.abs(expected).max())
    unanchored = scipy.linalg.qr(running.astype(np.float64), mode="economic")[0].T @ running
    unanchored_f = sf._label_f[None, :] * scipy.fft.fft(unanchored * sf.window, axis=1)
    assert not np.allclose(np.abs(sf._num_f), np.abs(unanchored_f), rtol=1e-2)
    sf.init(second, CENTER, BASE_HW)
    np.testing.assert_allclose(sf._first_template, x1, rtol=1e-6)


def test_anchor_reduces_the_lag_behind_a_shrinking_target():
    """A target shrinking 1 % a frame: fDSST's running template absorbs part of the change and the
    estimate ends too large; the anchored filter ends closer."""
    texture = _texture(size=240)
    base = np.array([24.0, 32.0])
    final = {}
    for anchor in (0.0, 0.5):
        sf = ScaleFilter(ScaleFilterConfig(anchor=anchor))
        sf.init(_render(texture, 1.0), CENTER, base)
        current, true = 1.0, 1.0
        for _ in range(60):
            true *= 0.99
            frame = _render(texture, true)
            change, _ = sf.track(frame, CENTER, base, current)
            current = sf.clamp_scale(current * change)
            sf.update(frame, CENTER, base, current)
        final[anchor] = current / true
    assert 1.0 < final[0.5] < final[0.0] < 1.15, final


def _stretch(texture, factor, center=CENTER):
    """The texture ``factor`` times as wide and ``1 / factor`` as high about ``center``."""
    cy, cx = center
    warp = np.array([[factor, 0, (1 - factor) * cx], [0, 1 / factor, (1 - 1 / factor) * cy]])
    size = (texture.shape[1], texture.shape[0])
    return cv2.warpAffine(texture, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def test_aspect_filter_samples_keep_the_area_and_the_scale_filter_its_shape():
    aspect = AspectFilter(ScaleFilterConfig(number_of_scales=9))
    sizes = aspect.sample_sizes(BASE_HW, 0.5)
    f = aspect.scale_factors
    assert sizes[:, 0] == pytest.approx(24.0 / f) and sizes[:, 1] == pytest.approx(32.0 * f)
    assert np.prod(sizes, axis=1) == pytest.approx(np.full(9, 24.0 * 32.0))
    scale = ScaleFilter().sample_sizes(BASE_HW, 0.5)
    assert scale / scale[:, :1] == pytest.approx(np.tile([1.0, 64.0 / 48.0], (17, 1)))


@pytest.mark.parametrize("stretch", [1.08, 1 / 1.08])
def test_aspect_filter_estimates_a_known_stretch(stretch):
    """The target stretched 8 % wider and lower (or narrower and taller): the aspect filter's factor
    follows it within 1.5 % over two frames, as the scale filter follows a scale jump."""
    texture = _texture()
    aspect = AspectFilter()
    aspect.init(_render(texture, 1.0), CENTER, BASE_HW)
    unchanged, _ = aspect.track(_render(texture, 1.0), CENTER, BASE_HW, 1.0)
    assert unchanged == pytest.approx(1.0, abs=2e-3)
    frame = _stretch(texture, stretch)
    shape = np.ones(2)
    for _ in range(2):
        factor, score = aspect.track(frame, CENTER, BASE_HW * shape, 1.0)
        shape *= np.array([1.0 / factor, factor])
        assert score > 0.5
        aspect.update(frame, CENTER, BASE_HW * shape, 1.0)
    assert shape[1] == pytest.approx(stretch, rel=0.015) and shape[0] == pytest.approx(1.0 / stretch, rel=0.015)


def _stretching_scene_track(frames=13, **overrides):
    """fHOG ECO on a texture stretched 1 % wider and lower a frame about the target's centre: the
    tracker and its boxes (the first box 64 wide, 48 high)."""
    from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        **overrides))
    texture = _texture()
    box = (CENTER[1] - 32.0, CENTER[0] - 24.0, 64.0, 48.0)
    tracker.init(_render(texture, 1.0), box)
    return tracker, [tracker.update(_stretch(texture, 1.01**i)) for i in range(1, frames)]


def test_tracker_aspect_filter_follows_a_stretching_target():
    _, fixed = _stretching_scene_track()
    assert fixed[-1].box[2] / fixed[-1].box[3] == pytest.approx(64.0 / 48.0, rel=1e-6)  # off: the first shape
    tracker, boxes = _stretching_scene_track(aspect_filter=True)
    w, h = boxes[-1].box[2:]
    true_ratio = (64.0 / 48.0) * 1.01 ** (2 * 12)  # 12 frames: 1.01^12 wider, 1.01^12 lower
    # it follows with a lag (one 2 % step of the ratio a frame, most of it recovered on the next):
    # more than half the change in log ratio, never past it
    assert (64.0 / 48.0) * 1.01**12 < w / h <= true_ratio * 1.01
    assert tracker.base_target_sz[1] / tracker.base_target_sz[0] == pytest.approx(64.0 / 48.0)  # the filter's template
    assert w * h == pytest.approx(float(np.prod(tracker.target_sz)))  # the shape keeps the scale's area
    # bounded: 1.05 per axis at most
    _, limited = _stretching_scene_track(aspect_filter=True, aspect_limit=1.05)
    w, h = limited[-1].box[2:]
    assert (w / h) == pytest.approx((64.0 / 48.0) * 1.05**2, rel=1e-6)


def test_tracker_aspect_filter_runs_every_nth_frame():
    tracker, _ = _stretching_scene_track(frames=8, aspect_filter=True, aspect_every=3)
    calls = []
    tracker.aspect_filter.track = lambda *a: calls.append("track") or (1.0, 1.0)
    tracker.aspect_filter.update = lambda *a, **k: calls.append("update")
    texture = _texture()
    for i in range(8, 14):  # frame indices 8..13: 9 and 12 are due
        tracker.update(_stretch(texture, 1.01**i))
    assert calls == ["track", "update"] * 2
    with pytest.raises(ValueError):
        from cfvgg_ros.trackers.eco.config import ECOConfig

        ECOConfig.cfvgg(aspect_every=0)


def _filter_calls(scale_every):
    """Which 1-D filter ran ("S" scale, "A" aspect; track, then update) on frame indices 8..13."""
    tracker, _ = _stretching_scene_track(frames=8, aspect_filter=True, aspect_every=2, scale_every=scale_every)
    calls = []
    tracker.scale_filter.track = lambda *a: calls.append("S") or (1.0, 1.0)
    tracker.scale_filter.update = lambda *a, **k: calls.append("S")
    tracker.aspect_filter.track = lambda *a: calls.append("A") or (1.0, 1.0)
    tracker.aspect_filter.update = lambda *a, **k: calls.append("A")
    texture = _texture()
    for i in range(8, 14):
        tracker.update(_stretch(texture, 1.01**i))
    return calls


def test_tracker_scale_filter_takes_turns_with_the_aspect_filter():
    """``scale_every = aspect_every = 2``: the scale filter runs on the odd frame indices, the aspect
    filter on the even ones, so no frame runs both; ``scale_every = 1`` runs it on every frame."""
    assert _filter_calls(2) == ["A", "A", "S", "S"] * 3
    assert _filter_calls(1) == ["S", "A", "S", "A", "S", "S"] * 3
    with pytest.raises(ValueError, match="scale_every"):
        from cfvgg_ros.trackers.eco.config import ECOConfig

        ECOConfig.cfvgg(scale_every=0)


def test_update_can_learn_from_the_detection_samples():
    """``reuse_detection``: the model learns the samples :meth:`track` cut (at the old scale), the same
    model as an update at the old scale, and no samples are cut again; without a detection since
    the last update it cuts them as usual."""
    texture = _texture()
    first, frame = _render(texture, 1.0), _render(texture, 1.05)
    reusing, plain = ScaleFilter(), ScaleFilter()
    for f in (reusing, plain):
        f.init(first, CENTER, BASE_HW)
        f.track(frame, CENTER, BASE_HW, 1.0)
    cuts = []
    extract = reusing.extract_samples
    reusing.extract_samples = lambda *a: cuts.append(a[3]) or extract(*a)
    reusing.update(frame, CENTER, BASE_HW, 1.05, reuse_detection=True)
    plain.update(frame, CENTER, BASE_HW, 1.0)  # the detection's geometry
    assert cuts == []
    np.testing.assert_array_equal(reusing._num_f, plain._num_f)
    np.testing.assert_array_equal(reusing._den_f, plain._den_f)
    reusing.update(frame, CENTER, BASE_HW, 1.05, reuse_detection=True)  # no detection since: cut again
    assert cuts == [1.05]
