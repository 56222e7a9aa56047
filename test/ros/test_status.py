"""IDLE / TRACKING / LOST state machine and the node's status numbers."""

import math

import pytest

from cfvgg_ros.ros.status import LostStateMachine, NodeStatus, TrackState


def test_lost_after_n_low_frames_and_recovery():
    machine = LostStateMachine(score_threshold=0.5, lost_frames=3, recover_frames=2)
    assert machine.state is TrackState.IDLE
    assert machine.observe(0.0) is TrackState.IDLE  # nothing happens before an init
    machine.start()
    assert [machine.observe(s).value for s in (0.9, 0.1, 0.2, 0.8, 0.1, 0.1)] == ["TRACKING"] * 6
    assert machine.observe(0.1) is TrackState.LOST  # third low in a row
    assert machine.observe(0.9) is TrackState.LOST  # one good frame is not enough
    assert machine.observe(0.2) is TrackState.LOST
    assert machine.observe(0.9) is TrackState.LOST
    assert machine.observe(0.6) is TrackState.TRACKING
    assert machine.reset() is TrackState.IDLE


def test_nan_scores_count_as_misses_and_init_restarts():
    machine = LostStateMachine(0.5, lost_frames=1)
    machine.start()
    assert machine.observe(math.nan) is TrackState.LOST
    assert machine.start() is TrackState.TRACKING


def test_bad_machine_parameters():
    with pytest.raises(ValueError):
        LostStateMachine(lost_frames=0)
    with pytest.raises(ValueError):
        LostStateMachine(score_threshold=math.nan)


class _Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_status_numbers():
    clock = _Clock()
    status = NodeStatus(LostStateMachine(0.5, lost_frames=2), window=10, clock=clock)
    values = dict(status.key_values())
    assert values["state"] == "IDLE" and values["fps"] == "0.00" and values["latency_ms"] == "nan"
    status.frame_received(dropped_pending=False)
    status.frame_received(dropped_pending=True)
    status.initialised(stamp_ns=42)
    for i in range(5):
        clock.t += 0.1
        status.frame_done(1000 + i, score=0.9, tracker_s=0.02)
        status.latency(0.03, 0.05)
    values = dict(status.key_values())
    assert values["state"] == "TRACKING" and values["score"] == "0.9000"
    assert float(values["fps"]) == pytest.approx(10.0)
    assert float(values["tracker_fps"]) == pytest.approx(50.0)
    assert float(values["latency_ms"]) == pytest.approx(30.0)
    assert float(values["stamp_latency_p95_ms"]) == pytest.approx(50.0)
    assert values["frames_received"] == "2" and values["dropped_frames"] == "1"
    assert values["frames_processed"] == "5" and values["init_stamp_ns"] == "42"
    assert values["frame_stamp_ns"] == "1004"
    assert status.level() == 0 and status.summary() == "TRACKING"


def test_errors_and_lost_raise_the_level():
    clock = _Clock()
    status = NodeStatus(LostStateMachine(0.5, lost_frames=1), clock=clock)
    status.error("image on 'image' rejected: bad")
    assert status.level() == 1 and "rejected: bad" in status.summary()
    assert dict(status.key_values())["last_error"] == "image on 'image' rejected: bad"
    clock.t += 60
    assert status.level() == 0  # old errors stop warning, but stay in last_error
    status.initialised(1)
    assert status.frame_done(2, score=0.0) is TrackState.LOST
    assert status.level() == 1
    status.frame_done(3)  # a frame handled without tracking changes nothing
    assert status.state is TrackState.LOST and dict(status.key_values())["frames_processed"] == "1"


def test_default_score_thresholds_follow_the_tracker():
    from cfvgg_ros.core import tracker_info

    assert tracker_info("feco").lost_threshold == 0.15
    assert tracker_info("eco-hc").lost_threshold == 0.10
    assert tracker_info("opencv-csrt").lost_threshold == 0.5  # found 1 / lost 0
    assert tracker_info("my_pkg.trackers:Factory").lost_threshold == 0.5  # plug-ins: the default
