"""The tracker's own settings as typed, described ROS parameters, generated from its config dataclass.

A registered tracker with a config dataclass (:class:`~cfvgg_ros.trackers.eco.config.ECOConfig`,
:class:`~cfvgg_ros.trackers.kcf.KCFConfig`, :class:`~cfvgg_ros.trackers.strcf.STRCFConfig`) gets one
node parameter per scalar field, named ``<tracker>.<field>`` (``-`` in the tracker's name becomes
``_``: ``eco_hc.search_area_scale``), so ``ros2 param list / describe / get`` show them and a params
file sets them as a nested mapping (``feco: {search_area_scale: 5.0}``):

* type: from the field's annotation (bool, int -> integer, float -> double, str -> string,
  ``tuple[str, ...]`` -> string array); a field whose default is None (``X | None``: "the tracker
  picks") is declared with its type and no value -- leave it unset for the tracker's choice;
* default: the tracker's own default (its base config, e.g. :meth:`ECOConfig.feco`);
* description: the config's own words -- the comment on or above the field, else the docstring
  sentence naming it;
* rule: :data:`RULES`, the ranges and choices the config's ``__post_init__`` enforces (a test
  checks each against the config: values inside pass its validation, values outside fail); the
  config's validation itself runs on every value at start-up, so a combination it refuses
  (``min > max``) stops the node with its one-line reason too.

Fields that are not plain values (ECO's ``features``, a scale-filter config object, STRCF's
``reg_window_downsample``), ``model_path`` (the node's ``model`` parameter) and ``profile``
(instrumentation) are not parameters. Every tracker setting is read-only after start: the tracker
is built once, with them. :data:`BASE_CONFIGS` maps each registered tracker to its base config;
``test/ros/test_tracker_settings.py`` checks it against the registry (a tracker built with no
keywords has exactly that config), so a new tracker with a config shows up there.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import math
import re
import textwrap
import types
import typing
from dataclasses import dataclass

from cfvgg_ros.ros.params import NodeStartupError

#: registered tracker -> (config class "module:attr", base keyword source): the base config is
#: ``cls(**kwargs)`` where kwargs come from a dict, a "module:attr" dict, or a classmethod name.
BASE_CONFIGS: dict[str, tuple[str, object]] = {
    "feco": ("cfvgg_ros.trackers.eco.config:ECOConfig", "feco"),
    "cfvgg": ("cfvgg_ros.trackers.eco.config:ECOConfig", "cfvgg"),
    "eco-hc": ("cfvgg_ros.trackers.eco.config:ECOConfig", "eco_hc"),
    "kcf": ("cfvgg_ros.trackers.kcf:KCFConfig", {"feature": "hog"}),
    "fkcf": ("cfvgg_ros.trackers.kcf:KCFConfig", {}),
    "strcf": ("cfvgg_ros.trackers.strcf:STRCFConfig", {}),
    "fdeepstrcf": ("cfvgg_ros.trackers.strcf:STRCFConfig", "module:FDEEPSTRCF_DEFAULTS"),
}

#: fields never made parameters (see the module docstring).
SKIPPED_FIELDS = frozenset({"model_path", "profile"})

_FEATURE_NAMES = ("hog", "colour", "grey", "cnn:low", "cnn:mid", "cnn:high")


@dataclass(frozen=True)
class Rule:
    """A value rule: bounds (``*_open``: the bound itself excluded) or choices; ``text``: words for
    a rule the fields cannot say (e.g. "0 (off) or > 1")."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    text: str = ""

    def words(self) -> str:
        if self.text:
            return self.text
        if self.choices:
            names = [str(c) for c in self.choices]
            return f"one of {', '.join(names)}" if len(names) > 1 else f"{self.choices[0]!r}"
        if self.low is not None and self.high is not None:
            return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return ""

    def accepts(self, value) -> bool:
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if self.choices and v not in self.choices:
                return False
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if not math.isfinite(v):
                    return False
                if self.low is not None and not (v > self.low if self.low_open else v >= self.low):
                    return False
                if self.high is not None and not (v < self.high if self.high_open else v <= self.high):
                    return False
        return True


def _positive() -> Rule:
    return Rule(low=0, low_open=True)


