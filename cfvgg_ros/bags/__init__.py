"""rosbag2 tools for replaying tracking sequences through ROS 2 and scoring what came back.

* :mod:`~cfvgg_ros.bags.make` -- a dataset sequence -> rosbag2 directory (``make_bag``);
* :mod:`~cfvgg_ros.bags.play` -- publish a bag's raw CDR with rclpy at its recorded timing;
* :mod:`~cfvgg_ros.bags.record` -- subscribe raw to topics and write them to a bag;
* :mod:`~cfvgg_ros.bags.score` -- score a recorded output bag against its input bag's ground truth.

Bags are read and written with the pure-Python ``rosbags`` library (metadata version 9, the
version ROS 2 Jazzy's ``ros2 bag`` writes and reads; mcap storage by default, sqlite3 on
request). Only ``play`` and ``record`` import rclpy. The names below are the topics of an input
bag made by ``make`` and the node outputs recorded by default, all taken from the one table of
topic names, :mod:`cfvgg_ros.ros.topics`; header stamps convert with
:func:`cfvgg_ros.ros.stamps.stamp_to_ns`.
"""

from __future__ import annotations

from cfvgg_ros.ros import topics

#: sensor_msgs/Image, one per frame at the sequence's frame rate.
IMAGE_TOPIC = topics.DRIVER_IMAGE
#: sensor_msgs/CameraInfo, one per frame, only when the intrinsics are known (synthetic).
CAMERA_INFO_TOPIC = topics.DRIVER_CAMERA_INFO
#: sensor_msgs/RegionOfInterest, once, just after the init frame (the node's default init topic).
INIT_BBOX_TOPIC = topics.INIT_BBOX
#: geometry_msgs/PolygonStamped, once, header stamp = the init frame's stamp.
INIT_BBOX_STAMPED_TOPIC = topics.INIT_BBOX_STAMPED
#: geometry_msgs/PolygonStamped per frame (empty polygon where the target is absent).
GROUNDTRUTH_TOPIC = topics.GROUNDTRUTH
#: optical frame id of every header written by ``make``.
CAMERA_FRAME_ID = "camera_optical"
#: header stamp of frame 0 in nanoseconds (2020-09-13T12:26:40Z); frame i is at
#: ``EPOCH_NS + round(i * 1e9 / fps)``.
EPOCH_NS = 1_600_000_000 * 1_000_000_000

#: the node's ``~/status`` (diagnostic_msgs/DiagnosticArray, read for FPS and latency) under its
#: default name ``track_node``, the name the replay pipeline and launch file give it.
STATUS_TOPIC = topics.STATUS_TOPIC
#: tracking-node outputs recorded by default (``cfvgg-bag record``, the replay pipeline).
OUTPUT_TOPICS = topics.OUTPUT_TOPICS
#: the output topic scored by default (geometry_msgs/PolygonStamped, header = the image's header).
OUTPUT_BOX_TOPIC = topics.OUTPUT_BOX_TOPIC

#: storage plugins ``make`` and ``record`` can write.
STORAGES = ("mcap", "sqlite3")
#: metadata version written (ROS 2 Jazzy).
BAG_VERSION = 9


class BagError(ValueError):
    """A bag that cannot be made, read, played, recorded or scored (the message says why)."""


__all__ = [
    "BAG_VERSION",
    "CAMERA_FRAME_ID",
    "CAMERA_INFO_TOPIC",
    "EPOCH_NS",
    "GROUNDTRUTH_TOPIC",
    "IMAGE_TOPIC",
    "INIT_BBOX_STAMPED_TOPIC",
    "INIT_BBOX_TOPIC",
    "OUTPUT_BOX_TOPIC",
    "OUTPUT_TOPICS",
    "STATUS_TOPIC",
    "STORAGES",
    "BagError",
]


def prepare_bag_dir(out_dir, overwrite: bool):
    """Make way for a new bag at ``out_dir``: refuse an existing path unless ``overwrite``, and
    then replace only a rosbag2 directory (one with ``metadata.yaml``). Returns it as a Path."""
    import shutil
    from pathlib import Path

    out = Path(out_dir)
    if out.exists():
        if not overwrite:
            raise BagError(f"{out} already exists (pass overwrite=True / --overwrite to replace a bag)")
        if not (out / "metadata.yaml").is_file():
            raise BagError(f"refusing to overwrite {out}: it is not a rosbag2 directory (no metadata.yaml)")
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out
