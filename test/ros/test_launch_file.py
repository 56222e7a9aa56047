"""launch/track.launch.py (launch/launch_ros are not installable here): parsed with ``ast``, every
path, executable and parameter it names must exist; config/track.yaml must match the node's
parameters; the Fast DDS profile must be well-formed with a ~32 MiB shared-memory segment."""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "track.launch.py"
KNOWN_IMPORTS = {
    "launch": {"LaunchDescription"},
    "launch.actions": {"DeclareLaunchArgument", "SetEnvironmentVariable"},
    "launch.substitutions": {"EnvironmentVariable", "LaunchConfiguration", "PathJoinSubstitution"},
    "launch_ros.actions": {"Node"},
    "launch_ros.parameter_descriptions": {"ParameterValue"},
    "launch_ros.substitutions": {"FindPackageShare"},
    "cfvgg_ros.ros.topics": {"DRIVER_IMAGE", "DRIVER_CAMERA_INFO"},
}


@pytest.fixture(scope="module")
def tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == name]


def _first_str(call: ast.Call) -> str:
    assert call.args and isinstance(call.args[0], ast.Constant), ast.dump(call)
    return call.args[0].value


def _keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _node_parameters() -> dict:
    """name -> default of every node parameter."""
    from cfvgg_ros.ros.params import PARAMETERS

    return {spec.name: spec.default for spec in PARAMETERS}


def _setup_tree() -> ast.Module:
    return ast.parse((ROOT / "setup.py").read_text())


def test_imports_only_standard_launch_names(tree):
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert imports
    for node in imports:
        assert node.module in KNOWN_IMPORTS, node.module
        assert {a.name for a in node.names} <= KNOWN_IMPORTS[node.module]
    functions = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert functions == ["generate_launch_description"]


def test_declared_arguments_cover_the_issue_and_every_use(tree):
    declared = {_first_str(c) for c in _calls(tree, "DeclareLaunchArgument")}
    assert {"image_topic", "params_file", "model_path", "cpu_core"} <= declared
    used = {_first_str(c) for c in _calls(tree, "LaunchConfiguration")}
    assert used <= declared, used - declared
    assert declared <= used, declared - used  # no argument is declared for nothing
    for call in _calls(tree, "DeclareLaunchArgument"):
        assert _keyword(call, "default_value") is not None and _keyword(call, "description") is not None


def test_paths_it_names_exist_and_are_installed(tree):
    joined = [[e.value for e in c.args[0].elts if isinstance(e, ast.Constant)]
              for c in _calls(tree, "PathJoinSubstitution")]
    assert ["config", "track.yaml"] in joined and ["config", "fastdds_shm.xml"] in joined
    setup_text = (ROOT / "setup.py").read_text()
    for parts in joined:
        path = ROOT.joinpath(*parts)
        assert path.exists(), path
        assert f'glob("{parts[0]}/' in setup_text  # installed into the package share by data_files
    assert 'glob("launch/*.launch.py")' in setup_text
    assert [_first_str(c) for c in _calls(tree, "FindPackageShare")] == ["cfvgg_ros"]


def test_node_executable_and_parameters_exist(tree):
    (node,) = _calls(tree, "Node")
    assert _keyword(node, "package").value == "cfvgg_ros"
    package_xml = ET.parse(ROOT / "package.xml").getroot()
    assert package_xml.findtext("name") == "cfvgg_ros"
    executable = _keyword(node, "executable").value
    scripts = [
        s.value for call in ast.walk(_setup_tree()) if isinstance(call, ast.Call)
        for k in call.keywords if k.arg == "entry_points"
        for key, value in zip(k.value.keys, k.value.values, strict=True) if key.value == "console_scripts"
        for s in value.elts
    ]
    entry = {s.split("=")[0].strip(): s.split("=")[1].strip() for s in scripts}
    assert executable in entry, f"setup.py console_scripts lacks {executable!r}: {sorted(entry)}"
    module, func = entry[executable].split(":")
    assert entry[executable] == "cfvgg_ros.ros.track_node:main"
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file() and func == "main"
    assert entry.get("cfvgg-track") == "cfvgg_ros.cli.track:main"

    params = _keyword(node, "parameters")
    dicts = [e for e in params.elts if isinstance(e, ast.Dict)]
    names = {k.value for d in dicts for k in d.keys}
    assert names and names <= set(_node_parameters()), names - set(_node_parameters())
    assert _keyword(node, "name").value == "track_node"


def test_fastdds_profile_env_is_set_for_the_node(tree):
    (env,) = _calls(tree, "SetEnvironmentVariable")
    assert _first_str(env) == "FASTRTPS_DEFAULT_PROFILES_FILE"
    (fallback,) = _calls(tree, "EnvironmentVariable")
    assert _first_str(fallback) == "FASTRTPS_DEFAULT_PROFILES_FILE"  # a user's own profile wins


def test_config_yaml_matches_the_node_parameters():
    config = yaml.safe_load((ROOT / "config" / "track.yaml").read_text())
    params = config["/**"]["ros__parameters"]
    declared = _node_parameters()
    assert set(params) == set(declared)
    for name, value in params.items():
        default = declared[name]
        assert value == default, f"{name}: config {value!r} != node default {default!r}"
        assert type(value) is type(default), name


def test_fastdds_profile_has_a_32_mib_shm_segment():
    root = ET.parse(ROOT / "config" / "fastdds_shm.xml").getroot()
    ns = {"f": "http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"}
    descriptors = root.findall(".//f:transport_descriptor", ns)
    kinds = {d.findtext("f:type", namespaces=ns): d for d in descriptors}
    assert set(kinds) == {"SHM", "UDPv4"}
    assert int(kinds["SHM"].findtext("f:segment_size", namespaces=ns)) == 32 * 1024 * 1024
    participant = root.find(".//f:participant", ns)
    assert participant.get("is_default_profile") == "true"
    used = {t.text for t in participant.findall(".//f:userTransports/f:transport_id", ns)}
    assert used == {d.findtext("f:transport_id", namespaces=ns) for d in descriptors}
    assert participant.findtext(".//f:useBuiltinTransports", namespaces=ns) == "false"