#: config class name -> field -> rule, as each config's ``__post_init__`` validates it.
RULES: dict[str, dict[str, Rule]] = {
    "ECOConfig": {
        "search_area_shape": Rule(choices=("square", "proportional")),
        "sample_merge_type": Rule(choices=("merge", "replace")),
        "distance_matrix_update_type": Rule(choices=("exact",)),
        "sample_replace_strategy": Rule(choices=("lowest_prior",)),
        "proj_init_method": Rule(choices=("pca",)),
        "learning_rate": Rule(low=0, high=1, low_open=True, high_open=True),
        "nSamples": Rule(low=1),
        "number_of_scales": Rule(low=1),
        "CG_iter": Rule(low=0),
        "train_gap": Rule(low=0),
        "min_image_sample_size": Rule(low=0, low_open=True, text="> 0 and <= max_image_sample_size"),
        "max_image_sample_size": Rule(low=0, low_open=True, text=">= min_image_sample_size"),
        "adaptation_iterations": Rule(low=1),
        "adaptation_samples": Rule(low=1),
        "update_gate": Rule(low=0, high=1, high_open=True),
        "gate_rate": Rule(low=0, high=1, low_open=True),
        "redetect_after": Rule(low=1),
        "redetect_candidates": Rule(low=0, high=8),
        "redetect_radius": _positive(),
        "motion_prediction": Rule(low=0, high=1),
        "max_scale_change": Rule(low=0, text="0 (off) or > 1"),
        "scale_gain": Rule(low=0.5, high=2),
        "colour_contrast_ref": Rule(low=0, text=">= 0 (0: off)"),
        "scale_step": Rule(low=1, low_open=True),
        "colour_merge": Rule(low=0, high=1, high_open=True),
        "colour_learning_rate": Rule(low=0, high=1, low_open=True),
        "colour_bins": Rule(choices=(8, 16, 32, 64, 128, 256)),
        "colour_merge_max": Rule(low=0, high=1, high_open=True, text="0 (off) or in [colour_merge, 1)"),
        "colour_box_rate": Rule(low=0, high=1, text="0 (off), or in (0, 1] with colour_merge > 0"),
        "colour_scale_rate": Rule(low=0, high=1, text="0 (off), or in (0, 1] with colour_merge > 0"),
        "colour_box_step": Rule(low=1, low_open=True),
        "colour_box_threshold": Rule(low=0, high=1, high_open=True),
        "aspect_limit": Rule(low=1),
        "aspect_every": Rule(low=1),
        "scale_every": Rule(low=1),
        "rotation_step": Rule(low=0),
        "rotation_trigger": Rule(low=0, high=1, low_open=True),
        "max_rotation": Rule(low=0),
        "rotation_margin": Rule(low=0),
        "rotation_reach": Rule(low=0),
        "rotation_box": Rule(choices=("rectangle", "ellipse", "upright")),
        "rotation_searches": Rule(choices=(1, 2)),
        "rotation_preselect_margin": Rule(low=0),
        "patch_sampler": Rule(choices=("crop", "warp")),
        "response_consistency": Rule(low=0),
    },
    "KCFConfig": {
        "feature": Rule(choices=("hog", "cnn:low", "cnn:mid", "cnn:high")),
        "padding": _positive(),
        "regularization": _positive(),
        "output_sigma_factor": _positive(),
        "kernel_sigma": _positive(),
        "cell_size": Rule(low=1),
        "interp_factor": Rule(low=0, high=1, low_open=True),
        "min_sample_area": Rule(low=0, low_open=True, text="> 0 and <= max_sample_area"),
        "max_sample_area": Rule(low=0, low_open=True, text=">= min_sample_area"),
        "adaptation_iterations": Rule(low=0),
        "adaptation_samples": Rule(low=1),
    },
    "STRCFConfig": {
        "features": Rule(choices=_FEATURE_NAMES, text=f"names from {', '.join(_FEATURE_NAMES)}"),
        **{name: _positive() for name in ("search_area_scale", "reg_window_max", "reg_window_min",
                                          "output_sigma_factor", "init_penalty", "max_penalty",
                                          "penalty_scale_step", "scale_step")},
        "min_image_sample_size": Rule(low=0, low_open=True, text="> 0 and <= max_image_sample_size"),
        "max_image_sample_size": Rule(low=0, low_open=True, text=">= min_image_sample_size"),
        "temporal_regularization": Rule(low=0),
        "admm_iterations": Rule(low=1),
        "number_of_scales": Rule(low=1),
        "newton_iterations": Rule(low=0),
        "adaptation_iterations": Rule(low=0),
        "adaptation_samples": Rule(low=1),
    },
}

