"""The tracking session without ROS: init on a buffered frame and catch-up, frames arriving during
the init, the backlog policies (drain within max_lag / max_backlog, latest), skipped-frame
counting and logging, the backlog mode, deferred inits, reset and LOST. A fake clock drives
every time the session sees, so nothing here depends on the machine's speed."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.core import Tracker, TrackResult
from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer
from cfvgg_ros.ros.handover import Taken
from cfvgg_ros.ros.init_requests import InitRequest
from cfvgg_ros.ros.session import SKIP_LOG_S, SessionConfig, TrackingSession
from cfvgg_ros.ros.status import BacklogMode, LostStateMachine, NodeStatus, TrackState

PERIOD = 1.0 / 30  # camera frame period (s)
BOX = (10.0, 10.0, 20.0, 20.0)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class FakeTracker(Tracker):
    """Records the frames it sees (by the number painted in pixel (0, 0)); each call advances the
    clock by its cost; scores come from ``scores`` (frame number -> score, default 1)."""

    def __init__(self, clock: Clock, init_s: float = 0.0, update_s: float = 0.0, scores=None) -> None:
        super().__init__()
        self.clock, self.init_s, self.update_s, self.scores = clock, init_s, update_s, dict(scores or {})
        self.seen: list[int] = []
        self.inits: list[int] = []
        self.during_init = None  # called while the init "runs" (frames arriving meanwhile)

    def _init(self, frame, box) -> None:
        self.inits.append(int(frame[0, 0, 0]))
        self.clock.t += self.init_s
        if self.during_init is not None:
            self.during_init()

    def _update(self, frame) -> TrackResult:
        number = int(frame[0, 0, 0])
        self.seen.append(number)
        self.clock.t += self.update_s
        return TrackResult(BOX, self.scores.get(number, 1.0))


class Sink:
    def __init__(self) -> None:
        self.results: list[int] = []
        self.statuses = 0

    def publish_result(self, item, result) -> None:
        self.results.append(int(item.frame[0, 0, 0]))

    def publish_debug(self, item, result) -> None:
        pass

    def publish_status(self) -> None:
        self.statuses += 1


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _add(self, level, message) -> None:
        self.lines.append((level, message))

    def debug(self, message) -> None:
        self._add("debug", message)

    def info(self, message) -> None:
        self._add("info", message)

    def warning(self, message) -> None:
        self._add("warning", message)

    def error(self, message) -> None:
        self._add("error", message)

    def text(self, level: str) -> list[str]:
        return [m for lvl, m in self.lines if lvl == level]


class Camera:
    """Frames numbered 0, 1, ... stamped at 30 Hz, received at the clock's time (or ``received``)."""

    def __init__(self, clock: Clock, buffer: FrameBuffer, status: NodeStatus) -> None:
        self.clock, self.buffer, self.status, self.next = clock, buffer, status, 0

    def frame(self, received: float | None = None) -> BufferedFrame:
        number = self.next
        self.next += 1
        image = np.zeros((48, 64, 3), np.uint8)
        image[0, 0, 0] = number
        at = self.clock.t if received is None else received
        item = BufferedFrame(number + 1, stamp(number), image, None, int(round(at * 1e9)))
        self.buffer.push(item)
        self.status.frame_received(item.stamp_ns)
        return item


def stamp(number: int) -> int:
    return 1_000_000_000_000 + round(number * PERIOD * 1e9)


