"""ROS 2 tracking node: one target, one CPU core, any tracker from :func:`create_tracker`.

Run it as ``ros2 run cfvgg_ros track_node --ros-args --params-file config/track.yaml``, as
``cfvgg-track`` (which also selects the shipped Fast DDS profile), or as
``python -m cfvgg_ros.ros.track_node --ros-args ...``.

Inputs: ``image`` (sensor_msgs/Image: rgb8, bgr8, rgba8, bgra8, mono8, row padding honoured),
optional ``camera_info``, and the init requests ``/init_bbox`` (RegionOfInterest, on the newest
frame), ``/init_bbox_stamped`` (PolygonStamped with 2 or 4 corners, on the buffered frame nearest
its header stamp, then caught up through the newer buffered frames, a result published for
each) and, when ``vision_msgs`` is importable, ``/init_detection`` (Detection2D, like the
stamped polygon). An init naming a frame
that has not arrived yet (no frame at all, or a stamp newer than the newest: the box overtook its
image) waits up to ``init_wait`` seconds for it. A new init restarts tracking at any time;
``~/reset`` (std_srvs/Trigger) stops it.

Outputs (header = the tracked image's header, only while TRACKING): ``target_pose`` (PoseStamped:
with camera_info, the unit bearing ray to the box centre in the optical frame, distortion removed,
as position and the rotation from the optical axis onto it as orientation; without camera_info,
the pixel centre ``(u, v, 0)`` and the identity rotation), ``target_roi`` (RegionOfInterest,
clipped to the image), ``target_box`` (PolygonStamped, the 4 corners), ``target_detection``
(Detection2D, when importable); ``~/status`` (DiagnosticArray: state, score, fps, latency,
dropped frames, last error; on every handled frame and every ``status_period`` seconds) and,
with ``publish_debug_image``, ``~/debug_image`` (the frame with the box drawn).

Processing: the image callback only decodes, buffers and hands the newest frame to a worker
thread (keep-last-1); a frame replaced before the worker took it counts as dropped. Bad input
(undecodable images, bad boxes, stamps outside the buffer, tracker exceptions) is logged and
shown in ``~/status`` and never stops the node. A tracker that cannot be created or warmed up
(missing or corrupt model, bad parameters) ends the node at start-up with exit code 2 and a
one-line error.

LOST and re-detection: after ``lost_frames`` frames scoring below ``score_threshold`` the node
goes LOST and publishes no pose. While LOST it tries to find the target again, in this order:
(1) ``tracker.redetect(frame, search_scale=s)`` when the tracker has that method, else
``tracker.update(frame, search_scale=s)`` when ``update`` accepts that keyword, else plain
``tracker.update(frame)``; (2) when that still scores low, a normalised cross-correlation search
for the init template (cv2.matchTemplate, ``TM_CCOEFF_NORMED``) in a window ``s`` times the box
around the last confident box; a peak >= ``redetect_min_ncc`` re-initialises the tracker there.
``recover_frames`` good frames return the node to TRACKING.

One core: the math libraries' thread-count variables are set when this module is imported
(before numpy, OpenCV and onnxruntime load); the parameter ``cpu_core`` (>= 0) pins every thread
of the process, DDS threads included, when the node starts (threads started later inherit it);
-1 leaves the affinity alone.
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
import yaml  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue  # noqa: E402
from geometry_msgs.msg import Point32, PolygonStamped, PoseStamped  # noqa: E402
from rcl_interfaces.msg import ParameterDescriptor  # noqa: E402
from rclpy.executors import ExternalShutdownException  # noqa: E402
from rclpy.node import Node  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest  # noqa: E402
from std_srvs.srv import Trigger  # noqa: E402

from cfvgg_ros.core import TrackResult, create_tracker, register_tracker  # noqa: E402
from cfvgg_ros.ros.conversions import ImageConversionError, image_to_rgb, rgb_to_image  # noqa: E402
from cfvgg_ros.ros.frame_buffer import BufferedFrame, FrameBuffer, FrameLookupError, format_stamp  # noqa: E402
from cfvgg_ros.ros.geometry import bearing_ray, box_center, quaternion_from_z_to  # noqa: E402
from cfvgg_ros.ros.init_requests import (  # noqa: E402
    InitRequest,
    InitRequestError,
    fit_box_to_frame,
    request_from_detection,
    request_from_polygon,
    request_from_roi,
    stamp_to_ns,
)
from cfvgg_ros.ros.qos import IMAGE_QOS_CHOICES, image_qos, init_qos, package_share, results_qos  # noqa: E402
from cfvgg_ros.ros.status import LostStateMachine, NodeStatus, TrackState, default_score_threshold  # noqa: E402

try:  # only on a full ROS install
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose
except ImportError:  # pragma: no cover - depends on the environment
    Detection2D = ObjectHypothesisWithPose = None

NODE_NAME = "track_node"
EXIT_STARTUP_ERROR = 2
ERROR_LOG_REPEAT_S = 2.0  # the same error is logged at most once per this many seconds

# name -> (default, description); the defaults match config/track.yaml
PARAMETERS: dict[str, tuple[object, str]] = {
    "tracker": ("feco", "tracker name for create_tracker(), or a plug-in factory 'module:attr'"),
    "tracker_params": ("{}", "tracker keyword parameters, a YAML/JSON mapping as a string; "
                             "'{model_path}' inside string values becomes the model folder"),
    "model_path": ("", "folder of model files; empty: models/ in the package share"),
    "warm_up": (True, "init the tracker on a dummy frame at start-up and update it warm_up_updates times "
                      "(a corrupt model then fails at start-up, and numba compiles its kernels before the "
                      "first target instead of stalling a real frame)"),
    "warm_up_updates": (8, "updates in the warm-up; fECO first trains its filter on the 6th frame, which "
                           "compiles the training kernels (about 1 s on a fresh install)"),
    "image_topic": ("image", "sensor_msgs/Image input"),
    "camera_info_topic": ("camera_info", "sensor_msgs/CameraInfo input; empty: none"),
    "init_bbox_topic": ("/init_bbox", "sensor_msgs/RegionOfInterest init on the newest frame"),
    "init_bbox_stamped_topic": ("/init_bbox_stamped", "geometry_msgs/PolygonStamped init on its stamped frame"),
    "init_detection_topic": ("/init_detection", "vision_msgs/Detection2D init (when vision_msgs is installed)"),
    "image_qos": ("sensor_data", "image subscription QoS: sensor_data (best effort) or reliable"),
    "buffer_seconds": (1.0, "how far back (header-stamp time) a stamped init may point"),
    "buffer_max_frames": (90, "at most this many frames are buffered"),
    "init_stamp_tolerance": (0.05, "a stamped init uses the buffered frame nearest its stamp within this (s)"),
    "init_wait": (0.5, "an init for a frame not received yet (none yet, or a newer stamp) waits this long (s)"),
    "score_threshold": (-1.0, "a frame scoring below this is a miss (the scale depends on the tracker); "
                              "negative: the tracker's default (feco 0.15, eco-hc 0.10, others 0.5)"),
    "lost_frames": (3, "consecutive misses before LOST"),
    "recover_frames": (2, "consecutive good frames before LOST returns to TRACKING"),
    "redetect": (True, "search for the lost target in a widened region"),
    "redetect_search_scale": (4.0, "re-detection window size as a multiple of the box"),
    "redetect_min_ncc": (0.8, "template correlation needed to accept a re-detection"),
    "redetect_after": (10, "frames in LOST before the template search may re-initialise the tracker "
                           "(the tracker's own model gets that long to recover)"),
    "cpu_core": (-1, "pin the process to this CPU core; -1: keep the affinity"),
    "publish_debug_image": (False, "publish ~/debug_image (the frame with the box drawn)"),
    "status_period": (1.0, "publish ~/status at least this often (s)"),
}


class NodeStartupError(RuntimeError):
    """The node cannot start (bad parameter, tracker or model); the message says why."""


def _coerce(name: str, value, default):
    """``value`` as the type of ``default`` (ints accepted for floats), else NodeStartupError."""
    kind = type(default)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    raise NodeStartupError(
        f"parameter {name!r} must be {kind.__name__} (default {default!r}), got {type(value).__name__} {value!r}"
    )


def parse_tracker_params(text: str, model_dir: Path) -> dict:
    """Tracker keyword parameters from a YAML/JSON mapping string; ``{model_path}`` in string
    values is replaced by ``model_dir``."""
    try:
        params = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise NodeStartupError(f"tracker_params is not valid YAML/JSON: {exc}") from exc
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise NodeStartupError(f"tracker_params must be a mapping, got {type(params).__name__}: {text!r}")

    def substitute(value):
        if isinstance(value, str):
            return value.replace("{model_path}", str(model_dir))
        if isinstance(value, list):
            return [substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: substitute(v) for k, v in value.items()}
        return value

    return {str(k): substitute(v) for k, v in params.items()}


#: Registry trackers whose features come from the ONNX student (``model_path`` parameter).
CNN_TRACKERS = frozenset({"feco", "fkcf", "fdeepstrcf"})


def feature_model_of(name: str, params: dict) -> str:
    """Which CNN feature model tracker ``name`` with ``params`` loads, for the log and status:
    its path, architecture, teacher and source commit; "none" for trackers without one."""
    if name not in CNN_TRACKERS:
        return "none"
    if "features" in params:
        return "per-feature models (tracker_params features)"
    from cfvgg_ros.models.contract import validate_model
    from cfvgg_ros.models.store import default_model_path

    path = Path(params["model_path"]) if params.get("model_path") else default_model_path()
    try:
        contract = validate_model(path)
    except Exception as exc:  # noqa: BLE001 - a description only; the tracker itself loaded it
        return f"{path} (metadata unreadable: {exc})"
    provenance = contract.provenance
    return (f"{path} ({contract.architecture}; teacher {provenance.get('teacher', 'unknown')}; "
            f"commit {str(provenance.get('commit', 'unknown'))[:7]})")


def _valid_box(box) -> bool:
    try:
        x, y, w, h = (float(v) for v in box)
    except (TypeError, ValueError):
        return False
    return all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0


def pin_process(core: int) -> int:
    """Pin every thread of this process to ``core`` and make the math libraries single-threaded."""
    from cfvgg_ros.threads import single_core

    pinned = single_core(core)
    if pinned is not None and os.path.isdir("/proc/self/task"):
        for tid in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(tid), {pinned})
            except (OSError, ValueError):
                pass  # the thread ended meanwhile
    return pinned


class TemplateRedetector:
    """Finds the init template again near the last confident box (normalised cross-correlation).

    The template is the grey init patch, downscaled so that its longer side is at most
    ``max_side`` pixels (the search window is scaled alike), which bounds the cost.
    """

    def __init__(self, frame: np.ndarray, box, max_side: int = 48) -> None:
        import cv2

        self._cv2 = cv2
        x, y, w, h = box
        self.size = (float(w), float(h))
        self.scale = min(1.0, max_side / max(w, h))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        x0, y0 = int(round(x)), int(round(y))
        x1, y1 = max(int(round(x + w)), x0 + 1), max(int(round(y + h)), y0 + 1)
        patch = grey[max(y0, 0):y1, max(x0, 0):x1]
        self.template = self._resize(patch)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        if self.scale >= 1.0:
            return image.astype(np.float32)
        size = (max(1, round(image.shape[1] * self.scale)), max(1, round(image.shape[0] * self.scale)))
        return self._cv2.resize(image, size, interpolation=self._cv2.INTER_AREA).astype(np.float32)

    def search(self, frame: np.ndarray, around, search_scale: float) -> tuple[tuple[float, float, float, float], float]:
        """Best match (box of the template's size, NCC peak) in a window ``search_scale`` times
        the box around ``around``'s centre; peak -1 when the window cannot hold the template."""
        cv2 = self._cv2
        fh, fw = frame.shape[:2]
        cx, cy = box_center(around)
        w, h = self.size
        half_w, half_h = 0.5 * search_scale * w, 0.5 * search_scale * h
        x0, y0 = max(int(cx - half_w), 0), max(int(cy - half_h), 0)
        x1, y1 = min(int(math.ceil(cx + half_w)), fw), min(int(math.ceil(cy + half_h)), fh)
        if x1 <= x0 or y1 <= y0:
            return tuple(around), -1.0
        window = self._resize(cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY))
        th, tw = self.template.shape
        if window.shape[0] < th or window.shape[1] < tw or self.template.std() < 1e-3:
            return tuple(around), -1.0
        response = cv2.matchTemplate(window, self.template, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (px, py) = cv2.minMaxLoc(response)
        bx, by = x0 + px / self.scale, y0 + py / self.scale
        return (float(bx), float(by), w, h), float(peak)


class TrackNode(Node):
    """The tracking node (see the module docstring). Raises :class:`NodeStartupError` when it
    cannot start."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.p = self._read_parameters()
        self._pinned = self._set_up_threads(self.p["cpu_core"])
        if self.p["score_threshold"] < 0:
            self.p["score_threshold"] = default_score_threshold(self.p["tracker"])
        self.tracker = self._build_tracker()
        self._redetect_mode = self._tracker_redetect_mode(self.tracker)
        self.status = NodeStatus(LostStateMachine(self.p["score_threshold"], self.p["lost_frames"],
                                                  self.p["recover_frames"]))
        self.buffer = FrameBuffer(self.p["buffer_seconds"], self.p["buffer_max_frames"])

        self._cond = threading.Condition()  # guards the hand-over below
        self._pending_frame: BufferedFrame | None = None
        self._pending_init: InitRequest | None = None
        self._deferred_init: tuple[InitRequest, float] | None = None  # waiting for its frame
        self._stop = False
        self._seq = 0
        self._track_lock = threading.Lock()  # held while the tracker is used or reset
        self._last_seq = 0
        self._last_good_box = None
        self._frames_lost = 0
        self._redetector: TemplateRedetector | None = None
        self._camera_info: CameraInfo | None = None
        self._status_lock = threading.Lock()
        self._last_logged: tuple[str, float] = ("", -math.inf)

        self._create_interfaces()
        self._worker = threading.Thread(target=self._worker_loop, name="track_node_worker", daemon=True)
        self._worker.start()
        self.get_logger().info(
            f"tracking with {self.p['tracker']!r} on {self.resolve_topic_name(self.p['image_topic'])} "
            f"(image QoS {self.p['image_qos']}, cpu core {self._pinned if self._pinned is not None else 'any'}, "
            f"re-detection: {self._redetect_mode}{' + template' if self.p['redetect'] else ''}); "
            f"feature model: {self.model_description}"
        )
        self._publish_status()

    # -- start-up ------------------------------------------------------------------------------
    def _read_parameters(self) -> dict:
        values = {}
        for name, (default, description) in PARAMETERS.items():
            descriptor = ParameterDescriptor(description=description, dynamic_typing=True)
            try:
                self.declare_parameter(name, default, descriptor)
                values[name] = _coerce(name, self.get_parameter(name).value, default)
            except NodeStartupError:
                raise
            except Exception as exc:  # e.g. an unreadable override
                raise NodeStartupError(f"parameter {name!r}: {type(exc).__name__}: {exc}") from exc
        v = values
        checks = [
            ("image_qos", v["image_qos"] in IMAGE_QOS_CHOICES, f"one of {', '.join(IMAGE_QOS_CHOICES)}"),
            ("buffer_seconds", v["buffer_seconds"] >= 0, ">= 0"),
            ("buffer_max_frames", v["buffer_max_frames"] >= 1, ">= 1"),
            ("init_stamp_tolerance", v["init_stamp_tolerance"] >= 0, ">= 0"),
            ("init_wait", v["init_wait"] >= 0, ">= 0"),
            ("score_threshold", math.isfinite(v["score_threshold"]), "finite"),
            ("lost_frames", v["lost_frames"] >= 1, ">= 1"),
            ("recover_frames", v["recover_frames"] >= 1, ">= 1"),
            ("redetect_search_scale", v["redetect_search_scale"] >= 1, ">= 1"),
            ("redetect_min_ncc", -1 <= v["redetect_min_ncc"] <= 1, "in [-1, 1]"),
            ("redetect_after", v["redetect_after"] >= 0, ">= 0"),
            ("status_period", v["status_period"] > 0, "> 0"),
            ("cpu_core", v["cpu_core"] >= -1, ">= 0, or -1 for no pinning"),
            ("image_topic", bool(v["image_topic"]), "a topic name"),
        ]
        for name, ok, rule in checks:
            if not ok:
                raise NodeStartupError(f"bad parameter: {name} must be {rule}, got {v[name]!r}")
        return values

    def _set_up_threads(self, core: int) -> int | None:
        if core < 0:
            import cv2

            cv2.setNumThreads(1)
            return None
        try:
            return pin_process(core)
        except ValueError as exc:
            raise NodeStartupError(f"cpu_core: {exc}") from exc

    def _build_tracker(self):
        name = self.p["tracker"]
        if ":" in name:  # a plug-in factory "package.module:attr" not in the registry
            register_tracker(name, name)
        model_dir = Path(self.p["model_path"]) if self.p["model_path"] else package_share() / "models"
        params = parse_tracker_params(self.p["tracker_params"], model_dir)
        try:
            tracker = create_tracker(name, **params)
        except KeyError as exc:
            reason = exc.args[0] if exc.args else exc
            raise NodeStartupError(f"cannot create tracker {name!r}: {reason}") from exc
        except Exception as exc:  # missing/corrupt model, bad parameter: whatever the tracker raises
            raise NodeStartupError(
                f"cannot create tracker {name!r} with parameters {params}: {type(exc).__name__}: {exc}"
            ) from exc
        if self.p["warm_up"]:
            rng = np.random.default_rng(0)
            frame = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
            try:
                tracker.init(frame, (40.0, 30.0, 32.0, 32.0))
                for _ in range(max(1, self.p["warm_up_updates"])):
                    tracker.update(frame)
            except Exception as exc:
                raise NodeStartupError(
                    f"tracker {name!r} failed its warm-up (init + updates on a dummy frame) with "
                    f"parameters {params}: {type(exc).__name__}: {exc}"
                ) from exc
        self.model_description = feature_model_of(name, params)
        return tracker

    @staticmethod
    def _tracker_redetect_mode(tracker) -> str:
        from cfvgg_ros.core import REDETECT, tracker_info

        return "tracker.redetect" if tracker_info(tracker.name).supports(REDETECT) else "update"

    def _create_interfaces(self) -> None:
        p, out_qos = self.p, results_qos()
        self.pub_pose = self.create_publisher(PoseStamped, "target_pose", out_qos)
        self.pub_roi = self.create_publisher(RegionOfInterest, "target_roi", out_qos)
        self.pub_box = self.create_publisher(PolygonStamped, "target_box", out_qos)
        self.pub_detection = (self.create_publisher(Detection2D, "target_detection", out_qos)
                              if Detection2D is not None else None)
        self.pub_status = self.create_publisher(DiagnosticArray, "~/status", out_qos)
        self.pub_debug = (self.create_publisher(Image, "~/debug_image", out_qos)
                          if p["publish_debug_image"] else None)

        in_qos = image_qos(p["image_qos"])
        self.create_subscription(Image, p["image_topic"], self._on_image, in_qos)
        if p["camera_info_topic"]:
            self.create_subscription(CameraInfo, p["camera_info_topic"], self._on_camera_info, in_qos)
        self.create_subscription(RegionOfInterest, p["init_bbox_topic"],
                                 lambda m: self._submit_init(request_from_roi, m, p["init_bbox_topic"]),
                                 init_qos())
        self.create_subscription(PolygonStamped, p["init_bbox_stamped_topic"],
                                 lambda m: self._submit_init(request_from_polygon, m,
                                                             p["init_bbox_stamped_topic"]),
                                 init_qos())
        if Detection2D is not None:
            self.create_subscription(Detection2D, p["init_detection_topic"],
                                     lambda m: self._submit_init(request_from_detection, m,
                                                                 p["init_detection_topic"]),
                                     init_qos())
        self.create_service(Trigger, "~/reset", self._on_reset)
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
        with self._cond:
            self._seq += 1
            item = BufferedFrame(self._seq, stamp_to_ns(msg.header.stamp), frame, msg.header, received_ns)
            in_order = self.buffer.push(item)  # buffered before the worker can look for it
            dropped = self._pending_frame is not None and self.status.state is not TrackState.IDLE
            self._pending_frame = item
            self._cond.notify()
        self.status.frame_received(dropped)
        if not in_order:
            self.get_logger().info(f"image stamps went backwards ({format_stamp(item.stamp_ns)}): "
                                   "frame buffer restarted")

    def _on_camera_info(self, msg: CameraInfo) -> None:
        k = np.asarray(msg.k, dtype=np.float64)
        if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
            self._report_error(f"camera_info ignored: K = {list(k)} is not a valid camera matrix")
            return
        self._camera_info = msg

    def _submit_init(self, parse, msg, topic: str) -> None:
        try:
            request = parse(msg, topic)
        except InitRequestError as exc:
            self._report_error(f"init on {topic!r} rejected: {exc}")
            return
        except Exception as exc:  # malformed message fields
            self._report_error(f"init on {topic!r} rejected: {type(exc).__name__}: {exc}")
            return
        with self._cond:
            self._pending_init = request
            self._cond.notify()

    def _on_reset(self, request, response):
        with self._track_lock:
            with self._cond:
                self._pending_init = None
                self._pending_frame = None
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
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=5.0)

    def _worker_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stop and self._pending_init is None and self._pending_frame is None:
                    if self._deferred_init is not None:
                        remaining = self._deferred_init[1] - time.monotonic()
                        if remaining <= 0:
                            break  # time to give up on the deferred init (and say so)
                        self._cond.wait(min(remaining, 0.5))
                    else:
                        self._cond.wait(0.5)
                if self._stop:
                    return
            with self._track_lock:
                with self._cond:
                    request, self._pending_init = self._pending_init, None
                    item, self._pending_frame = self._pending_frame, None
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

    def _handle_frame(self, item: BufferedFrame, publish: bool = True) -> None:
        self._last_seq = max(self._last_seq, item.seq)
        if self.status.state is TrackState.IDLE:
            self.status.frame_done(item.stamp_ns)
            if publish:
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
        if not _valid_box(result.box):
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
        if publish:
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
        box, peak = self._redetector.search(frame, self._last_good_box, scale)
        if peak < self.p["redetect_min_ncc"]:
            return result
        # keep the last confident size: the template has the init size, the target may have changed
        cx, cy = box_center(box)
        _, _, w, h = self._last_good_box
        box = (cx - w / 2.0, cy - h / 2.0, w, h)
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
        header = item.header
        height, width = item.frame.shape[:2]
        x, y, w, h = (float(v) for v in result.box)
        u, v = box_center(result.box)

        pose = PoseStamped()
        pose.header = header
        camera = self._camera_info
        if camera is not None:
            ray = bearing_ray(u, v, camera.k, camera.d, camera.distortion_model or "plumb_bob")
            qx, qy, qz, qw = quaternion_from_z_to(ray)
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(c) for c in ray)
            pose.pose.orientation.x, pose.pose.orientation.y = qx, qy
            pose.pose.orientation.z, pose.pose.orientation.w = qz, qw
        else:
            pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = u, v, 0.0
            pose.pose.orientation.w = 1.0
        self.pub_pose.publish(pose)

        roi = RegionOfInterest()
        x0, y0 = min(max(int(math.floor(x)), 0), width), min(max(int(math.floor(y)), 0), height)
        x1, y1 = min(max(int(math.ceil(x + w)), x0), width), min(max(int(math.ceil(y + h)), y0), height)
        roi.x_offset, roi.y_offset, roi.width, roi.height = x0, y0, x1 - x0, y1 - y0
        self.pub_roi.publish(roi)

        polygon = PolygonStamped()
        polygon.header = header
        polygon.polygon.points = [Point32(x=px, y=py, z=0.0)
                                  for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
        self.pub_box.publish(polygon)

        if self.pub_detection is not None:
            self._publish_detection(header, (u, v, w, h), result.score)
        now_ns = self.get_clock().now().nanoseconds
        stamp_latency = (now_ns - item.stamp_ns) / 1e9 if item.stamp_ns > 0 else None
        self.status.latency((time.monotonic_ns() - item.received_ns) / 1e9, stamp_latency)

    def _publish_detection(self, header, centre_size, score: float) -> None:
        u, v, w, h = centre_size
        det = Detection2D()
        det.header = header
        det.id = str(self.p["tracker"])
        centre = det.bbox.center
        position = getattr(centre, "position", centre)
        position.x, position.y = u, v
        det.bbox.size_x, det.bbox.size_y = w, h
        hypothesis = ObjectHypothesisWithPose()
        target = getattr(hypothesis, "hypothesis", hypothesis)
        target.class_id = "target"
        target.score = float(score) if math.isfinite(score) else 1.0
        det.results.append(hypothesis)
        self.pub_detection.publish(det)

    def _publish_debug(self, item: BufferedFrame, result: TrackResult | None) -> None:
        if self.pub_debug is None or self.pub_debug.get_subscription_count() == 0:
            return
        import cv2

        frame = item.frame.copy()
        state = self.status.state
        if result is not None:
            x, y, w, h = result.box
            colour = (0, 255, 0) if state is TrackState.TRACKING else (255, 0, 0)
            cv2.rectangle(frame, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), colour, 2)
        text = state.value if result is None else f"{state.value} {result.score:.2f}"
        cv2.putText(frame, text, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 0), 1, cv2.LINE_AA)
        msg = rgb_to_image(frame, Image(), "rgb8")
        msg.header = item.header
        self.pub_debug.publish(msg)

    def _publish_status(self) -> None:
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        status = DiagnosticStatus()
        status.level = bytes([self.status.level()])
        status.name = f"{self.get_name()}: tracking"
        status.message = self.status.summary()
        status.hardware_id = str(self.p["tracker"])
        status.values = [KeyValue(key=k, value=v) for k, v in self.status.key_values()]
        status.values.append(KeyValue(key="model", value=self.model_description))
        array.status = [status]
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
