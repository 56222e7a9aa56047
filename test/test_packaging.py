"""The package is a well-formed ament_python package: package.xml (format 3) parses, and
`colcon build` installs it the way `ros2 run` / `ros2 launch` expect; setup.py and package.xml
declare every third-party module the package imports (a clean-venv install of the wheel is
test_wheel_install.py)."""

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_package_xml_is_format3_ament_python():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is in requirements.txt")
    pkg = catkin_pkg.parse_package(str(ROOT / "package.xml"))
    assert pkg.package_format == 3
    assert pkg.name == "cfvgg_ros"
    assert [e.content for e in pkg.exports if e.tagname == "build_type"] == ["ament_python"]
    exec_deps = {d.name for d in pkg.exec_depends}
    assert {"rclpy", "sensor_msgs", "geometry_msgs", "std_msgs", "diagnostic_msgs", "std_srvs", "rcl_interfaces",
            "ament_index_python", "launch", "launch_ros"} <= exec_deps
    assert "python3-pytest" in {d.name for d in pkg.test_depends}


def test_resource_marker_and_setup_cfg():
    assert (ROOT / "resource" / "cfvgg_ros").is_file()
    cfg = (ROOT / "setup.cfg").read_text()
    assert "script_dir=$base/lib/cfvgg_ros" in cfg
    assert "install_scripts=$base/lib/cfvgg_ros" in cfg


def test_colcon_build_installs_ament_layout(colcon_install):
    install = colcon_install / "cfvgg_ros"
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "cfvgg_ros").is_file()
    assert (install / "share" / "cfvgg_ros" / "package.xml").is_file()
    scripts = {p.name for p in (install / "lib" / "cfvgg_ros").iterdir()}
    assert {"cfvgg-bench", "cfvgg-convert", "cfvgg-demo", "track_node", "track_lifecycle_node"} <= scripts
    share = install / "share" / "cfvgg_ros"
    assert (share / "config" / "track.yaml").is_file() and (share / "launch" / "track.launch.py").is_file()
    shipped = share / "models" / "cfvgg_student.onnx"  # the node's default model
    assert shipped.read_bytes() == (ROOT / "models" / "cfvgg_student.onnx").read_bytes()
    # its recorded sha256 (checked at load) and the SROS2 policy are installed too
    assert (share / "models" / "SHA256SUMS").read_bytes() == (ROOT / "models" / "SHA256SUMS").read_bytes()
    assert (share / "config" / "sros2_policy.xml").is_file()
    assert (share / "config" / "fastdds_node.xml").is_file()
    assert (share / "launch" / "replay_uav123.launch.py").is_file()


# --- declared dependencies -------------------------------------------------------------------

# ROS 2 packages: package.xml exec_depends (from the distribution, or the ros-jazzy-* wheels of
# requirements.txt in a plain venv), never pip requirements of setup.py.
ROS_IMPORTS = {
    "rclpy", "rcl_interfaces", "builtin_interfaces", "sensor_msgs", "geometry_msgs", "std_msgs",
    "diagnostic_msgs", "std_srvs", "vision_msgs", "ament_index_python", "launch", "launch_ros", "lifecycle_msgs",
}
# install_requires entry -> its rosdep key (rosdistro rosdep/python.yaml), or None where rosdep
# has no key and package.xml says "pip install <name>" in a comment instead.
ROSDEP_KEYS = {
    "numpy": "python3-numpy",
    "scipy": "python3-scipy",
    "numba": "python3-numba",
    "opencv-contrib-python-headless": "python3-opencv",
    "onnx": None,
    "onnxruntime": "python3-onnxruntime-pip",
    "matplotlib": "python3-matplotlib",
    "pillow": "python3-pil",
    "pyyaml": "python3-yaml",
    "tqdm": "python3-tqdm",
    "rosbags": None,
    "ruamel-yaml": "python3-ruamel.yaml",
}
# cfvgg_ros/training (offline distillation, online adaptation) may also import these: torch is
# installed by hand (CPU build; a bare `torch` requirement would pull a CUDA build).
TRAINING_ONLY_UNDECLARED = {"torch"}
IMPORT_CALLS = {"import_module", "__import__"}  # find_spec only probes for an optional module


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(spec: str) -> str:
    return _normalize(re.split(r"[\s<>=!~;\[@(]", spec.strip(), maxsplit=1)[0])