class Rig:
    """A session with a fake tracker, clock, camera, sink and log."""

    def __init__(self, init_s=0.0, update_s=0.0, scores=None, **config) -> None:
        self.clock = Clock()
        self.tracker = FakeTracker(self.clock, init_s, update_s, scores)
        self.status = NodeStatus(LostStateMachine(0.5, lost_frames=2, recover_frames=1), clock=self.clock)
        self.buffer = FrameBuffer(1.0, 90)
        self.camera = Camera(self.clock, self.buffer, self.status)
        self.sink, self.log = Sink(), Log()
        config.setdefault("score_threshold", 0.5)
        config.setdefault("redetect", False)
        self.session = TrackingSession(self.tracker, SessionConfig(**config), self.status, self.buffer, self.sink,
                                       self.log, clock=self.clock)
        self.next_arrival: float | None = None
        self.lags: list[float] = []

    def run_live(self, frames: int) -> None:
        """The camera delivers ``frames`` more frames one period apart; between arrivals the
        worker tracks what waits, and a frame that arrived while it was busy reaches it after
        its current step (as in the node's worker loop)."""
        if self.next_arrival is None:
            self.next_arrival = self.clock.t + PERIOD
        for _ in range(frames):
            arrival = self.next_arrival
            while self.session.backlog and self.clock.t < arrival:
                self.step()
            self.clock.t = max(self.clock.t, arrival)
            self.session.enqueue([self.camera.frame(received=arrival)])
            self.next_arrival = arrival + PERIOD

    def step(self) -> bool:
        taken = self.session.step()
        if taken:
            self.lags.append(self.status.lag_s)
        return taken

    def finish(self) -> None:
        while self.step():
            pass

    def values(self) -> dict:
        return dict(self.status.key_values())


def test_stamped_init_catches_up_in_order_and_publishes_every_frame():
    rig = Rig()
    frames = [rig.camera.frame() for _ in range(10)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(3)), frames))
    rig.finish()
    assert rig.tracker.inits == [3] and rig.tracker.seen == list(range(4, 10))
    assert rig.sink.results == list(range(3, 10))  # the init frame's box, then each caught-up frame
    values = rig.values()
    assert values["frames_skipped"] == "0" and values["mode"] == "live" and values["backlog"] == "0"
    assert any("catching up 6 frame(s)" in m for m in rig.log.text("info"))


def test_frames_arriving_during_a_slow_init_are_drained_in_order_then_live():
    rig = Rig(update_s=0.01)
    first = rig.camera.frame()
    arrived = []

    def camera_runs() -> None:  # the init takes 0.4 s: 12 frames arrive meanwhile (into the buffer)
        for _ in range(12):
            rig.clock.t += PERIOD
            arrived.append(rig.camera.frame())

    rig.tracker.during_init = camera_runs
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), [first]))
    assert rig.status.mode is BacklogMode.CATCHING_UP and rig.values()["init_ms"] == "400.00"
    assert rig.session.backlog == 12  # nothing tracked yet: the hand-over may hold more
    rig.session.enqueue(arrived)  # what the hand-over held meanwhile: already queued from the buffer
    assert rig.session.backlog == 12
    rig.run_live(30)
    rig.finish()
    assert rig.tracker.seen == list(range(1, 43)) and rig.sink.results == list(range(43))
    values = rig.values()
    assert values["frames_skipped"] == "0" and values["mode"] == "live"
    live = [m for m in rig.log.text("info") if m.startswith("live at frame")]
    assert len(live) == 1 and "tracker init 400 ms; 0 skipped" in live[0]
    assert int(values["catch_up_frames"]) > 12 and float(values["catch_up_ms"]) > 0
    assert not rig.log.text("warning")


def test_frames_the_buffer_let_go_during_the_init_come_from_the_hand_over():
    rig = Rig(update_s=0.01)
    rig.buffer = rig.session.buffer = rig.camera.buffer = FrameBuffer(1.0, 10)  # holds 10 frames only
    first = rig.camera.frame()
    arrived = []
    rig.tracker.during_init = lambda: arrived.extend(rig.camera.frame() for _ in range(25))
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), [first]))
    assert rig.session.backlog == 10  # frames 16-25 from the buffer; 1-15 are only in the hand-over
    rig.session.enqueue(arrived)
    rig.finish()
    assert rig.tracker.seen == list(range(1, 26)) and rig.values()["frames_skipped"] == "0"
    # keep-last-1: the hand-over held only frame 25, so frames 1-15 are gone, and counted
    rig = Rig(update_s=0.01, backlog_policy="latest")
    rig.buffer = rig.session.buffer = rig.camera.buffer = FrameBuffer(1.0, 10)
    first = rig.camera.frame()
    arrived = []
    rig.tracker.during_init = lambda: arrived.extend(rig.camera.frame() for _ in range(25))
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), [first]))
    rig.session.enqueue(arrived[-1:], [f.seq for f in arrived[:-1]])
    rig.finish()
    assert rig.tracker.seen == list(range(16, 26)) and rig.values()["frames_skipped"] == "15"


