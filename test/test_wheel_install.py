"""A new user's install: the wheel, installed into a clean virtual environment with only its
declared dependencies (plus the ROS 2 wheels pinned in requirements.txt), tracks with fECO and the
shipped default model, imports every run-time module, and runs ``cfvgg-track --help``.

Everything runs from a folder outside the repository with ``python -I`` and a scrubbed
environment, so the source tree cannot leak in. Versions are held at requirements.txt with a pip
constraints file (a constraint never installs anything: an undeclared dependency still fails).
Needs PyPI (the ROS 2 wheels are only there); skipped with the reason only when the package index
is unreachable.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FILES = ["package.xml", "setup.py", "setup.cfg", "resource", "cfvgg_ros", "launch", "config", "models"]
INSTALL_TIMEOUT_S = 900

pytestmark = pytest.mark.network

CHECK = r"""
import importlib, json, pkgutil, sys
from pathlib import Path

import numpy as np

import cfvgg_ros
from cfvgg_ros.core import create_tracker
from cfvgg_ros.models.store import default_model_path, verify_model_file

prefix = Path(sys.prefix).resolve()
report = {"package": cfvgg_ros.__file__, "model": str(default_model_path()), "sys_path": sys.path,
          "model_sum_recorded": verify_model_file(default_model_path()).recorded}

# every module outside training imports with the declared dependencies alone
names = [m.name for m in pkgutil.walk_packages(cfvgg_ros.__path__, "cfvgg_ros.")
         if not m.name.startswith("cfvgg_ros.training")]
failed = {}
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = repr(exc)
report["modules"], report["import_errors"] = len(names), failed
if failed:
    sys.exit("modules that do not import with the declared dependencies: " + json.dumps(failed, indent=1))

frame = np.full((240, 320, 3), 60, np.uint8)
frame[80:130, 100:140] = (200, 40, 40)
tracker = create_tracker("feco")
tracker.init(frame, (100.0, 80.0, 40.0, 50.0))
result = tracker.update(np.roll(frame, 4, axis=1))
report["box"], report["score"] = [float(v) for v in result.box], float(result.score)
print(json.dumps(report))
"""


def _index_reachable() -> tuple[bool, str]:
    """Whether pip's package index answers at all (the reason when not)."""
    url = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple/").rstrip("/") + "/pip/"
    cafile = os.environ.get("PIP_CERT")
    context = ssl.create_default_context(cafile=cafile if cafile and os.path.isfile(cafile) else None)
    try:
        with urllib.request.urlopen(url, timeout=20, context=context) as response:
            response.read(1)
        return True, ""
    except OSError as exc:  # URLError, timeouts, DNS, TLS
        return False, f"{url}: {exc}"


def _ros_wheel_pins() -> list[str]:
    pins = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        spec = line.split("#")[0].strip()
        if spec.startswith("ros-jazzy-"):
            pins.append(spec)
    assert any(p.startswith("ros-jazzy-rclpy==") for p in pins), pins
    return pins


def _scrubbed_env() -> dict[str, str]:
    """This process's environment without anything that could point Python, ament or the
    package at the source tree (pip's own settings stay)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PYTHON", "AMENT_", "COLCON_", "CFVGG_")) and k != "VIRTUAL_ENV"}


def _clean_env(tmp_path: Path, venv: Path) -> dict[str, str]:
    """The scrubbed environment with the venv first on PATH and fresh caches."""
    env = _scrubbed_env()
    env.update({
        "PATH": f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONNOUSERSITE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache"),
    })
    return env


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)


@pytest.fixture
def venv_dir(tmp_path):
    """The clean venv's folder, removed afterwards (about 1 GB; pytest keeps its last 3 temp dirs)."""
    path = tmp_path / "venv"
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_wheel_installs_and_runs_in_a_clean_venv(tmp_path, venv_dir):
    # 1. the wheel, built from a copy of the package files (nothing is written into the checkout)
    src = tmp_path / "src"
    src.mkdir()
    for name in PACKAGE_FILES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc"))
        else:
            shutil.copy2(path, src / name)
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                  "-w", dist, src], cwd=tmp_path, timeout=300)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = dist.glob("cfvgg_ros-*.whl")

    # 2. a fresh venv (no system site-packages, no pip of its own: this pip installs into it)
    venv = venv_dir
    made = _run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run([sys.executable, "-m", "pip", "--python", python, "install", "--progress-bar", "off",
                      "-c", ROOT / "requirements.txt", wheel, *_ros_wheel_pins()],
                     cwd=tmp_path, env=_scrubbed_env(), timeout=INSTALL_TIMEOUT_S)
    if installed.returncode != 0:
        reachable, reason = _index_reachable()
        if not reachable:
            pytest.skip(f"the package index is unreachable ({reason}); pip said: {installed.stderr[-500:]}")
    assert installed.returncode == 0, installed.stdout[-4000:] + installed.stderr[-4000:]

    # 3. run it from elsewhere, isolated (-I: no PYTHON* variables, no cwd or script dir on sys.path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _clean_env(tmp_path, venv)
    checked = _run([python, "-I", "-c", CHECK], cwd=elsewhere, env=env, timeout=300)
    assert checked.returncode == 0, checked.stdout[-3000:] + checked.stderr[-3000:]
    report = json.loads(checked.stdout.strip().splitlines()[-1])
    site = venv.resolve()
    assert Path(report["package"]).resolve().is_relative_to(site), report["package"]
    assert not [p for p in report["sys_path"] if p and Path(p).resolve().is_relative_to(ROOT)], report["sys_path"]
    assert Path(report["model"]).resolve() == site / "share" / "cfvgg_ros" / "models" / "cfvgg_student.onnx"
    assert report["model_sum_recorded"]  # models/SHA256SUMS is installed and matches the installed model
    assert report["import_errors"] == {} and report["modules"] > 50, report
    x, y, w, h = report["box"]
    assert abs(x - 104) < 3 and abs(y - 80) < 3 and 30 < w < 50 and 40 < h < 60, report["box"]

    helped = _run([venv / "bin" / "cfvgg-track", "--help"], cwd=elsewhere, env=env, timeout=120)
    assert helped.returncode == 0, helped.stderr[-3000:]
    assert helped.stdout.startswith("usage: cfvgg-track"), helped.stdout[:500]
