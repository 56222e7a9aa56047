"""What a configured tracking node holds, shared by the plain node (:mod:`.track_node`) and the
managed one (:mod:`.lifecycle_node`): :func:`declare_parameters` (the node's parameter table,
:mod:`.params`, and the tracker's settings, :mod:`.tracker_settings`), :class:`TrackRuntime` --
the tracker (created and warmed up), publishers, the ``~/reset`` service and the worker thread,
with :meth:`~TrackRuntime.activate` (subscriptions and timers: tracking starts) and
:meth:`~TrackRuntime.deactivate` (they go, the target is dropped, nothing more is published) --
and :class:`ParameterUpdates` (run-time parameter changes, validated first). What happens to init
requests and frames is the ROS-free :mod:`.session`; the node's behaviour as a whole is described
in :mod:`.track_node`.
"""

from __future__ import annotations

import os

from cfvgg_ros.threads import THREAD_ENV_VARS

for _var in THREAD_ENV_VARS:  # before numpy / OpenCV / onnxruntime load (message modules import numpy)
    os.environ.setdefault(_var, "1")

import dataclasses  # noqa: E402
import math  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PolygonStamped, PoseStamped  # noqa: E402
from rcl_interfaces.msg import SetParametersResult  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from cfvgg_ros.core import TrackResult, tracker_info  # noqa: E402
from cfvgg_ros.ros import outputs, topics  # noqa: E402
from cfvgg_ros.ros.conversions import ImageConversionError, compressed_to_rgb, image_to_rgb  # noqa: E402
from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer  # noqa: E402
from cfvgg_ros.ros.handover import Handover  # noqa: E402
from cfvgg_ros.ros.heap_trim import HeapTrimmer  # noqa: E402
from cfvgg_ros.ros.init_requests import (  # noqa: E402
    InitRequestError,
    request_from_detection,
    request_from_polygon,
    request_from_roi,
)
from cfvgg_ros.ros.input_monitor import WARN_STATES, InputMonitor  # noqa: E402
from cfvgg_ros.ros.outputs import Detection2D  # noqa: E402
from cfvgg_ros.ros.params import DYNAMIC, SPECS, NodeStartupError, check_update, declare_and_read  # noqa: E402
from cfvgg_ros.ros.qos import (  # noqa: E402
    init_qos,
    package_share,
    receive_buffer_warning,
    results_qos,
)
from cfvgg_ros.ros.session import SessionConfig, TrackingSession  # noqa: E402
from cfvgg_ros.ros.stamps import format_stamp, stamp_to_ns  # noqa: E402
from cfvgg_ros.ros.startup import build_tracker, redetect_mode, set_up_threads, tracker_keywords  # noqa: E402
from cfvgg_ros.ros.status import LostStateMachine, NodeStatus  # noqa: E402
from cfvgg_ros.ros.subscriptions import AdaptiveSubscription  # noqa: E402
from cfvgg_ros.ros.tracker_settings import declare_settings  # noqa: E402

NODE_NAME = topics.NODE_NAME
EXIT_STARTUP_ERROR = 2
GRAPH_POLL_S = 0.5  # how often the input subscriptions look at the publishers on their topics
COMPRESSED_SUFFIX = "/compressed"  # image_transport's sub-topic of the "compressed" transport


def declare_parameters(node) -> tuple[dict, dict]:
    """Declare the node's parameters and the tracker's settings on ``node``; returns the checked
    values and the tracker keywords set by its settings parameters (differing from its defaults).
    Raises :class:`NodeStartupError` with a one-line reason."""
    values = declare_and_read(node)
    settings = declare_settings(node, values["tracker"])
    return values, settings