def test_drain_skips_to_the_newest_beyond_max_lag_and_says_so():
    rig = Rig(update_s=0.1, max_lag=0.3)  # a tracker 3x slower than the camera
    start = rig.clock.t
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), [rig.camera.frame()]))
    modes = []
    for _ in range(60):
        rig.run_live(1)
        modes.append(rig.status.mode)
    rig.finish()
    values = rig.values()
    skipped, processed = int(values["frames_skipped"]), int(values["frames_processed"])
    assert skipped > 0 and processed + skipped == 60  # every frame after the init: tracked or skipped
    assert rig.tracker.seen == sorted(rig.tracker.seen)  # never out of order
    assert BacklogMode.FALLING_BEHIND in modes and BacklogMode.CATCHING_UP in modes
    warnings = rig.log.text("warning")
    assert warnings and "backlog_policy drain: max_lag 0.3 s, max_backlog 90" in warnings[0]
    assert len(warnings) <= (rig.clock.t - start) / SKIP_LOG_S + 1  # rate-limited, not one per skip
    assert max(rig.lags) <= 0.3 + 1e-9  # a frame is tracked within max_lag, or it is the newest (< 0.1 s old)


def test_drain_skips_when_more_than_max_backlog_frames_wait():
    rig = Rig(max_backlog=5, max_lag=100.0)
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), [rig.camera.frame()]))
    rig.session.enqueue([rig.camera.frame() for _ in range(5)])
    assert rig.session.step() and rig.values()["frames_skipped"] == "0"  # 5 waiting: within the bound
    rig.session.enqueue([rig.camera.frame() for _ in range(6)])  # 4 + 6 = 10 waiting
    assert rig.session.step()
    assert rig.tracker.seen == [1, 11] and rig.values()["frames_skipped"] == "9"
    assert rig.status.mode is BacklogMode.FALLING_BEHIND and rig.status.level() == 1
    assert "max_backlog 5" in rig.log.text("warning")[0]


def test_a_tracker_faster_than_the_camera_never_skips_under_drain():
    rig = Rig(init_s=0.3, update_s=0.025)  # 40 FPS on a 30 Hz camera
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), [rig.camera.frame()]))
    rig.run_live(90)
    rig.finish()
    assert rig.tracker.seen == list(range(1, 91))
    assert rig.values()["frames_skipped"] == "0" and rig.status.mode is BacklogMode.LIVE


def test_latest_catches_up_the_init_then_tracks_only_the_newest():
    rig = Rig(update_s=0.1, backlog_policy="latest")
    frames = [rig.camera.frame() for _ in range(6)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), frames))
    rig.session.enqueue([rig.camera.frame() for _ in range(4)])  # arrive during the catch-up
    rig.finish()
    assert rig.tracker.seen == [1, 2, 3, 4, 5, 9]  # the catch-up in order, then the newest only
    assert rig.values()["frames_skipped"] == "3"
    assert "backlog_policy latest: the newest frame only" in rig.log.text("warning")[0]


