"""ROS 2 tracking node: one target, one CPU core, any tracker from :func:`create_tracker`.

Run it as ``ros2 run cfvgg_ros track_node --ros-args --params-file config/track.yaml``, as
``cfvgg-track`` (which also selects the shipped Fast DDS profile), or as
``python -m cfvgg_ros.ros.track_node --ros-args ...``.

This module is the wiring: subscriptions, publishers, the ``~/reset`` service, the worker thread
and the LOST handling. Beside it: the parameters (:mod:`.params`), start-up: threads, tracker,
warm-up (:mod:`.startup`), the topic names (:mod:`.topics`), init messages
(:mod:`.init_requests`), the frame buffer (:mod:`.frame_buffer`), the hand-over to the worker
(:mod:`.handover`), state and statistics (:mod:`.status`), the output messages
(:mod:`.outputs`) and the template re-detector (:mod:`.redetector`).

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

Processing: the image callback only decodes, buffers and hands the newest frame to a worker
thread (keep-last-1); a frame replaced before the worker took it counts as dropped. Bad input
(undecodable images, bad boxes, stamps outside the buffer, tracker exceptions) is logged and
shown in ``~/status`` and never stops the node. A tracker that cannot be created or warmed up
(missing or corrupt model, bad parameters) ends the node at start-up with exit code 2 and a
one-line error.

LOST and re-detection: after ``lost_frames`` frames scoring below ``score_threshold`` (negative:
the tracker's registered ``lost_threshold``) the node goes LOST and publishes no pose. While LOST
it steps the tracker with ``tracker.redetect(frame, search_scale=s)`` when the tracker registered
the ``redetect`` capability (else ``tracker.update(frame)``); when that still scores low after
``redetect_after`` LOST frames, the template search of :mod:`.redetector` in a window ``s`` times
the box may re-initialise the tracker (peak >= ``redetect_min_ncc``). ``recover_frames`` good
frames return the node to TRACKING.

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

import math  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import rclpy  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PolygonStamped, PoseStamped  # noqa: E402
from rclpy.executors import ExternalShutdownException  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from cfvgg_ros.core import TrackerError, TrackResult, check_box, tracker_info  # noqa: E402
from cfvgg_ros.ros import outputs, topics  # noqa: E402
from cfvgg_ros.ros.conversions import ImageConversionError, image_to_rgb  # noqa: E402
from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer, FrameLookupError  # noqa: E402
from cfvgg_ros.ros.handover import Handover  # noqa: E402
from cfvgg_ros.ros.init_requests import (  # noqa: E402
    InitRequest,
    InitRequestError,
    fit_box_to_frame,
    request_from_detection,
    request_from_polygon,
    request_from_roi,
)
from cfvgg_ros.ros.outputs import Detection2D  # noqa: E402
from cfvgg_ros.ros.params import NodeStartupError, declare_and_read  # noqa: E402
from cfvgg_ros.ros.qos import image_qos, init_qos, package_share, results_qos  # noqa: E402
from cfvgg_ros.ros.redetector import TemplateRedetector  # noqa: E402
from cfvgg_ros.ros.stamps import format_stamp, stamp_to_ns  # noqa: E402
from cfvgg_ros.ros.startup import build_tracker, redetect_mode, set_up_threads  # noqa: E402
from cfvgg_ros.ros.status import LostStateMachine, NodeStatus, TrackState  # noqa: E402

NODE_NAME = topics.NODE_NAME
EXIT_STARTUP_ERROR = 2
ERROR_LOG_REPEAT_S = 2.0  # the same error is logged at most once per this many seconds


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
        self._redetect_mode = redetect_mode(self.tracker)
        self.status = NodeStatus(LostStateMachine(p["score_threshold"], p["lost_frames"], p["recover_frames"]))
        self.buffer = FrameBuffer(p["buffer_seconds"], p["buffer_max_frames"])

        self.handover = Handover()  # callbacks -> worker: newest frame, newest init
        self._deferred_init: tuple[InitRequest, float] | None = None  # waiting for its frame
        self._seq = 0
        self._track_lock = threading.Lock()  # held while the tracker is used or reset
        self._last_seq = 0
        self._last_good_box = None
        self._frames_lost = 0
        self._redetector: TemplateRedetector | None = None
        self._camera: outputs.CameraModel | None = None
        self._status_lock = threading.Lock()
        self._last_logged: tuple[str, float] = ("", -math.inf)

        self._create_interfaces()
        self._worker = threading.Thread(target=self._worker_loop, name="track_node_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"tracking with {p['tracker']!r} on {self.resolve_topic_name(p['image_topic'])} "
            f"(image QoS {p['image_qos']}, cpu core {self._pinned if self._pinned is not None else 'any'}, "
            f"re-detection: {self._redetect_mode}{' + template' if p['redetect'] else ''}); "
            f"feature model: {self.model_description}"
        )
        self._publish_status()

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
        self.create_timer(p["status_period"], self._publish_status)

    # -- callbacks (executor thread) ------------------------------------------------------------
    def _on_image(self, msg: Image) -> None:
        received_ns = time.monotonic_ns()
        topic = self.p["image_topic"]
        try:
            frame = image_to_rgb(msg)
        except ImageConversionError as exc:
            self._report_error(f"image on {topic!r} rejected: {exc}")
            return
        except Exception as exc:  # malformed message fields
            self._report_error(f"image on {topic!r} rejected: {type(exc).__name__}: {exc}")
            return
        self._seq += 1
        item = BufferedFrame(self._seq, stamp_to_ns(msg.header.stamp), frame, msg.header, received_ns)
        in_order = self.buffer.push(item)  # buffered before the worker can look for it
        replaced = self.handover.put_frame(item)
        self.status.frame_received(replaced and self.status.state is not TrackState.IDLE)
        if not in_order:
            self.get_logger().info(f"image stamps went backwards ({format_stamp(item.stamp_ns)}): "
                                   "frame buffer restarted")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = outputs.CameraModel.from_camera_info(msg)
        except ValueError as exc:
            self._report_error(f"camera_info ignored: {exc}")

    def _submit_init(self, parse, msg, topic: str) -> None:
        try:
            request = parse(msg, topic)
        except InitRequestError as exc:
            self._report_error(f"init on {topic!r} rejected: {exc}")
            return
        except Exception as exc:  # malformed message fields
            self._report_error(f"init on {topic!r} rejected: {type(exc).__name__}: {exc}")
            return
        self.handover.put_init(request)

    def _on_reset(self, request, response):
        with self._track_lock:
            self.handover.clear()
            self._deferred_init = None
            previous = self.status.state
            self.status.reset()
            self._last_good_box = None
        response.success = True
        response.message = f"tracking reset: {previous.value} -> IDLE"
        self.get_logger().info(response.message)
        self._publish_status()
        return response

    # -- worker thread ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the worker thread (call before destroying the node)."""
        self.handover.stop()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=5.0)

    def _worker_loop(self) -> None:
        while True:
            deferred = self._deferred_init  # wakes the worker at its deadline (to apply it or give up)
            if not self.handover.wait(deferred[1] if deferred is not None else None):
                return
            with self._track_lock:
                request, item = self.handover.take()
                try:
                    if request is not None:
                        self._deferred_init = None  # a newer init replaces one still waiting
                        self._apply_init(request, time.monotonic() + self.p["init_wait"])
                    elif self._deferred_init is not None:
                        deferred, self._deferred_init = self._deferred_init, None
                        self._apply_init(*deferred)
                    if item is not None and item.seq > self._last_seq:
                        self._handle_frame(item)
                except Exception as exc:  # never let the worker die
                    self.get_logger().error(f"internal error in the tracking worker: {exc!r}")
                    self._report_error(f"internal error: {type(exc).__name__}: {exc}")

    def _apply_init(self, request: InitRequest, deadline: float) -> None:
        """Initialise on the request's frame and catch up. A request for a frame that has not
        arrived yet (no frame at all, or a stamp newer than the newest) waits until ``deadline``."""
        where = f"init on {request.source!r}"
        tolerance_ns = int(self.p["init_stamp_tolerance"] * 1e9)
        span = self.buffer.span_ns()
        # a stamp newer than the newest frame most likely names a frame still on its way (when the
        # stream goes on, the wait lasts one frame interval at most)
        not_yet = span is None or (request.stamp_ns is not None and request.stamp_ns > span[1])
        if not_yet and time.monotonic() < deadline:
            self._deferred_init = (request, deadline)
            return
        if request.stamp_ns is None:
            target = self.buffer.newest()
            if target is None:
                self._report_error(f"{where} rejected: no image received yet on "
                                   f"{self.resolve_topic_name(self.p['image_topic'])!r}")
                return
        else:
            try:
                target = self.buffer.nearest(request.stamp_ns, tolerance_ns)
            except FrameLookupError as exc:
                self._report_error(f"{where} rejected: {exc}")
                return
        height, width = target.frame.shape[:2]
        try:
            box = fit_box_to_frame(request.box, width, height)
        except InitRequestError as exc:
            self._report_error(f"{where} rejected: {exc}")
            return
        try:
            self.tracker.init(target.frame, box)
        except Exception as exc:
            self.status.reset()
            self._report_error(f"{where}: tracker init failed ({type(exc).__name__}: {exc}); now IDLE")
            return
        self._redetector = TemplateRedetector(target.frame, box) if self.p["redetect"] else None
        self._last_good_box = box
        self.status.initialised(target.stamp_ns)
        newer = self.buffer.after(target.seq)
        self.get_logger().info(
            f"initialised from {request.source!r} on frame {format_stamp(target.stamp_ns)} with box "
            f"({box[0]:.1f}, {box[1]:.1f}, {box[2]:.1f}, {box[3]:.1f}); catching up {len(newer)} frame(s)"
        )
        # the box on its own frame, then every buffered frame since, each result under its image's
        # header: a consumer sees the whole track and can match results to frames by stamp
        self._last_seq = max(self._last_seq, target.seq)
        self._publish_result(target, TrackResult(box, float("nan")))
        if not newer:
            self.status.frame_done(target.stamp_ns)
            self._publish_status()
            return
        for item in newer:
            self._handle_frame(item)

    def _handle_frame(self, item: BufferedFrame) -> None:
        self._last_seq = max(self._last_seq, item.seq)
        if self.status.state is TrackState.IDLE:
            self.status.frame_done(item.stamp_ns)
            self._publish_debug(item, None)
            self._publish_status()
            return
        start = time.perf_counter()
        try:
            result = self._track(item.frame)
        except Exception as exc:
            self.status.frame_done(item.stamp_ns)
            self._report_error(f"tracker failed on frame {format_stamp(item.stamp_ns)}: "
                               f"{type(exc).__name__}: {exc}")
            return
        tracker_s = time.perf_counter() - start
        try:
            check_box(result.box)
        except TrackerError:
            self._report_error(f"tracker returned an invalid box {result.box} on frame "
                               f"{format_stamp(item.stamp_ns)}; counted as a miss")
            result = TrackResult(self._last_good_box or (0.0, 0.0, 1.0, 1.0), float("nan"))
        previous = self.status.state
        state = self.status.frame_done(item.stamp_ns, result.score, tracker_s)
        if state is TrackState.TRACKING:
            self._last_good_box = result.box
        if state is not previous:
            # one call site per severity: rclpy refuses to change a call site's severity
            change = (f"{previous.value} -> {state.value} at frame {format_stamp(item.stamp_ns)} "
                      f"(score {result.score:.3f}, threshold {self.p['score_threshold']})")
            if state is TrackState.LOST:
                self.get_logger().warning(change)
            else:
                self.get_logger().info(change)
        if state is TrackState.TRACKING:
            self._publish_result(item, result)
        self._publish_debug(item, result)
        self._publish_status()

    def _track(self, frame: np.ndarray) -> TrackResult:
        """One tracker step; while LOST, a re-detection attempt in a widened region."""
        if self.status.state is not TrackState.LOST:
            self._frames_lost = 0
            return self.tracker.update(frame)
        self._frames_lost += 1
        scale = float(self.p["redetect_search_scale"])
        if self._redetect_mode == "tracker.redetect":
            result = self.tracker.redetect(frame, search_scale=scale)
        else:
            result = self.tracker.update(frame)
        threshold = self.p["score_threshold"]
        if (math.isfinite(result.score) and result.score >= threshold) or self._redetector is None \
                or self._last_good_box is None or self._frames_lost < self.p["redetect_after"]:
            return result
        found = self._redetector.relocate(frame, self._last_good_box, scale, self.p["redetect_min_ncc"])
        if found is None:
            return result
        box, peak = found
        try:
            box = fit_box_to_frame(box, frame.shape[1], frame.shape[0])
            self.tracker.init(frame, box)
        except Exception as exc:
            self.get_logger().debug(f"re-detection at {box} could not re-initialise: {exc}")
            return result
        self.status.redetected()
        self.get_logger().info(f"re-detected the target at ({box[0]:.1f}, {box[1]:.1f}) (NCC {peak:.2f})")
        return TrackResult(box, max(float(threshold), 0.0))

    # -- outputs ------------------------------------------------------------------------------
    def _publish_result(self, item: BufferedFrame, result: TrackResult) -> None:
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
        self.status.latency((time.monotonic_ns() - item.received_ns) / 1e9, stamp_latency)

    def _publish_debug(self, item: BufferedFrame, result: TrackResult | None) -> None:
        if self.pub_debug is None or self.pub_debug.get_subscription_count() == 0:
            return
        state = self.status.state.value
        msg = (outputs.debug_image_msg(item.header, item.frame, state) if result is None
               else outputs.debug_image_msg(item.header, item.frame, state, result.box, result.score))
        self.pub_debug.publish(msg)

    def _publish_status(self) -> None:
        values = [*self.status.key_values(), ("model", self.model_description)]
        array = outputs.status_msg(self.get_clock().now().to_msg(), f"{self.get_name()}: tracking",
                                   self.status.level(), self.status.summary(), str(self.p["tracker"]), values)
        with self._status_lock:
            self.pub_status.publish(array)

    def _report_error(self, message: str) -> None:
        """Log ``message`` (the same text at most every few seconds), record it and publish status."""
        now = time.monotonic()
        if message != self._last_logged[0] or now - self._last_logged[1] >= ERROR_LOG_REPEAT_S:
            self._last_logged = (message, now)
            self.get_logger().error(message)
        self.status.error(message)
        self._publish_status()


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
