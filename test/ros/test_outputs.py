"""The node's output messages built from plain values, without a node: pose (bearing ray or
pixel centre), ROI clipped to the image, polygon corners, Detection2D, debug image, status."""

from __future__ import annotations

import math
from types import SimpleNamespace as NS

import numpy as np
import pytest

pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")

from std_msgs.msg import Header  # noqa: E402

from cfvgg_ros.ros import outputs  # noqa: E402
from cfvgg_ros.ros.conversions import image_to_rgb  # noqa: E402

HEADER = Header(frame_id="camera_optical")
HEADER.stamp.sec, HEADER.stamp.nanosec = 12, 345
K = (300.0, 0.0, 160.0, 0.0, 300.0, 120.0, 0.0, 0.0, 1.0)


def test_pose_without_camera_is_the_pixel_centre():
    pose = outputs.pose_msg(HEADER, (10.0, 20.0, 30.0, 40.0))
    assert pose.header == HEADER
    p, q = pose.pose.position, pose.pose.orientation
    assert (p.x, p.y, p.z) == (25.0, 40.0, 0.0)
    assert (q.x, q.y, q.z, q.w) == (0.0, 0.0, 0.0, 1.0)


def test_pose_with_camera_is_the_unit_bearing_ray():
    camera = outputs.CameraModel(K)
    # centre (160, 120) is the principal point: the optical axis, no rotation
    axis = outputs.pose_msg(HEADER, (150.0, 110.0, 20.0, 20.0), camera).pose
    assert (axis.position.x, axis.position.y, axis.position.z) == pytest.approx((0.0, 0.0, 1.0))
    assert axis.orientation.w == pytest.approx(1.0)
    # centre (460, 120): x = (460 - 160) / 300 = 1, ray (1, 0, 1) / sqrt(2), a 45 degree turn about y
    pose = outputs.pose_msg(HEADER, (450.0, 110.0, 20.0, 20.0), camera).pose
    s = 1 / math.sqrt(2)
    assert (pose.position.x, pose.position.y, pose.position.z) == pytest.approx((s, 0.0, s))
    q = pose.orientation
    assert (q.x, q.y, q.z, q.w) == pytest.approx((0.0, math.sin(math.pi / 8), 0.0, math.cos(math.pi / 8)))


def test_camera_model_from_camera_info():
    info = NS(k=list(K), d=[0.1, 0.0, 0.0, 0.0, 0.0], distortion_model="")
    camera = outputs.CameraModel.from_camera_info(info)
    assert camera.k == K and camera.d == (0.1, 0.0, 0.0, 0.0, 0.0) and camera.distortion_model == "plumb_bob"
    for bad in ([0.0] * 9, [300.0, 0, 160, 0, float("nan"), 120, 0, 0, 1], [1.0] * 4):
        with pytest.raises(ValueError, match="is not a valid camera matrix"):
            outputs.CameraModel.from_camera_info(NS(k=bad, d=[], distortion_model="plumb_bob"))
    # a distortion every later pose would fail on (cv2.undistortPoints) is refused at once (DDS fuzz finding)
    for d, model in (([0.1, 0.2, 0.0], "plumb_bob"), ([0.1] * 7, ""), ([float("nan")] * 5, "plumb_bob"),
                     ([0.1, 0.2], "equidistant"), ([float("inf")] * 4, "equidistant")):
        with pytest.raises(ValueError, match="is not a valid .* distortion"):
            outputs.CameraModel.from_camera_info(NS(k=list(K), d=d, distortion_model=model))
    for d, model in (([0.1] * 8, "rational_polynomial"), ([0.1] * 4, "equidistant"), ([0.01] * 14, "plumb_bob")):
        camera = outputs.CameraModel.from_camera_info(NS(k=list(K), d=d, distortion_model=model))
        assert np.all(np.isfinite([outputs.pose_msg(HEADER, (150.0, 110.0, 20.0, 20.0), camera).pose.position.x]))


