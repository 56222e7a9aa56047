"""Hand freed heap memory back to the system while the tracking worker is idle.

A 720p RGB frame is a 2.6 MiB buffer. glibc serves the first ones with ``mmap`` and returns them
on free, but raises its mmap threshold each time such a buffer is freed, so later frames come
from the heap; after a backlog (the ~90 frames queued behind a 200 ms init) the freed buffers stay
resident, and the process's RSS creeps up with the worst backlog so far. ``malloc_trim(0)``
returns the free pages of every arena to the system (glibc >= 2.8 also releases whole free pages
inside the heap, not only its top). The node calls :meth:`HeapTrimmer.maybe_trim` when its worker
has caught up (no frame waiting), at most every ``period_s`` seconds, so no queued frame waits
for a trim; one arriving during it does (about 1 ms a trim in the node's 60-min soak). Where
``malloc_trim`` does not exist (another C library), trimming is off. Nothing here imports ROS.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable


def glibc_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim(pad)`` (returns 1 when memory was released), or None without glibc."""
    try:  # the symbols already loaded in this process (libc among them): no library search
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


class HeapTrimmer:
    """``maybe_trim()`` calls ``trim(0)`` when ``period_s`` (> 0) seconds have passed since the
    last call (or since construction); ``trim`` defaults to glibc's ``malloc_trim``."""

    def __init__(self, period_s: float, trim: Callable[[int], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not period_s >= 0:
            raise ValueError(f"heap trim period must be >= 0 seconds, got {period_s}")
        self.period_s = float(period_s)
        self._trim = trim if trim is not None else (glibc_malloc_trim() if period_s > 0 else None)
        self._clock = clock
        self._last = clock()
        self.trims = 0  # calls made
        self.seconds = 0.0  # time spent in them

    @property
    def enabled(self) -> bool:
        return self.period_s > 0 and self._trim is not None

    def maybe_trim(self) -> bool:
        """Trim if enabled and due; True when a trim ran."""
        if not self.enabled:
            return False
        now = self._clock()
        if now - self._last < self.period_s:
            return False
        self._last = now
        start = time.perf_counter()
        self._trim(0)
        self.seconds += time.perf_counter() - start
        self.trims += 1
        return True
