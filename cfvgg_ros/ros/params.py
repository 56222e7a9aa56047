"""The tracking node's ROS parameters: one table of :class:`ParamSpec`, declared, read and checked.

Each parameter is a small spec: name, default (whose Python type is the parameter's type),
description and its rule (a range ``low``..``high``, a set of ``choices``, finite, non-empty).
``config/track.yaml`` holds the same defaults. The node reads every parameter once, at
start-up (``read_only``): changing one later has no effect.

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

Value = bool | int | float | str

#: image subscription QoS choices (:func:`cfvgg_ros.ros.qos.image_qos`).
IMAGE_QOS_CHOICES = ("sensor_data", "reliable")
#: what the worker does with frames waiting for the tracker (:mod:`cfvgg_ros.ros.session`).
BACKLOG_POLICIES = ("drain", "latest")


class NodeStartupError(RuntimeError):
    """The node cannot start (bad parameter, tracker or model); the message says why."""


@dataclass(frozen=True)
class ParamSpec:
    """One node parameter: its type is ``type(default)`` (ints are accepted for floats).

    ``low`` / ``high``: inclusive bounds (``low_open``: ``low`` itself excluded); ``choices``:
    the allowed strings; ``finite``: no NaN or infinity; ``non_empty``: a string that must not be
    empty; ``rule``: how the rule is worded in an error (default: from the fields above);
    ``read_only``: read at start-up only.
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
    read_only: bool = True

    @property
    def type(self) -> type:
        return type(self.default)

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

    def descriptor(self):
        """The rcl_interfaces/ParameterDescriptor the node declares this parameter with."""
        from rcl_interfaces.msg import ParameterDescriptor

        return ParameterDescriptor(description=self.description, dynamic_typing=True,
                                   additional_constraints=self.rule_text())


#: Every node parameter, in declaration order (the defaults match config/track.yaml).
PARAMETERS: tuple[ParamSpec, ...] = (
    ParamSpec("tracker", "feco", "tracker name for create_tracker(), or a plug-in factory 'module:attr'"),
    ParamSpec("tracker_params", "{}", "tracker keyword parameters, a YAML/JSON mapping as a string; "
                                      "'{model_path}' inside string values becomes the model folder"),
    ParamSpec("model_path", "", "folder of model files; empty: models/ in the package share"),
    ParamSpec("warm_up", True, "init the tracker on a dummy frame at start-up and update it warm_up_updates "
                               "times (a corrupt model then fails at start-up, and numba compiles its kernels "
                               "before the first target instead of stalling a real frame)"),
    ParamSpec("warm_up_updates", 8, "updates in the warm-up; fECO first trains its filter on the 6th frame, "
                                    "which compiles the training kernels (about 1 s on a fresh install)"),
    ParamSpec("image_topic", topics.IMAGE, "sensor_msgs/Image input", non_empty=True, rule="a topic name"),
    ParamSpec("camera_info_topic", topics.CAMERA_INFO, "sensor_msgs/CameraInfo input; empty: none"),
    ParamSpec("init_bbox_topic", topics.INIT_BBOX, "sensor_msgs/RegionOfInterest init on the newest frame"),
    ParamSpec("init_bbox_stamped_topic", topics.INIT_BBOX_STAMPED,
              "geometry_msgs/PolygonStamped init on its stamped frame"),
    ParamSpec("init_detection_topic", topics.INIT_DETECTION,
              "vision_msgs/Detection2D init (when vision_msgs is installed)"),
    ParamSpec("image_qos", "sensor_data", "image subscription QoS: sensor_data (best effort) or reliable",
              choices=IMAGE_QOS_CHOICES),
    ParamSpec("buffer_seconds", 1.0, "how far back (header-stamp time) a stamped init may point", low=0),
    ParamSpec("buffer_max_frames", 90, "at most this many frames are buffered", low=1),
    ParamSpec("init_stamp_tolerance", 0.05, "a stamped init uses the buffered frame nearest its stamp "
                                            "within this (s)", low=0),
    ParamSpec("init_wait", 0.5, "an init for a frame not received yet (none yet, or a newer stamp) waits "
                                "this long (s)", low=0),
    ParamSpec("score_threshold", -1.0, "a frame scoring below this is a miss (the scale depends on the "
                                       "tracker); negative: the tracker's default (feco 0.15, eco-hc 0.10, "
                                       "others 0.5)", finite=True),
    ParamSpec("lost_frames", 3, "consecutive misses before LOST", low=1),
    ParamSpec("recover_frames", 2, "consecutive good frames before LOST returns to TRACKING", low=1),
    ParamSpec("redetect", True, "search for the lost target in a widened region"),
    ParamSpec("redetect_search_scale", 4.0, "re-detection window size as a multiple of the box", low=1),
    ParamSpec("redetect_min_ncc", 0.8, "template correlation needed to accept a re-detection", low=-1, high=1),
    ParamSpec("redetect_after", 10, "frames in LOST before the template search may re-initialise the tracker "
                                    "(the tracker's own model gets that long to recover)", low=0),
    ParamSpec("backlog_policy", "drain",
              "frames waiting for the tracker: drain = track every frame in order while the backlog stays "
              "within max_backlog frames and max_lag seconds, else skip to the newest (logged, counted in "
              "~/status frames_skipped); latest = track only the newest frame (keep-last-1) once an init's "
              "catch-up is done", choices=BACKLOG_POLICIES),
    ParamSpec("max_lag", 1.0, "drain: skip to the newest frame when the oldest waiting frame has waited longer "
                              "than this (s; frames received before an init finished count from then)", low=0),
    ParamSpec("max_backlog", 90, "drain: skip to the newest frame when more frames than this wait; with either "
                                 "policy at most this many frames wait for the worker (memory bound)", low=1),
    ParamSpec("cpu_core", -1, "pin the process to this CPU core; -1: keep the affinity", low=-1,
              rule=">= 0, or -1 for no pinning"),
    ParamSpec("publish_debug_image", False, "publish ~/debug_image (the frame with the box drawn)"),
    ParamSpec("status_period", 1.0, "publish ~/status at least this often (s)", low=0, low_open=True),
)

#: The specs by name.
SPECS: dict[str, ParamSpec] = {spec.name: spec for spec in PARAMETERS}


def defaults() -> dict[str, Value]:
    """Every parameter's default, by name."""
    return {spec.name: spec.default for spec in PARAMETERS}


def check_values(values: dict) -> dict[str, Value]:
    """Coerce ``values`` (name -> value, every parameter present) to the parameters' types and
    check their rules; returns the coerced values or raises :class:`NodeStartupError`."""
    checked = {spec.name: spec.coerce(values[spec.name]) for spec in PARAMETERS}
    for spec in PARAMETERS:
        if not spec.accepts(checked[spec.name]):
            raise NodeStartupError(f"bad parameter: {spec.name} must be {spec.rule_text()}, "
                                   f"got {checked[spec.name]!r}")
    return checked


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
