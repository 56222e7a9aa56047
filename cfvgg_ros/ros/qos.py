"""Quality of service and transport for the tracking node.

* Images: sensor-data QoS by default (best effort, keep last 5, volatile): a late frame is
  worthless to a real-time tracker; ``reliable`` (keep last 5) for links or recorders that need it.
  A best-effort subscription also matches reliable publishers.
* Results (poses, boxes, status): reliable, keep last 10.
* Init inputs: reliable, keep last 10 (an operator's box must not be lost).
* Transport: the shipped Fast DDS profile ``config/fastdds_shm.xml`` (shared memory with a
  32 MiB segment, plus UDPv4) is made the default by :func:`use_fastdds_profile` unless the
  user already set ``FASTRTPS_DEFAULT_PROFILES_FILE``. Fast DDS reads that variable when the
  first participant is created, so it must be set before ``rclpy.init``.
"""

from __future__ import annotations

import os
from pathlib import Path

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from cfvgg_ros.ros.params import IMAGE_QOS_CHOICES

FASTDDS_PROFILE_ENV = "FASTRTPS_DEFAULT_PROFILES_FILE"
FASTDDS_PROFILE_NAME = "fastdds_shm.xml"


def image_qos(choice: str = "sensor_data") -> QoSProfile:
    """QoS for image (and camera_info) subscriptions: ``sensor_data`` or ``reliable``."""
    if choice == "sensor_data":
        return qos_profile_sensor_data
    if choice == "reliable":
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.RELIABLE,
                          durability=DurabilityPolicy.VOLATILE)
    raise ValueError(f"image_qos must be one of {', '.join(IMAGE_QOS_CHOICES)}, got {choice!r}")


def results_qos() -> QoSProfile:
    """QoS for everything the node publishes: reliable, keep last 10."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.RELIABLE,
                      durability=DurabilityPolicy.VOLATILE)


def init_qos() -> QoSProfile:
    """QoS for the init inputs: reliable, keep last 10."""
    return results_qos()


def package_share() -> Path:
    """The package share (see :func:`cfvgg_ros.paths.share_dir`); the source checkout when the
    ament index is not set up (``AMENT_PREFIX_PATH`` unset makes ament_index raise OSError)."""
    from ..paths import SOURCE_ROOT, share_dir

    try:
        return share_dir()
    except OSError:
        return SOURCE_ROOT


def fastdds_profile_path() -> Path:
    """The shipped Fast DDS profile (``config/fastdds_shm.xml`` in the package share)."""
    return package_share() / "config" / FASTDDS_PROFILE_NAME


def use_fastdds_profile(environ=None) -> str | None:
    """Point ``FASTRTPS_DEFAULT_PROFILES_FILE`` at the shipped profile unless already set.

    Returns the profile path now in effect (None when neither is available). Call before
    ``rclpy.init``.
    """
    environ = os.environ if environ is None else environ
    if environ.get(FASTDDS_PROFILE_ENV):
        return environ[FASTDDS_PROFILE_ENV]
    path = fastdds_profile_path()
    if not path.is_file():
        return None
    environ[FASTDDS_PROFILE_ENV] = str(path)
    return str(path)
