"""Hand-over from the node's callbacks (executor thread) to its tracking worker.

The image callback puts each decoded frame, the init callbacks each parsed request; the worker
waits for either and takes everything pending at once: the newest init request and the frames
in arrival order. At most ``max_frames`` frames wait here; a frame put beyond that pushes the
oldest one out, and the worker learns which were pushed out (their ``key``, e.g. the frame's
receive counter) with its next :meth:`take` (``max_frames=1`` is keep-last-1: only the newest
frame waits). What the worker does with the
frames (track each in order, or skip to the newest) is the backlog policy of
:mod:`cfvgg_ros.ros.session`. Nothing here imports ROS.
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass, field
from typing import Any

WAKE_S = 0.5  # the worker wakes at least this often while waiting


@dataclass(frozen=True)
class Taken:
    """What :meth:`Handover.take` hands the worker: the newest init request (None when none),
    the waiting frames oldest first, and the keys of the frames pushed out unseen since the last
    take."""

    init: Any = None
    frames: list = field(default_factory=list)
    discarded: list = field(default_factory=list)


class Handover:
    """Pending frames (at most ``max_frames``) and the newest init request, guarded by one condition."""

    def __init__(self, max_frames: int = 1, key=lambda item: item) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self._cond = threading.Condition()
        self._frames: collections.deque = collections.deque()
        self._max_frames = int(max_frames)
        self._key = key
        self._discarded: list = []
        self._init: Any = None
        self._stopped = False

    def put_frame(self, item) -> int:
        """Append ``item``; returns how many older frames it pushed out (0 or 1)."""
        with self._cond:
            self._frames.append(item)
            pushed = max(0, len(self._frames) - self._max_frames)
            for _ in range(pushed):
                self._discarded.append(self._key(self._frames.popleft()))
            self._cond.notify()
        return pushed

    def put_init(self, request) -> None:
        """Make ``request`` the pending init request (replacing an older one)."""
        with self._cond:
            self._init = request
            self._cond.notify()

    def clear(self) -> None:
        """Drop whatever is pending."""
        with self._cond:
            self._frames.clear()
            self._init, self._discarded = None, []

    def stop(self) -> None:
        """Wake the worker for good: :meth:`wait` returns False from now on."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def wait(self, deadline: float | None = None) -> bool:
        """Block until a frame or an init is pending, ``deadline`` (``time.monotonic()`` time) has
        passed, or :meth:`stop`; False once stopped."""
        with self._cond:
            while not self._stopped and self._init is None and not self._frames:
                timeout = WAKE_S if deadline is None else min(deadline - time.monotonic(), WAKE_S)
                if timeout <= 0:
                    break
                self._cond.wait(timeout)
            return not self._stopped

    def take(self) -> Taken:
        """Everything pending (see :class:`Taken`); the hand-over is empty afterwards."""
        with self._cond:
            taken = Taken(self._init, list(self._frames), self._discarded)
            self._frames.clear()
            self._init, self._discarded = None, []
            return taken
