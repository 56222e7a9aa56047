"""The package is a well-formed ament_python package: package.xml (format 3) parses, and
`colcon build` installs it the way `ros2 run` / `ros2 launch` expect."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FILES = [
    "package.xml", "setup.py", "setup.cfg", "resource", "cfvgg_ros", "launch", "config", "models",
]


def test_package_xml_is_format3_ament_python():
    catkin_pkg = pytest.importorskip("catkin_pkg.package", reason="catkin_pkg is in requirements.txt")
    pkg = catkin_pkg.parse_package(str(ROOT / "package.xml"))
    assert pkg.package_format == 3
    assert pkg.name == "cfvgg_ros"
    assert [e.content for e in pkg.exports if e.tagname == "build_type"] == ["ament_python"]
    exec_deps = {d.name for d in pkg.exec_depends}
    assert {"rclpy", "sensor_msgs", "geometry_msgs", "std_msgs", "diagnostic_msgs", "std_srvs"} <= exec_deps
    assert "python3-pytest" in {d.name for d in pkg.test_depends}


def test_resource_marker_and_setup_cfg():
    assert (ROOT / "resource" / "cfvgg_ros").is_file()
    cfg = (ROOT / "setup.cfg").read_text()
    assert "script_dir=$base/lib/cfvgg_ros" in cfg
    assert "install_scripts=$base/lib/cfvgg_ros" in cfg


def test_colcon_build_installs_ament_layout(tmp_path):
    colcon = shutil.which("colcon", path=str(Path(sys.executable).parent))
    if colcon is None:
        pytest.skip("colcon is not installed in this environment (it is in requirements.txt)")
    src = tmp_path / "src" / "cfvgg_ros"
    src.mkdir(parents=True)
    for name in PACKAGE_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, src / name)
    proc = subprocess.run(
        [colcon, "build", "--event-handlers", "console_direct-"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    install = tmp_path / "install" / "cfvgg_ros"
    assert (install / "share" / "ament_index" / "resource_index" / "packages" / "cfvgg_ros").is_file()
    assert (install / "share" / "cfvgg_ros" / "package.xml").is_file()
    scripts = {p.name for p in (install / "lib" / "cfvgg_ros").iterdir()}
    assert {"cfvgg-bench", "cfvgg-convert", "cfvgg-demo"} <= scripts
    share = install / "share" / "cfvgg_ros"
    assert (share / "config" / "track.yaml").is_file() and (share / "launch" / "track.launch.py").is_file()
    shipped = share / "models" / "cfvgg_student.onnx"  # the node's default model
    assert shipped.read_bytes() == (ROOT / "models" / "cfvgg_student.onnx").read_bytes()
