"""The tracking node's ROS parameters: one table of :class:`ParamSpec`, declared, read and checked.

Each parameter is a small spec: name, default (whose Python type is the parameter's type),
description and its rule (a range ``low``..``high``, a set of ``choices``, finite, non-empty).
``config/track.yaml`` holds the same defaults. Most parameters are read once, at start-up (the
lifecycle node: at ``configure``) and declared ``read_only``: ``ros2 param set`` refuses them.
The ones marked ``dynamic`` (LOST thresholds, re-detection, the debug image, ``max_lag``) may be
changed at run time: :func:`check_update` validates a change and a bad value is refused with a
one-line reason (``SetParametersResult.reason``), never applied.

The tracker's own settings are parameters too, generated from its config dataclass
(:mod:`.tracker_settings`: ``cfvgg.search_area_scale`` ...); ``tracker_params`` (a YAML mapping in
a string) and ``model_path`` (a folder) are deprecated aliases kept for old params files.

:func:`declare_and_read` declares the table on a node and returns the checked values;
:func:`check_values` does the same checks on plain values. A value of the wrong type or
outside its rule raises :class:`NodeStartupError` with a one-line reason (the node then exits
with code 2). Declarations use ``dynamic_typing`` so that a wrongly typed override reaches the
one-line check instead of failing inside rclpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from cfvgg_ros.ros import topics
from cfvgg_ros.ros.conversions import DEFAULT_MAX_PIXELS

Value = bool | int | float | str

#: image subscription QoS choices (:func:`cfvgg_ros.ros.qos.image_qos`): ``best_available`` matches
#: what the publishers offer (reliable when they all are, else best effort), re-resolved whenever
#: the publishers change.
IMAGE_QOS_CHOICES = ("best_available", "sensor_data", "reliable")
#: image transports: ``raw`` sensor_msgs/Image, ``compressed`` sensor_msgs/CompressedImage (jpeg / png)
#: on ``<image_topic>/compressed`` as image_transport's "compressed" plug-in publishes it.
IMAGE_TRANSPORTS = ("raw", "compressed")
#: what the worker does with frames waiting for the tracker (:mod:`cfvgg_ros.ros.session`).
BACKLOG_POLICIES = ("drain", "latest")
#: a ``tracker`` value naming a plug-in factory instead of a registered tracker contains this.
PLUGIN_SEPARATOR = ":"


class NodeStartupError(RuntimeError):
    """The node cannot start (bad parameter, tracker or model); the message says why."""


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its type is ``type(default)`` (ints are accepted for floats).

    ``low`` / ``high``: inclusive bounds (``low_open``: ``low`` itself excluded); ``choices``:
    the allowed strings; ``finite``: no NaN or infinity; ``non_empty``: a string that must not be
    empty; ``rule``: how the rule is worded in an error (default: from the fields above);
    ``dynamic``: may be changed at run time (else read-only after start); ``deprecated``: the
    replacement to name in a warning when the parameter is set.
    """

    name: str
    default: Value
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple[str, ...] = ()
    finite: bool = False
    non_empty: bool = False
    rule: str = ""
    dynamic: bool = False
    deprecated: str = ""

    @property
    def type(self) -> type:
        return type(self.default)

    @property
    def read_only(self) -> bool:
        return not self.dynamic

    def rule_text(self) -> str:
        """The rule a value must follow, as words ("" when any value of the type will do)."""
        if self.rule:
            return self.rule
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"<= {self.high:g}"
        if self.finite:
            return "finite"
        return ""

    def coerce(self, value) -> Value:
        """``value`` as this parameter's type (ints accepted for floats), else NodeStartupError."""
        kind = self.type
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        raise NodeStartupError(f"parameter {self.name!r} must be {kind.__name__} (default {self.default!r}), "
                               f"got {type(value).__name__} {value!r}")

    def accepts(self, value: Value) -> bool:
        """Whether a value of the right type follows the rule."""
        if self.choices and value not in self.choices:
            return False
        if self.non_empty and not value:
            return False
        if self.finite and not math.isfinite(value):
            return False
        if self.low is not None and not (value > self.low if self.low_open else value >= self.low):
            return False
        return self.high is None or value <= self.high

    def check(self, value) -> Value:
        """``value`` coerced and checked against the rule; NodeStartupError with a one-line reason."""
        value = self.coerce(value)
        if not self.accepts(value):
            raise NodeStartupError(f"bad parameter: {self.name} must be {self.rule_text()}, got {value!r}")
        return value

    def descriptor(self):
        """The rcl_interfaces/ParameterDescriptor the node declares this parameter with."""
        from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor

        description = self.description
        if self.deprecated:
            description = f"DEPRECATED ({self.deprecated}): {description}"
        if self.dynamic:
            description += " [changeable at run time]"
        descriptor = ParameterDescriptor(description=description, dynamic_typing=True,
                                         additional_constraints=self.rule_text(), read_only=self.read_only)
        if self.low is not None and self.high is not None and not self.low_open:
            if self.type is int:
                descriptor.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high), step=0)]
            elif self.type is float:
                descriptor.floating_point_range = [FloatingPointRange(from_value=float(self.low),
                                                                      to_value=float(self.high), step=0.0)]
        return descriptor


