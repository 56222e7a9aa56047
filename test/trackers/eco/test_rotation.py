"""Rotation-aware sampling (an ECO option, off by default): the turned patch sampler and the
tracker turning its samples."""

import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
from cfvgg_ros.trackers.eco.feature_blocks import rotation, sample_patch, sample_warped_patch
from cfvgg_ros.trackers.eco.tracker import ECOTracker


def test_unturned_warp_at_whole_pixels_is_the_crop():
    """Region on whole pixels, no scaling: the warp samples pixel centres, i.e. the crop itself."""
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    plain = sample_patch(frame, (60.0, 80.0), (50, 70), (50, 70))
    warped = sample_warped_patch(frame, (60.0, 80.0), (50, 70), (50, 70))
    np.testing.assert_array_equal(plain[0], warped[0])
    np.testing.assert_array_equal(warped[0], frame[35:85, 45:115])
    assert warped[1:] == ((60.0, 80.0), (1.0, 1.0))


def test_warp_reduces_by_a_whole_factor_with_area_averages():
    """4x4 blocks of one value each (a checker of 0 / 200 in channel 0), region on the block grid,
    4x smaller output: each output pixel is its block's value. A 5x reduction of the same checker
    averages it out to its mean (100), as the crop sampler's does."""
    blocks = (np.indices((30, 40)).sum(axis=0) % 2 * 200).astype(np.uint8)
    frame = np.repeat(np.repeat(blocks, 4, axis=0), 4, axis=1)[..., None].repeat(3, axis=2)
    patch, centre, scale = sample_warped_patch(frame, (60.0, 80.0), (80, 120), (20, 30))
    assert scale == (4.0, 4.0) and centre == (60.0, 80.0)
    np.testing.assert_array_equal(patch[..., 0], blocks[5:25, 5:35])
    warped = sample_warped_patch(frame, (60.0, 80.0), (100, 100), (20, 20))[0][..., 0].astype(np.float64)
    cropped = sample_patch(frame, (60.0, 80.0), (100, 100), (20, 20))[0][..., 0].astype(np.float64)
    assert abs(warped.mean() - 100.0) < 3.0 and abs(cropped.mean() - 100.0) < 3.0


def test_warp_replicates_borders_also_when_reducing():
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :, 0] = np.arange(80, dtype=np.uint8)[None, :]
    frame[:, :, 1] = np.arange(60, dtype=np.uint8)[:, None]
    patch, _, scale = sample_warped_patch(frame, (5.0, 2.0), (40, 40), (10, 10))  # factor 4, mostly outside
    assert scale == (4.0, 4.0)
    # left of / above the frame: the first whole 4-pixel block inside it, replicated (on the
    # region's block grid, x from -18: columns 2..5, mean 3.5; rows 0..3 (y from -15), mean 1.5)
    np.testing.assert_array_equal(patch[:, :4, 0], 4)
    np.testing.assert_array_equal(patch[:3, :, 1], 2)
    far = sample_warped_patch(frame, (-500.0, -500.0), (10, 10), (5, 5), 0.3)[0]  # entirely outside
    # one value everywhere: a 2x2 block mean (factor 2) within one block of the corner, replicated
    assert far.shape == (5, 5, 3) and np.ptp(far[..., 0]) == 0 and np.ptp(far[..., 1]) == 0 and far[..., :2].max() <= 2
    far = sample_warped_patch(frame, (-500.0, 900.0), (400, 400), (20, 20))[0]  # reduced, entirely outside
    # factor 20: the corner block's mean (rows 0..19: 9.5; the last 20 columns: 69.5) everywhere
    assert far.shape == (20, 20, 3) and np.ptp(far[..., 0]) == 0 and np.ptp(far[..., 1]) == 0
    assert far[0, 0, 1] == 10 and far[0, 0, 0] == 70


