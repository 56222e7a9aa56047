"""Keep-last-1 hand-over from the node's callbacks to its worker (no ROS)."""

from __future__ import annotations

import threading
import time

from cfvgg_ros.ros.handover import Handover


def test_only_the_newest_frame_and_init_are_kept():
    handover = Handover()
    assert handover.put_frame(1) is False
    assert handover.put_frame(2) is True  # 1 was never taken: dropped
    handover.put_init("a")
    handover.put_init("b")
    assert handover.wait() is True
    assert handover.take() == ("b", 2)
    assert handover.take() == (None, None)
    assert handover.put_frame(3) is False
    handover.clear()
    assert handover.take() == (None, None)


def test_wait_returns_at_the_deadline_and_false_once_stopped():
    handover = Handover()
    start = time.monotonic()
    assert handover.wait(start + 0.05) is True  # nothing pending: returns at the deadline
    assert 0.04 <= time.monotonic() - start < 0.5
    assert handover.wait(start - 1.0) is True  # a deadline already passed: at once
    woke = []
    worker = threading.Thread(target=lambda: woke.append(handover.wait()))
    worker.start()
    time.sleep(0.05)
    handover.put_frame("frame")
    worker.join(2.0)
    assert woke == [True]
    handover.stop()
    handover.put_frame("late")
    assert handover.wait() is False
