"""ROS 2 tracking node: one target, one CPU core, any tracker from :func:`create_tracker`.

Run it as ``ros2 run cfvgg_ros track_node --ros-args --params-file config/track.yaml``, as
``cfvgg-track``, or as ``python -m cfvgg_ros.ros.track_node --ros-args ...``; the managed
(lifecycle) variant is :mod:`.lifecycle_node` (``track_lifecycle_node``). Both load the node's
Fast DDS profile (``config/fastdds_node.xml``) unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set.

This module is the process: :class:`TrackNode`, which configures and activates at once, and
:func:`run` (rclpy set-up, spin, clean shutdown), shared with the managed variant. What a
configured node holds -- parameters, the tracker, publishers, the ``~/reset`` service, the worker
thread, activation and run-time parameter changes -- is :mod:`.runtime`. What happens to init
requests and frames (init on a buffered frame, catch-up, the backlog policy, LOST and
re-detection) is the ROS-free :mod:`.session`. Beside them: start-up: threads,
tracker keywords, warm-up (:mod:`.startup`), the topic names (:mod:`.topics`), init messages
(:mod:`.init_requests`), the frame buffer (:mod:`.frame_buffer`), the hand-over to the worker
(:mod:`.handover`), state and statistics (:mod:`.status`), the input diagnosis
(:mod:`.input_monitor`, :mod:`.subscriptions`), the output messages (:mod:`.outputs`) and the
template re-detector (:mod:`.redetector`).

Inputs: ``image`` (rgb8, bgr8, rgba8, bgra8, mono8; with ``image_transport: compressed``
sensor_msgs/CompressedImage jpeg / png on ``<image>/compressed``), optional ``camera_info``, and
the init requests ``/init_bbox`` (RegionOfInterest, on the newest frame), ``/init_bbox_stamped``
(PolygonStamped) and, when ``vision_msgs`` is importable, ``/init_detection`` (Detection2D): on
the buffered frame nearest their header stamp, then caught up through the newer buffered frames,
a result published for each. An init naming a frame that has not arrived yet (no frame at all,
or a stamp newer than the newest: the box overtook its image) waits up to ``init_wait`` seconds
for it. A new init restarts tracking at any time; ``~/reset`` (std_srvs/Trigger) stops it.
The image and camera_info subscriptions follow the QoS the publishers offer (``image_qos``,
:mod:`.qos`); a publisher that matched but sends nothing, incompatible QoS and frames lost in
transport are reported in ``~/status`` (``input``, ``input_hint``) and the log with the likely fix.

Outputs, under the tracked image's header and only while TRACKING: ``target_pose``,
``target_roi``, ``target_box``, ``target_detection``; ``~/status`` on every handled frame and every
``status_period`` seconds; with ``publish_debug_image``, ``~/debug_image``.

Parameters: read at start-up (the lifecycle node: at configure) and read-only after; the LOST
thresholds, re-detection, ``max_lag`` and ``publish_debug_image`` may be set at run time
(``ros2 param set``), checked first: a bad value is refused with the reason.

Processing: the image callback only decodes, buffers and hands the frame to the worker thread.
The worker tracks the waiting frames under ``backlog_policy`` (default ``drain``: every frame in
order while the backlog stays within ``max_backlog`` frames and ``max_lag`` seconds, else it
skips to the newest; ``latest``: keep-last-1), reports the backlog in ``~/status`` (``mode``
live / catching_up / falling_behind, ``backlog``, ``lag_ms``, ``frames_skipped``) and logs a WARN
naming the policy whenever it skips. Bad input (undecodable images, bad boxes, stamps outside
the buffer, tracker exceptions) is logged and shown in ``~/status`` and never stops the node.
A tracker that cannot be created or warmed up (missing or corrupt model, bad parameters) ends
the node at start-up with exit code 2 and a one-line error.

One core: the math libraries' thread-count variables are set when this module is imported
(before numpy, OpenCV and onnxruntime load); ``cpu_core`` >= 0 pins every thread of the process,
DDS threads included, at start-up (threads started later inherit it); -1 leaves the affinity alone.
"""

from __future__ import annotations

import os
import sys

from cfvgg_ros.threads import THREAD_ENV_VARS

for _var in THREAD_ENV_VARS:  # before numpy / OpenCV / onnxruntime load (message modules import numpy)
    os.environ.setdefault(_var, "1")

import contextlib  # noqa: E402
import signal  # noqa: E402

import rclpy  # noqa: E402
from rclpy.executors import ExternalShutdownException  # noqa: E402
from rclpy.node import Node  # noqa: E402

from cfvgg_ros.ros.params import NodeStartupError  # noqa: E402
from cfvgg_ros.ros.qos import use_node_fastdds_profile  # noqa: E402
from cfvgg_ros.ros.runtime import (  # noqa: E402
    EXIT_STARTUP_ERROR,
    NODE_NAME,
    ParameterUpdates,
    TrackRuntime,
    declare_parameters,
)

__all__ = ["EXIT_STARTUP_ERROR", "NODE_NAME", "ParameterUpdates", "TrackNode", "TrackRuntime", "declare_parameters",
           "main", "run"]


class TrackNode(Node):
    """The tracking node, configured and active from construction (see the module docstring).
    Raises :class:`NodeStartupError` when it cannot start."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.p, settings = declare_parameters(self)
        self.runtime = TrackRuntime(self, self.p, settings)
        self.updates = ParameterUpdates(self, self.p, lambda: self.runtime)
        self.runtime.activate()

    def start(self) -> None:
        """Nothing more to do: the plain node is active from construction."""

    def stop(self) -> None:
        """Stop the worker thread (call before destroying the node)."""
        self.runtime.stop()


def prepare_process(argv: list[str] | None) -> list[str]:
    """Before ``rclpy.init``: the node's Fast DDS profile unless one is set; the arguments."""
    use_node_fastdds_profile()
    return list(sys.argv if argv is None else argv)


def run(node_factory, argv: list[str] | None = None) -> int:
    """Create the node with ``node_factory()`` after ``rclpy.init`` and spin it until shutdown;
    returns the exit code (2 when it cannot start)."""
    args = prepare_process(argv)
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        rclpy.init(args=args)
    except Exception as exc:
        print(f"[{NODE_NAME}] cannot initialise ROS (check --ros-args): {exc}", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    try:
        node = node_factory()
    except NodeStartupError as exc:
        logger.fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return EXIT_STARTUP_ERROR
    try:
        node.start()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        with contextlib.suppress(ValueError):  # a second Ctrl-C (launch forwards one) must not cut the cleanup
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        node.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the node until shutdown; returns the exit code (2 when it cannot start)."""
    return run(TrackNode, argv)


if __name__ == "__main__":
    sys.exit(main())
