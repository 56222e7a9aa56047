"""ROS 2 tracking node: one target, one CPU core, any tracker from :func:`create_tracker`.

Run it as ``ros2 run cfvgg_ros track_node --ros-args --params-file config/track.yaml``, as
``cfvgg-track`` (which also selects the shipped Fast DDS profile), or as
``python -m cfvgg_ros.ros.track_node --ros-args ...``.

This module is the wiring: subscriptions, publishers, the ``~/reset`` service and the worker
thread. What happens to init requests and frames (init on a buffered frame, catch-up, the
backlog policy, LOST and re-detection) is the ROS-free :mod:`.session`. Beside them: the
parameters (:mod:`.params`), start-up: threads, tracker, warm-up (:mod:`.startup`), the topic
names (:mod:`.topics`), init messages (:mod:`.init_requests`), the frame buffer
(:mod:`.frame_buffer`), the hand-over to the worker (:mod:`.handover`), state and statistics
(:mod:`.status`), the output messages (:mod:`.outputs`) and the template re-detector
(:mod:`.redetector`).

Inputs: ``image`` (rgb8, bgr8, rgba8, bgra8, mono8), optional ``camera_info``, and the init
requests ``/init_bbox`` (RegionOfInterest, on the newest frame), ``/init_bbox_stamped``
(PolygonStamped) and, when ``vision_msgs`` is importable, ``/init_detection`` (Detection2D): on
the buffered frame nearest their header stamp, then caught up through the newer buffered frames,
a result published for each. An init naming a frame that has not arrived yet (no frame at all,
or a stamp newer than the newest: the box overtook its image) waits up to ``init_wait`` seconds
for it. A new init restarts tracking at any time; ``~/reset`` (std_srvs/Trigger) stops it.

Outputs, under the tracked image's header and only while TRACKING: ``target_pose``,
``target_roi``, ``target_box``, ``target_detection``; ``~/status`` on every handled frame and every
``status_period`` seconds; with ``publish_debug_image``, ``~/debug_image``.

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

import dataclasses  # noqa: E402
import math  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PolygonStamped, PoseStamped  # noqa: E402
from rclpy.executors import ExternalShutdownException  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from cfvgg_ros.core import TrackResult, tracker_info  # noqa: E402
from cfvgg_ros.ros import outputs, topics  # noqa: E402
from cfvgg_ros.ros.conversions import ImageConversionError, image_to_rgb  # noqa: E402
from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer  # noqa: E402
from cfvgg_ros.ros.handover import Handover  # noqa: E402
from cfvgg_ros.ros.init_requests import (  # noqa: E402
    InitRequestError,
    request_from_detection,
    request_from_polygon,
    request_from_roi,
)
from cfvgg_ros.ros.outputs import Detection2D  # noqa: E402
from cfvgg_ros.ros.params import NodeStartupError, declare_and_read  # noqa: E402
from cfvgg_ros.ros.qos import image_qos, init_qos, package_share, results_qos  # noqa: E402
from cfvgg_ros.ros.session import SessionConfig, TrackingSession  # noqa: E402
from cfvgg_ros.ros.stamps import format_stamp, stamp_to_ns  # noqa: E402
from cfvgg_ros.ros.startup import build_tracker, redetect_mode, set_up_threads  # noqa: E402
from cfvgg_ros.ros.status import LostStateMachine, NodeStatus  # noqa: E402

NODE_NAME = topics.NODE_NAME
EXIT_STARTUP_ERROR = 2


class TrackNode(Node):
    """The tracking node (see the module docstring). Raises :class:`NodeStartupError` when it
    cannot start."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        p = self.p = declare_and_read(self)
        self._pinned = set_up_threads(p["cpu_core"])
        if p["score_threshold"] < 0:
            p["score_threshold"] = tracker_info(p["tracker"]).lost_threshold
        model_dir = Path(p["model_path"]) if p["model_path"] else package_share() / "models"
        self.tracker, self.model_description = build_tracker(p["tracker"], p["tracker_params"], model_dir,
                                                             p["warm_up"], p["warm_up_updates"])
        self.status = NodeStatus(LostStateMachine(p["score_threshold"], p["lost_frames"], p["recover_frames"]))
        self.buffer = FrameBuffer(p["buffer_seconds"], p["buffer_max_frames"])
        # callbacks -> worker: the newest init and the frames (only the newest under "latest")
        self.handover = Handover(1 if p["backlog_policy"] == "latest" else p["max_backlog"], key=lambda f: f.seq)
        config = dataclasses.replace(SessionConfig.from_params(p),
                                     image_topic=self.resolve_topic_name(p["image_topic"]))
        self.session = TrackingSession(self.tracker, config, self.status, self.buffer, self, self.get_logger(),
                                       redetect_mode(self.tracker))
        self._seq = 0
        self._track_lock = threading.Lock()  # held while the session is used or reset
        self._camera: outputs.CameraModel | None = None
        self._status_lock = threading.Lock()

        self._create_interfaces()
        self._worker = threading.Thread(target=self._worker_loop, name="track_node_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"tracking with {p['tracker']!r} on {config.image_topic} "
            f"(image QoS {p['image_qos']}, cpu core {self._pinned if self._pinned is not None else 'any'}, "
            f"re-detection: {self.session.redetect_mode}{' + template' if p['redetect'] else ''}, "
            f"backlog_policy {p['backlog_policy']} (max_lag {p['max_lag']:g} s, max_backlog {p['max_backlog']})); "
            f"feature model: {self.model_description}"
        )
        self.publish_status()

    def _create_interfaces(self) -> None:
        p, out_qos = self.p, results_qos()
        self.pub_pose = self.create_publisher(PoseStamped, topics.TARGET_POSE, out_qos)
        self.pub_roi = self.create_publisher(RegionOfInterest, topics.TARGET_ROI, out_qos)
        self.pub_box = self.create_publisher(PolygonStamped, topics.TARGET_BOX, out_qos)
        self.pub_detection = (self.create_publisher(Detection2D, topics.TARGET_DETECTION, out_qos)
                              if Detection2D is not None else None)
        self.pub_status = self.create_publisher(DiagnosticArray, topics.STATUS, out_qos)
        self.pub_debug = (self.create_publisher(Image, topics.DEBUG_IMAGE, out_qos)
                          if p["publish_debug_image"] else None)

        in_qos = image_qos(p["image_qos"])
        self.create_subscription(Image, p["image_topic"], self._on_image, in_qos)
        if p["camera_info_topic"]:
            self.create_subscription(CameraInfo, p["camera_info_topic"], self._on_camera_info, in_qos)
        inits = [(RegionOfInterest, "init_bbox_topic", request_from_roi),
                 (PolygonStamped, "init_bbox_stamped_topic", request_from_polygon)]
        if Detection2D is not None:
            inits.append((Detection2D, "init_detection_topic", request_from_detection))
        for msg_type, param, parse in inits:
            topic = p[param]
            self.create_subscription(msg_type, topic, lambda m, parse=parse, topic=topic:
                                     self._submit_init(parse, m, topic), init_qos())
        self.create_service(Trigger, topics.RESET_SERVICE, self._on_reset)
        self.create_timer(p["status_period"], self.publish_status)

    # -- callbacks (executor thread): decode and buffer only -----------------------------------
    def _on_image(self, msg: Image) -> None:
        received_ns = time.monotonic_ns()
        topic = self.p["image_topic"]
        try:
            frame = image_to_rgb(msg)
        except ImageConversionError as exc:
            self.session.report_error(f"image on {topic!r} rejected: {exc}")
            return
        except Exception as exc:  # malformed message fields
            self.session.report_error(f"image on {topic!r} rejected: {type(exc).__name__}: {exc}")
            return
        self._seq += 1
        item = BufferedFrame(self._seq, stamp_to_ns(msg.header.stamp), frame, msg.header, received_ns)
        in_order = self.buffer.push(item)  # buffered before the worker can look for it
        self.status.frame_received(item.stamp_ns)
        self.handover.put_frame(item)
        if not in_order:
            self.get_logger().info(f"image stamps went backwards ({format_stamp(item.stamp_ns)}): "
                                   "frame buffer restarted")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = outputs.CameraModel.from_camera_info(msg)
        except ValueError as exc:
            self.session.report_error(f"camera_info ignored: {exc}")

    def _submit_init(self, parse, msg, topic: str) -> None:
        try:
            request = parse(msg, topic)
        except InitRequestError as exc:
            self.session.report_error(f"init on {topic!r} rejected: {exc}")
            return
        except Exception as exc:  # malformed message fields
            self.session.report_error(f"init on {topic!r} rejected: {type(exc).__name__}: {exc}")
            return
        self.handover.put_init(request)

    def _on_reset(self, request, response):
        with self._track_lock:
            self.handover.clear()
            previous = self.session.reset()
        response.success = True
        response.message = f"tracking reset: {previous.value} -> IDLE"
        self.get_logger().info(response.message)
        self.publish_status()
        return response

    # -- worker thread ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the worker thread (call before destroying the node)."""
        self.handover.stop()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=5.0)

    def _worker_loop(self) -> None:
        session = self.session
        while True:
            # frames queued: go on at once; else sleep until something arrives (or a waiting init's deadline)
            deferred = session.deferred
            deadline = -math.inf if session.backlog else (deferred[1] if deferred is not None else None)
            if not self.handover.wait(deadline):
                return
            with self._track_lock:
                try:
                    session.advance(self.handover.take())
                except Exception as exc:  # never let the worker die
                    self.get_logger().error(f"internal error in the tracking worker: {exc!r}")
                    session.report_error(f"internal error: {type(exc).__name__}: {exc}")

    # -- outputs (the session's sink) ----------------------------------------------------------
    def publish_result(self, item: BufferedFrame, result: TrackResult) -> None:
        height, width = item.frame.shape[:2]
        msgs = outputs.result_messages(item.header, result.box, result.score, width, height, self._camera,
                                       self.p["tracker"])
        self.pub_pose.publish(msgs.pose)
        self.pub_roi.publish(msgs.roi)
        self.pub_box.publish(msgs.polygon)
        if self.pub_detection is not None:
            self.pub_detection.publish(msgs.detection)
        now_ns = self.get_clock().now().nanoseconds
        stamp_latency = (now_ns - item.stamp_ns) / 1e9 if item.stamp_ns > 0 else None
        self.status.latency((time.monotonic_ns() - item.received_ns) / 1e9, stamp_latency, item.stamp_ns)

    def publish_debug(self, item: BufferedFrame, result: TrackResult | None) -> None:
        if self.pub_debug is None or self.pub_debug.get_subscription_count() == 0:
            return
        state = self.status.state.value
        msg = (outputs.debug_image_msg(item.header, item.frame, state) if result is None
               else outputs.debug_image_msg(item.header, item.frame, state, result.box, result.score))
        self.pub_debug.publish(msg)

    def publish_status(self) -> None:
        values = [*self.status.key_values(), ("backlog_policy", self.p["backlog_policy"]),
                  ("model", self.model_description)]
        array = outputs.status_msg(self.get_clock().now().to_msg(), f"{self.get_name()}: tracking",
                                   self.status.level(), self.status.summary(), str(self.p["tracker"]), values)
        with self._status_lock:
            self.pub_status.publish(array)


def main(argv: list[str] | None = None) -> int:
    """Run the node until shutdown; returns the exit code (2 when it cannot start)."""
    args = list(sys.argv if argv is None else argv)
    logger = rclpy.logging.get_logger(NODE_NAME)
    try:
        rclpy.init(args=args)
    except Exception as exc:
        print(f"[{NODE_NAME}] cannot initialise ROS (check --ros-args): {exc}", file=sys.stderr)
        return EXIT_STARTUP_ERROR
    try:
        node = TrackNode()
    except NodeStartupError as exc:
        logger.fatal(f"cannot start: {exc}")
        rclpy.try_shutdown()
        return EXIT_STARTUP_ERROR
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.stop()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
