"""The tracking session: what the node does with init requests and frames, without ROS.

The node's worker thread hands each :class:`~cfvgg_ros.ros.handover.Taken` batch to
:meth:`TrackingSession.advance`, which applies an init request (on its buffered frame; one that
names a frame not received yet waits up to ``init_wait``), queues the frames and tracks the next
one. Results, debug images and status go out through a sink (the node's publishers); the
session itself knows numpy, the tracker contract and the frame buffer, nothing of ROS.

Init and catch-up: the tracker is initialised on the buffered frame the request names (the
newest for an unstamped request), the box is published under that frame's header, and every
newer frame is queued, from the frame buffer and from the hand-over: the track is caught up
through them in order before the live frames. Frames that arrive while the tracker
initialises (fECO's first frame costs a few hundred ms) wait in the hand-over (up to
``max_backlog`` of them) and are queued the same way, also those the frame buffer has let go
meanwhile, so the first-frame cost delays the first results but leaves no gap.

Backlog policy (parameter ``backlog_policy``), applied each time the worker takes a frame:

* ``drain`` (default): frames are tracked one by one, oldest first, while the backlog stays
  within ``max_backlog`` frames and its oldest frame has waited at most ``max_lag`` seconds
  (frames received before the current track's init finished count from that moment, so the
  init's own cost does not count against its catch-up). Beyond either bound the worker skips to
  the newest frame. A tracker faster than the camera thus always drains its backlog and goes
  live with every frame tracked; one slower than the camera skips a backlog every ``max_lag``
  seconds (latency then saws between its own time and ``max_lag``).
* ``latest``: an init's catch-up frames are tracked in order, then only the newest waiting frame
  (keep-last-1): the lowest latency, a gap whenever the tracker is slower than the frames.

Skipped frames are counted (``frames_skipped`` in ``~/status``; frames that never reached the
node are ``frames_missing``) and logged as a WARN naming the policy (at most every
``SKIP_LOG_S`` seconds, the count since the last one; the total when the worker is live again).
The mode (:class:`~cfvgg_ros.ros.status.BacklogMode`): ``live`` when the frame taken was the
newest, ``catching_up`` while frames wait within the bounds, ``falling_behind`` from a skip
until live again (``~/status`` level WARN meanwhile); ``idle`` when not tracking (frames are
then only acknowledged, and skipping them is not counted).

LOST and re-detection: after ``lost_frames`` frames scoring below ``score_threshold`` the state
is LOST and no result is published. While LOST the tracker is stepped with
``tracker.redetect(frame, search_scale=s)`` when it registered the ``redetect`` capability (else
``tracker.update``); when that still scores low after ``redetect_after`` LOST frames, the
template search of :mod:`.redetector` in a window ``s`` times the box may re-initialise the
tracker (peak >= ``redetect_min_ncc``). ``recover_frames`` good frames return to TRACKING.

Time order of the results: no result is published for a frame older than the newest result
already published, and the tracker is never stepped back in time. A frame whose header stamp is
older than the last frame tracked (a late or reordered frame) is not tracked: it is counted
(``frames_out_of_order``) and logged as a WARN (at most every ``SKIP_LOG_S`` seconds). A re-init
on a buffered frame older than the newest published result tracks its catch-up without
publishing it again, up to that result (whose frame gets the new track's result too). When the
stamps jump back by more than ``STAMP_JUMP_S`` on ``JUMP_CONFIRM_FRAMES`` frames in a row (the
camera's clock was reset, a bag restarted), the stream has a new time base: the first of them is
not tracked, from the second on tracking and results go on, logged as a WARN. ``~/reset``
forgets the order. A stream that stops is reported by the status (``stream: stale`` after
``stale_after`` seconds without an image, :mod:`cfvgg_ros.ros.status`); nothing is published
meanwhile, and tracking goes on from the next frame (or goes LOST if the target moved away).
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from dataclasses import dataclass, fields
from typing import Protocol

from cfvgg_ros.core import TrackerError, TrackResult, check_box
from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer, FrameLookupError
from cfvgg_ros.ros.handover import Taken
from cfvgg_ros.ros.init_requests import InitRequest, InitRequestError, fit_box_to_frame
from cfvgg_ros.ros.params import BACKLOG_POLICIES
from cfvgg_ros.ros.redetector import TemplateRedetector
from cfvgg_ros.ros.stamps import format_stamp
from cfvgg_ros.ros.status import STALE_AFTER_S, BacklogMode, NodeStatus, TrackState

ERROR_LOG_REPEAT_S = 2.0  # the same error is logged at most once per this many seconds
ERROR_LOGS_PER_S = 10  # at most this many error lines a second (a flood of bad input is counted, not all logged)
ERROR_STATUS_S = 0.1  # an error publishes ~/status at most this often (the next frame or tick shows it anyway)
SKIP_LOG_S = 2.0  # skipped frames are logged at most once per this many seconds
STAMP_JUMP_S = 1.0  # a stamp this much older than the last frame tracked may be a new time base ...
JUMP_CONFIRM_FRAMES = 2  # ... once this many such frames came in a row


@dataclass(frozen=True)
class SessionConfig:
    """The node parameters the session uses (same names, see :mod:`.params`);
    ``score_threshold`` already resolved (not negative)."""

    score_threshold: float
    lost_frames: int = 3
    recover_frames: int = 2
    init_stamp_tolerance: float = 0.05
    init_wait: float = 0.5
    redetect: bool = True
    redetect_search_scale: float = 4.0
    redetect_min_ncc: float = 0.8
    redetect_after: int = 10
    image_topic: str = "image"
    backlog_policy: str = "drain"
    max_lag: float = 1.0
    max_backlog: int = 90
    stale_after: float = STALE_AFTER_S

    def __post_init__(self) -> None:
        if self.backlog_policy not in BACKLOG_POLICIES:
            raise ValueError(f"backlog_policy must be one of {', '.join(BACKLOG_POLICIES)}, "
                             f"got {self.backlog_policy!r}")
        if not (math.isfinite(self.stale_after) and self.stale_after > 0):
            raise ValueError(f"stale_after must be > 0 s, got {self.stale_after!r}")

    @classmethod
    def from_params(cls, params: dict) -> SessionConfig:
        """The config from the node's parameter values (extra names are ignored)."""
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})