def test_frames_pushed_out_of_the_hand_over_count_unless_the_catch_up_covers_them():
    rig = Rig(backlog_policy="latest")
    frames = [rig.camera.frame() for _ in range(5)]
    # keep-last-1 hand-over: frames 0-3 were pushed out, but the init's catch-up tracks them
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), [frames[-1]], [1, 2, 3, 4]))
    rig.finish()
    assert rig.tracker.seen == [1, 2, 3, 4] and rig.values()["frames_skipped"] == "0"
    later = [rig.camera.frame() for _ in range(3)]
    rig.session.advance(Taken(None, [later[-1]], [later[0].seq, later[1].seq]))
    assert rig.tracker.seen[-1] == 7 and rig.values()["frames_skipped"] == "2"


def test_idle_frames_are_acknowledged_and_skipping_them_is_not_counted():
    rig = Rig(backlog_policy="latest")
    rig.session.advance(Taken(None, [rig.camera.frame() for _ in range(4)], [99]))
    assert rig.tracker.seen == [] and rig.sink.results == []
    values = rig.values()
    assert values["frames_skipped"] == "0" and values["mode"] == "idle" and values["frame_stamp_ns"] == str(stamp(3))


def test_deferred_init_waits_for_its_frame():
    rig = Rig(init_wait=0.5)
    rig.session.advance(Taken(None, [rig.camera.frame()]))
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(1)), []))  # frame 1 not here yet
    assert rig.session.deferred is not None and rig.tracker.inits == []
    rig.clock.t += PERIOD
    rig.session.advance(Taken(None, [rig.camera.frame()]))
    assert rig.session.deferred is None and rig.tracker.inits == [1] and rig.sink.results == [1]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(9)), []))  # never arrives
    rig.clock.t += 1.0
    rig.session.advance(Taken())
    assert "stamp" in rig.values()["last_error"] and "newer than the newest frame" in rig.values()["last_error"]


def test_init_before_any_frame_is_an_error_naming_the_topic():
    rig = Rig(image_topic="/camera/image_raw", init_wait=0.0)
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox"), []))
    assert rig.values()["last_error"] == "init on '/init_bbox' rejected: no image received yet on '/camera/image_raw'"
    assert rig.status.state is TrackState.IDLE and rig.log.text("error")


def test_reset_forgets_the_backlog():
    rig = Rig()
    frames = [rig.camera.frame() for _ in range(8)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), frames))
    assert rig.session.backlog == 7
    assert rig.session.reset() is TrackState.TRACKING
    assert rig.session.backlog == 0 and rig.status.state is TrackState.IDLE and not rig.session.step()


def test_lost_stops_the_results_and_recovers():
    rig = Rig(scores={3: 0.1, 4: 0.1, 5: 0.2})  # lost_frames=2, recover_frames=1
    frames = [rig.camera.frame() for _ in range(8)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), frames))
    rig.finish()
    assert rig.tracker.seen == list(range(1, 8))
    assert rig.sink.results == [0, 1, 2, 3, 6, 7]  # frame 3 is the first miss; 4 makes it LOST; 6 recovers
    assert [m for m in rig.log.text("warning") if "TRACKING -> LOST" in m]
    assert [m for m in rig.log.text("info") if "LOST -> TRACKING" in m]


def test_config_rejects_unknown_policies_and_reads_node_parameters():
    with pytest.raises(ValueError, match="backlog_policy must be one of drain, latest"):
        SessionConfig(score_threshold=0.5, backlog_policy="fifo")
    from cfvgg_ros.ros.params import defaults

    params = {**defaults(), "score_threshold": 0.15, "max_lag": 0.25}
    config = SessionConfig.from_params(params)
    assert config.max_lag == 0.25 and config.backlog_policy == "drain" and config.max_backlog == 90
    assert config.score_threshold == 0.15


def _odd_frame(rig: Rig, painted: int, stamp_ns: int) -> BufferedFrame:
    """A frame with a chosen stamp (late, or from a reset clock), received now; ``painted`` is what
    the fake tracker and sink see."""
    rig.camera.next += 1
    image = np.zeros((48, 64, 3), np.uint8)
    image[0, 0, 0] = painted
    item = BufferedFrame(rig.camera.next, stamp_ns, image, None, int(round(rig.clock.t * 1e9)))
    rig.buffer.push(item)
    rig.status.frame_received(stamp_ns)
    return item


