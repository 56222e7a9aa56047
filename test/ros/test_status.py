"""IDLE / TRACKING / LOST state machine and the node's status numbers."""

import math

import pytest

from cfvgg_ros.ros.status import BacklogMode, LostStateMachine, NodeStatus, TrackState


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
    status.frame_received(1000)
    status.frame_received(1001)
    status.frames_skipped(1)
    status.initialised(stamp_ns=42, init_s=0.25)
    for i in range(5):
        clock.t += 0.1
        status.frame_done(1000 + i, score=0.9, tracker_s=0.02)
        status.latency(0.03, 0.05, stamp_ns=1000 + i)
    status.backlog_state(BacklogMode.CATCHING_UP, 3, 0.125)
    values = dict(status.key_values())
    assert values["state"] == "TRACKING" and values["score"] == "0.9000"
    assert float(values["fps"]) == pytest.approx(10.0)
    assert float(values["tracker_fps"]) == pytest.approx(50.0)
    assert float(values["latency_ms"]) == pytest.approx(30.0)
    assert float(values["stamp_latency_p95_ms"]) == pytest.approx(50.0)
    assert values["frames_received"] == "2" and values["frames_skipped"] == "1"
    assert values["frames_processed"] == "5" and values["init_stamp_ns"] == "42"
    assert values["frame_stamp_ns"] == "1004"
    assert values["last_result_stamp_ns"] == "1004" and values["last_result_latency_ms"] == "30.00"
    assert values["mode"] == "catching_up" and values["backlog"] == "3" and values["lag_ms"] == "125.00"
    assert values["init_ms"] == "250.00" and values["frames_missing"] == "0"
    assert values["catch_up_frames"] == "" and values["catch_up_ms"] == "nan"
    status.caught_up(12, 0.4)
    assert dict(status.key_values())["catch_up_frames"] == "12" and dict(status.key_values())["catch_up_ms"] == "400.00"
    assert status.level() == 0 and status.summary() == "TRACKING"
    status.backlog_state(BacklogMode.FALLING_BEHIND, 0, 1.5)
    assert status.level() == 1 and status.summary() == "TRACKING; falling behind: 1 frame(s) skipped so far, backlog 0"
    status.reset()
    assert dict(status.key_values())["mode"] == "idle" and status.level() == 0


def test_missing_frames_are_counted_from_gaps_in_the_stamps():
    status = NodeStatus()
    stamps = [0, 100, 200, 300, 400, 700, 800, 801, 900, 1000, 1300]  # 2 missing after 400, 2 after 1000
    for stamp in stamps:
        status.frame_received(stamp)
    values = dict(status.key_values())
    assert values["frames_received"] == str(len(stamps)) and values["frames_missing"] == "4"
    status.frame_received(500)  # stamps went backwards (a bag restarted): no gap counted
    assert dict(status.key_values())["frames_missing"] == "4"


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


def test_a_stream_without_images_for_stale_after_seconds_is_stale():
    clock = _Clock()
    status = NodeStatus(clock=clock, stale_after_s=1.0)
    values = dict(status.key_values())
    assert values["stream"] == "waiting" and values["stream_age_ms"] == "nan" and status.level() == 0
    status.frame_received(10**9)
    clock.t += 0.5
    assert dict(status.key_values())["stream"] == "ok" and status.level() == 0
    clock.t += 0.6
    values = dict(status.key_values())
    assert values["stream"] == "stale" and values["stream_age_ms"] == "1100"
    assert status.level() == 1 and status.summary() == "IDLE; stream stale: no image for 1.1 s"
    status.frame_received(10**9 + 5 * 10**9)  # 5 s later by the stamps: an outage, not missing frames
    values = dict(status.key_values())
    assert values["stream"] == "ok" and values["stream_gaps"] == "1" and values["frames_missing"] == "0"
    assert status.level() == 0
    status.frame_received(10**9)  # the stamps went backwards
    assert dict(status.key_values())["stamp_jumps_back"] == "1"


def test_rejected_input_is_counted_by_kind():
    status = NodeStatus()
    status.error("image on 'image' rejected: unsupported image encoding 'x'")
    status.error("init on '/init_bbox' rejected: box is NaN")
    status.error("camera_info ignored: K has NaN")
    status.error("tracker failed on frame 1.0: boom", "tracker")
    status.error("something else")
    status.frame_out_of_order()
    values = dict(status.key_values())
    assert values["errors"] == "5" and values["frames_out_of_order"] == "1"
    assert (values["rejected_images"], values["rejected_inits"], values["rejected_camera_info"]) == ("1", "1", "1")
