"""Tracking state machine (IDLE / TRACKING / LOST) and the node's run-time statistics.

State machine:

* ``IDLE`` until an init request succeeds, and again after ``~/reset``;
* ``TRACKING`` -> ``LOST`` after ``lost_frames`` consecutive frames scoring below
  ``score_threshold`` (no pose is published while LOST: a stale pose is worse than none);
* ``LOST`` -> ``TRACKING`` after ``recover_frames`` consecutive frames at or above the threshold
  (after a re-detection or when the tracker's own score recovers), or on a new init.

The threshold's scale is the tracker's own; the node's default (``score_threshold`` negative) is
the ``lost_threshold`` the tracker registered (:func:`cfvgg_ros.core.tracker_info`).

Statistics (for ``~/status``): output rate (fps over the last ``window`` frames), tracker speed
(1 / mean tracker time), per-frame latency (receipt -> publish, and header stamp -> publish;
mean and p95 over the window, and the newest result's own latency with its frame's stamp),
the backlog (:class:`BacklogMode`, frames waiting, lag of the newest frame taken), frame
counts (received; tracked; skipped by the backlog policy; missing, i.e. never received, as
estimated from gaps in the header stamps), the first-frame cost of the last init (the tracker's
init time, then frames and time until the worker was live), and the last error. Nothing here
imports ROS; the node turns :meth:`NodeStatus.key_values` into a DiagnosticArray.
"""

from __future__ import annotations

import collections
import enum
import math
import threading
import time

import numpy as np

STAMP_STEP_WINDOW = 15  # recent steps between header stamps the usual step is the median of


class TrackState(enum.Enum):
    IDLE = "IDLE"
    TRACKING = "TRACKING"
    LOST = "LOST"


class BacklogMode(enum.Enum):
    """How the tracking worker stands against the camera (see :mod:`cfvgg_ros.ros.session`)."""

    IDLE = "idle"  # not tracking
    LIVE = "live"  # the frame just taken was the newest: nothing was waiting behind it
    CATCHING_UP = "catching_up"  # frames wait behind it, within the backlog policy's bounds
    FALLING_BEHIND = "falling_behind"  # the policy skipped frames; until the worker is live again


class LostStateMachine:
    """IDLE / TRACKING / LOST from the per-frame tracker score (see the module docstring)."""

    def __init__(self, score_threshold: float = 0.5, lost_frames: int = 3, recover_frames: int = 2) -> None:
        if not math.isfinite(score_threshold):
            raise ValueError(f"score_threshold must be finite, got {score_threshold}")
        if lost_frames < 1 or recover_frames < 1:
            raise ValueError(f"lost_frames and recover_frames must be >= 1, got {lost_frames}, {recover_frames}")
        self.score_threshold = float(score_threshold)
        self.lost_frames = int(lost_frames)
        self.recover_frames = int(recover_frames)
        self.state = TrackState.IDLE
        self._low = 0
        self._high = 0

    def start(self) -> TrackState:
        """A successful (re)initialisation: TRACKING."""
        self.state, self._low, self._high = TrackState.TRACKING, 0, 0
        return self.state

    def reset(self) -> TrackState:
        """Stop tracking: IDLE."""
        self.state, self._low, self._high = TrackState.IDLE, 0, 0
        return self.state

    def observe(self, score: float) -> TrackState:
        """Feed one frame's score (NaN counts as low); returns the new state. No-op in IDLE."""
        if self.state is TrackState.IDLE:
            return self.state
        good = math.isfinite(score) and score >= self.score_threshold
        if good:
            self._low, self._high = 0, self._high + 1
        else:
            self._low, self._high = self._low + 1, 0
        if self.state is TrackState.TRACKING and self._low >= self.lost_frames:
            self.state = TrackState.LOST
        elif self.state is TrackState.LOST and self._high >= self.recover_frames:
            self.state = TrackState.TRACKING
        return self.state