#: Python type -> ROS parameter type name (as ``ros2 param describe`` prints it)
_TYPE_NAMES = {bool: "bool", int: "integer", float: "double", str: "string", tuple: "string array"}


@dataclass(frozen=True)
class TrackerSetting:
    """One tracker setting as a node parameter."""

    field: str  # the config field (the tracker keyword)
    param: str  # the node parameter, ``<prefix>.<field>``
    type: type  # bool, int, float, str, or tuple (of str)
    default: object  # None: unset, the tracker picks
    description: str
    rule: Rule

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self.type]

    def coerce(self, value):
        """``value`` as this setting's type (ints accepted for doubles, lists for string arrays)."""
        kind = self.type
        if kind is tuple:
            if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
                return tuple(value)
        elif isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        elif kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        raise NodeStartupError(f"parameter {self.param!r} must be {self.type_name}, "
                               f"got {type(value).__name__} {value!r}")

    def check(self, value):
        value = self.coerce(value)
        if not self.rule.accepts(value):
            raise NodeStartupError(f"bad parameter: {self.param} must be {self.rule.words()}, got {value!r}")
        return value

    def descriptor(self):
        """The rcl_interfaces/ParameterDescriptor (read-only, typed, range where closed)."""
        from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
        from rclpy.parameter import Parameter

        ros_type = {bool: Parameter.Type.BOOL, int: Parameter.Type.INTEGER, float: Parameter.Type.DOUBLE,
                    str: Parameter.Type.STRING, tuple: Parameter.Type.STRING_ARRAY}[self.type]
        unset = " Unset: the tracker's own choice." if self.default is None else ""
        descriptor = ParameterDescriptor(description=self.description + unset, read_only=True,
                                         type=ros_type.value, additional_constraints=self.rule.words())
        rule = self.rule
        if rule.low is not None and rule.high is not None:
            if self.type is int:
                descriptor.integer_range = [IntegerRange(from_value=int(math.ceil(rule.low)),
                                                         to_value=int(math.floor(rule.high)), step=0)]
            elif self.type is float:
                descriptor.floating_point_range = [FloatingPointRange(from_value=float(rule.low),
                                                                      to_value=float(rule.high), step=0.0)]
        return descriptor


def param_prefix(tracker: str) -> str:
    """The parameter namespace of ``tracker``'s settings (``eco-hc`` -> ``eco_hc``)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", tracker)


def _import(path: str):
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def base_config(tracker: str):
    """``tracker``'s config with its defaults (None for a tracker without a settings table)."""
    entry = BASE_CONFIGS.get(tracker)
    if entry is None:
        return None
    cls_path, source = entry
    cls = _import(cls_path)
    if isinstance(source, dict):
        return cls(**source)
    if source.startswith("module:"):
        return cls(**getattr(importlib.import_module(cls_path.partition(":")[0]), source.split(":", 1)[1]))
    return getattr(cls, source)()


def _value_type(hint) -> tuple[type | None, bool]:
    """(bool / int / float / str / tuple, optional) of a field annotation; (None, _) when unsupported."""
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        if len(args) != 1:
            return None, optional
        hint = args[0]
    if hint in (bool, int, float, str):
        return hint, optional
    if typing.get_origin(hint) is tuple and typing.get_args(hint) in ((str, Ellipsis),):
        return tuple, optional
    return None, optional


def _comment(line: str) -> str:
    """The ``#`` comment of a source line ("" when none; '#' inside strings is not expected here)."""
    code, sep, text = line.partition("#")
    return text.strip() if sep else ""


