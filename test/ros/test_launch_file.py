"""The launch files and config files, without running them (``test_launch.py`` runs them): the
launch argument table and its checks, the launch files declare exactly that table (when launch is
installed), name installed executables and files; config/track.yaml matches the node's parameters;
the Fast DDS profiles are well-formed (publishers': a ~32 MiB shared-memory segment; the node's:
readers on UDP with a large receive buffer, writers on shared memory too)."""

from __future__ import annotations

import ast
import importlib.util
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from cfvgg_ros.ros.launch_args import REPLAY_ARGS, TRACK_ARGS, check

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_FILES = {"track.launch.py": TRACK_ARGS, "replay_uav123.launch.py": REPLAY_ARGS}
NS = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}


def _node_parameters() -> dict:
    from cfvgg_ros.ros.params import PARAMETERS

    return {spec.name: spec.default for spec in PARAMETERS}


def _console_scripts() -> dict:
    tree = ast.parse((ROOT / "setup.py").read_text())
    scripts = [s.value for call in ast.walk(tree) if isinstance(call, ast.Call) for k in call.keywords
               if k.arg == "entry_points" for key, value in zip(k.value.keys, k.value.values, strict=True)
               if key.value == "console_scripts" for s in value.elts]
    return {s.split("=")[0].strip(): s.split("=")[1].strip() for s in scripts}


def test_launch_argument_checks():
    values = check(TRACK_ARGS, {})
    assert values["cpu_core"] == -1 and values["lifecycle"] is False and values["autostart"] is True
    assert values["respawn_delay"] == 2.0 and values["tracker"] == ""
    assert check(TRACK_ARGS, {"camera_info_topic": "none"})["camera_info_topic"] == ""
    for given, reason in ((("cpu_core", "two"), "launch argument cpu_core:='two' must be an integer"),
                          (("cpu_core", "-2"), "must be >= 0, or -1 for no pinning"),
                          (("lifecycle", "yes"), "launch argument lifecycle:='yes' is not one of 'true', 'false'"),
                          (("respawn_delay", "-1"), "launch argument respawn_delay:='-1' must be >= 0")):
        with pytest.raises(ValueError, match=reason.replace("(", r"\(").replace(")", r"\)")):
            check(TRACK_ARGS, dict([given]))
    with pytest.raises(ValueError, match="launch argument bag is required"):
        check(REPLAY_ARGS, {"bag": ""})
    names = [a.name for a in TRACK_ARGS]
    assert len(names) == len(set(names)) and all(a.description for a in TRACK_ARGS + REPLAY_ARGS)


@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_files_use_the_table_and_installed_executables(name):
    path = ROOT / "launch" / name
    tree = ast.parse(path.read_text(), filename=str(path))
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)][-1] == "generate_launch_description"
    scripts = _console_scripts()
    executables = {k.value.value for n in ast.walk(tree) if isinstance(n, ast.Call) for k in n.keywords
                   if k.arg == "executable"}
    assert executables and executables <= set(scripts), executables - set(scripts)
    assert scripts["track_node"] == "cfvgg_ros.ros.track_node:main"
    assert scripts["track_lifecycle_node"] == "cfvgg_ros.ros.lifecycle_node:main"
    joined = [[e.value for e in c.args[0].elts if isinstance(e, ast.Constant)] for c in ast.walk(tree)
              if isinstance(c, ast.Call) and getattr(c.func, "id", None) == "PathJoinSubstitution"]
    setup_text = (ROOT / "setup.py").read_text()
    for parts in joined:
        assert ROOT.joinpath(*parts).exists(), parts
        assert f'glob("{parts[0]}/' in setup_text  # installed into the package share by data_files


@pytest.mark.parametrize("name", sorted(LAUNCH_FILES))
def test_launch_files_declare_exactly_the_table(name):
    if importlib.util.find_spec("launch_ros") is None:
        pytest.skip("launch_ros is not installed (make setup installs it from ../shared/wheels)")
    from launch.actions import DeclareLaunchArgument

    spec = importlib.util.spec_from_file_location(name.replace(".", "_"), ROOT / "launch" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    declared = [e for e in module.generate_launch_description().entities if isinstance(e, DeclareLaunchArgument)]
    table = LAUNCH_FILES[name]
    assert [d.name for d in declared] == [a.name for a in table]
    for d, arg in zip(declared, table, strict=True):
        assert d.description.startswith(arg.description) and (d.choices or []) == list(arg.choices)


def test_config_yaml_matches_the_node_parameters():
    config = yaml.safe_load((ROOT / "config" / "track.yaml").read_text())
    params = config["/**"]["ros__parameters"]
    declared = _node_parameters()
    assert set(params) == set(declared)
    for name, value in params.items():
        default = declared[name]
        assert value == default, f"{name}: config {value!r} != node default {default!r}"
        assert type(value) is type(default), name


def _profile(name: str):
    root = ET.parse(ROOT / "config" / name).getroot()
    descriptors = {d.findtext("f:type", namespaces=NS): d for d in root.findall(".//f:transport_descriptor", NS)}
    participant = root.find(".//f:participant", NS)
    assert participant.get("is_default_profile") == "true"
    used = {t.text for t in participant.findall(".//f:userTransports/f:transport_id", NS)}
    assert used == {d.findtext("f:transport_id", namespaces=NS) for d in descriptors.values()}
    assert participant.findtext(".//f:useBuiltinTransports", namespaces=NS) == "false"
    return descriptors, participant


def test_fastdds_profile_has_a_32_mib_shm_segment():
    descriptors, _ = _profile("fastdds_shm.xml")
    assert set(descriptors) == {"SHM", "UDPv4"}
    assert int(descriptors["SHM"].findtext("f:segment_size", namespaces=NS)) == 32 * 1024 * 1024


def test_node_profile_receives_over_udp_with_a_large_buffer():
    from cfvgg_ros.ros.qos import NODE_RECEIVE_BUFFER

    descriptors, participant = _profile("fastdds_node.xml")
    assert set(descriptors) == {"SHM", "UDPv4"}
    assert int(descriptors["SHM"].findtext("f:segment_size", namespaces=NS)) == 32 * 1024 * 1024
    assert int(descriptors["UDPv4"].findtext("f:receiveBufferSize", namespaces=NS)) == NODE_RECEIVE_BUFFER
    locators = participant.findall(".//f:defaultUnicastLocatorList/f:locator/*", NS)
    assert [loc.tag.split("}")[1] for loc in locators] == ["udpv4"]  # every reader announces UDP only
