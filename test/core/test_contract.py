"""The tracker contract: input validation, call order, registry look-ups."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult, check_box, check_frame
from cfvgg_ros.core.registry import available_trackers, create_tracker, register_tracker


class _EchoTracker(Tracker):
    """Returns the init box every frame."""

    def _init(self, frame, box):
        self.box = box

    def _update(self, frame):
        return TrackResult(self.box, 1.0)


def _frame(h=20, w=30):
    return np.zeros((h, w, 3), np.uint8)


def test_check_frame_accepts_rgb_uint8():
    frame = _frame()
    assert check_frame(frame) is frame


@pytest.mark.parametrize(
    "bad, message",
    [
        ([[1, 2, 3]], "numpy array"),
        (np.zeros((4, 4), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 4), np.uint8), "HxWx3"),
        (np.zeros((4, 4, 3), np.float32), "uint8"),
        (np.zeros((0, 4, 3), np.uint8), "empty"),
    ],
)
def test_check_frame_rejects(bad, message):
    with pytest.raises(TrackerError, match=message):
        check_frame(bad)


def test_check_box_returns_floats():
    assert check_box([1, 2, 3, 4], (20, 30)) == (1.0, 2.0, 3.0, 4.0)


@pytest.mark.parametrize(
    "box, message",
    [
        ("abcd", "four numbers"),
        ([1, 2, 3], "four numbers"),
        ([1, 2, float("nan"), 4], "non-finite"),
        ([1, 2, 0, 4], "positive"),
        ([1, 2, 3, -1], "positive"),
        ([30, 2, 3, 4], "outside"),
        ([-10, 2, 10, 4], "outside"),
    ],
)
def test_check_box_rejects(box, message):
    with pytest.raises(TrackerError, match=message):
        check_box(box, (20, 30))


def test_tracker_error_is_value_error():
    assert issubclass(TrackerError, ValueError)


def test_update_before_init_raises():
    with pytest.raises(TrackerError, match="before init"):
        _EchoTracker().update(_frame())


def test_init_validates_and_update_returns_result():
    tracker = _EchoTracker()
    with pytest.raises(TrackerError):
        tracker.init(_frame(), [0, 0, 0, 5])
    assert not tracker.initialised
    tracker.init(_frame(), [1, 2, 3, 4])
    result = tracker.update(_frame())
    assert result == TrackResult((1.0, 2.0, 3.0, 4.0), 1.0)
    with pytest.raises(TrackerError, match="uint8"):
        tracker.update(np.zeros((20, 30, 3), np.float64))


def test_registry_unknown_name_lists_available():
    with pytest.raises(KeyError) as info:
        create_tracker("no-such-tracker")
    text = str(info.value)
    assert "no-such-tracker" in text
    for name in ("opencv-csrt", "opencv-kcf", "opencv-mosse", "opencv-nano"):
        assert name in text


def test_registry_register_callable_and_create_sets_name():
    register_tracker("test-contract-echo", _EchoTracker)
    assert "test-contract-echo" in available_trackers()
    tracker = create_tracker("test-contract-echo")
    assert isinstance(tracker, _EchoTracker)
    assert tracker.name == "test-contract-echo"


def test_registry_lazy_opencv_factories_resolve():
    tracker = create_tracker("opencv-mosse")
    assert isinstance(tracker, Tracker)
    assert tracker.name == "opencv-mosse"
