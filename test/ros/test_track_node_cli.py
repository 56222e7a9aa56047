"""``cfvgg-track`` (shipped params + Fast DDS shared-memory profile, sensor-data image QoS) over
real DDS, camera_info -> bearing-ray poses, and start-up failures: missing or corrupt model,
unknown tracker, bad parameter -> exit code 2 with a one-line reason, no traceback."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pytest

from cfvgg_ros.ros.geometry import bearing_ray

CORE = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else -1


@pytest.fixture(scope="module")
def cli_node(tmp_path_factory, ros_client, h):
    params = {"camera_info_topic": "/camera_info", "tracker": "opencv-csrt", "publish_debug_image": True}
    proc = h.NodeProcess(tmp_path_factory.mktemp("cli"), params, module="cfvgg_ros.cli.track",
                         extra_args=["--image-topic", "/image", "--cpu-core", str(CORE)])
    ros_client.wait_ready(proc)
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def test_cfvgg_track_uses_the_node_profile_and_best_available_qos(cli_node):
    log = cli_node.log()
    assert "fastdds_node.xml" in log
    assert "image QoS best_available" in log
    assert "tracking with 'opencv-csrt'" in log


def test_cpu_core_pins_every_thread(cli_node):
    if CORE < 0:
        pytest.skip("no sched_getaffinity on this platform")
    assert f"cpu core {CORE}" in cli_node.log()
    tasks = list(Path(f"/proc/{cli_node.proc.pid}/task").iterdir())
    assert len(tasks) > 3  # main, worker, DDS threads
    affinities = {}
    for task in tasks:
        try:
            affinities[task.name] = os.sched_getaffinity(int(task.name))
        except OSError:
            pass  # the thread ended
    assert affinities and all(cores == {CORE} for cores in affinities.values()), affinities


def test_the_node_has_a_32_mib_shared_memory_segment(cli_node):
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm on this platform")
    sizes = [p.stat().st_size for p in shm.glob("fastrtps_*") if p.is_file() and not p.name.endswith("_el")]
    assert any(32 * 2**20 <= size < 40 * 2**20 for size in sizes), sizes


def test_camera_info_gives_unit_bearing_rays(cli_node, ros_client, synthetic, h):
    frames, boxes, _ = synthetic
    client = ros_client
    client.clear()
    fx = 300.0
    client.publish_camera_info(320, 240, fx)
    k = [fx, 0.0, 160.0, 0.0, fx, 120.0, 0.0, 0.0, 1.0]
    for i in range(12):
        _publish_until_handled(client, frames[i], h.stamp_of(i), cli_node.log)
        if i == 0:
            client.publish_roi(boxes[0])
            client.wait_pose(h.stamp_of(0), log=cli_node.log)
    pose = client.wait_pose(h.stamp_of(11), log=cli_node.log)
    ray = np.array([pose.pose.position.x, pose.pose.position.y, pose.pose.position.z])
    assert abs(np.linalg.norm(ray) - 1.0) < 1e-6 and ray[2] > 0
    cx, cy = boxes[11][0] + boxes[11][2] / 2, boxes[11][1] + boxes[11][3] / 2
    expected = bearing_ray(cx, cy, k)
    assert math.degrees(math.acos(min(1.0, float(ray @ expected)))) < 1.0  # within a degree
    q = pose.pose.orientation
    qv, qw = np.array([q.x, q.y, q.z]), q.w
    z = np.array([0.0, 0.0, 1.0])
    rotated = z + 2 * qw * np.cross(qv, z) + 2 * np.cross(qv, np.cross(qv, z))  # rotate z by q
    assert np.allclose(rotated, ray, atol=1e-6)
    debug = client.wait_for(lambda: client.debug_images, what="a debug image", log=cli_node.log)[-1]
    assert (debug.width, debug.height, debug.encoding) == (320, 240, "rgb8")


def _publish_until_handled(client, frame, stamp_ns: int, log, attempts: int = 5) -> None:
    """Best-effort images may be lost on a loaded machine: publish until the node handles it."""
    msg = client.image_msg(frame, stamp_ns)
    for _ in range(attempts):
        client.pub_image.publish(msg)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if client.status_where(lambda s: s.get("frame_stamp_ns") == str(stamp_ns)):
                return
            time.sleep(0.01)
    pytest.fail(f"the node did not handle frame {stamp_ns} after {attempts} tries\n{log()[-3000:]}")


def _start_fails(h, tmp_path, params: dict) -> tuple[int, str]:
    proc = h.NodeProcess(tmp_path, params)
    code = proc.wait_exit(timeout=60)
    return code, proc.log()


def test_missing_model_exits_with_clear_error(tmp_path, h):
    params = {"tracker": "opencv-nano",
              "tracker_params": '{"backbone": "/nonexistent.onnx", "head": "/nonexistent_head.onnx"}'}
    code, log = _start_fails(h, tmp_path, params)
    assert code == 2, log
    assert "cannot start" in log and "/nonexistent.onnx" in log and "not found" in log
    assert "Traceback" not in log


def test_corrupt_model_exits_with_clear_error(tmp_path, h):
    bad = tmp_path / "corrupt.onnx"
    bad.write_bytes(b"this is not an onnx model" * 10)
    params = {"tracker": "opencv-nano", "model_path": str(tmp_path),
              "tracker_params": '{"backbone": "{model_path}/corrupt.onnx", "head": "{model_path}/corrupt.onnx"}'}
    code, log = _start_fails(h, tmp_path, params)
    assert code == 2, log
    assert "cannot start" in log and "corrupt.onnx" in log
    assert "Traceback" not in log


@pytest.mark.parametrize("params, reason", [
    ({"tracker": "no-such-tracker"}, "unknown tracker 'no-such-tracker'"),
    ({"image_qos": "fastest"}, "image_qos must be one of best_available, sensor_data, reliable, got 'fastest'"),
    ({"tracker": "conftest:SixthUpdateFails"}, "set allow_plugins:=true to allow it"),
    ({"model": "/nonexistent/student.onnx"}, "model file not found: '/nonexistent/student.onnx'"),
    ({"tracker": "eco-hc", "model": __file__}, "tracker 'eco-hc' loads no CNN model: 'model' must be empty"),
    ({"tracker": "eco-hc", "eco_hc.learning_rate": 1.5},
     "bad parameter: eco_hc.learning_rate must be in (0, 1), got 1.5"),
    ({"tracker": "eco-hc", "eco_hc.min_image_sample_size": 1e9},
     "need 0 < min_image_sample_size <= max_image_sample_size"),
    ({"lost_frames": "three"}, "parameter 'lost_frames' must be int"),
])
def test_bad_configuration_exits_with_clear_error(tmp_path, h, params, reason):
    code, log = _start_fails(h, tmp_path, params)
    assert code == 2, log
    assert reason in log and "Traceback" not in log


def test_warm_up_runs_the_configured_number_of_updates(tmp_path, h):
    code, log = _start_fails(h, tmp_path, {"tracker": "conftest:SixthUpdateFails", "allow_plugins": True,
                                             "warm_up_updates": 8})
    assert code == 2, log
    assert "failed its warm-up" in log and "6th update reached" in log and "Traceback" not in log
