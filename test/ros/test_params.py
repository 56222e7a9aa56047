"""The node's parameter table: defaults, types, rules and their one-line errors, declaration on a
node (a stand-in here; the real node is tested over DDS) and the tracker_params string."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")

from cfvgg_ros.ros import topics  # noqa: E402
from cfvgg_ros.ros.params import (  # noqa: E402
    DYNAMIC,
    PARAMETERS,
    SPECS,
    NodeStartupError,
    ParamSpec,
    check_update,
    check_values,
    declare_and_read,
    default_tracker,
    defaults,
    deprecation_warnings,
    parse_tracker_params,
)


def test_table_names_are_unique_and_defaults_pass_their_own_checks():
    names = [spec.name for spec in PARAMETERS]
    assert len(names) == len(set(names)) == len(SPECS)
    assert check_values(defaults()) == defaults()
    assert all(type(spec.default) in (bool, int, float, str) for spec in PARAMETERS)
    assert all(spec.description for spec in PARAMETERS)
    # only the safe ones change at run time: thresholds, re-detection, the debug image, max_lag
    assert DYNAMIC == {"score_threshold", "lost_frames", "recover_frames", "redetect", "redetect_search_scale",
                       "redetect_min_ncc", "redetect_after", "max_lag", "publish_debug_image"}


def test_topic_defaults_come_from_the_topic_table():
    assert SPECS["image_topic"].default == topics.IMAGE == "image"
    assert SPECS["camera_info_topic"].default == topics.CAMERA_INFO == "camera_info"
    assert SPECS["init_bbox_topic"].default == topics.INIT_BBOX == "/init_bbox"
    assert SPECS["init_bbox_stamped_topic"].default == topics.INIT_BBOX_STAMPED == "/init_bbox_stamped"
    assert SPECS["init_detection_topic"].default == topics.INIT_DETECTION == "/init_detection"


@pytest.mark.parametrize("name, value, message", [
    ("image_qos", "fastest",
     "bad parameter: image_qos must be one of best_available, sensor_data, reliable, got 'fastest'"),
    ("image_transport", "theora", "bad parameter: image_transport must be one of raw, compressed, got 'theora'"),
    ("max_image_pixels", 0, "bad parameter: max_image_pixels must be >= 1, got 0"),
    ("input_warn_after", 0.0, "bad parameter: input_warn_after must be > 0, got 0.0"),
    ("tracker", "", "bad parameter: tracker must be a tracker name, got ''"),
    ("tracker", "conftest:SlowTracker", "tracker 'conftest:SlowTracker' names a plug-in factory (module:attr), "
                                        "which imports and runs code: set allow_plugins:=true to allow it "
                                        "(a read-only parameter, off by default)"),
    ("buffer_seconds", -0.5, "bad parameter: buffer_seconds must be >= 0, got -0.5"),
    ("buffer_max_frames", 0, "bad parameter: buffer_max_frames must be >= 1, got 0"),
    ("init_stamp_tolerance", -1.0, "bad parameter: init_stamp_tolerance must be >= 0, got -1.0"),
    ("init_wait", -0.1, "bad parameter: init_wait must be >= 0, got -0.1"),
    ("score_threshold", math.nan, "bad parameter: score_threshold must be finite, got nan"),
    ("score_threshold", math.inf, "bad parameter: score_threshold must be finite, got inf"),
    ("lost_frames", 0, "bad parameter: lost_frames must be >= 1, got 0"),
    ("recover_frames", 0, "bad parameter: recover_frames must be >= 1, got 0"),
    ("redetect_search_scale", 0.5, "bad parameter: redetect_search_scale must be >= 1, got 0.5"),
    ("redetect_min_ncc", 1.5, "bad parameter: redetect_min_ncc must be in [-1, 1], got 1.5"),
    ("redetect_min_ncc", -1.5, "bad parameter: redetect_min_ncc must be in [-1, 1], got -1.5"),
    ("redetect_after", -1, "bad parameter: redetect_after must be >= 0, got -1"),
    ("status_period", 0.0, "bad parameter: status_period must be > 0, got 0.0"),
    ("cpu_core", -2, "bad parameter: cpu_core must be >= 0, or -1 for no pinning, got -2"),
    ("image_topic", "", "bad parameter: image_topic must be a topic name, got ''"),
    ("backlog_policy", "fifo", "bad parameter: backlog_policy must be one of drain, latest, got 'fifo'"),
    ("max_lag", -0.1, "bad parameter: max_lag must be >= 0, got -0.1"),
    ("max_backlog", 0, "bad parameter: max_backlog must be >= 1, got 0"),
])
def test_rule_violations_are_one_line_errors(name, value, message):
    with pytest.raises(NodeStartupError) as info:
        check_values({**defaults(), name: value})
    assert str(info.value) == message


@pytest.mark.parametrize("name, value", [
    ("redetect_min_ncc", -1.0), ("redetect_min_ncc", 1.0), ("cpu_core", -1), ("cpu_core", 3),
    ("buffer_seconds", 0.0), ("redetect_search_scale", 1.0), ("score_threshold", -1.0),
    ("camera_info_topic", ""), ("model_path", ""), ("tracker_params", ""), ("status_period", 1e-3),
])
def test_values_at_the_edges_of_their_rules_pass(name, value):
    assert check_values({**defaults(), name: value})[name] == value


def test_types_follow_the_defaults():
    values = check_values({**defaults(), "buffer_seconds": 2, "score_threshold": 0})
    assert values["buffer_seconds"] == 2.0 and type(values["buffer_seconds"]) is float
    assert type(values["score_threshold"]) is float
    with pytest.raises(NodeStartupError, match="parameter 'lost_frames' must be int .default 3., got str 'three'"):
        check_values({**defaults(), "lost_frames": "three"})
    with pytest.raises(NodeStartupError, match="parameter 'lost_frames' must be int"):
        check_values({**defaults(), "lost_frames": True})  # a bool is no int here
    with pytest.raises(NodeStartupError, match="parameter 'buffer_seconds' must be float"):
        check_values({**defaults(), "buffer_seconds": "1.0"})
    with pytest.raises(NodeStartupError, match="parameter 'redetect' must be bool"):
        check_values({**defaults(), "redetect": 1})


def test_spec_rule_text():
    assert ParamSpec("a", 1.0, "x", low=0, high=2).rule_text() == "in [0, 2]"
    assert ParamSpec("a", 1.0, "x", low=0, high=2, low_open=True).rule_text() == "in (0, 2]"
    assert ParamSpec("a", 1, "x", high=5).rule_text() == "<= 5"
    assert ParamSpec("a", "s", "x").rule_text() == ""
    assert not ParamSpec("a", 1, "x", high=5).accepts(6)


class _FakeNode:
    """The two Node methods the declaration uses; ``overrides`` play the params file."""

    def __init__(self, overrides=None, fail=None) -> None:
        self.overrides, self.fail, self.declared = dict(overrides or {}), fail, {}

    def declare_parameter(self, name, default, descriptor):
        if name == self.fail:
            raise RuntimeError("unreadable override")
        self.declared[name] = descriptor
        return None

    def get_parameter(self, name):
        spec = SPECS[name]
        return type("P", (), {"value": self.overrides.get(name, spec.default)})()


def test_declare_and_read_declares_every_parameter_with_its_description():
    node = _FakeNode({"tracker": "eco-hc", "lost_frames": 5, "redetect_search_scale": 3})
    values = declare_and_read(node)
    assert list(node.declared) == [spec.name for spec in PARAMETERS]
    assert values["tracker"] == "eco-hc" and values["lost_frames"] == 5 and values["redetect_search_scale"] == 3.0
    descriptor = node.declared["redetect_min_ncc"]
    assert descriptor.description == SPECS["redetect_min_ncc"].description + " [changeable at run time]"
    assert descriptor.dynamic_typing and descriptor.additional_constraints == "in [-1, 1]"
    assert not descriptor.read_only and descriptor.floating_point_range[0].from_value == -1.0
    tracker = node.declared["tracker"]
    assert tracker.read_only and tracker.description == SPECS["tracker"].description
    assert node.declared["tracker_params"].description.startswith("DEPRECATED (use the '<tracker>.<setting>'")


def test_declare_and_read_errors():
    with pytest.raises(NodeStartupError, match="parameter 'warm_up_updates' must be int"):
        declare_and_read(_FakeNode({"warm_up_updates": 2.5}))
    with pytest.raises(NodeStartupError, match="parameter 'init_wait': RuntimeError: unreadable override"):
        declare_and_read(_FakeNode(fail="init_wait"))
    with pytest.raises(NodeStartupError, match="bad parameter: lost_frames must be >= 1, got 0"):
        declare_and_read(_FakeNode({"lost_frames": 0}))


def test_parse_tracker_params(tmp_path):
    models = Path("/opt/models")
    assert parse_tracker_params("", models) == {} == parse_tracker_params("  ", models)
    assert parse_tracker_params("null", models) == {}
    parsed = parse_tracker_params('{"model_path": "{model_path}/a.onnx", "n": 3, '
                                  '"features": [{"path": "{model_path}/b.onnx"}], "names": ["{model_path}"]}', models)
    assert parsed == {"model_path": "/opt/models/a.onnx", "n": 3, "features": [{"path": "/opt/models/b.onnx"}],
                      "names": ["/opt/models"]}
    assert parse_tracker_params("search_area_scale: 4.5", models) == {"search_area_scale": 4.5}
    with pytest.raises(NodeStartupError, match="not valid YAML/JSON"):
        parse_tracker_params("{a: [", models)
    with pytest.raises(NodeStartupError, match="must be a mapping, got list"):
        parse_tracker_params("[1, 2]", models)


def test_plugins_are_opt_in():
    assert SPECS["allow_plugins"].default is False and SPECS["allow_plugins"].read_only
    values = check_values({**defaults(), "tracker": "conftest:SlowTracker", "allow_plugins": True})
    assert values["tracker"] == "conftest:SlowTracker"


def test_run_time_updates_are_checked():
    assert check_update("score_threshold", 0) == 0.0
    assert check_update("redetect", False) is False
    with pytest.raises(NodeStartupError, match="bad parameter: lost_frames must be >= 1, got 0"):
        check_update("lost_frames", 0)
    with pytest.raises(NodeStartupError, match="parameter 'redetect_min_ncc' must be float"):
        check_update("redetect_min_ncc", "high")
    with pytest.raises(NodeStartupError, match="parameter 'tracker' is read-only after start"):
        check_update("tracker", "eco-hc")


def test_deprecated_parameters_warn_only_when_set():
    assert deprecation_warnings(defaults()) == []
    warnings = deprecation_warnings({**defaults(), "tracker_params": "{a: 1}", "model_path": "/m"})
    assert warnings == ["parameter 'tracker_params' is deprecated: use the '<tracker>.<setting>' parameters",
                        "parameter 'model_path' is deprecated: use 'model'"]


def test_default_tracker_comes_from_the_table():
    assert default_tracker() == SPECS["tracker"].default
