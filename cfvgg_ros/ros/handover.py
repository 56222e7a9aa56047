"""Keep-last-1 hand-over from the node's callbacks (executor thread) to its tracking worker.

The image callback puts each decoded frame, the init callbacks each parsed request; the worker
waits for either and takes both at once. Only the newest of each is kept: a frame replaced
before the worker took it is reported (the node counts it as dropped), so a slow tracker works
on the newest frame instead of falling behind. Nothing here imports ROS.
"""

from __future__ import annotations

import threading
import time
from typing import Any

WAKE_S = 0.5  # the worker wakes at least this often while waiting


class Handover:
    """The newest pending frame and the newest pending init request, guarded by one condition."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Any = None
        self._init: Any = None
        self._stopped = False

    def put_frame(self, item) -> bool:
        """Make ``item`` the pending frame; True when it replaced one the worker never took."""
        with self._cond:
            replaced = self._frame is not None
            self._frame = item
            self._cond.notify()
        return replaced

    def put_init(self, request) -> None:
        """Make ``request`` the pending init request (replacing an older one)."""
        with self._cond:
            self._init = request
            self._cond.notify()

    def clear(self) -> None:
        """Drop whatever is pending."""
        with self._cond:
            self._frame = self._init = None

    def stop(self) -> None:
        """Wake the worker for good: :meth:`wait` returns False from now on."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def wait(self, deadline: float | None = None) -> bool:
        """Block until a frame or an init is pending, ``deadline`` (``time.monotonic()`` time) has
        passed, or :meth:`stop`; False once stopped."""
        with self._cond:
            while not self._stopped and self._init is None and self._frame is None:
                timeout = WAKE_S if deadline is None else min(deadline - time.monotonic(), WAKE_S)
                if timeout <= 0:
                    break
                self._cond.wait(timeout)
            return not self._stopped

    def take(self) -> tuple[Any, Any]:
        """The pending (init request, frame), each None when there is none; both are cleared."""
        with self._cond:
            taken = (self._init, self._frame)
            self._frame = self._init = None
            return taken
