"""The backlog policy over real DDS, with a plug-in tracker of a chosen speed
(``conftest:SlowTracker``): frames arriving during a slow init are drained in order and every
frame gets its result (``drain``); a tracker slower than the camera skips to the newest frame
beyond ``max_lag`` and says so in ``~/status`` and the log (``drain``); keep-last-1 counts what it
skips (``latest``). The stream runs at 30 Hz from the test; the only timing assumptions are
generous ones (a 5 ms tracker keeps up with 30 Hz, a 100 ms one does not)."""

from __future__ import annotations

import time

import pytest

BASE = {"allow_plugins": True, "image_qos": "reliable", "camera_info_topic": "", "status_period": 0.5, "warm_up": False}


def _node(tmp_path_factory, ros_client, h, name: str, params: dict):
    proc = h.NodeProcess(tmp_path_factory.mktemp(name), {**BASE, **params})
    ros_client.wait_ready(proc)
    return proc


def _stream(client, frames, h, first: int, count: int, period: float = 1.0 / 30) -> list[int]:
    """Publish ``count`` frames at 30 Hz without waiting for the node; their stamps."""
    stamps, start = [], time.monotonic()
    for k in range(count):
        index = first + k
        stamps.append(h.stamp_of(index))
        client.pub_image.publish(client.image_msg(frames[index % len(frames)], stamps[-1]))
        time.sleep(max(0.0, start + (k + 1) * period - time.monotonic()))
    return stamps


def _handled(client, node, stamp_ns: int, timeout: float = 20.0) -> dict:
    return client.wait_for(lambda: client.status_where(lambda s: s["frame_stamp_ns"] == str(stamp_ns)),
                           timeout, f"frame {stamp_ns} to be handled", node.log)


def _init_on_first_frame(client, node, frames, boxes, h, index: int) -> dict:
    """Frame ``index`` handled while IDLE, then a ROI init on it; the status after the init."""
    client.clear()
    client.publish_frame(frames[index % len(frames)], h.stamp_of(index), log=node.log)
    client.publish_roi(boxes[index % len(frames)])
    return client.wait_for(lambda: client.status_where(lambda s: s["state"] == "TRACKING"
                                                       and s["init_stamp_ns"] == str(h.stamp_of(index))),
                           20.0, "the init", node.log)


@pytest.fixture()
def drain_node(tmp_path_factory, ros_client, h):
    # 0.4 s init (a few hundred ms, as fECO's first frame), 5 ms per frame: faster than 30 Hz
    proc = _node(tmp_path_factory, ros_client, h, "drain",
                 {"tracker": "conftest:SlowTracker", "tracker_params": '{"init_s": 0.4, "update_s": 0.005}'})
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def test_frames_during_a_slow_init_are_drained_in_order_and_all_tracked(drain_node, ros_client, synthetic, h):
    frames, boxes, _ = synthetic
    client, node = ros_client, drain_node
    client.clear()
    client.publish_frame(frames[0], h.stamp_of(0), log=node.log)
    client.publish_polygon(h.corners_of(boxes[0]), h.stamp_of(0))  # init on frame 0 ...
    stamps = _stream(client, frames, h, 1, 30)  # ... while the camera goes on at 30 Hz
    last = _handled(client, node, stamps[-1])
    for stamp_ns in [h.stamp_of(0), *stamps]:  # no gap: a result for every frame
        client.wait_box(stamp_ns, log=node.log)
    with client.lock:
        published = [b.header.stamp.sec * 1_000_000_000 + b.header.stamp.nanosec for b in client.boxes]
    assert published == sorted(published) and len(set(published)) == len(published)  # in order, once each
    assert last["frames_skipped"] == "0" and last["mode"] == "live" and last["backlog"] == "0"
    assert float(last["init_ms"]) >= 400.0
    caught_up = [s for s in client.statuses if s["mode"] == "catching_up"]
    assert caught_up and max(int(s["backlog"]) for s in caught_up) >= 3  # frames waited behind the init
    assert "catching up" in node.log() and "live at frame" in node.log()
    assert "falling behind" not in node.log()


@pytest.fixture()
def slow_node(tmp_path_factory, ros_client, h):
    # 100 ms per frame: 3x slower than the 30 Hz stream
    proc = _node(tmp_path_factory, ros_client, h, "slow",
                 {"tracker": "conftest:SlowTracker", "tracker_params": '{"update_s": 0.1}', "max_lag": 0.3})
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def test_drain_skips_to_the_newest_beyond_max_lag_and_reports_it(slow_node, ros_client, synthetic, h):
    frames, boxes, _ = synthetic
    client, node = ros_client, slow_node
    before = _init_on_first_frame(client, node, frames, boxes, h, 200)
    stamps = _stream(client, frames, h, 201, 30)
    after = _handled(client, node, stamps[-1])  # the newest frame is always tracked
    received = int(after["frames_received"]) - int(before["frames_received"])
    processed = int(after["frames_processed"]) - int(before["frames_processed"])
    skipped = int(after["frames_skipped"]) - int(before["frames_skipped"])
    assert received == 30 and processed + skipped == received and 0 < skipped < received
    behind = client.wait_for(lambda: client.status_where(lambda s: s["mode"] == "falling_behind"),
                             5.0, "a falling_behind status", node.log)
    assert behind["_level"] == 1 and "falling behind" in behind["_message"]
    assert behind["backlog_policy"] == "drain"
    client.wait_for(lambda: "falling behind: skipped" in node.log(), 5.0, "the WARN in the log", node.log)
    warning = next(line for line in node.log().splitlines() if "falling behind: skipped" in line)
    assert "[WARN]" in warning and "backlog_policy drain: max_lag 0.3 s, max_backlog 90" in warning
    assert client.wait_box(stamps[-1], log=node.log) is not None


@pytest.fixture()
def latest_node(tmp_path_factory, ros_client, h):
    proc = _node(tmp_path_factory, ros_client, h, "latest",
                 {"tracker": "conftest:SlowTracker", "tracker_params": '{"update_s": 0.05}',
                  "backlog_policy": "latest"})
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def test_latest_keeps_only_the_newest_frame_and_counts_skips(latest_node, ros_client, synthetic, h):
    frames, boxes, _ = synthetic
    client, node = ros_client, latest_node
    before = _init_on_first_frame(client, node, frames, boxes, h, 100)
    messages = [client.image_msg(frames[i], h.stamp_of(100 + i)) for i in range(1, len(frames))]
    for msg in messages:  # as fast as possible: the node cannot keep up with every frame
        client.pub_image.publish(msg)
    after = _handled(client, node, h.stamp_of(100 + len(frames) - 1))
    received = int(after["frames_received"]) - int(before["frames_received"])
    processed = int(after["frames_processed"]) - int(before["frames_processed"])
    skipped = int(after["frames_skipped"]) - int(before["frames_skipped"])
    assert 0 < received <= len(messages)
    assert processed + skipped == received  # every frame is either tracked or counted as skipped
    assert skipped > 0 and after["backlog_policy"] == "latest"
    client.wait_for(lambda: "backlog_policy latest" in node.log(), 5.0, "the WARN naming the policy", node.log)