@pytest.mark.parametrize("box, expected", [
    ((10.0, 20.0, 30.0, 40.0), (10, 20, 30, 40)),
    ((10.5, 20.2, 30.0, 40.0), (10, 20, 31, 41)),  # floor of the start, ceil of the end
    ((-5.0, -8.0, 30.0, 40.0), (0, 0, 25, 32)),  # clipped at the top-left
    ((300.0, 200.0, 50.0, 60.0), (300, 200, 20, 40)),  # clipped at the bottom-right (320 x 240)
    ((400.0, 300.0, 10.0, 10.0), (320, 240, 0, 0)),  # outside: empty
])
def test_roi_is_clipped_to_the_image(box, expected):
    roi = outputs.roi_msg(box, 320, 240)
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == expected


def test_polygon_has_the_four_corners():
    polygon = outputs.polygon_msg(HEADER, (10.0, 20.0, 30.0, 40.0))
    assert polygon.header == HEADER
    assert [(p.x, p.y, p.z) for p in polygon.polygon.points] == [
        (10.0, 20.0, 0.0), (40.0, 20.0, 0.0), (40.0, 60.0, 0.0), (10.0, 60.0, 0.0)]


def test_detection():
    det = outputs.detection_msg(HEADER, (10.0, 20.0, 30.0, 40.0), float("nan"), "feco")
    if outputs.Detection2D is None:
        assert det is None
        return
    centre = getattr(det.bbox.center, "position", det.bbox.center)
    assert det.header == HEADER and det.id == "feco"
    assert (centre.x, centre.y, det.bbox.size_x, det.bbox.size_y) == (25.0, 40.0, 30.0, 40.0)
    hypothesis = getattr(det.results[0], "hypothesis", det.results[0])
    assert hypothesis.class_id == "target" and hypothesis.score == 1.0  # NaN score -> 1
    scored = outputs.detection_msg(HEADER, (10.0, 20.0, 30.0, 40.0), 0.25, "feco")
    assert getattr(scored.results[0], "hypothesis", scored.results[0]).score == 0.25


def test_result_messages_bundle_every_output():
    msgs = outputs.result_messages(HEADER, (10.0, 20.0, 30.0, 40.0), 0.5, 320, 240, None, "eco-hc")
    assert msgs.pose.pose.position.x == 25.0 and msgs.roi.width == 30 and len(msgs.polygon.polygon.points) == 4
    assert (msgs.detection is None) == (outputs.Detection2D is None)


def test_debug_image_draws_the_box_in_the_state_colour():
    frame = np.zeros((60, 80, 3), np.uint8)
    msg = outputs.debug_image_msg(HEADER, frame, "TRACKING", (20.0, 30.0, 40.0, 20.0), 0.75)
    assert msg.header == HEADER and (msg.width, msg.height, msg.encoding) == (80, 60, "rgb8")
    image = image_to_rgb(msg)
    assert tuple(image[40, 20]) == outputs.TRACKING_COLOUR  # left edge of the box
    assert tuple(image[55, 70]) == (0, 0, 0)  # outside the box and the text
    assert not frame.any()  # the frame itself is untouched
    lost = image_to_rgb(outputs.debug_image_msg(HEADER, frame, "LOST", (20.0, 30.0, 40.0, 20.0), 0.05))
    assert tuple(lost[40, 20]) == outputs.OTHER_COLOUR
    idle = image_to_rgb(outputs.debug_image_msg(HEADER, frame, "IDLE"))
    assert tuple(idle[40, 20]) == (0, 0, 0) and idle[:20].any()  # only the state text


def test_status_message():
    array = outputs.status_msg(HEADER.stamp, "track_node: tracking", 1, "LOST", "feco",
                               [("state", "LOST"), ("model", "none")])
    assert array.header.stamp == HEADER.stamp
    (status,) = array.status
    assert status.level == b"\x01" and status.name == "track_node: tracking"
    assert status.message == "LOST" and status.hardware_id == "feco"
    assert [(kv.key, kv.value) for kv in status.values] == [("state", "LOST"), ("model", "none")]
