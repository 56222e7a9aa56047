"""Frame ring buffer for stamped inits: eviction by stamp age and count, nearest-stamp lookup with
clear reasons, catch-up frames, stamps going backwards."""

import threading

import pytest

from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer, FrameLookupError
from cfvgg_ros.ros.stamps import format_stamp

MS = 1_000_000
BASE = 5_000 * 1_000_000_000


def _fill(buffer: FrameBuffer, count: int, period_ms: int = 100, start_seq: int = 1) -> list[BufferedFrame]:
    items = [BufferedFrame(seq=start_seq + i, stamp_ns=BASE + i * period_ms * MS, frame=f"frame{i}")
             for i in range(count)]
    for item in items:
        buffer.push(item)
    return items


def test_keeps_only_the_last_duration():
    buffer = FrameBuffer(duration_s=0.5)
    items = _fill(buffer, 10)  # 0.0 .. 0.9 s
    assert len(buffer) == 6  # 0.4 .. 0.9 s: within 0.5 s of the newest
    assert buffer.span_ns() == (items[4].stamp_ns, items[9].stamp_ns)
    assert buffer.newest() is items[-1]


def test_max_frames_caps_the_count():
    buffer = FrameBuffer(duration_s=10.0, max_frames=3)
    _fill(buffer, 10)
    assert len(buffer) == 3


def test_nearest_within_tolerance():
    buffer = FrameBuffer(duration_s=1.0)
    items = _fill(buffer, 10)
    assert buffer.nearest(items[3].stamp_ns, 0) is items[3]
    assert buffer.nearest(items[3].stamp_ns + 30 * MS, 40 * MS) is items[3]
    assert buffer.nearest(items[3].stamp_ns + 70 * MS, 40 * MS) is items[4]


def test_nearest_prefers_the_newest_of_equal_stamps():
    buffer = FrameBuffer()
    first = BufferedFrame(1, BASE, "a")
    again = BufferedFrame(2, BASE, "b")
    buffer.push(first)
    buffer.push(again)
    assert buffer.nearest(BASE, 0) is again


@pytest.mark.parametrize("offset_ms, reason", [
    (-2000, "older than the frame buffer"),
    (5000, "newer than the newest frame"),
    (350, "no frame within"),
])
def test_lookup_failures_say_why(offset_ms, reason):
    buffer = FrameBuffer(duration_s=1.0)
    _fill(buffer, 10)
    with pytest.raises(FrameLookupError, match=reason):
        buffer.nearest(BASE + offset_ms * MS, 20 * MS)


def test_empty_buffer():
    with pytest.raises(FrameLookupError, match="no frame buffered"):
        FrameBuffer().nearest(BASE, MS)
    assert FrameBuffer().newest() is None and FrameBuffer().span_ns() is None


def test_after_gives_the_catch_up_frames_in_order():
    buffer = FrameBuffer(duration_s=1.0)
    items = _fill(buffer, 6)
    assert buffer.after(items[2].seq) == items[3:]
    assert buffer.after(items[-1].seq) == []


def test_stamps_going_backwards_restart_the_buffer():
    buffer = FrameBuffer(duration_s=1.0)
    _fill(buffer, 5)
    assert buffer.push(BufferedFrame(99, BASE - 10 * MS, "rewound")) is False
    assert len(buffer) == 1 and buffer.newest().frame == "rewound"


def test_concurrent_push_and_lookup():
    buffer = FrameBuffer(duration_s=0.2)
    errors = []

    def reader():
        for _ in range(2000):
            try:
                buffer.nearest(BASE, 10**12)
            except FrameLookupError:
                pass
            except Exception as exc:  # pragma: no cover - would be a bug
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    _fill(buffer, 2000, period_ms=1)
    thread.join()
    assert not errors


def test_bad_construction_and_format():
    with pytest.raises(ValueError):
        FrameBuffer(duration_s=-1)
    with pytest.raises(ValueError):
        FrameBuffer(max_frames=0)
    assert format_stamp(12 * 1_000_000_000 + 5) == "12.000000005"