def test_a_late_frame_is_not_tracked_and_no_older_result_is_published():
    rig = Rig()
    frames = [rig.camera.frame() for _ in range(6)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), frames))
    rig.finish()
    late = _odd_frame(rig, 203, stamp(3))  # frame 3 delivered again, late
    rig.session.enqueue([late, rig.camera.frame(), rig.camera.frame()])
    rig.finish()
    assert 203 not in rig.tracker.seen and rig.sink.results == [0, 1, 2, 3, 4, 5, 7, 8]
    values = rig.values()
    assert values["frames_out_of_order"] == "1" and values["stamp_jumps_back"] == "1"
    assert values["frame_stamp_ns"] == str(stamp(8)) and values["state"] == "TRACKING"
    assert [m for m in rig.log.text("warning") if "older than the last frame tracked" in m]


def test_stamps_jumping_back_for_good_start_a_new_time_base():
    rig = Rig()
    frames = [rig.camera.frame() for _ in range(5)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), frames))
    rig.finish()
    back = [_odd_frame(rig, 100 + k, stamp(k) - 100 * 10**9) for k in range(5, 9)]  # the clock was reset
    rig.session.enqueue(back)
    rig.finish()
    assert rig.tracker.seen == [1, 2, 3, 4, 106, 107, 108]  # the first frame after the jump is not tracked
    assert rig.sink.results == [0, 1, 2, 3, 4, 106, 107, 108]
    assert rig.values()["frames_out_of_order"] == "1"
    assert [m for m in rig.log.text("warning") if "jumped back 99.933 s" in m and "new time base" in m]


def test_a_reinit_on_an_older_frame_does_not_publish_its_catch_up_again():
    rig = Rig()
    frames = [rig.camera.frame() for _ in range(10)]
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(0)), frames))
    rig.finish()
    assert rig.sink.results == list(range(10))
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(5)), []))  # drawn on frame 5
    rig.finish()
    assert rig.tracker.inits == [0, 5] and rig.tracker.seen[-4:] == [6, 7, 8, 9]  # caught up again ...
    # ... without publishing frames 5..8 twice; the newest one (9) gets the new track's result
    assert rig.sink.results == [*range(10), 9]
    rig.session.enqueue([rig.camera.frame()])
    rig.finish()
    assert rig.sink.results == [*range(10), 9, 10] and rig.values()["frames_out_of_order"] == "0"
    rig.session.reset()  # a reset forgets the order: a new track may publish any frame
    rig.session.advance(Taken(InitRequest(BOX, "/init_bbox_stamped", stamp(2)), []))
    assert rig.sink.results[-1] == 2


def test_stale_after_is_checked_and_reaches_the_status():
    with pytest.raises(ValueError, match="stale_after"):
        SessionConfig(score_threshold=0.5, stale_after=0.0)
    rig = Rig(stale_after=2.5)
    assert rig.status.stale_after_s == 2.5


def test_a_flood_of_errors_is_counted_but_logged_and_published_at_a_bounded_rate():
    rig = Rig()
    for i in range(100):  # 100 different errors within 0.1 s
        rig.session.report_error(f"image on 'image' rejected: bad {i}")
        rig.clock.t += 0.001
    assert rig.values()["errors"] == "100" and rig.values()["rejected_images"] == "100"
    assert len(rig.log.text("error")) == 10 and rig.sink.statuses == 1
    rig.clock.t += 1.0
    rig.session.report_error("image on 'image' rejected: bad again")
    last = rig.log.text("error")[-1]
    assert last.startswith("image on 'image' rejected: bad again (90 earlier error(s) not logged")
    assert rig.sink.statuses == 2
