"""OpenCV peer trackers behind the contract, on a small moving textured square."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.core.contract import TrackerError
from cfvgg_ros.core.registry import create_tracker
from cfvgg_ros.datasets.sequence import Sequence
from cfvgg_ros.evaluation.metrics import box_iou as _iou
from cfvgg_ros.paths import shared_models_root
from cfvgg_ros.trackers.opencv import (
    NANO_BACKBONE_NAME,
    NanoTracker,
    OpenCVTracker,
    box_to_float_rect,
    box_to_int_rect,
)

H, W, SIZE, FRAMES = 120, 160, 28, 20




def moving_square(num_frames=FRAMES, step=(2.0, 1.0)) -> Sequence:
    """A textured square moving ``step`` pixels per frame over a smooth, darker background."""
    rng = np.random.default_rng(7)
    coarse = rng.integers(40, 90, size=(H // 8 + 1, W // 8 + 1, 3))
    background = np.kron(coarse, np.ones((8, 8, 1)))[:H, :W].astype(np.uint8)
    texture = rng.integers(0, 256, size=(SIZE // 4, SIZE // 4, 3))
    texture = np.kron(texture, np.ones((4, 4, 1))).astype(np.uint8)
    boxes = np.array([[20 + step[0] * i, 30 + step[1] * i, SIZE, SIZE] for i in range(num_frames)], float)

    def render(index: int) -> np.ndarray:
        frame = background.copy()
        x, y = int(boxes[index, 0]), int(boxes[index, 1])
        frame[y:y + SIZE, x:x + SIZE] = texture
        return frame

    return Sequence(name="square", dataset="test", boxes=boxes, render=render)


def _track(tracker, sequence):
    tracker.init(sequence.frame(0), sequence.boxes[0])
    results = [tracker.update(sequence.frame(i)) for i in range(1, len(sequence))]
    return results


@pytest.mark.parametrize("name", ["opencv-csrt", "opencv-kcf", "opencv-mosse"])
def test_opencv_trackers_follow_square(name):
    sequence = moving_square()
    results = _track(create_tracker(name), sequence)
    assert _iou(results[-1].box, sequence.boxes[-1]) > 0.5
    assert all(r.score == 1.0 for r in results)
    assert all(isinstance(v, float) for v in results[-1].box)


def test_nano_follows_square():
    if shared_models_root() is None or not (shared_models_root() / "peers" / "nanotrack"
                                            / NANO_BACKBONE_NAME).is_file():
        pytest.skip("NanoTrack ONNX models not found under shared/models/peers/nanotrack")
    sequence = moving_square()
    tracker = create_tracker("opencv-nano")
    assert isinstance(tracker, NanoTracker)
    results = _track(tracker, sequence)
    assert _iou(results[-1].box, sequence.boxes[-1]) > 0.5
    assert 0.0 <= results[-1].score <= 1.0


def test_nano_missing_model_names_path(tmp_path):
    head = tmp_path / "head.onnx"
    head.write_bytes(b"")
    missing = tmp_path / "missing_backbone.onnx"
    with pytest.raises(FileNotFoundError, match="missing_backbone.onnx"):
        NanoTracker(backbone=missing, head=head)


def test_int_rect_rounds_corners_and_clips():
    assert box_to_int_rect((10.4, 10.6, 20.2, 5.0), (100, 100)) == (10, 11, 21, 5)
    assert box_to_int_rect((-5.0, 90.0, 20.0, 20.0), (100, 100)) == (0, 90, 15, 10)
    assert box_to_int_rect((3.2, 3.2, 0.2, 0.2), (100, 100))[2:] == (1, 1)
    with pytest.raises(TrackerError):
        box_to_int_rect((200.0, 0.0, 10.0, 10.0), (100, 100))


def test_float_rect_clips():
    assert box_to_float_rect((-2.5, 1.5, 10.0, 10.0), (50, 50)) == (0.0, 1.5, 7.5, 10.0)
    with pytest.raises(TrackerError):
        box_to_float_rect((49.5, 0.0, 10.0, 10.0), (50, 50))


def test_parameters_are_checked():
    with pytest.raises(TrackerError, match="unknown KCF parameter 'nope'"):
        OpenCVTracker.kcf(nope=1)
    with pytest.raises(TrackerError, match="MOSSE takes no parameters"):
        OpenCVTracker.mosse(sigma=1)
    tracker = OpenCVTracker.csrt(use_segmentation=False, number_of_scales=17)
    assert tracker.params == {"use_segmentation": False, "number_of_scales": 17}


class _LosingCVTracker:
    """Stands in for an OpenCV tracker that finds the target once, then loses it."""

    def __init__(self):
        self.calls = 0

    def init(self, frame, rect):
        assert frame.shape[2] == 3
        self.first_pixel = frame[0, 0].copy()

    def update(self, frame):
        self.calls += 1
        if self.calls == 1:
            return True, (5, 6, 7, 8)
        return False, (0, 0, 0, 0)


def test_lost_target_keeps_last_box_with_zero_score():
    fake = _LosingCVTracker()
    tracker = OpenCVTracker("fake", lambda: fake)
    frame = np.zeros((40, 40, 3), np.uint8)
    frame[0, 0] = (255, 0, 0)  # red in RGB
    tracker.init(frame, (1, 2, 10, 10))
    assert tuple(fake.first_pixel) == (0, 0, 255)  # OpenCV got BGR
    found = tracker.update(frame)
    lost = tracker.update(frame)
    assert found.box == (5.0, 6.0, 7.0, 8.0) and found.score == 1.0
    assert lost.box == found.box and lost.score == 0.0