class SessionSink(Protocol):
    """Where the session's outputs go (the node's publishers)."""

    def publish_result(self, item: BufferedFrame, result: TrackResult) -> None:
        """Pose, ROI, box (and detection) of a tracked frame; records its latency in the status."""

    def publish_debug(self, item: BufferedFrame, result: TrackResult | None) -> None:
        """The debug image of a handled frame (None: nothing tracked)."""

    def publish_status(self) -> None:
        """The node's ``~/status``."""


class TrackingSession:
    """One target's tracking: init, catch-up, backlog policy, LOST and re-detection (see the
    module docstring). Not thread-safe: one worker calls it (the node holds a lock around it);
    :meth:`report_error` may be called from any thread."""

    def __init__(self, tracker, config: SessionConfig, status: NodeStatus, buffer: FrameBuffer,
                 sink: SessionSink, logger, redetect_mode: str = "update", clock=time.monotonic) -> None:
        self.tracker, self.config, self.status, self.buffer = tracker, config, status, buffer
        self.sink, self.log, self.redetect_mode, self._clock = sink, logger, redetect_mode, clock
        self.deferred: tuple[InitRequest, float] | None = None  # an init waiting for its frame, deadline
        self._backlog: list[BufferedFrame] = []  # frames to track, by receive counter (seq)
        self._queued: set[int] = set()  # their seqs
        self._taken_seq = 0  # the frame taken last (or the init frame): older ones are never queued
        self._catch_up_seq = 0  # the newest frame of the current init's catch-up
        self._started = -math.inf  # when the current track's init finished (clock time)
        self._init_seq = 0  # the init frame, until the first live frame is reported
        self._pending_skips = 0  # frames pushed out of the hand-over, counted at the next take
        self._skips_unlogged = 0  # skipped frames no log line has named yet
        self._skips_episode = 0  # skipped since the worker was last live
        self._skip_logged_at = -math.inf
        self._last_good_box = None
        self._frames_lost = 0
        self._redetector: TemplateRedetector | None = None
        self._last_logged: tuple[str, float] = ("", -math.inf)
        self._error_lock = threading.Lock()  # report_error is called from the callbacks and the worker
        self._error_window = (-math.inf, 0)  # (start of the current second, error lines logged in it)
        self._errors_unlogged = 0
        self._error_status_at = -math.inf
        self._tracked_ns: int | None = None  # stamp of the last frame given to the tracker
        self._published_ns: int | None = None  # stamp of the newest result published
        self._jump_frames = 0  # frames in a row more than STAMP_JUMP_S older than _tracked_ns
        self._out_of_order_unlogged = 0
        self._out_of_order_logged_at = -math.inf
        status.set_stale_after(config.stale_after)

    # -- the worker's entry points -------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Frames queued and not yet taken."""
        return len(self._backlog)

    def advance(self, taken: Taken) -> bool:
        """Apply ``taken``'s init request (or retry a deferred one), queue its frames and track
        the next frame; False when no frame was tracked. Right after an init nothing is tracked:
        the frames that arrived during it are still in the hand-over, to be queued first."""
        initialised = False
        if taken.init is not None:
            self.deferred = None  # a newer init replaces one still waiting
            initialised = self.apply_init(taken.init, self._clock() + self.config.init_wait)
        elif self.deferred is not None:
            deferred, self.deferred = self.deferred, None
            initialised = self.apply_init(*deferred)
        self.enqueue(taken.frames, taken.discarded)
        return False if initialised else self.step()

    def enqueue(self, frames, discarded=()) -> None:
        """Queue received frames newer than the one taken last, in receive order.
        ``discarded``: the receive counters (``seq``) of frames pushed out of the hand-over
        before the worker saw them; those not queued anyway (from the frame buffer, as an init's
        catch-up) are skipped frames."""
        self._pending_skips += sum(1 for seq in discarded if seq > self._taken_seq and seq not in self._queued)
        for item in frames:
            self._queue(item)

    def _queue(self, item: BufferedFrame) -> None:
        if item.seq <= self._taken_seq or item.seq in self._queued:
            return
        self._queued.add(item.seq)
        if self._backlog and item.seq < self._backlog[-1].seq:
            bisect.insort(self._backlog, item, key=lambda frame: frame.seq)
        else:
            self._backlog.append(item)

    def _pop(self) -> BufferedFrame:
        item = self._backlog.pop(0)
        self._queued.discard(item.seq)
        self._taken_seq = item.seq
        return item

    def step(self) -> bool:
        """Take the next frame under the backlog policy and handle it; False when none waits."""
        item = self._take()
        if item is None:
            return False
        self.handle(item)
        return True

    def reset(self) -> TrackState:
        """Stop tracking (IDLE); forget the queued frames and any waiting init. Returns the
        previous state."""
        previous = self.status.state
        self._backlog, self._queued = [], set()
        self.deferred = None
        self._pending_skips = self._init_seq = 0
        self._tracked_ns = self._published_ns = None
        self._jump_frames = 0
        self.status.reset()
        self._last_good_box = None
        return previous

    # -- backlog policy ------------------------------------------------------------------------
    def _lag(self, item: BufferedFrame, now: float) -> float:
        return now - max(item.received_ns / 1e9, self._started)

    def _take(self) -> BufferedFrame | None:
        backlog, cfg = self._backlog, self.config
        if not backlog:
            return None
        now = self._clock()
        if cfg.backlog_policy == "latest":
            skip = len(backlog) - 1 if backlog[0].seq > self._catch_up_seq else 0
        else:
            over = len(backlog) > cfg.max_backlog or self._lag(backlog[0], now) > cfg.max_lag
            skip = len(backlog) - 1 if over else 0
        oldest_lag = self._lag(backlog[0], now)
        for _ in range(skip + 1):
            item = self._pop()
        skipped, self._pending_skips = self._pending_skips + skip, 0
        if self.status.state is TrackState.IDLE:  # nothing is tracked: skipping costs nothing
            self.status.backlog_state(BacklogMode.IDLE, len(backlog), self._lag(item, now))
            return item
        if skipped:
            self._skipped(skipped, oldest_lag, now)
        self._update_mode(item, skipped, self._lag(item, now), now)
        return item

    def _skipped(self, count: int, lag: float, now: float) -> None:
        self.status.frames_skipped(count)
        self._skips_unlogged += count
        self._skips_episode += count
        if now - self._skip_logged_at >= SKIP_LOG_S:
            cfg = self.config
            rule = (f"max_lag {cfg.max_lag:g} s, max_backlog {cfg.max_backlog}" if cfg.backlog_policy == "drain"
                    else "the newest frame only")
            self.log.warning(f"falling behind: skipped {self._skips_unlogged} frame(s) to the newest (the oldest "
                             f"had waited {lag * 1e3:.0f} ms; backlog_policy {cfg.backlog_policy}: {rule})")
            self._skips_unlogged, self._skip_logged_at = 0, now

    def _update_mode(self, item: BufferedFrame, skipped: int, lag: float, now: float) -> None:
        previous = self.status.mode
        if skipped:
            mode = BacklogMode.FALLING_BEHIND
        elif self._backlog:
            mode = previous if previous is BacklogMode.FALLING_BEHIND else BacklogMode.CATCHING_UP
        else:
            mode = BacklogMode.LIVE
        self.status.backlog_state(mode, len(self._backlog), lag)
        if mode is not BacklogMode.LIVE:
            return
        if self._init_seq:
            self.status.caught_up(item.seq - self._init_seq, now - self._started)
            self.log.info(f"live at frame {format_stamp(item.stamp_ns)}, {item.seq - self._init_seq} frame(s) "
                          f"after the init frame and {(now - self._started) * 1e3:.0f} ms after the init "
                          f"(tracker init {self.status.init_s * 1e3:.0f} ms; {self._skips_episode} skipped)")
            self._init_seq = 0
        elif previous is BacklogMode.FALLING_BEHIND and now - self._skip_logged_at >= SKIP_LOG_S:
            self.log.info(f"live again at frame {format_stamp(item.stamp_ns)}: {self._skips_episode} frame(s) "
                          f"skipped since the last live frame (backlog_policy {self.config.backlog_policy})")
            self._skips_unlogged, self._skip_logged_at = 0, now
        self._skips_episode = 0

    # -- init ------------------------------------------------------------------------------------
    def apply_init(self, request: InitRequest, deadline: float) -> bool:
        """Initialise on the request's frame and queue the newer frames; True when the tracker was
        initialised. A request for a frame that has not arrived yet (no frame at all, or a stamp
        newer than the newest) waits until ``deadline`` (clock time)."""
        where = f"init on {request.source!r}"
        span = self.buffer.span_ns()
        # a stamp newer than the newest frame most likely names a frame still on its way (when the
        # stream goes on, the wait lasts one frame interval at most)
        not_yet = span is None or (request.stamp_ns is not None and request.stamp_ns > span[1])
        if not_yet and self._clock() < deadline:
            self.deferred = (request, deadline)
            return False
        if request.stamp_ns is None:
            target = self.buffer.newest()
            if target is None:
                self.report_error(f"{where} rejected: no image received yet on {self.config.image_topic!r}")
                return False
        else:
            try:
                target = self.buffer.nearest(request.stamp_ns, int(self.config.init_stamp_tolerance * 1e9))
            except FrameLookupError as exc:
                self.report_error(f"{where} rejected: {exc}")
                return False
        height, width = target.frame.shape[:2]
        try:
            box = fit_box_to_frame(request.box, width, height)
        except InitRequestError as exc:
            self.report_error(f"{where} rejected: {exc}")
            return False
        start = self._clock()
        try:
            self.tracker.init(target.frame, box)
        except Exception as exc:
            self.reset()
            self.report_error(f"{where}: tracker init failed ({type(exc).__name__}: {exc}); now IDLE", "tracker")
            return False
        self._started = self._clock()
        self._redetector = TemplateRedetector(target.frame, box) if self.config.redetect else None
        self._last_good_box = box
        self.status.initialised(target.stamp_ns, self._started - start)
        # the box on its own frame, then every frame since, each result under its image's header: a
        # consumer sees the whole track and can match results to frames by stamp
        newer = self.buffer.after(target.seq)
        waiting = [f for f in self._backlog if f.seq > target.seq]  # queued before, e.g. while IDLE
        self._backlog, self._queued, self._taken_seq = [], set(), target.seq
        for item in [*newer, *waiting]:
            self._queue(item)
        self._catch_up_seq = self._backlog[-1].seq if self._backlog else target.seq
        self._init_seq = target.seq
        self._skips_episode = self._pending_skips = 0
        self.log.info(
            f"initialised from {request.source!r} on frame {format_stamp(target.stamp_ns)} with box "
            f"({box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, {box[3]:.1f}) in {(self._started - start) * 1e3:.0f} ms; "
            f"catching up {len(self._backlog)} frame(s)"
        )
        mode = BacklogMode.CATCHING_UP if self._backlog else BacklogMode.LIVE
        self.status.backlog_state(mode, len(self._backlog), 0.0)
        self._tracked_ns, self._jump_frames = target.stamp_ns, 0
        if self._published_ns is not None and target.stamp_ns < self._published_ns:
            self.log.info(f"the init frame {format_stamp(target.stamp_ns)} is older than the newest result "
                          f"published ({format_stamp(self._published_ns)}): its catch-up is tracked, and "
                          "published from that result's frame on")
        self._publish(target, TrackResult(box, float("nan")))
        if not newer:
            self.status.frame_done(target.stamp_ns)
        self.sink.publish_status()
        return True

    # -- one frame -------------------------------------------------------------------------------
    def handle(self, item: BufferedFrame) -> None:
        """Track one frame (or only acknowledge it while IDLE) and publish what it gave."""
        if self.status.state is TrackState.IDLE:
            self.status.frame_done(item.stamp_ns)
            self.sink.publish_debug(item, None)
            self.sink.publish_status()
            return
        if not self._in_time_order(item):
            self.status.frame_out_of_order()
            self.status.frame_done(item.stamp_ns)
            self.sink.publish_status()
            return
        self._tracked_ns = item.stamp_ns
        start = time.perf_counter()
        try:
            result = self._track(item.frame)
        except Exception as exc:
            self.status.frame_done(item.stamp_ns)
            self.report_error(f"tracker failed on frame {format_stamp(item.stamp_ns)}: {type(exc).__name__}: {exc}",
                              "tracker")
            return
        tracker_s = time.perf_counter() - start
        try:
            check_box(result.box)
        except TrackerError:
            self.report_error(f"tracker returned an invalid box {result.box} on frame "
                              f"{format_stamp(item.stamp_ns)}; counted as a miss")
            result = TrackResult(self._last_good_box or (0.0, 0.0, 1.0, 1.0), float("nan"))
        previous = self.status.state
        state = self.status.frame_done(item.stamp_ns, result.score, tracker_s)
        if state is TrackState.TRACKING:
            self._last_good_box = result.box
        if state is not previous:
            # one call site per severity: rclpy refuses to change a call site's severity
            change = (f"{previous.value} -> {state.value} at frame {format_stamp(item.stamp_ns)} "
                      f"(score {result.score:.3f}, threshold {self.config.score_threshold})")
            if state is TrackState.LOST:
                self.log.warning(change)
            else:
                self.log.info(change)
        if state is TrackState.TRACKING:
            self._publish(item, result)
        self.sink.publish_debug(item, result)
        self.sink.publish_status()

    def _publish(self, item: BufferedFrame, result: TrackResult) -> None:
        """Publish ``item``'s result unless a result for a newer frame went out already."""
        if self._published_ns is not None and item.stamp_ns < self._published_ns:
            return
        self._published_ns = item.stamp_ns
        self.sink.publish_result(item, result)

    def _in_time_order(self, item: BufferedFrame) -> bool:
        """Whether ``item`` may be tracked: not older than the last frame tracked, or the second of
        frames in a row that jumped back by more than ``STAMP_JUMP_S`` (a new time base)."""
        last = self._tracked_ns
        if last is None or item.stamp_ns >= last:
            self._jump_frames = 0
            return True
        back_s = (last - item.stamp_ns) / 1e9
        now = self._clock()
        if back_s > STAMP_JUMP_S:
            self._jump_frames += 1
            if self._jump_frames >= JUMP_CONFIRM_FRAMES:
                self.log.warning(f"image stamps jumped back {back_s:.3f} s (frame {format_stamp(item.stamp_ns)} "
                                 f"after {format_stamp(last)}) on {self._jump_frames} frames in a row: a new time "
                                 "base; tracking and results go on from this frame")
                self._tracked_ns = self._published_ns = None
                self._jump_frames = 0
                return True
        else:
            self._jump_frames = 0
        self._out_of_order_unlogged += 1
        if now - self._out_of_order_logged_at >= SKIP_LOG_S:
            self.log.warning(f"frame {format_stamp(item.stamp_ns)} is {back_s:.3f} s older than the last frame "
                             f"tracked ({format_stamp(last)}): not tracked ({self._out_of_order_unlogged} such "
                             "frame(s) since the last report; frames_out_of_order in ~/status)")
            self._out_of_order_unlogged, self._out_of_order_logged_at = 0, now
        return False

    def _track(self, frame) -> TrackResult:
        """One tracker step; while LOST, a re-detection attempt in a widened region."""
        if self.status.state is not TrackState.LOST:
            self._frames_lost = 0
            return self.tracker.update(frame)
        self._frames_lost += 1
        cfg = self.config
        scale = float(cfg.redetect_search_scale)
        if self.redetect_mode == "tracker.redetect":
            result = self.tracker.redetect(frame, search_scale=scale)
        else:
            result = self.tracker.update(frame)
        threshold = cfg.score_threshold
        if (math.isfinite(result.score) and result.score >= threshold) or self._redetector is None or not cfg.redetect \
                or self._last_good_box is None or self._frames_lost < cfg.redetect_after:
            return result
        found = self._redetector.relocate(frame, self._last_good_box, scale, cfg.redetect_min_ncc)
        if found is None:
            return result
        box, peak = found
        try:
            box = fit_box_to_frame(box, frame.shape[1], frame.shape[0])
            self.tracker.init(frame, box)
        except Exception as exc:
            self.log.debug(f"re-detection at {box} could not re-initialise: {exc}")
            return result
        self.status.redetected()
        self.log.info(f"re-detected the target at ({box[0]:.1f}, {box[1]:.1f}) (NCC {peak:.2f})")
        return TrackResult(box, max(float(threshold), 0.0))

    # -- errors ----------------------------------------------------------------------------------
    def report_error(self, message: str, kind: str | None = None) -> None:
        """Record ``message`` (``kind``: see :meth:`NodeStatus.error`), log it and publish status.

        A flood of bad input costs little: the same text is logged at most every
        ``ERROR_LOG_REPEAT_S`` seconds, at most ``ERROR_LOGS_PER_S`` error lines a second are
        logged (the next one says how many were not; ``errors`` in ``~/status`` counts them all),
        and an error publishes ``~/status`` at most every ``ERROR_STATUS_S`` seconds."""
        self.status.error(message, kind)
        now = self._clock()
        line = None
        with self._error_lock:
            if message != self._last_logged[0] or now - self._last_logged[1] >= ERROR_LOG_REPEAT_S:
                start, logged = self._error_window
                if now - start >= 1.0:
                    start, logged = now, 0
                if logged < ERROR_LOGS_PER_S:
                    line, unlogged, self._errors_unlogged = message, self._errors_unlogged, 0
                    if unlogged:
                        line += f" ({unlogged} earlier error(s) not logged: too many; all counted in ~/status)"
                    self._last_logged, logged = (message, now), logged + 1
                else:
                    self._errors_unlogged += 1
                self._error_window = (start, logged)
            publish = now - self._error_status_at >= ERROR_STATUS_S
            if publish:
                self._error_status_at = now
        if line is not None:
            self.log.error(line)
        if publish:
            self.sink.publish_status()
