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
mean and p95 over the window), received / processed / dropped frame counts, and the last error.
Nothing here imports ROS; the node turns :meth:`NodeStatus.key_values` into a DiagnosticArray.
"""

from __future__ import annotations

import collections
import enum
import math
import threading
import time

import numpy as np


class TrackState(enum.Enum):
    IDLE = "IDLE"
    TRACKING = "TRACKING"
    LOST = "LOST"


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
        self.score = float("nan")
        self.received = 0
        self.processed = 0
        self.dropped = 0
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
    def frame_received(self, dropped_pending: bool) -> None:
        """A frame arrived; ``dropped_pending`` when it replaced one the worker never took."""
        with self._lock:
            self.received += 1
            self.dropped += int(dropped_pending)

    def initialised(self, stamp_ns: int) -> TrackState:
        with self._lock:
            self.inits += 1
            self.init_stamp_ns = int(stamp_ns)
            self.score = float("nan")
            return self.machine.start()

    def reset(self) -> TrackState:
        with self._lock:
            self.score = float("nan")
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

    def latency(self, latency_s: float, stamp_latency_s: float | None = None) -> None:
        """Per-frame latency of a published result: receipt -> publish, header stamp -> publish."""
        with self._lock:
            self._latency_s.append(float(latency_s))
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
                ("frames_received", str(self.received)),
                ("frames_processed", str(self.processed)),
                ("dropped_frames", str(self.dropped)),
                ("inits", str(self.inits)),
                ("redetections", str(self.redetections)),
                ("errors", str(self.errors)),
                ("last_error", self.last_error),
                ("frame_stamp_ns", "" if self.frame_stamp_ns is None else str(self.frame_stamp_ns)),
                ("init_stamp_ns", "" if self.init_stamp_ns is None else str(self.init_stamp_ns)),
            ]

    def level(self, error_hold_s: float = 5.0) -> int:
        """0 OK, 1 WARN (LOST, or an error in the last ``error_hold_s`` seconds)."""
        with self._lock:
            recent_error = self.last_error_time is not None and self._clock() - self.last_error_time < error_hold_s
            return 1 if self.machine.state is TrackState.LOST or recent_error else 0

    def summary(self) -> str:
        """One line for DiagnosticStatus.message."""
        with self._lock:
            text = self.machine.state.value
            if self.last_error:
                text += f"; last error: {self.last_error}"
            return text