def field_docs(cls) -> dict[str, str]:
    """Each field's words from the class source: its inline comment, else the comment block above
    it or above its group of fields, else the docstring paragraph or bullet naming it."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    classdef = ast.parse(source).body[0]
    docstring = ast.get_docstring(classdef) or ""
    chunks = [re.sub(r"\s+", " ", c).strip() for c in re.split(r"\n\s*\n|\n\s*- ", docstring)]
    field_lines = {n.lineno - 1 for n in classdef.body if isinstance(n, ast.AnnAssign)}
    docs = {}
    for node in classdef.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        text = _comment(lines[node.lineno - 1])
        row = node.lineno - 2
        block: list[str] = []
        while row >= 0 and (row in field_lines or lines[row].strip().startswith("#")):
            if lines[row].strip().startswith("#"):
                block.insert(0, lines[row].strip().lstrip("#").strip())
            elif block:
                break
            row -= 1
        group = " ".join(block)
        words = "; ".join(t for t in (group, text) if t)
        if not words:
            mention = re.compile(rf"``[^`]*\b{re.escape(name)}\b[^`]*``")
            sentences = [s for c in chunks for s in re.split(r"(?<=[.;])\s+(?=[A-Z`(])", c)]
            words = " ".join(s for s in sentences if mention.search(s))
        docs[name] = words.replace("``", "'")
    return docs


def settings_for(tracker: str) -> list[TrackerSetting]:
    """``tracker``'s settings as parameters ([] for trackers without a settings table)."""
    config = base_config(tracker)
    if config is None:
        return []
    cls = type(config)
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rules = RULES.get(cls.__name__, {})
    prefix = param_prefix(tracker)
    settings = []
    for field in dataclasses.fields(cls):
        if not field.init or field.name in SKIPPED_FIELDS:
            continue
        kind, optional = _value_type(hints[field.name])
        if kind is None:
            continue
        default = getattr(config, field.name)
        if default is None and not optional:
            continue
        if kind is tuple and default is not None:
            default = tuple(default)
        words = docs.get(field.name) or f"see {cls.__module__}.{cls.__name__}"
        settings.append(TrackerSetting(field.name, f"{prefix}.{field.name}", kind, default,
                                       f"{cls.__name__}.{field.name}: {words}", rules.get(field.name, Rule())))
    return settings


def check_settings(tracker: str, values: dict) -> dict:
    """The keywords to create ``tracker`` with: the settings in ``values`` (field -> value; None =
    unset) that differ from its defaults, checked by their rules and by the config's own
    validation; :class:`NodeStartupError` with a one-line reason otherwise."""
    settings = {s.field: s for s in settings_for(tracker)}
    overrides = {}
    for name, value in values.items():
        setting = settings.get(name)
        if setting is None:
            raise NodeStartupError(f"tracker {tracker!r} has no setting {name!r}")
        if value is None:
            continue
        value = setting.check(value)
        if value != setting.default:
            overrides[name] = value
    config = base_config(tracker)
    if config is None:
        return overrides
    try:
        dataclasses.replace(config, **overrides)
    except (ValueError, TypeError) as exc:
        names = ", ".join(f"{param_prefix(tracker)}.{k}" for k in overrides) or "defaults"
        raise NodeStartupError(f"bad tracker settings ({names}): {exc}") from exc
    return overrides


def declare_settings(node, tracker: str) -> dict:
    """Declare ``tracker``'s settings on ``node`` (an rclpy Node) and return the checked keywords
    that differ from the defaults (:func:`check_settings`). A params-file integer for a double
    setting is taken as that number."""
    from rclpy.parameter import Parameter

    values = {}
    overrides = getattr(node, "_parameter_overrides", {})
    for setting in settings_for(tracker):
        given = overrides.get(setting.param)
        if given is not None and setting.type is float and given.type_ == Parameter.Type.INTEGER:
            overrides[setting.param] = Parameter(setting.param, Parameter.Type.DOUBLE, float(given.value))
        default = setting.default
        try:
            if default is None:
                node.declare_parameter(setting.param, Parameter.Type(setting.descriptor().type), setting.descriptor())
            else:
                node.declare_parameter(setting.param, list(default) if isinstance(default, tuple) else default,
                                       setting.descriptor())
            parameter = node.get_parameter_or(setting.param, None)
            value = None if parameter is None or parameter.type_ == Parameter.Type.NOT_SET else parameter.value
        except Exception as exc:  # a wrongly typed or out-of-range override: say so in the table's words
            given = overrides.get(setting.param)
            if given is not None:
                setting.check(given.value)
            raise NodeStartupError(f"parameter {setting.param!r}: {type(exc).__name__}: {exc}") from exc
        values[setting.field] = value
    return check_settings(tracker, values)


def describe(setting: TrackerSetting) -> str:
    """``ros2 param describe``-style text of one setting."""
    lines = [f"Parameter name: {setting.param}", f"  Type: {setting.type_name}",
             f"  Description: {setting.description}", "  Constraints:", "    Read only: true"]
    if setting.rule.words():
        lines.append(f"    Additional constraints: {setting.rule.words()}")
    return "\n".join(lines)
