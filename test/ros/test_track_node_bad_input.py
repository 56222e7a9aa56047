"""Bad input never stops the node, and it says what was wrong (in ~/status and in its log):
init before any frame, unknown encoding, short data, zero-size image, NaN / negative / zero-area /
outside-the-frame boxes, wrong corner counts, stamped inits outside the buffer, tracker exceptions."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from cfvgg_ros.ros.session import ERROR_STATUS_S

PARAMS = {"tracker": "conftest:FaultyTracker", "allow_plugins": True, "image_qos": "reliable", "camera_info_topic": "",
          "buffer_seconds": 0.5, "status_period": 0.5}


@pytest.fixture(scope="module")
def node(tmp_path_factory, ros_client, h):
    proc = h.NodeProcess(tmp_path_factory.mktemp("bad"), PARAMS)
    ros_client.wait_ready(proc)
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def _expect_error(client, node, text: str) -> dict:
    """Wait until ~/status reports an error containing ``text``; check it is logged and the node lives."""
    status = client.wait_for(lambda: client.status_where(lambda s: text in s.get("last_error", "")),
                             what=f"an error mentioning {text!r}", log=node.log)
    assert status["_level"] == 1 and text in status["_message"]
    client.wait_for(lambda: text in node.log(), 5.0, f"{text!r} in the node log", node.log)
    assert node.alive()
    return status


def _still_tracks_frames(client, node, synthetic, h, index: int) -> dict:
    frames = synthetic[0]
    return client.publish_frame(frames[index], h.stamp_of(index), log=node.log)


def test_init_before_any_frame(node, ros_client):
    ros_client.publish_roi((10, 10, 20, 20))
    _expect_error(ros_client, node, "no image received yet")
    assert ros_client.last_status()["state"] == "IDLE"


@pytest.mark.parametrize("case, expected", [
    ("unknown_encoding", "unsupported image encoding 'yuv422'"),
    ("short_data", "image data has"),
    ("zero_size", "zero size"),
    ("step_too_small", "step 100 is smaller than"),
])
def test_bad_images_are_rejected(node, ros_client, synthetic, h, case, expected):
    frame = synthetic[0][0]
    msg = ros_client.image_msg(frame, h.stamp_of(0))
    if case == "unknown_encoding":
        msg.encoding = "yuv422"
    elif case == "short_data":
        msg.data = bytes(msg.data)[: msg.step * (msg.height - 1)]
    elif case == "zero_size":
        msg.width = msg.height = msg.step = 0
        msg.data = b""
    elif case == "step_too_small":
        msg.step = 100
    ros_client.publish_image(msg, h.stamp_of(0), wait=False)
    _expect_error(ros_client, node, expected)
    status = _still_tracks_frames(ros_client, node, synthetic, h, 1)  # a good frame is handled next
    assert status["frame_stamp_ns"] == str(h.stamp_of(1))


@pytest.mark.parametrize("kind, payload, expected", [
    ("polygon", [(float("nan"), 10.0), (40.0, 30.0)], "NaN"),
    ("polygon", [(-50.0, -40.0), (-10.0, -5.0)], "outside the 320x240 frame"),
    ("polygon", [(30.0, 30.0), (30.0, 50.0)], "zero area"),
    ("polygon", [(1.0, 1.0), (5.0, 1.0), (5.0, 5.0)], "2 corners (opposite) or 4, got 3"),
    ("polygon", [(100.0, 100.0), (1.0e9, 1.0e9)], "outside"),
    ("roi", (1000, 10, 20, 20), "outside the 320x240 frame"),
    ("roi", (10, 10, 0, 20), "zero area"),
    ("roi", (0, 0, 0, 0), "whole image"),
])
def test_bad_boxes_are_rejected(node, ros_client, synthetic, h, kind, payload, expected):
    _still_tracks_frames(ros_client, node, synthetic, h, 2)
    # the node logs at most ERROR_LOGS_PER_S error lines a second and publishes an error's status
    # at most every ERROR_STATUS_S (session.report_error): start this case in a fresh window
    time.sleep(max(1.0, ERROR_STATUS_S) + 0.05)
    if kind == "roi":
        ros_client.publish_roi(payload)
    else:
        ros_client.publish_polygon(payload, h.stamp_of(2))
    if expected == "outside" and math.isfinite(payload[-1][0]):
        # a huge box reaching beyond the frame is clipped, not rejected
        box = ros_client.wait_box(h.stamp_of(2))
        assert box == (100.0, 100.0, 220.0, 140.0)
        ros_client.call_reset()
        return
    _expect_error(ros_client, node, expected)


def test_stamped_init_outside_the_buffer(node, ros_client, synthetic, h):
    frames = synthetic[0]
    for i in range(30):  # 1 s of frames; the buffer keeps 0.5 s
        ros_client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    ros_client.publish_polygon([(120.0, 110.0), (150.0, 125.0)], h.stamp_of(2))
    _expect_error(ros_client, node, "older than the frame buffer")
    ros_client.publish_polygon([(120.0, 110.0), (150.0, 125.0)], h.stamp_of(60))
    _expect_error(ros_client, node, "newer than the newest frame")
    assert ros_client.last_status()["state"] == "IDLE"


def test_tracker_exceptions_are_survived(node, ros_client, synthetic, h):
    frames, boxes, _ = synthetic
    marked = frames[0].copy()
    marked[0, 0] = h.MAGENTA
    ros_client.publish_frame(marked, h.stamp_of(0), log=node.log)
    ros_client.publish_roi(boxes[0])
    _expect_error(ros_client, node, "tracker init failed (RuntimeError: injected tracker failure)")
    assert ros_client.last_status()["state"] == "IDLE"

    ros_client.publish_frame(frames[1], h.stamp_of(1), log=node.log)
    ros_client.publish_roi(boxes[1])
    ros_client.wait_box(h.stamp_of(1), log=node.log)
    marked = frames[2].copy()
    marked[0, 0] = h.MAGENTA
    ros_client.publish_frame(marked, h.stamp_of(2), log=node.log)
    status = _expect_error(ros_client, node, "tracker failed on frame")
    assert "RuntimeError: injected tracker failure" in status["last_error"]
    for i in range(3, 8):
        ros_client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    assert ros_client.last_status()["state"] == "TRACKING"
    assert h.iou(ros_client.wait_box(h.stamp_of(7)), boxes[7]) > 0.5
    assert np.isfinite(float(ros_client.last_status()["score"]))
