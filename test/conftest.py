"""Test-suite settings: one thread per math library (set before numpy loads), so tests are
deterministic and do not oversubscribe the 2-core CI machine; SIGINT handled as in a terminal."""

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cfvgg_ros.threads import THREAD_ENV_VARS

for _var in THREAD_ENV_VARS:
    os.environ.setdefault(_var, "1")

# A shell starts background jobs (`make test &`, nohup, some CI runners) with SIGINT ignored, and an
# ignored signal stays ignored in every process started from here: the nodes, players and
# `ros2 launch` processes the tests stop with SIGINT (Ctrl-C) would then never see it. Restore
# Python's own handler, so children start with the default disposition wherever the suite runs.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def random_student_onnx(tmp_path_factory):
    """A randomly initialised (seed 0) CF-VGG student exported to the ONNX model contract, as a
    file; skips when torch is not installed."""
    torch = pytest.importorskip("torch", reason="torch is needed to build a student ONNX model")
    import onnx

    from cfvgg_ros.training.export import student_to_onnx
    from cfvgg_ros.training.student import CFVGGStudent

    torch.manual_seed(0)
    model, _ = student_to_onnx(CFVGGStudent(), {"source": "test"})
    path = tmp_path_factory.mktemp("student") / "student.onnx"
    onnx.save(model, str(path))
    return path


ROOT = Path(__file__).resolve().parents[1]
#: what a colcon workspace's src/cfvgg_ros holds
PACKAGE_FILES = ["package.xml", "setup.py", "setup.cfg", "resource", "cfvgg_ros", "launch", "config", "models"]


@pytest.fixture(scope="session")
def colcon_install(tmp_path_factory):
    """The package built once per test session by ``colcon build`` in a fresh workspace (as in a
    ROS 2 Jazzy workspace): ``<workspace>/install``. Skips when colcon is not installed."""
    colcon = shutil.which("colcon", path=str(Path(sys.executable).parent))
    if colcon is None:
        pytest.skip("colcon is not installed in this environment (it is in requirements.txt)")
    workspace = tmp_path_factory.mktemp("colcon_ws")
    src = workspace / "src" / "cfvgg_ros"
    src.mkdir(parents=True)
    for name in PACKAGE_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif path.exists():
            shutil.copy2(path, src / name)
    proc = subprocess.run([colcon, "build", "--event-handlers", "console_direct-"], cwd=workspace,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workspace / "install"


_SESSION_AFFINITY = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


@pytest.fixture(autouse=True)
def _restore_cpu_affinity():
    """Give every thread of the test process back the CPUs it started with after each test: a node
    created in-process with ``cpu_core`` >= 0 pins the whole process (as it should in production),
    and child processes of later tests (launch, benchmarks) would inherit that one core."""
    yield
    if _SESSION_AFFINITY is None or sorted(os.sched_getaffinity(0)) == _SESSION_AFFINITY:
        return
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), _SESSION_AFFINITY)
        except (OSError, ValueError):
            pass  # the thread ended meanwhile