#: Every node parameter, in declaration order (the defaults match config/track.yaml).
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("tracker", "cfvgg", "tracker name for create_tracker() (cfvgg-bench --list); a plug-in factory "
                                 "'module:attr' only with allow_plugins", non_empty=True, rule="a tracker name"),
    ParamSpec("allow_plugins", False, "allow 'tracker' to name a plug-in factory 'module:attr', which imports and "
                                      "runs that module's code; off: registered trackers only"),
    ParamSpec("model", "", "ONNX CNN feature model (a file) of trackers that use one (cfvgg, feco, fkcf, "
                           "fdeepstrcf, ...); empty: the shipped student models/cfvgg_student.onnx"),
    ParamSpec("tracker_params", "{}", "tracker keywords as a YAML mapping in a string; set the typed "
                                      "'<tracker>.<setting>' parameters instead (plug-in factories and trackers "
                                      "without settings parameters still take their keywords here); "
                                      "'{model_path}' inside string values becomes model_path",
              deprecated="use the '<tracker>.<setting>' parameters"),
    ParamSpec("model_path", "", "a model file (read as 'model'), or the folder '{model_path}' in tracker_params "
                                "stands for", deprecated="use 'model'"),
    ParamSpec("autostart", False, "the lifecycle node configures and activates itself at start (so also after a "
                                  "respawn); off: a lifecycle manager drives it. The plain node always starts active"),
    ParamSpec("warm_up", True, "init the tracker on a dummy frame at start-up and update it warm_up_updates "
                               "times (a corrupt model then fails at start-up, and numba compiles its kernels "
                               "before the first target instead of stalling a real frame)"),
    ParamSpec("warm_up_updates", 8, "updates in the warm-up; fECO first trains its filter on the 6th frame, "
                                    "which compiles the training kernels (about 1 s on a fresh install)", low=0),
    ParamSpec("image_topic", topics.IMAGE, "sensor_msgs/Image input (with image_transport 'compressed': its "
                                           "'/compressed' sub-topic)", non_empty=True, rule="a topic name"),
    ParamSpec("image_transport", "raw", "raw: sensor_msgs/Image on image_topic; compressed: "
                                        "sensor_msgs/CompressedImage (jpeg, png) on <image_topic>/compressed",
              choices=IMAGE_TRANSPORTS),
    ParamSpec("camera_info_topic", topics.CAMERA_INFO, "sensor_msgs/CameraInfo input; empty: none"),
    ParamSpec("init_bbox_topic", topics.INIT_BBOX, "sensor_msgs/RegionOfInterest init on the newest frame"),
    ParamSpec("init_bbox_stamped_topic", topics.INIT_BBOX_STAMPED,
              "geometry_msgs/PolygonStamped init on its stamped frame"),
    ParamSpec("init_detection_topic", topics.INIT_DETECTION,
              "vision_msgs/Detection2D init (when vision_msgs is installed)"),
    ParamSpec("image_qos", "best_available",
              "image and camera_info subscription QoS: best_available = what the publishers offer (reliable when "
              "every publisher is, else best effort; re-resolved when publishers come and go), sensor_data "
              "(best effort), reliable (matches reliable publishers only)", choices=IMAGE_QOS_CHOICES),
    ParamSpec("max_image_pixels", DEFAULT_MAX_PIXELS, "images larger than this (width x height, from the header, "
                                                      "before anything is allocated or decoded) are rejected",
              low=1),
    ParamSpec("input_warn_after", 3.0, "a publisher matched this long without a frame arriving (or frames lost "
                                       "in transport) is reported in ~/status and the log with the likely fix (s)",
              low=0, low_open=True),
    ParamSpec("buffer_seconds", 1.0, "how far back (header-stamp time) a stamped init may point", low=0),
    ParamSpec("buffer_max_frames", 90, "at most this many frames are buffered", low=1),
    ParamSpec("init_stamp_tolerance", 0.05, "a stamped init uses the buffered frame nearest its stamp "
                                            "within this (s)", low=0),
    ParamSpec("init_wait", 0.5, "an init for a frame not received yet (none yet, or a newer stamp) waits "
                                "this long (s)", low=0),
    ParamSpec("score_threshold", -1.0, "a frame scoring below this is a miss (the scale depends on the "
                                       "tracker); negative: the tracker's default (cfvgg 0.10, feco 0.15, eco-hc 0.10, "
                                       "others 0.5)", finite=True, dynamic=True),
    ParamSpec("lost_frames", 3, "consecutive misses before LOST", low=1, dynamic=True),
    ParamSpec("recover_frames", 2, "consecutive good frames before LOST returns to TRACKING", low=1, dynamic=True),
    ParamSpec("redetect", True, "search for the lost target in a widened region (switched on at run time: "
                                "from the next init)", dynamic=True),
    ParamSpec("redetect_search_scale", 4.0, "re-detection window size as a multiple of the box", low=1,
              dynamic=True),
    ParamSpec("redetect_min_ncc", 0.8, "template correlation needed to accept a re-detection", low=-1, high=1,
              dynamic=True),
    ParamSpec("redetect_after", 10, "frames in LOST before the template search may re-initialise the tracker "
                                    "(the tracker's own model gets that long to recover)", low=0, dynamic=True),
    ParamSpec("backlog_policy", "drain",
              "frames waiting for the tracker: drain = track every frame in order while the backlog stays "
              "within max_backlog frames and max_lag seconds, else skip to the newest (logged, counted in "
              "~/status frames_skipped); latest = track only the newest frame (keep-last-1) once an init's "
              "catch-up is done", choices=BACKLOG_POLICIES),
    ParamSpec("max_lag", 1.0, "drain: skip to the newest frame when the oldest waiting frame has waited longer "
                              "than this (s; frames received before an init finished count from then)", low=0,
              dynamic=True),
    ParamSpec("max_backlog", 90, "drain: skip to the newest frame when more frames than this wait; with either "
                                 "policy at most this many frames wait for the worker (memory bound)", low=1),
    ParamSpec("heap_trim_period", 10.0, "hand freed heap memory back to the system (glibc malloc_trim) at most "
                                         "this often, when no frame waits for the worker (s); 0: never (RSS "
                                         "then keeps the high-water mark of the largest frame backlog)", low=0,
              finite=True),
    ParamSpec("cpu_core", -1, "pin the process to this CPU core; -1: keep the affinity", low=-1,
              rule=">= 0, or -1 for no pinning"),
    ParamSpec("publish_debug_image", False, "publish ~/debug_image (the frame with the box drawn)", dynamic=True),
    ParamSpec("status_period", 1.0, "publish ~/status at least this often (s)", low=0, low_open=True),
)