@pytest.mark.parametrize("degrees", [90.0, -90.0, 30.0])
def test_a_point_lands_where_the_rotation_puts_it(degrees):
    """A 3x3 bright blob 20 px right of the centre appears at R^T (0, 20) in the turned patch."""
    frame = np.zeros((200, 300, 3), dtype=np.uint8)
    frame[99:102, 169:172] = 255  # centred on pixel (100, 170): continuous centre (100.5, 170.5)
    angle = math.radians(degrees)
    patch, centre, scale = sample_warped_patch(frame, (100.5, 150.5), (81, 81), (81, 81), angle)
    assert centre == (100.5, 150.5) and scale == (1.0, 1.0)
    weights = patch[..., 0].astype(np.float64)
    rows, cols = np.indices(weights.shape)
    found = np.array([(weights * rows).sum(), (weights * cols).sum()]) / weights.sum() + 0.5 - 40.5
    np.testing.assert_allclose(found, rotation(angle).T @ np.array([0.0, 20.0]), atol=0.3)


def test_rotation_settings_are_validated_and_off_by_default():
    for config, sampler in ((ECOConfig.feco(), "crop"), (ECOConfig.cfvgg(), "warp")):
        assert (config.rotation_step, config.rotation_searches, config.patch_sampler) == (0.0, 2, sampler)
    for bad in ({"rotation_step": -1.0}, {"rotation_trigger": 0.0}, {"max_rotation": -5.0},
                {"rotation_margin": -0.1}, {"rotation_box": "circle"}, {"rotation_searches": 3},
                {"patch_sampler": "nearest"}):
        with pytest.raises(ValueError):
            ECOConfig.feco(**bad)


def _turning_bar_tracker(use_scale_filter: bool, searches: int = 2):
    import cv2

    rng = np.random.default_rng(3)
    bar = cv2.resize(rng.integers(0, 256, (4, 12, 3), dtype=np.uint8), (96, 32), interpolation=cv2.INTER_NEAREST)
    # the warp sampler from the first frame on: unturned and turned samples interpolated alike
    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        use_scale_filter=use_scale_filter, rotation_step=8.0,
                                        patch_sampler="warp", rotation_trigger=1.0, rotation_searches=searches,
                                        rotation_margin=0.0, rotation_box="rectangle"))

    def frame_at(degrees):
        frame = np.full((240, 320, 3), 128, dtype=np.uint8)
        frame[104:136, 112:208] = bar
        turn = cv2.getRotationMatrix2D((159.5, 119.5), degrees, 1.0)
        return cv2.warpAffine(frame, turn, (320, 240), borderValue=(128, 128, 128))

    tracker.init(frame_at(0.0), (112.0, 104.0, 96.0, 32.0))
    return tracker, frame_at


def test_tracker_turns_its_samples_with_a_turning_target():
    """A textured bar turning 8 degrees a frame about a fixed centre on grey: with rotation steps
    of 8 degrees the tracker's sample angle follows the bar and the centre holds."""
    tracker, frame_at = _turning_bar_tracker(use_scale_filter=False)
    for i in range(1, 6):
        result = tracker.update(frame_at(8.0 * i))
        cx, cy = result.box[0] + result.box[2] / 2, result.box[1] + result.box[3] / 2
        assert abs(cx - 160.0) < 4.0 and abs(cy - 120.0) < 4.0
    # OpenCV turns counter-clockwise on the screen for positive degrees: the samples follow it
    assert abs(math.degrees(tracker.angle)) >= 16.0


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_one_search_a_frame_turns_back_after_a_miss(direction):
    """rotation_searches=1 tries one sign a frame (+ first): a bar turning the other way costs
    one missed frame, after which the samples follow it as with two searches; the sign that won
    is kept, so a bar turning + is followed from the first frame."""
    tracker, frame_at = _turning_bar_tracker(use_scale_filter=False, searches=1)
    angles = []
    for i in range(1, 6):
        result = tracker.update(frame_at(direction * 8.0 * i))
        cx, cy = result.box[0] + result.box[2] / 2, result.box[1] + result.box[3] / 2
        assert abs(cx - 160.0) < 4.0 and abs(cy - 120.0) < 4.0
        angles.append(math.degrees(tracker.angle))
    signs = np.sign([a for a in angles if a])
    assert len(signs) >= 3 and np.all(signs == signs[-1]) and abs(angles[-1]) >= 16.0
    two, frame_at = _turning_bar_tracker(use_scale_filter=False, searches=2)
    for i in range(1, 6):
        two.update(frame_at(direction * 8.0 * i))
    assert np.sign(two.angle) == signs[-1]  # the same way as the two-search form


