"""The tracking node over real DDS (its own process, loopback): init by each init topic, re-init,
reset, LOST on a vanished target and recovery, stamped init landing on the right frame."""

from __future__ import annotations

import math

import pytest

PARAMS = {"tracker": "opencv-csrt", "image_qos": "reliable", "camera_info_topic": "", "status_period": 0.5}


@pytest.fixture(scope="module")
def node(tmp_path_factory, ros_client, h):
    proc = h.NodeProcess(tmp_path_factory.mktemp("node"), PARAMS)
    ros_client.wait_ready(proc)
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


@pytest.fixture()
def client(node, ros_client):
    """A client on an IDLE node with no outputs recorded; ``client.inits(n)`` waits for the n-th
    init since the test started."""
    ros_client.clear()
    assert ros_client.call_reset().success
    status = ros_client.wait_for(lambda: ros_client.status_where(lambda s: s["state"] == "IDLE"),
                                 what="IDLE after reset", log=node.log)
    base = int(status["inits"])
    ros_client.inits = lambda n: ros_client.wait_for(
        lambda: ros_client.status_where(lambda s: int(s["inits"]) >= base + n),
        what=f"init number {n}", log=node.log)
    return ros_client


def _state(client) -> str:
    status = client.last_status()
    return status["state"] if status else ""


def test_init_bbox_tracks_the_target(node, client, synthetic, h):
    frames, boxes, _ = synthetic
    status = client.publish_frame(frames[0], h.stamp_of(0), log=node.log)
    assert status["state"] == "IDLE" and status["model"] == "none"  # CSRT has no CNN model
    assert client.pose_for(h.stamp_of(0)) is None  # no pose before an init
    client.publish_roi(boxes[0])
    assert client.inits(1)["state"] == "TRACKING"
    for i in range(1, len(frames)):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    last = h.stamp_of(len(frames) - 1)
    assert h.iou(client.wait_box(last), boxes[-1]) > 0.5
    pose = client.wait_pose(last)
    cx, cy = boxes[-1][0] + boxes[-1][2] / 2, boxes[-1][1] + boxes[-1][3] / 2
    # no camera_info: the pose is the pixel centre, z = 0, identity rotation
    assert math.hypot(pose.pose.position.x - cx, pose.pose.position.y - cy) < 5
    assert pose.pose.position.z == 0.0 and pose.pose.orientation.w == 1.0
    assert pose.header.frame_id == "camera_optical"
    assert len(client.rois) >= len(frames) - 1 and client.rois[-1].width > 0
    status = client.last_status()
    assert status["state"] == "TRACKING" and float(status["score"]) == 1.0
    assert int(status["frames_processed"]) >= len(frames) - 1
    assert status["frames_skipped"] == "0"  # lock-step publishing: nothing skipped
    assert status["mode"] == "live" and status["backlog"] == "0" and status["backlog_policy"] == "drain"
    assert float(status["fps"]) > 0 and float(status["latency_ms"]) >= 0


def test_init_bbox_stamped_with_delay_lands_on_its_frame(node, client, synthetic, h):
    frames, boxes, _ = synthetic
    for i in range(30):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    # the operator drew on frame 5; the box arrives when frame 29 is live (0.8 s later)
    client.publish_polygon(h.corners_of(boxes[5]), h.stamp_of(5))
    status = client.inits(1)
    assert status["init_stamp_ns"] == str(h.stamp_of(5))
    assert h.iou(client.wait_box(h.stamp_of(29), log=node.log), boxes[29]) > 0.5
    assert h.iou(boxes[5], boxes[29]) < 0.2  # the same box on the live frame would be wrong
    for i in range(30, len(frames)):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    last = h.stamp_of(len(frames) - 1)
    assert h.iou(client.wait_box(last), boxes[-1]) > 0.5