#: The specs by name.
SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}
#: The parameters that may change at run time.
DYNAMIC: frozenset[str] = frozenset(spec.name for spec in PARAMETERS if spec.dynamic)


def default_tracker() -> str:
    """The node's default tracker (the ``tracker`` parameter's default)."""
    return str(SPECS["tracker"].default)


def defaults() -> dict[str, Value]:
    """Every parameter's default, by name."""
    return {spec.name: spec.default for spec in PARAMETERS}


def check_values(values: dict) -> dict[str, Value]:
    """Coerce ``values`` (name -> value, every parameter present) to the parameters' types and
    check their rules; returns the coerced values or raises :class:`NodeStartupError`."""
    checked = {spec.name: spec.coerce(values[spec.name]) for spec in PARAMETERS}
    for spec in PARAMETERS:
        spec.check(checked[spec.name])
    if PLUGIN_SEPARATOR in checked["tracker"] and not checked["allow_plugins"]:
        raise NodeStartupError(
            f"tracker {checked['tracker']!r} names a plug-in factory (module:attr), which imports and runs code: "
            "set allow_plugins:=true to allow it (a read-only parameter, off by default)")
    return checked


def check_update(name: str, value) -> Value:
    """A run-time change of parameter ``name``: the coerced value, or :class:`NodeStartupError`
    with the one-line reason it is refused (read-only parameters are refused by rclpy itself)."""
    spec = SPECS.get(name)
    if spec is None:
        raise NodeStartupError(f"unknown parameter {name!r}")
    if not spec.dynamic:
        raise NodeStartupError(f"parameter {name!r} is read-only after start")
    return spec.check(value)


def declare_and_read(node) -> dict[str, Value]:
    """Declare every parameter on ``node`` (an rclpy Node) and return the checked values."""
    values = {}
    for spec in PARAMETERS:
        try:
            node.declare_parameter(spec.name, spec.default, spec.descriptor())
            values[spec.name] = spec.coerce(node.get_parameter(spec.name).value)
        except NodeStartupError:
            raise
        except Exception as exc:  # e.g. an unreadable override
            raise NodeStartupError(f"parameter {spec.name!r}: {type(exc).__name__}: {exc}") from exc
    return check_values(values)


def deprecation_warnings(values: dict) -> list[str]:
    """One warning per deprecated parameter that is set (not its default)."""
    return [f"parameter {spec.name!r} is deprecated: {spec.deprecated}"
            for spec in PARAMETERS if spec.deprecated and values.get(spec.name, spec.default) not in (spec.default, "")]


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
