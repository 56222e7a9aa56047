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

The input stream (:class:`StreamState`): ``waiting`` until the first image, ``ok`` while images
arrive, ``stale`` when none has arrived for ``stale_after`` seconds (``stream_age_ms`` says how
long; level WARN and the message says so): a camera that stopped is reported even though the
node itself has nothing to do. A step between header stamps longer than ``stale_after`` is an
outage (``stream_gaps``), not frames lost in transport; stamps that go backwards are counted
(``stamp_jumps_back``). Rejected input is counted per kind (``rejected_images``,
``rejected_inits``, ``rejected_camera_info``; every error also counts in ``errors``), and frames
not tracked because their stamp is older than a result already published are
``frames_out_of_order`` (see :mod:`cfvgg_ros.ros.session`).
"""

from __future__ import annotations

import collections
import enum
import math
import threading
import time

import numpy as np

STAMP_STEP_WINDOW = 15  # recent steps between header stamps the usual step is the median of
STALE_AFTER_S = 1.0  # default: the stream is stale after this long without an image (s)
#: error kinds counted apart in ~/status (``rejected_<kind>``), by the start of the message when
#: the reporter does not name the kind (the node's callbacks word their errors this way)
REJECT_KINDS = {"images": "image on ", "inits": "init on ", "camera_info": "camera_info "}


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


class StreamState(enum.Enum):
    """Whether images are arriving (see the module docstring)."""

    WAITING = "waiting"  # no image received yet
    OK = "ok"  # the newest image arrived less than stale_after seconds ago
    STALE = "stale"  # no image for stale_after seconds or longer


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

    def __init__(self, machine: LostStateMachine | None = None, window: int = 30, clock=time.monotonic,
                 stale_after_s: float = STALE_AFTER_S) -> None:
        self.machine = machine or LostStateMachine()
        self._clock = clock
        self.stale_after_s = float(stale_after_s)
        self._lock = threading.Lock()
        self._done_times: collections.deque[float] = collections.deque(maxlen=max(2, window))
        self._tracker_s: collections.deque[float] = collections.deque(maxlen=max(1, window))
        self._latency_s: collections.deque[float] = collections.deque(maxlen=max(1, window))
        self._stamp_latency_s: collections.deque[float] = collections.deque(maxlen=max(1, window))
        self._stamp_steps: collections.deque[int] = collections.deque(maxlen=STAMP_STEP_WINDOW)
        self._last_received_stamp: int | None = None
        self._last_received_at: float | None = None  # clock time of the newest image
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
        self.rejected = dict.fromkeys(REJECT_KINDS, 0)
        self.out_of_order = 0
        self.stream_gaps = 0
        self.jumps_back = 0
        self.last_error = ""
        self.last_error_time: float | None = None
        self.frame_stamp_ns: int | None = None
        self.init_stamp_ns: int | None = None

    @property
    def state(self) -> TrackState:
        return self.machine.state

    def set_stale_after(self, seconds: float) -> None:
        """The stream is ``stale`` after ``seconds`` without an image (> 0)."""
        if not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"stale_after must be a positive number of seconds, got {seconds}")
        with self._lock:
            self.stale_after_s = float(seconds)

    def _stream(self) -> tuple[StreamState, float]:
        """The stream state and the age of the newest image (s; NaN before the first); lock held."""
        if self._last_received_at is None:
            return StreamState.WAITING, float("nan")
        age = self._clock() - self._last_received_at
        return (StreamState.STALE if age >= self.stale_after_s else StreamState.OK), age

    def stream_state(self) -> StreamState:
        with self._lock:
            return self._stream()[0]

    # -- events --------------------------------------------------------------------------------
    def frame_received(self, stamp_ns: int) -> None:
        """A frame stamped ``stamp_ns`` arrived. A step between stamps of more than 1.5 times the
        usual one (the median of the recent steps) counts the frames that should have come
        between as missing (lost before the node: camera, driver or transport); a step longer
        than ``stale_after`` is an outage (``stream_gaps``: the camera stopped, or its clock
        jumped) and counts none; a stamp older than the previous one counts in
        ``stamp_jumps_back``."""
        with self._lock:
            self.received += 1
            self._last_received_at = self._clock()
            previous, self._last_received_stamp = self._last_received_stamp, int(stamp_ns)
            if previous is not None and stamp_ns < previous:
                self.jumps_back += 1
            if previous is None or stamp_ns <= previous:
                return
            step = int(stamp_ns) - previous
            if step > self.stale_after_s * 1e9:
                self.stream_gaps += 1
                return
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

    def frame_out_of_order(self) -> None:
        """A frame was not tracked: its stamp is older than a result already published."""
        with self._lock:
            self.out_of_order += 1

    def error(self, message: str, kind: str | None = None) -> None:
        """Record the latest error (shown in status until a newer one). ``kind``: one of
        :data:`REJECT_KINDS` for rejected input (None: from the start of the message, if any)."""
        if kind is None:
            kind = next((k for k, prefix in REJECT_KINDS.items() if str(message).startswith(prefix)), None)
        with self._lock:
            self.errors += 1
            if kind in self.rejected:
                self.rejected[kind] += 1
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
            stream, age = self._stream()
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
                *((f"rejected_{kind}", str(count)) for kind, count in self.rejected.items()),
                ("frames_out_of_order", str(self.out_of_order)),
                ("stream", stream.value),
                ("stream_age_ms", f"{age * 1e3:.0f}"),
                ("stream_gaps", str(self.stream_gaps)),
                ("stamp_jumps_back", str(self.jumps_back)),
                ("last_error", self.last_error),
                ("frame_stamp_ns", stamp(self.frame_stamp_ns)),
                ("init_stamp_ns", stamp(self.init_stamp_ns)),
            ]

    def level(self, error_hold_s: float = 5.0) -> int:
        """0 OK, 1 WARN (LOST, falling behind, a stale stream, or an error in the last
        ``error_hold_s`` seconds)."""
        with self._lock:
            recent_error = self.last_error_time is not None and self._clock() - self.last_error_time < error_hold_s
            behind = self.mode is BacklogMode.FALLING_BEHIND and self.machine.state is not TrackState.IDLE
            stale = self._stream()[0] is StreamState.STALE
            return 1 if self.machine.state is TrackState.LOST or behind or recent_error or stale else 0

    def summary(self) -> str:
        """One line for DiagnosticStatus.message."""
        with self._lock:
            text = self.machine.state.value
            stream, age = self._stream()
            if stream is StreamState.STALE:
                text += f"; stream stale: no image for {age:.1f} s"
            if self.mode is BacklogMode.FALLING_BEHIND and self.machine.state is not TrackState.IDLE:
                text += f"; falling behind: {self.skipped} frame(s) skipped so far, backlog {self.backlog}"
            if self.last_error:
                text += f"; last error: {self.last_error}"
            return text
