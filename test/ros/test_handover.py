"""Hand-over from the node's callbacks to its worker (no ROS): bounded, ordered, keep-last-1 at
``max_frames=1``."""

from __future__ import annotations

import threading
import time

import pytest

from cfvgg_ros.ros.handover import Handover, Taken


def test_only_the_newest_frame_and_init_are_kept():
    handover = Handover()  # max_frames=1: keep-last-1
    assert handover.put_frame(1) == 0
    assert handover.put_frame(2) == 1  # 1 was never taken: pushed out
    handover.put_init("a")
    handover.put_init("b")
    assert handover.wait() is True
    assert handover.take() == Taken("b", [2], [1])
    assert handover.take() == Taken(None, [], [])
    assert handover.put_frame(3) == 0
    handover.clear()
    assert handover.take() == Taken(None, [], [])


def test_frames_wait_in_order_up_to_the_bound():
    handover = Handover(max_frames=3, key=lambda item: item["seq"])
    for seq in range(1, 4):
        assert handover.put_frame({"seq": seq}) == 0
    assert handover.put_frame({"seq": 4}) == 1  # the oldest is pushed out
    assert handover.put_frame({"seq": 5}) == 1
    taken = handover.take()
    assert [f["seq"] for f in taken.frames] == [3, 4, 5] and taken.discarded == [1, 2] and taken.init is None
    assert handover.take() == Taken()
    with pytest.raises(ValueError):
        Handover(max_frames=0)


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