class NodeStatus:
    """Thread-safe run-time status of the tracking node: state machine, counters, timings, errors."""

    def __init__(self, machine: LostStateMachine | None = None, window: int = 30, clock=time.monotonic) -> None:
        self.machine = machine or LostStateMachine()
        self._clock = clock
        self._lock = threading.Lock()
        self._done_times: collections.deque[float] = collections.deque(maxlen=max(2, window))
        self._tracker_s: collections.deque[float] = collections.deque(maxlen=max(1, window))
        self._latency_s: collections.deque[float] = collections.deque(maxlen=max(1, window))
        self._stamp_latency_s: collections.deque[float] = collections.deque(maxlen=max(1, window))
        self._stamp_steps: collections.deque[int] = collections.deque(maxlen=STAMP_STEP_WINDOW)
        self._last_received_stamp: int | None = None
        self.score = float("nan")
        self.received = 0
        self.processed = 0
        self.skipped = 0
        self.missing = 0
        self.mode = BacklogMode.IDLE
        self.backlog = 0
        self.lag_s = float("nan")
        self.init_s = float("nan")
        self.catch_up: tuple[int, float] | None = None  # after the last init: frames and seconds to live
        self.last_result: tuple[int, float] | None = None  # (frame stamp ns, receipt -> publish s)
        self.inits = 0
        self.redetections = 0
        self.errors = 0
        self.last_error = ""
        self.last_error_time: float | None = None
        self.frame_stamp_ns: int | None = None
        self.init_stamp_ns: int | None = None

    @property
    def state(self) -> TrackState:
        return self.machine.state

    # -- events --------------------------------------------------------------------------------
    def frame_received(self, stamp_ns: int) -> None:
        """A frame stamped ``stamp_ns`` arrived. A step between stamps of more than 1.5 times the
        usual one (the median of the recent steps) counts the frames that should have come
        between as missing (lost before the node: camera, driver or transport)."""
        with self._lock:
            self.received += 1
            previous, self._last_received_stamp = self._last_received_stamp, int(stamp_ns)
            if previous is None or stamp_ns <= previous:
                return
            step = int(stamp_ns) - previous
            usual = sorted(self._stamp_steps)[len(self._stamp_steps) // 2] if self._stamp_steps else step
            if len(self._stamp_steps) >= 3 and step > 1.5 * usual:
                self.missing += max(0, round(step / usual) - 1)
            self._stamp_steps.append(step)  # a lasting change of rate becomes the usual step

    def frames_skipped(self, count: int) -> None:
        """``count`` received frames will never be tracked (the backlog policy skipped them)."""
        with self._lock:
            self.skipped += int(count)

    def backlog_state(self, mode: BacklogMode, backlog: int, lag_s: float) -> None:
        """After the worker took a frame: its mode, the frames still waiting, the frame's lag."""
        with self._lock:
            self.mode, self.backlog, self.lag_s = mode, int(backlog), float(lag_s)

    def caught_up(self, frames: int, seconds: float) -> None:
        """After an init, the worker went live ``frames`` frames after the init frame and
        ``seconds`` after the init finished."""
        with self._lock:
            self.catch_up = (int(frames), float(seconds))

    def initialised(self, stamp_ns: int, init_s: float | None = None) -> TrackState:
        """A successful init on the frame stamped ``stamp_ns`` (``init_s``: the tracker's init time)."""
        with self._lock:
            self.inits += 1
            self.init_stamp_ns = int(stamp_ns)
            self.catch_up = None
            if init_s is not None:
                self.init_s = float(init_s)
            self.score = float("nan")
            return self.machine.start()

    def reset(self) -> TrackState:
        with self._lock:
            self.score = float("nan")
            self.mode, self.backlog = BacklogMode.IDLE, 0
            return self.machine.reset()

    def frame_done(self, stamp_ns: int, score: float | None = None, tracker_s: float | None = None) -> TrackState:
        """One frame handled by the worker (``score`` None when nothing was tracked); returns the state."""
        with self._lock:
            self.frame_stamp_ns = int(stamp_ns)
            if score is not None:
                self.processed += 1
                self.score = float(score)
                self.machine.observe(float(score))
                self._done_times.append(self._clock())
            if tracker_s is not None:
                self._tracker_s.append(float(tracker_s))
            return self.machine.state

    def latency(self, latency_s: float, stamp_latency_s: float | None = None, stamp_ns: int | None = None) -> None:
        """Per-frame latency of a published result (of the frame stamped ``stamp_ns``): receipt ->
        publish, header stamp -> publish."""
        with self._lock:
            self._latency_s.append(float(latency_s))
            if stamp_ns is not None:
                self.last_result = (int(stamp_ns), float(latency_s))
            if stamp_latency_s is not None:
                self._stamp_latency_s.append(float(stamp_latency_s))

    def redetected(self) -> None:
        with self._lock:
            self.redetections += 1

    def error(self, message: str) -> None:
        """Record the latest error (shown in status until a newer one)."""
        with self._lock:
            self.errors += 1
            self.last_error = str(message)
            self.last_error_time = self._clock()

    # -- reports -------------------------------------------------------------------------------
    def fps(self) -> float:
        """Output rate over the window (processed frames per second); 0 with fewer than 2 frames."""
        with self._lock:
            times = list(self._done_times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def key_values(self) -> list[tuple[str, str]]:
        """Status as (key, value) text pairs for diagnostic_msgs/KeyValue."""

        def ms(values) -> tuple[str, str]:
            if not values:
                return "nan", "nan"
            arr = np.asarray(values) * 1e3
            return f"{arr.mean():.2f}", f"{np.percentile(arr, 95):.2f}"

        def stamp(value: int | None) -> str:
            return "" if value is None else str(value)

        fps = self.fps()
        with self._lock:
            tracker_mean = float(np.mean(self._tracker_s)) if self._tracker_s else float("nan")
            lat_mean, lat_p95 = ms(self._latency_s)
            slat_mean, slat_p95 = ms(self._stamp_latency_s)
            return [
                ("state", self.machine.state.value),
                ("score", f"{self.score:.4f}"),
                ("fps", f"{fps:.2f}"),
                ("tracker_fps", f"{1.0 / tracker_mean:.2f}" if tracker_mean > 0 else "nan"),
                ("tracker_ms", f"{tracker_mean * 1e3:.2f}"),
                ("latency_ms", lat_mean),
                ("latency_p95_ms", lat_p95),
                ("stamp_latency_ms", slat_mean),
                ("stamp_latency_p95_ms", slat_p95),
                ("last_result_stamp_ns", stamp(self.last_result[0] if self.last_result else None)),
                ("last_result_latency_ms", f"{self.last_result[1] * 1e3:.2f}" if self.last_result else "nan"),
                ("mode", self.mode.value),
                ("backlog", str(self.backlog)),
                ("lag_ms", f"{self.lag_s * 1e3:.2f}"),
                ("frames_received", str(self.received)),
                ("frames_processed", str(self.processed)),
                ("frames_skipped", str(self.skipped)),
                ("frames_missing", str(self.missing)),
                ("init_ms", f"{self.init_s * 1e3:.2f}"),
                ("catch_up_frames", str(self.catch_up[0]) if self.catch_up else ""),
                ("catch_up_ms", f"{self.catch_up[1] * 1e3:.2f}" if self.catch_up else "nan"),
                ("inits", str(self.inits)),
                ("redetections", str(self.redetections)),
                ("errors", str(self.errors)),
                ("last_error", self.last_error),
                ("frame_stamp_ns", stamp(self.frame_stamp_ns)),
                ("init_stamp_ns", stamp(self.init_stamp_ns)),
            ]

    def level(self, error_hold_s: float = 5.0) -> int:
        """0 OK, 1 WARN (LOST, falling behind, or an error in the last ``error_hold_s`` seconds)."""
        with self._lock:
            recent_error = self.last_error_time is not None and self._clock() - self.last_error_time < error_hold_s
            behind = self.mode is BacklogMode.FALLING_BEHIND and self.machine.state is not TrackState.IDLE
            return 1 if self.machine.state is TrackState.LOST or behind or recent_error else 0

    def summary(self) -> str:
        """One line for DiagnosticStatus.message."""
        with self._lock:
            text = self.machine.state.value
            if self.mode is BacklogMode.FALLING_BEHIND and self.machine.state is not TrackState.IDLE:
                text += f"; falling behind: {self.skipped} frame(s) skipped so far, backlog {self.backlog}"
            if self.last_error:
                text += f"; last error: {self.last_error}"
            return text