class TrackRuntime:
    """A configured tracking node's parts (see the module docstring): built here (tracker created
    and warmed up, publishers, ``~/reset``, worker thread); :meth:`activate` subscribes and starts
    the timers, :meth:`deactivate` undoes that and drops the target, :meth:`destroy` frees it all.
    Raises :class:`NodeStartupError` when the tracker cannot be built."""

    def __init__(self, node: Node, p: dict, settings: dict) -> None:
        self.node, self.p = node, p
        log = self.log = node.get_logger()
        self.active = False
        self._pinned = set_up_threads(p["cpu_core"])
        kwargs, warnings = tracker_keywords(p, settings, package_share() / "models")
        for warning in warnings:
            log.warning(warning)
        self.tracker_kwargs = kwargs
        self.tracker, self.model_description = build_tracker(p["tracker"], kwargs, p["warm_up"],
                                                             p["warm_up_updates"])
        threshold = self._score_threshold(p["score_threshold"])
        self.status = NodeStatus(LostStateMachine(threshold, p["lost_frames"], p["recover_frames"]))
        self.buffer = FrameBuffer(p["buffer_seconds"], p["buffer_max_frames"])
        # callbacks -> worker: the newest init and the frames (only the newest under "latest")
        self.handover = Handover(1 if p["backlog_policy"] == "latest" else p["max_backlog"], key=lambda f: f.seq)
        self.image_topic = p["image_topic"] + (COMPRESSED_SUFFIX if p["image_transport"] == "compressed" else "")
        config = dataclasses.replace(SessionConfig.from_params({**p, "score_threshold": threshold}),
                                     image_topic=node.resolve_topic_name(self.image_topic))
        self.session = TrackingSession(self.tracker, config, self.status, self.buffer, self, log,
                                       redetect_mode(self.tracker))
        self.monitor = InputMonitor(config.image_topic, p["image_qos"], p["input_warn_after"])
        self.heap = HeapTrimmer(p["heap_trim_period"])
        self._seq = 0
        self._track_lock = threading.Lock()  # held while the session is used or reset
        self._camera: outputs.CameraModel | None = None
        self._status_lock = threading.Lock()
        self._inputs: list[AdaptiveSubscription] = []
        self._subscriptions: list = []
        self._timers: list = []
        self._input_state = ""
        self._create_outputs()
        self._worker = threading.Thread(target=self._worker_loop, name="track_node_worker", daemon=True)
        self._worker.start()
        extra = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if k != "model_path")
        log.info(
            f"tracking with {p['tracker']!r}{f' ({extra})' if extra else ''} on {config.image_topic} "
            f"(image_transport {p['image_transport']}, image QoS {p['image_qos']}, cpu core "
            f"{self._pinned if self._pinned is not None else 'any'}, "
            f"re-detection: {self.session.redetect_mode}{' + template' if p['redetect'] else ''}, "
            f"backlog_policy {p['backlog_policy']} (max_lag {p['max_lag']:g} s, max_backlog {p['max_backlog']})); "
            f"feature model: {self.model_description}"
        )
        rmem = receive_buffer_warning()
        if rmem:
            log.warning(rmem)

    def _score_threshold(self, value: float) -> float:
        return value if value >= 0 else tracker_info(self.p["tracker"]).lost_threshold

    # -- interfaces ----------------------------------------------------------------------------
    def _create_outputs(self) -> None:
        node, out_qos = self.node, results_qos()
        self.pub_pose = node.create_publisher(PoseStamped, topics.TARGET_POSE, out_qos)
        self.pub_roi = node.create_publisher(RegionOfInterest, topics.TARGET_ROI, out_qos)
        self.pub_box = node.create_publisher(PolygonStamped, topics.TARGET_BOX, out_qos)
        self.pub_detection = (node.create_publisher(Detection2D, topics.TARGET_DETECTION, out_qos)
                              if Detection2D is not None else None)
        self.pub_status = node.create_publisher(DiagnosticArray, topics.STATUS, out_qos)
        self.pub_debug = None
        self._set_debug_publisher(self.p["publish_debug_image"])
        self.reset_service = node.create_service(Trigger, topics.RESET_SERVICE, self._on_reset)

    def _set_debug_publisher(self, enabled: bool) -> None:
        if enabled and self.pub_debug is None:
            self.pub_debug = self.node.create_publisher(Image, topics.DEBUG_IMAGE, results_qos())
        elif not enabled and self.pub_debug is not None:
            publisher, self.pub_debug = self.pub_debug, None
            self.node.destroy_publisher(publisher)

    def activate(self) -> None:
        """Subscribe to the inputs and start the timers: tracking starts."""
        if self.active:
            return
        node, p = self.node, self.p
        if p["image_transport"] == "compressed":
            image = AdaptiveSubscription(node, CompressedImage, self.image_topic, self._on_compressed,
                                         p["image_qos"], self.monitor, self.log)
        else:
            image = AdaptiveSubscription(node, Image, self.image_topic, self._on_image, p["image_qos"],
                                         self.monitor, self.log)
        self._inputs = [image]
        if p["camera_info_topic"]:
            self._inputs.append(AdaptiveSubscription(node, CameraInfo, p["camera_info_topic"], self._on_camera_info,
                                                     p["image_qos"], log=self.log))
        inits = [(RegionOfInterest, "init_bbox_topic", request_from_roi),
                 (PolygonStamped, "init_bbox_stamped_topic", request_from_polygon)]
        if Detection2D is not None:
            inits.append((Detection2D, "init_detection_topic", request_from_detection))
        self._subscriptions = []
        for msg_type, param, parse in inits:
            topic = p[param]
            self._subscriptions.append(node.create_subscription(
                msg_type, topic, lambda m, parse=parse, topic=topic: self._submit_init(parse, m, topic), init_qos()))
        self._timers = [node.create_timer(p["status_period"], self.publish_status),
                        node.create_timer(GRAPH_POLL_S, self._poll_inputs)]
        self.active = True
        self.publish_status()

    def deactivate(self) -> None:
        """Unsubscribe and stop the timers; drop the target (IDLE) and everything waiting."""
        if not self.active:
            return
        self.active = False
        node = self.node
        for timer in self._timers:
            node.destroy_timer(timer)
        for subscription in self._subscriptions:
            node.destroy_subscription(subscription)
        for adaptive in self._inputs:
            adaptive.destroy()
        self._timers, self._subscriptions, self._inputs = [], [], []
        with self._track_lock:
            self.handover.clear()
            self.session.reset()

    def destroy(self) -> None:
        """Deactivate, stop the worker and destroy the publishers and the service (the tracker and
        its model are released with this object)."""
        self.deactivate()
        self.stop()
        node = self.node
        for publisher in (self.pub_pose, self.pub_roi, self.pub_box, self.pub_detection, self.pub_status,
                          self.pub_debug):
            if publisher is not None:
                node.destroy_publisher(publisher)
        node.destroy_service(self.reset_service)
        self.tracker = None
        self.session.tracker = None

    def _poll_inputs(self) -> None:
        for adaptive in self._inputs:
            change = adaptive.refresh()
            if change:
                self.log.info(change)
        diagnosis = self.monitor.diagnose()
        if diagnosis.state != self._input_state:
            if diagnosis.warn:
                self.log.warning(f"image input {diagnosis.state}: {diagnosis.hint}")
            elif self._input_state in WARN_STATES:
                self.log.info(f"image input {diagnosis.state}" + (f": {diagnosis.hint}" if diagnosis.hint else ""))
            self._input_state = diagnosis.state

    # -- run-time parameter changes -----------------------------------------------------------
    def apply(self, name: str, value) -> None:
        """A checked run-time change of parameter ``name`` (one of :data:`~.params.DYNAMIC`)."""
        self.p[name] = value
        with self._track_lock:
            session, machine = self.session, self.status.machine
            if name == "score_threshold":
                value = self._score_threshold(value)
                machine.score_threshold = float(value)
            elif name == "lost_frames":
                machine.lost_frames = int(value)
            elif name == "recover_frames":
                machine.recover_frames = int(value)
            elif name == "publish_debug_image":
                self._set_debug_publisher(bool(value))
            if name in {f.name for f in dataclasses.fields(SessionConfig)}:
                session.config = dataclasses.replace(session.config, **{name: value})
        self.log.info(f"parameter {name} set to {self.p[name]!r}"
                      + (f" (threshold {value:g})" if name == "score_threshold" else ""))

    # -- callbacks (executor thread): decode and buffer only -----------------------------------
    def _on_image(self, msg: Image) -> None:
        self._accept(msg, image_to_rgb)

    def _on_compressed(self, msg: CompressedImage) -> None:
        self._accept(msg, compressed_to_rgb)

    def _accept(self, msg, decode) -> None:
        received_ns = time.monotonic_ns()
        self.monitor.frame()
        if not self.active:
            return
        topic = self.session.config.image_topic
        try:
            frame = decode(msg, max_pixels=self.p["max_image_pixels"])
        except Exception as exc:  # noqa: BLE001 - our own errors, or malformed message fields
            self._reject(f"image on {topic!r}", exc, ImageConversionError)
            return
        self._seq += 1
        item = BufferedFrame(self._seq, stamp_to_ns(msg.header.stamp), frame, msg.header, received_ns)
        in_order = self.buffer.push(item)  # buffered before the worker can look for it
        self.status.frame_received(item.stamp_ns)
        self.handover.put_frame(item)
        if not in_order:
            self.log.info(f"image stamps went backwards ({format_stamp(item.stamp_ns)}): frame buffer restarted")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        try:
            self._camera = outputs.CameraModel.from_camera_info(msg)
        except ValueError as exc:
            self.session.report_error(f"camera_info ignored: {exc}")

    def _submit_init(self, parse, msg, topic: str) -> None:
        if not self.active:
            return
        try:
            request = parse(msg, topic)
        except Exception as exc:  # noqa: BLE001 - our own errors, or malformed message fields
            self._reject(f"init on {topic!r}", exc, InitRequestError)
            return
        self.handover.put_init(request)

    def _reject(self, what: str, exc: Exception, own: type) -> None:
        """Report a rejected input: our own errors by their message, others (malformed message
        fields) with the exception's type name too."""
        reason = str(exc) if isinstance(exc, own) else f"{type(exc).__name__}: {exc}"
        self.session.report_error(f"{what} rejected: {reason}")

    def _on_reset(self, request, response):
        with self._track_lock:
            self.handover.clear()
            previous = self.session.reset()
        response.success = True
        response.message = f"tracking reset: {previous.value} -> IDLE"
        self.log.info(response.message)
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
                    self.log.error(f"internal error in the tracking worker: {exc!r}")
                    session.report_error(f"internal error: {type(exc).__name__}: {exc}")
            if not session.backlog:  # caught up: freed frame buffers go back to the system
                self.heap.maybe_trim()

    # -- outputs (the session's sink) ----------------------------------------------------------
    def publish_result(self, item: BufferedFrame, result: TrackResult) -> None:
        if not self.active:
            return
        height, width = item.frame.shape[:2]
        msgs = outputs.result_messages(item.header, result.box, result.score, width, height, self._camera,
                                       self.p["tracker"])
        self.pub_pose.publish(msgs.pose)
        self.pub_roi.publish(msgs.roi)
        self.pub_box.publish(msgs.polygon)
        if self.pub_detection is not None:
            self.pub_detection.publish(msgs.detection)
        now_ns = self.node.get_clock().now().nanoseconds
        stamp_latency = (now_ns - item.stamp_ns) / 1e9 if item.stamp_ns > 0 else None
        self.status.latency((time.monotonic_ns() - item.received_ns) / 1e9, stamp_latency, item.stamp_ns)

    def publish_debug(self, item: BufferedFrame, result: TrackResult | None) -> None:
        publisher = self.pub_debug
        if not self.active or publisher is None or publisher.get_subscription_count() == 0:
            return
        state = self.status.state.value
        msg = (outputs.debug_image_msg(item.header, item.frame, state) if result is None
               else outputs.debug_image_msg(item.header, item.frame, state, result.box, result.score))
        publisher.publish(msg)

    def publish_status(self) -> None:
        if not self.active:
            return
        diagnosis = self.monitor.diagnose()
        values = [*self.status.key_values(), ("backlog_policy", self.p["backlog_policy"]),
                  ("model", self.model_description), *self.monitor.key_values(diagnosis),
                  ("heap_trims", str(self.heap.trims)), ("heap_trim_ms", f"{1e3 * self.heap.seconds:.1f}")]
        level, summary = self.status.level(), self.status.summary()
        if diagnosis.warn:
            level, summary = max(level, 1), f"{summary}; input {diagnosis.state}: {diagnosis.hint}"
        array = outputs.status_msg(self.node.get_clock().now().to_msg(), f"{self.node.get_name()}: tracking",
                                   level, summary, str(self.p["tracker"]), values)
        with self._status_lock:
            self.pub_status.publish(array)


class ParameterUpdates:
    """The run-time parameter callbacks of a tracking node: :meth:`validate` (on-set: a bad value
    of a run-time parameter is refused with the reason) and :meth:`applied` (post-set: hands the
    change to the runtime, when there is one)."""

    def __init__(self, node, values: dict, runtime=lambda: None) -> None:
        self.values, self._runtime = values, runtime
        node.add_on_set_parameters_callback(self.validate)
        node.add_post_set_parameters_callback(self.applied)

    def validate(self, parameters) -> SetParametersResult:
        for parameter in parameters:
            if parameter.name in DYNAMIC:
                try:
                    check_update(parameter.name, parameter.value)
                except NodeStartupError as exc:
                    return SetParametersResult(successful=False, reason=str(exc))
        return SetParametersResult(successful=True)

    def applied(self, parameters) -> None:
        runtime = self._runtime()
        for parameter in parameters:
            if parameter.name in DYNAMIC:
                value = SPECS[parameter.name].coerce(parameter.value)
                self.values[parameter.name] = value
                if runtime is not None:
                    runtime.apply(parameter.name, value)