def test_stamped_init_overtaking_its_frame_waits_for_it(node, client, synthetic, h):
    frames, boxes, _ = synthetic
    for i in range(5):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    client.publish_polygon(h.corners_of(boxes[5]), h.stamp_of(5))  # the box arrives before its frame
    client.publish_frame(frames[5], h.stamp_of(5), log=node.log)
    assert client.inits(1)["init_stamp_ns"] == str(h.stamp_of(5))
    assert h.iou(client.wait_box(h.stamp_of(5), log=node.log), boxes[5]) > 0.9


def test_four_corner_polygon_init(node, client, synthetic, h):
    frames, boxes, _ = synthetic
    client.publish_frame(frames[0], h.stamp_of(0), log=node.log)
    x, y, w, ht = boxes[0]
    client.publish_polygon([(x, y), (x + w, y), (x + w, y + ht), (x, y + ht)], h.stamp_of(0))
    assert h.iou(client.wait_box(h.stamp_of(0), log=node.log), boxes[0]) > 0.9
    for i in range(1, 10):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    assert h.iou(client.wait_box(h.stamp_of(9)), boxes[9]) > 0.5


def test_reinit_moves_to_the_new_box(node, client, synthetic, h):
    frames, boxes, _ = synthetic
    client.publish_frame(frames[0], h.stamp_of(0), log=node.log)
    wrong = (20.0, 20.0, 28.0, 15.0)  # a patch of background far from the car
    client.publish_roi(wrong)
    client.wait_box(h.stamp_of(0), log=node.log)
    for i in range(1, 10):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    first = client.box_for(h.stamp_of(9))  # None when the background patch was lost
    assert first is None or h.iou(first, boxes[9]) < 0.1
    client.publish_roi(boxes[9])
    client.inits(2)
    for i in range(10, 25):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    assert h.iou(client.wait_box(h.stamp_of(24)), boxes[24]) > 0.5


def test_reset_service_stops_tracking(node, client, synthetic, h):
    frames, boxes, _ = synthetic
    client.publish_frame(frames[0], h.stamp_of(0), log=node.log)
    client.publish_roi(boxes[0])
    client.wait_box(h.stamp_of(0), log=node.log)
    client.publish_frame(frames[1], h.stamp_of(1), log=node.log)
    assert client.wait_pose(h.stamp_of(1)) is not None
    response = client.call_reset()
    assert response.success and "IDLE" in response.message
    status = client.publish_frame(frames[2], h.stamp_of(2), log=node.log)
    assert status["state"] == "IDLE"
    assert client.pose_for(h.stamp_of(2)) is None


def test_lost_on_vanished_target_then_recovered(node, client, synthetic, h):
    frames, boxes, scene = synthetic
    client.publish_frame(frames[0], h.stamp_of(0), log=node.log)
    client.publish_roi(boxes[0])
    client.wait_box(h.stamp_of(0), log=node.log)
    for i in range(1, 15):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    assert _state(client) == "TRACKING"
    vanished = list(range(15, 25))
    for i in vanished:
        client.publish_frame(scene.render(i, target=False), h.stamp_of(i), log=node.log)
    status = client.last_status()
    assert status["state"] == "LOST", status
    assert status["_level"] == 1 and "LOST" in status["_message"]
    lost_at = min(int(s["frame_stamp_ns"]) for s in client.statuses if s["state"] == "LOST")
    # no stale poses once LOST
    assert not [p for p in client.poses
                if p.header.stamp.sec * 1_000_000_000 + p.header.stamp.nanosec >= lost_at]
    # the target comes back: re-detection in the widened region, then TRACKING again
    for i in range(25, len(frames)):
        client.publish_frame(frames[i], h.stamp_of(i), log=node.log)
    status = client.last_status()
    assert status["state"] == "TRACKING", node.log()[-2000:]
    assert int(status["redetections"]) >= 1
    assert h.iou(client.wait_box(h.stamp_of(len(frames) - 1)), boxes[-1]) > 0.5
