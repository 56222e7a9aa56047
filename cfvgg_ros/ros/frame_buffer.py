"""Ring buffer of recent frames keyed by their header stamp, for stamped init requests.

An operator draws a box on a frame that reached the ground station some time ago; the init
message carries that frame's stamp. The node keeps the frames of the last ``duration``
seconds (measured in header-stamp time, so it also works for replayed bags), finds the frame
nearest the requested stamp (within a tolerance), initialises there and catches up through
the newer frames. Thread-safe: the subscription callback pushes, the worker thread reads.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Any

from cfvgg_ros.ros.stamps import NS_PER_S, format_stamp


class FrameLookupError(LookupError):
    """No buffered frame matches a requested stamp (says why: empty, too old, too new, gap)."""


@dataclass(frozen=True)
class BufferedFrame:
    """One received frame: a receive counter ``seq``, its header stamp in ns, the decoded
    frame and whatever else the node wants to keep with it (``header``, receive time)."""

    seq: int
    stamp_ns: int
    frame: Any
    header: Any = None
    received_ns: int = 0


class FrameBuffer:
    """Frames of the last ``duration_s`` seconds (at most ``max_frames``), oldest first.

    A frame whose stamp is older than the newest one's (a bag restarted, a clock reset)
    clears the buffer first, so the stamps stay sorted.
    """

    def __init__(self, duration_s: float = 1.0, max_frames: int = 300) -> None:
        if not duration_s >= 0:
            raise ValueError(f"buffer duration must be >= 0 seconds, got {duration_s}")
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.duration_ns = int(round(duration_s * NS_PER_S))
        self.max_frames = int(max_frames)
        self._frames: list[BufferedFrame] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def push(self, item: BufferedFrame) -> bool:
        """Add the newest frame, evicting those older than ``duration``. Returns False when the
        stamp went backwards and the buffer was cleared first."""
        with self._lock:
            in_order = not self._frames or item.stamp_ns >= self._frames[-1].stamp_ns
            if not in_order:
                self._frames.clear()
            self._frames.append(item)
            oldest_kept = item.stamp_ns - self.duration_ns
            drop = 0
            while drop < len(self._frames) - 1 and self._frames[drop].stamp_ns < oldest_kept:
                drop += 1
            drop = max(drop, len(self._frames) - self.max_frames)
            if drop:
                del self._frames[:drop]
            return in_order

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()

    def newest(self) -> BufferedFrame | None:
        """The most recent frame, or None when empty."""
        with self._lock:
            return self._frames[-1] if self._frames else None

    def span_ns(self) -> tuple[int, int] | None:
        """(oldest, newest) stamps held, or None when empty."""
        with self._lock:
            return (self._frames[0].stamp_ns, self._frames[-1].stamp_ns) if self._frames else None

    def nearest(self, stamp_ns: int, tolerance_ns: int) -> BufferedFrame:
        """The frame whose stamp is nearest ``stamp_ns``, at most ``tolerance_ns`` away (of frames
        sharing a stamp, the newest).

        Raises :class:`FrameLookupError` saying whether the buffer is empty, the stamp is older
        than the buffer, newer than the newest frame, or falls between frames.
        """
        with self._lock:
            frames = list(self._frames)
        if not frames:
            raise FrameLookupError("no frame buffered yet")
        oldest, newest = frames[0].stamp_ns, frames[-1].stamp_ns
        stamps = [f.stamp_ns for f in frames]
        i = bisect.bisect_right(stamps, stamp_ns)  # frames[i - 1] is the newest at or before the stamp
        candidates = [frames[j] for j in (i - 1, i) if 0 <= j < len(frames)]
        best = min(candidates, key=lambda f: (abs(f.stamp_ns - stamp_ns), -f.seq))
        if abs(best.stamp_ns - stamp_ns) <= tolerance_ns:
            return best
        held = f"buffer holds {format_stamp(oldest)} .. {format_stamp(newest)} ({len(frames)} frames)"
        if stamp_ns < oldest:
            raise FrameLookupError(
                f"stamp {format_stamp(stamp_ns)} is older than the frame buffer "
                f"({(oldest - stamp_ns) / 1e9:.3f} s before its oldest frame; {held})"
            )
        if stamp_ns > newest:
            raise FrameLookupError(
                f"stamp {format_stamp(stamp_ns)} is newer than the newest frame "
                f"({(stamp_ns - newest) / 1e9:.3f} s after it; {held})"
            )
        raise FrameLookupError(
            f"no frame within {tolerance_ns / 1e9:.3f} s of stamp {format_stamp(stamp_ns)} "
            f"(nearest is {abs(best.stamp_ns - stamp_ns) / 1e9:.3f} s away; {held})"
        )

    def after(self, seq: int) -> list[BufferedFrame]:
        """Frames received after the one numbered ``seq``, oldest first."""
        with self._lock:
            return [f for f in self._frames if f.seq > seq]
