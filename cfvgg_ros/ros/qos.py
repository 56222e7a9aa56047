"""Quality of service and transport for the tracking node.

* Images (and camera_info): ``best_available`` by default -- what the publishers offer: reliable
  when every publisher on the topic offers reliable (then fragments of a large image lost on the
  way are sent again), else best effort (which matches every publisher); keep last 5, volatile
  (matches volatile and transient-local publishers). :func:`image_qos` resolves it from the
  publishers' offered reliabilities; the node re-resolves it whenever the publishers change and
  re-creates its subscription. (Jazzy's own ``ReliabilityPolicy.BEST_AVAILABLE`` is resolved once,
  when the subscription is created: measured here, a node started before the camera got
  RELIABLE + TRANSIENT_LOCAL and matched no volatile camera at all.) ``sensor_data`` (best effort)
  and ``reliable`` (reliable publishers only) fix the policy instead.
* Results (poses, boxes, status): reliable, keep last 10.
* Init inputs: reliable, keep last 10 (an operator's box must not be lost).
* Transport: Fast DDS XML profiles, set through ``FASTRTPS_DEFAULT_PROFILES_FILE`` before
  ``rclpy.init`` (Fast DDS reads it when the first participant is created) unless the user set it:
  the node uses ``config/fastdds_node.xml`` (:func:`use_node_fastdds_profile`): its readers receive
  over UDPv4 with a 16 MiB socket receive buffer, so a publisher's own shared-memory segment (Fast
  DDS's default: 0.5 MiB, far less than one 720p frame) never limits what reaches the node, while
  its writers still use a 32 MiB shared-memory segment towards local subscribers. Publishers (the
  bag player) use ``config/fastdds_shm.xml`` (:func:`use_fastdds_profile`): shared memory with a
  32 MiB segment, plus UDPv4. The kernel caps socket buffers at ``net.core.rmem_max``
  (:func:`receive_buffer_warning`).
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
#: publishers' profile: shared memory with a 32 MiB segment, plus UDPv4
FASTDDS_PROFILE_NAME = "fastdds_shm.xml"
#: the node's profile: readers on UDPv4 with a 16 MiB receive buffer, writers also on shared memory
FASTDDS_NODE_PROFILE_NAME = "fastdds_node.xml"
#: the socket receive buffer the node's profile asks for (the kernel grants min(this, rmem_max))
NODE_RECEIVE_BUFFER = 16 * 2**20
#: below this ``net.core.rmem_max`` best-effort 1080p frames over UDP are lost (measured at 30 Hz:
#: a buffer of 2 MiB (the kernel doubles it to 4) held 720p but not 1080p, 4 MiB held both)
RECOMMENDED_RMEM_MAX = 4 * 2**20
IMAGE_DEPTH = 5


def resolve_reliability(offered) -> ReliabilityPolicy:
    """The best-available reliability for a subscription facing publishers that offer
    ``offered`` (their ReliabilityPolicy values): RELIABLE when there is at least one and every one
    is reliable, else BEST_EFFORT (a best-effort subscription matches every publisher)."""
    offered = list(offered)
    if offered and all(r == ReliabilityPolicy.RELIABLE for r in offered):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


def image_qos(choice: str = "best_available", offered=()) -> QoSProfile:
    """QoS for image (and camera_info) subscriptions: ``best_available`` (resolved against the
    publishers' ``offered`` reliabilities, :func:`resolve_reliability`), ``sensor_data`` or
    ``reliable``; keep last 5, volatile."""
    if choice == "sensor_data":
        return qos_profile_sensor_data
    if choice == "reliable":
        reliability = ReliabilityPolicy.RELIABLE
    elif choice == "best_available":
        reliability = resolve_reliability(offered)
    else:
        raise ValueError(f"image_qos must be one of {', '.join(IMAGE_QOS_CHOICES)}, got {choice!r}")
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=IMAGE_DEPTH, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


def reliability_name(policy) -> str:
    """``reliable`` / ``best_effort`` / ... of a ReliabilityPolicy value."""
    try:
        return ReliabilityPolicy(policy).name.lower()
    except ValueError:
        return str(policy)


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


def use_fastdds_profile(environ=None, name: str = FASTDDS_PROFILE_NAME) -> str | None:
    """Point ``FASTRTPS_DEFAULT_PROFILES_FILE`` at the shipped profile ``name`` (in the package's
    ``config/``; default: the publishers' shared-memory profile) unless already set.

    Returns the profile path now in effect (None when neither is available). Call before
    ``rclpy.init``.
    """
    environ = os.environ if environ is None else environ
    if environ.get(FASTDDS_PROFILE_ENV):
        return environ[FASTDDS_PROFILE_ENV]
    path = package_share() / "config" / name
    if not path.is_file():
        return None
    environ[FASTDDS_PROFILE_ENV] = str(path)
    return str(path)


def use_node_fastdds_profile(environ=None) -> str | None:
    """:func:`use_fastdds_profile` with the node's profile ``config/fastdds_node.xml``."""
    return use_fastdds_profile(environ, FASTDDS_NODE_PROFILE_NAME)


def receive_buffer_warning(rmem_max_path: str = "/proc/sys/net/core/rmem_max") -> str | None:
    """A warning when the kernel caps socket receive buffers below :data:`RECOMMENDED_RMEM_MAX`
    (best-effort frames of 720p-1080p images from publishers without a large shared-memory segment
    are then lost over UDP), naming the fix; None when large enough or unknown."""
    try:
        rmem_max = int(Path(rmem_max_path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    if rmem_max >= RECOMMENDED_RMEM_MAX:
        return None
    return (f"net.core.rmem_max is {rmem_max} bytes: the node's UDP receive buffer is capped there, and best-effort "
            f"images larger than about {rmem_max * 2 // 3 // 1000} kB from publishers without a large "
            "shared-memory segment will be lost; raise it (sudo sysctl -w net.core.rmem_max=16777216, and in "
            "/etc/sysctl.d/ to keep it) or have the camera publish reliable")