def test_a_turned_target_is_reported_by_the_box_around_it():
    """With the samples turned by a, the box is the axis-aligned box of the turned target:
    w' = w |cos a| + h |sin a|, h' = w |sin a| + h |cos a| (96 x 32 bar, no scale change)."""
    tracker, frame_at = _turning_bar_tracker(use_scale_filter=False)
    for i in range(1, 6):
        result = tracker.update(frame_at(8.0 * i))
    a = tracker.angle
    assert abs(math.degrees(a)) >= 16.0
    c, s = abs(math.cos(a)), abs(math.sin(a))
    h, w = tracker.target_sz  # the unturned size (its scale estimate near 1)
    assert abs(w / 96.0 - 1.0) < 0.1 and abs(h / 32.0 - 1.0) < 0.1
    np.testing.assert_allclose(result.box[2:], [w * c + h * s, w * s + h * c], rtol=1e-9)
    expected = {"ellipse": [math.hypot(w * c, h * s), math.hypot(w * s, h * c)], "upright": [w, h]}
    for mode, size in expected.items():
        tracker.config = dataclasses.replace(tracker.config, rotation_box=mode)
        box = tracker._result(SimpleNamespace(value=1.0)).box
        np.testing.assert_allclose(box[2:], size, rtol=1e-9)
        np.testing.assert_allclose([box[0] + box[2] / 2, box[1] + box[3] / 2],
                                   [result.box[0] + result.box[2] / 2, result.box[1] + result.box[3] / 2])
    cx, cy = result.box[0] + result.box[2] / 2, result.box[1] + result.box[3] / 2
    assert abs(cx - 160.0) < 4.0 and abs(cy - 120.0) < 4.0


def test_the_scale_filter_sees_a_turned_target_upright():
    """The bar keeps its size while turning: the scale filter, sampling the region turned upright
    by the tracker's angle, holds the scale near 1; its view shows the bar as on the first frame."""
    tracker, frame_at = _turning_bar_tracker(use_scale_filter=True)
    for i in range(1, 7):
        tracker.update(frame_at(8.0 * i))
    assert abs(math.degrees(tracker.angle)) >= 24.0
    assert abs(tracker.current_scale - 1.0) < 0.05
    last = frame_at(48.0)
    view, centre = tracker._scale_view(last)
    ch, cw = (int(round(v)) for v in centre)
    crop = view[ch - 12 : ch + 12, cw - 40 : cw + 40].astype(np.float64)
    reference = frame_at(0.0)[120 - 12 : 120 + 12, 160 - 40 : 160 + 40].astype(np.float64)
    unturned = last[120 - 12 : 120 + 12, 160 - 40 : 160 + 40].astype(np.float64)
    # the bar upright again in the view (within the angle's and the centre's error), not in the frame
    assert np.mean(np.abs(crop - reference)) < 0.5 * np.mean(np.abs(unturned - reference))


def test_a_turned_search_must_beat_the_unturned_peak_by_the_margin():
    """The same turning bar: with no margin the samples follow it; with a margin no turned peak
    can reach (10x the unturned one) they stay upright."""
    followed, frame_at = _turning_bar_tracker(use_scale_filter=False)
    held = ECOTracker(dataclasses.replace(followed.config, rotation_margin=10.0))
    held.init(frame_at(0.0), (112.0, 104.0, 96.0, 32.0))
    for i in range(1, 4):
        followed.update(frame_at(8.0 * i))
        held.update(frame_at(8.0 * i))
    assert abs(math.degrees(followed.angle)) >= 16.0 and held.angle == 0.0


def test_with_max_rotation_180_the_angle_wraps_around():
    """A target may loop: with max_rotation >= 180 a turn past 180 degrees continues from -180."""
    tracker, frame_at = _turning_bar_tracker(use_scale_filter=False)
    tracker.config = dataclasses.replace(tracker.config, max_rotation=180.0)
    tracker.angle = math.radians(176.0)
    tracker._found_mean = 10.0  # every peak is below the trigger: the turned searches run
    seen = set()
    for i in range(1, 4):
        tracker.update(frame_at(176.0 + 8.0 * i))
        seen.add(round(math.degrees(tracker.angle)))
        assert -180.0 <= math.degrees(tracker.angle) <= 180.0
    assert any(a < 0 for a in seen), seen  # went past 180 to the negative side