def _setup_kwargs() -> dict:
    tree = ast.parse((ROOT / "setup.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            return {
                kw.arg: ast.literal_eval(kw.value)
                for kw in node.keywords
                if kw.arg in ("install_requires", "extras_require")
            }
    raise AssertionError("no setup(...) call in setup.py")


def _third_party_imports(paths) -> dict[str, set[str]]:
    """Top-level module -> {"file:line"} for every absolute import outside the standard library and
    cfvgg_ros in ``paths``: module level and inside functions, plus ``importlib.import_module`` of
    a literal name."""
    found: dict[str, set[str]] = {}
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
                  in IMPORT_CALLS and node.args and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str)):
                names = [node.args[0].value]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top and top not in sys.stdlib_module_names and top != "cfvgg_ros":
                    found.setdefault(top, set()).add(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def _distributions(module: str) -> set[str]:
    return {_normalize(d) for d in importlib.metadata.packages_distributions().get(module, [])}


def _package_xml():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is in requirements.txt")
    return catkin_pkg.parse_package(str(ROOT / "package.xml"))


def test_setup_py_declares_every_runtime_import():
    """Every third-party module imported anywhere in cfvgg_ros (outside training) comes from a
    distribution in install_requires, or is a ROS package; training may also use the extra."""
    kwargs = _setup_kwargs()
    required = {_requirement_name(r) for r in kwargs["install_requires"]}
    training = required | {_requirement_name(r) for r in kwargs.get("extras_require", {}).get("training", [])}
    package = sorted((ROOT / "cfvgg_ros").rglob("*.py"))
    runtime = _third_party_imports([p for p in package if "training" not in p.relative_to(ROOT).parts])
    offline = _third_party_imports([p for p in package if "training" in p.relative_to(ROOT).parts])
    problems = []
    for imports, allowed, extra_ok in ((runtime, required, set()), (offline, training, TRAINING_ONLY_UNDECLARED)):
        for module, where in sorted(imports.items()):
            if module in ROS_IMPORTS or module in extra_ok:
                continue
            dists = _distributions(module)
            if not dists:
                problems.append(f"{module} ({', '.join(sorted(where))}): no installed distribution provides it; "
                                "declare it in setup.py or, for a ROS package, add it to ROS_IMPORTS")
            elif not dists & allowed:
                problems.append(f"{module} ({', '.join(sorted(where))}): {sorted(dists)} not in setup.py")
    assert not problems, "undeclared run-time imports:\n" + "\n".join(problems)


def test_package_xml_declares_ros_and_python_dependencies():
    """ROS imports (package and launch files) are exec_depends; every install_requires entry has
    its rosdep key, or a 'pip install <name>' note where rosdep has none; no ROS package is a pip
    requirement."""
    pkg = _package_xml()
    exec_deps = {d.name for d in pkg.exec_depends}
    files = sorted((ROOT / "cfvgg_ros").rglob("*.py")) + sorted((ROOT / "launch").glob("*.py"))
    ros_used = set(_third_party_imports(files)) & ROS_IMPORTS
    assert ros_used - exec_deps == set(), f"ROS packages imported but not in package.xml: {ros_used - exec_deps}"
    xml = (ROOT / "package.xml").read_text()
    required = [_requirement_name(r) for r in _setup_kwargs()["install_requires"]]
    unknown = [name for name in required if name not in ROSDEP_KEYS]
    assert not unknown, f"add the rosdep key (or None) of {unknown} to ROSDEP_KEYS and package.xml"
    for name in required:
        key = ROSDEP_KEYS[name]
        if key is None:
            assert re.search(rf"<!--[^>]*pip install {re.escape(name)}\b", xml), f"package.xml: no note for {name}"
        else:
            assert key in exec_deps, f"package.xml lacks <exec_depend>{key}</exec_depend> ({name})"
    ros_like = [n for n in required if n.startswith("ros-") or n.replace("-", "_") in ROS_IMPORTS]
    assert not ros_like, f"ROS packages must not be pip requirements of setup.py: {ros_like}"


def test_no_bare_torch_requirement():
    """A bare `torch` pulls a multi-GB CUDA build from PyPI: setup.py names no torch at all, and
    requirements.txt pins the CPU build exactly."""
    kwargs = _setup_kwargs()
    specs = list(kwargs["install_requires"]) + [r for reqs in kwargs.get("extras_require", {}).values() for r in reqs]
    assert "torch" not in {_requirement_name(r) for r in specs}
    torch_lines = [
        line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()
        if _requirement_name(line.split("#")[0] or "#") == "torch"
    ]
    assert torch_lines and all(re.fullmatch(r"torch==[\w.+]+", line) for line in torch_lines), torch_lines
