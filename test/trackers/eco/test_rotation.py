"""Rotation-aware sampling (an ECO option, off by default): the turned patch sampler and the
tracker turning its samples."""

import math

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
from cfvgg_ros.trackers.eco.feature_blocks import rotation, sample_patch, sample_rotated_patch
from cfvgg_ros.trackers.eco.tracker import ECOTracker


def test_angle_zero_is_the_plain_sampler():
    frame = np.random.default_rng(0).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    plain = sample_patch(frame, (60.3, 80.7), (50, 70), (25, 35))
    turned = sample_rotated_patch(frame, (60.3, 80.7), (50, 70), (25, 35), 0.0)
    np.testing.assert_array_equal(plain[0], turned[0])
    assert plain[1:] == turned[1:]


@pytest.mark.parametrize("degrees", [90.0, -90.0, 30.0])
def test_a_point_lands_where_the_rotation_puts_it(degrees):
    """A 3x3 bright blob 20 px right of the centre appears at R^T (0, 20) in the turned patch."""
    frame = np.zeros((200, 300, 3), dtype=np.uint8)
    frame[99:102, 169:172] = 255  # centred on pixel (100, 170): continuous centre (100.5, 170.5)
    angle = math.radians(degrees)
    patch, centre, scale = sample_rotated_patch(frame, (100.5, 150.5), (81, 81), (81, 81), angle)
    assert centre == (100.5, 150.5) and scale == (1.0, 1.0)
    weights = patch[..., 0].astype(np.float64)
    rows, cols = np.indices(weights.shape)
    found = np.array([(weights * rows).sum(), (weights * cols).sum()]) / weights.sum() + 0.5 - 40.5
    np.testing.assert_allclose(found, rotation(angle).T @ np.array([0.0, 20.0]), atol=0.3)


def test_rotation_step_is_validated_and_off_by_default():
    assert ECOConfig.feco().rotation_step == 0.0 and ECOConfig.cfvgg().rotation_step == 0.0
    for bad in ({"rotation_step": -1.0}, {"rotation_trigger": 0.0}, {"max_rotation": -5.0}):
        with pytest.raises(ValueError):
            ECOConfig.feco(**bad)


def test_tracker_turns_its_samples_with_a_turning_target():
    """A textured bar turning 8 degrees a frame about a fixed centre on grey: with rotation steps
    of 8 degrees the tracker's sample angle follows the bar and the centre holds."""
    import cv2

    rng = np.random.default_rng(3)
    bar = cv2.resize(rng.integers(0, 256, (4, 12, 3), dtype=np.uint8), (96, 32), interpolation=cv2.INTER_NEAREST)
    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        use_scale_filter=False, rotation_step=8.0, rotation_trigger=1.0))

    def frame_at(degrees):
        frame = np.full((240, 320, 3), 128, dtype=np.uint8)
        frame[104:136, 112:208] = bar
        turn = cv2.getRotationMatrix2D((159.5, 119.5), degrees, 1.0)
        return cv2.warpAffine(frame, turn, (320, 240), borderValue=(128, 128, 128))

    tracker.init(frame_at(0.0), (112.0, 104.0, 96.0, 32.0))
    for i in range(1, 6):
        result = tracker.update(frame_at(8.0 * i))
        cx, cy = result.box[0] + result.box[2] / 2, result.box[1] + result.box[3] / 2
        assert abs(cx - 160.0) < 4.0 and abs(cy - 120.0) < 4.0
    # OpenCV turns counter-clockwise on the screen for positive degrees: the samples follow it
    assert abs(math.degrees(tracker.angle)) >= 16.0
