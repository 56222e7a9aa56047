"""sensor_msgs/CompressedImage input (``image_transport: compressed``, the format most bags hold):
jpeg and png frames on ``<image_topic>/compressed`` are tracked; corrupt data, an unknown format and
an image over ``max_image_pixels`` are rejected with a clear error (before decoding), never a crash."""

from __future__ import annotations

import numpy as np
import pytest

PARAMS = {"tracker": "opencv-csrt", "warm_up": False, "image_transport": "compressed", "camera_info_topic": "",
          "max_image_pixels": 400 * 300, "status_period": 0.5}


@pytest.fixture(scope="module")
def node(tmp_path_factory, ros_client, h):
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage

    proc = h.NodeProcess(tmp_path_factory.mktemp("compressed"), PARAMS)
    ros_client.pub_compressed = ros_client.node.create_publisher(
        CompressedImage, "/image/compressed", QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
    ros_client.wait_for(lambda: ros_client.last_status() is not None
                        and ros_client.pub_compressed.get_subscription_count() > 0, 60, "the node", proc.log)
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def _msg(frame, stamp_ns: int, fmt: str = "jpeg", data: bytes | None = None, format_text: str | None = None):
    from sensor_msgs.msg import CompressedImage

    from cfvgg_ros.ros.conversions import rgb_to_compressed

    msg = rgb_to_compressed(frame, CompressedImage(), fmt, quality=95)
    if data is not None:
        msg.data = data
    if format_text is not None:
        msg.format = format_text
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
    msg.header.frame_id = "camera_optical"
    return msg


def _handled(client, node, stamp_ns: int):
    return client.wait_for(lambda: client.status_where(lambda s: s.get("frame_stamp_ns") == str(stamp_ns)),
                           10, f"frame {stamp_ns}", node.log)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_compressed_frames_are_tracked(node, ros_client, synthetic, h, fmt):
    frames, boxes, _ = synthetic
    offset = 0 if fmt == "jpeg" else 100
    ros_client.clear()
    ros_client.pub_compressed.publish(_msg(frames[0], h.stamp_of(offset), fmt))
    _handled(ros_client, node, h.stamp_of(offset))
    ros_client.publish_roi(boxes[0])
    ros_client.wait_box(h.stamp_of(offset), log=node.log)
    for i in range(1, 15):
        ros_client.pub_compressed.publish(_msg(frames[i], h.stamp_of(offset + i), fmt))
        _handled(ros_client, node, h.stamp_of(offset + i))
    assert h.iou(ros_client.wait_box(h.stamp_of(offset + 14), log=node.log), boxes[14]) > 0.5
    assert ros_client.last_status()["errors"] == "0"


@pytest.mark.parametrize("data, format_text, reason", [
    (b"\xff\xd8\xff\xe0garbage that is no jpeg", "jpeg", "jpeg data"),
    (b"GIF89a....", "jpeg", "compressed data is neither png nor jpeg"),
    (None, "rgb8; tiff compressed", "unsupported compressed format"),
    ("big", "jpeg", "more than the limit of 120000 (max_pixels)"),
])
def test_bad_compressed_data_is_rejected_clearly(node, ros_client, synthetic, h, data, format_text, reason):
    frames = synthetic[0]
    stamp = h.stamp_of(200)
    frame = frames[0]
    if data == "big":
        frame, data = np.ascontiguousarray(np.tile(frames[0], (2, 2, 1))), None  # 640 x 480 > 400 x 300
    ros_client.pub_compressed.publish(_msg(frame, stamp, data=data, format_text=format_text))
    status = ros_client.wait_for(lambda: ros_client.status_where(lambda s: reason in s.get("last_error", "")),
                                 10, f"an error naming {reason!r}", node.log)
    assert "image on '/image/compressed' rejected" in status["last_error"] and status["_level"] == 1
    assert node.alive() and "Traceback" not in node.log()
