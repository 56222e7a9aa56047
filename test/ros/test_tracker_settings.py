"""The tracker's settings as node parameters, generated from its config dataclass: every registered
tracker with a config is in the table and its base config is the one it builds with; types,
defaults and descriptions come from the dataclass; each declared rule matches the config's own
validation (inside passes, outside fails); start-up checks give one-line reasons."""

from __future__ import annotations

import dataclasses
import math

import pytest

pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")

from cfvgg_ros.core import available_trackers, create_tracker, tracker_info  # noqa: E402
from cfvgg_ros.models.store import default_model_path  # noqa: E402
from cfvgg_ros.ros.params import NodeStartupError, default_tracker  # noqa: E402
from cfvgg_ros.ros.tracker_settings import (  # noqa: E402
    BASE_CONFIGS,
    RULES,
    base_config,
    check_settings,
    param_prefix,
    settings_for,
)


def test_every_registered_tracker_with_a_config_has_its_settings():
    for name in available_trackers():
        if name in BASE_CONFIGS:
            continue
        try:
            tracker = create_tracker(name)
        except Exception:  # noqa: BLE001 - e.g. peer models not present: it has no config either way
            continue
        config = getattr(tracker, "config", None)
        assert not dataclasses.is_dataclass(config), f"{name} has a config dataclass: add it to BASE_CONFIGS"
    assert default_tracker() in BASE_CONFIGS


@pytest.mark.parametrize("name", sorted(BASE_CONFIGS))
def test_base_config_is_what_the_tracker_builds_with(name):
    assert name in available_trackers()
    tracker = create_tracker(name)
    assert tracker.config == base_config(name)
    settings = settings_for(name)
    assert settings and all(s.param.startswith(param_prefix(name) + ".") for s in settings)
    for setting in settings:
        default = getattr(base_config(name), setting.field)
        assert setting.default == (tuple(default) if isinstance(default, (list, tuple)) else default)
        assert setting.description.startswith(f"{type(base_config(name)).__name__}.{setting.field}: ")
        assert len(setting.description) > len(f"{type(base_config(name)).__name__}.{setting.field}: ") + 3
    # the model file is the node's 'model' parameter (for every tracker that loads the CNN student)
    assert "model_path" not in {s.field for s in settings}
    if tracker_info(name).cnn_model:
        assert create_tracker(name, model_path=str(default_model_path())).config is not None


def test_types_come_from_the_annotations():
    feco = {s.field: s for s in settings_for("feco")}
    assert feco["search_area_scale"].type_name == "double" and feco["nSamples"].type_name == "integer"
    assert feco["use_scale_filter"].type_name == "bool" and feco["search_area_shape"].type_name == "string"
    assert "features" not in feco and "scale_filter_config" not in feco and "profile" not in feco
    kcf = {s.field: s for s in settings_for("kcf")}
    assert kcf["feature"].default == "hog" and kcf["interp_factor"].default is None  # unset: the tracker picks
    strcf = {s.field: s for s in settings_for("fdeepstrcf")}
    assert strcf["features"].type_name == "string array" and "cnn:high" in strcf["features"].default
    assert param_prefix("eco-hc") == "eco_hc" and settings_for("eco-hc")[0].param.startswith("eco_hc.")
    assert settings_for("opencv-csrt") == [] and settings_for("module:attr") == []


def _probes(rule, kind):
    """(value, should_pass) pairs around the rule's bounds, and its choices."""
    step = 1 if kind is int else 1e-6
    out = []
    for bound, is_open, inside in ((rule.low, rule.low_open, +1), (rule.high, rule.high_open, -1)):
        if bound is None:
            continue
        bound = int(bound) if kind is int else float(bound)
        out.append((bound, not is_open))
        out.append((bound - inside * step, False))
        out.append((bound + inside * step if not is_open else bound + inside * (step if kind is int else 1e-3),
                    True))
    out += [(choice, True) for choice in rule.choices] + ([("no-such-choice", False)] if rule.choices else [])
    return out


@pytest.mark.parametrize("name", ["feco", "kcf", "strcf"])
def test_rules_match_the_config_validation(name):
    config = base_config(name)
    rules = RULES[type(config).__name__]
    fields = {f.name: f for f in dataclasses.fields(config)}
    assert set(rules) <= set(fields), f"rules for fields the config no longer has: {set(rules) - set(fields)}"
    settings = {s.field: s for s in settings_for(name)}
    for field, rule in rules.items():
        if field not in settings or "<=" in rule.text or ">=" in rule.text or "(off)" in rule.text:
            continue  # cross-field rules are the config's own check
        kind = settings[field].type
        for value, should_pass in _probes(rule, kind if kind is not tuple else str):
            if kind is tuple:
                value = (value,)
            if kind is float and isinstance(value, int):
                value = float(value)
            try:
                dataclasses.replace(config, **{field: value})
                passed = True
            except (ValueError, TypeError):
                passed = False
            assert passed == should_pass, (field, value, rule.words())
            assert rule.accepts(value) == should_pass, (field, value, rule.words())


def test_check_settings_gives_one_line_reasons():
    assert check_settings("feco", {"search_area_scale": 5, "learning_rate": 0.011, "nSamples": None}) == {
        "search_area_scale": 5.0}
    with pytest.raises(NodeStartupError, match=r"bad parameter: feco.learning_rate must be in \(0, 1\), got 1.5"):
        check_settings("feco", {"learning_rate": 1.5})
    with pytest.raises(NodeStartupError, match="need 0 < min_image_sample_size <= max_image_sample_size"):
        check_settings("feco", {"min_image_sample_size": 1e9})
    with pytest.raises(NodeStartupError, match="parameter 'kcf.cell_size' must be integer, got str"):
        check_settings("kcf", {"cell_size": "4"})
    with pytest.raises(NodeStartupError, match="tracker 'kcf' has no setting 'nope'"):
        check_settings("kcf", {"nope": 1})
    assert math.isfinite(check_settings("kcf", {"interp_factor": 0.5})["interp_factor"])


def test_descriptors_are_typed_read_only_with_closed_ranges():
    from rclpy.parameter import Parameter

    feco = {s.field: s for s in settings_for("feco")}
    d = feco["motion_prediction"].descriptor()
    assert d.read_only and d.type == Parameter.Type.DOUBLE.value and d.additional_constraints == "in [0, 1]"
    assert (d.floating_point_range[0].from_value, d.floating_point_range[0].to_value) == (0.0, 1.0)
    d = feco["nSamples"].descriptor()
    assert d.type == Parameter.Type.INTEGER.value and not d.integer_range and d.additional_constraints == ">= 1"
