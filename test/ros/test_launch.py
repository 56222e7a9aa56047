"""The launch files, executed: ``ros2 launch cfvgg_ros <file>`` on a ``colcon build`` install (the
session's ``colcon_install``), with the real launch / launch_ros / ros2launch (the Jazzy wheels of
``../shared/wheels/ros2-jazzy-launch``, installed by ``make setup``; without them these tests skip).

* ``track.launch.py``: topics, namespace, node name, tracker, model, CPU core and the params file
  reach the node;
* lifecycle with autostart and respawn: the managed node is configured and activated at start,
  and again after its process is killed and respawned;
* bad arguments end the launch at once with a one-line reason;
* ``replay_uav123.launch.py`` (``bag_tool:=cfvgg``): node, recorder and player; the launch ends by
  itself after playback and the recorded bag holds the node's boxes.

Launched processes are stopped with SIGINT (SIGTERM would leave ``ros2 launch``'s node running).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from cfvgg_ros.ros.params import default_tracker

pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")

WHEELS = Path(__file__).resolve().parents[3] / "shared" / "wheels" / "ros2-jazzy-launch"
ROS2 = Path(sys.executable).parent / "ros2"
MISSING = [m for m in ("launch", "launch_ros", "ros2launch") if importlib.util.find_spec(m) is None]
if MISSING or not ROS2.exists():
    pytest.skip(f"{', '.join(MISSING) or 'the ros2 command'} not installed: `make setup` installs launch, launch_ros, "
                f"ros2launch and ros2cli from {WHEELS} when ../shared/wheels is present "
                f"({'present' if WHEELS.is_dir() else 'absent here'})", allow_module_level=True)

CORES = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


class Launch:
    """``ros2 launch`` in its own process, the install sourced; its output in a file."""

    def __init__(self, install: Path, tmp: Path, *args: str) -> None:
        self.log_path = tmp / f"launch_{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0")
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
        command = f". '{install}/local_setup.sh' && exec ros2 launch cfvgg_ros " + " ".join(f"'{a}'" for a in args)
        self.proc = subprocess.Popen(["bash", "-c", command], env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self):
        psutil = pytest.importorskip("psutil")
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                for child in self.children():
                    child.kill()
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


@pytest.fixture()
def launches(colcon_install, tmp_path):
    started = []

    def start(*args: str) -> Launch:
        launch = Launch(colcon_install, tmp_path, *args)
        started.append(launch)
        return launch

    yield start
    for launch in started:
        launch.stop()


def _status(client, topic: str, timeout: float, launch: Launch) -> dict:
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy

    got = []
    sub = client.node.create_subscription(
        DiagnosticArray, topic, lambda m: got.append({kv.key: kv.value for kv in m.status[0].values}),
        QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
    try:
        return client.wait_for(lambda: got[-1] if got else None, timeout, f"status on {topic}", launch.log)
    finally:
        client.node.destroy_subscription(sub)


def _parameter(client, node: str, name: str):
    from rcl_interfaces.srv import GetParameters
    from rclpy.parameter import parameter_value_to_python

    service = client.node.create_client(GetParameters, f"{node}/get_parameters")
    reply = client.call(service, GetParameters.Request(names=[name]))
    client.node.destroy_client(service)
    return parameter_value_to_python(reply.values[0])


def _node_pid(launch: Launch, executable: str, timeout: float = 30.0, exclude=()) -> int:
    def find():
        for child in launch.children():
            try:
                if any(executable in part for part in child.cmdline()) and child.pid not in exclude:
                    return child.pid
            except Exception:  # noqa: BLE001 - ended meanwhile
                continue
        return None

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = find()
        if pid:
            return pid
        time.sleep(0.1)
    pytest.fail(f"no {executable} process under the launch\n{launch.log()[-3000:]}")


def test_track_launch_applies_the_arguments(launches, ros_client, tmp_path):
    model = tmp_path / "my_student.onnx"  # the user's own model file (a copy of the shipped one)
    shutil.copy(Path(__file__).resolve().parents[2] / "models" / "cfvgg_student.onnx", model)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"lost_frames": 7, "status_period": 0.25}}}))
    core = CORES[-1] if CORES else -1
    launch = launches("track.launch.py", "image_topic:=/cam/img", "camera_info_topic:=none", "namespace:=/drone1",
                      "node_name:=launched", f"cpu_core:={core}", f"params_file:={params}", f"model:={model}")
    status = _status(ros_client, "/drone1/launched/status", 120, launch)
    log = launch.log()
    print(f"\n--- ros2 launch cfvgg_ros track.launch.py ... (log) ---\n{log[-2500:]}")
    assert status["model"].startswith(f"{model} (cf-vgg;"), status["model"]  # model:= honoured
    assert f"tracking with '{default_tracker()}'" in log and "on /cam/img" in log
    assert _parameter(ros_client, "/drone1/launched", "lost_frames") == 7  # from params_file
    assert _parameter(ros_client, "/drone1/launched", "model") == str(model)
    assert _parameter(ros_client, "/drone1/launched", "camera_info_topic") == ""
    infos = ros_client.node.get_subscriptions_info_by_topic("/cam/img")
    assert [(i.node_namespace, i.node_name) for i in infos] == [("/drone1", "launched")]
    if core >= 0:
        assert f"cpu core {core}" in log
        assert os.sched_getaffinity(_node_pid(launch, "track_node")) == {core}
    assert launch.stop() == 0
    assert "process has finished cleanly" in launch.log()


def test_lifecycle_launch_autostarts_and_respawns(launches, ros_client, tmp_path):
    from lifecycle_msgs.srv import GetState

    launch = launches("track.launch.py", "lifecycle:=true", "autostart:=true", "respawn:=true",
                      "respawn_delay:=0.5", "tracker:=opencv-csrt", "node_name:=managed", "camera_info_topic:=none")
    get_state = ros_client.node.create_client(GetState, "/managed/get_state")

    def state():
        """The node's state, "" while it cannot answer (e.g. being respawned)."""
        if not get_state.service_is_ready():
            return ""
        future = get_state.call_async(GetState.Request())
        deadline = time.monotonic() + 5
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not future.done():
            future.cancel()
            return ""
        return future.result().current_state.label

    ros_client.wait_for(lambda: state() == "active", 120, "the managed node to be active", launch.log)
    _status(ros_client, "/managed/status", 30, launch)
    pid = _node_pid(launch, "track_lifecycle_node")
    os.kill(pid, signal.SIGKILL)  # a crash: respawned, configured and activated again
    _node_pid(launch, "track_lifecycle_node", 60, exclude=(pid,))
    ros_client.wait_for(lambda: state() == "active" and launch.log().count("active: tracking") >= 2, 120,
                        "the respawned node to be active", launch.log)
    log = launch.log()
    print(f"\n--- ros2 launch cfvgg_ros track.launch.py lifecycle:=true respawn:=true (log) ---\n{log[-2500:]}")
    assert "process has died" in log and log.count("configured (tracker created and warmed up)") >= 2
    assert launch.stop() == 0


@pytest.mark.parametrize("argument, reason", [
    ("lifecycle:=maybe", 'Argument "lifecycle" provided value "maybe" is not valid. Valid options are: '
                         "['true', 'false']"),
    ("cpu_core:=two", "launch argument cpu_core:='two' must be an integer"),
    ("cpu_core:=-3", "launch argument cpu_core:='-3' must be >= 0, or -1 for no pinning"),
    ("respawn_delay:=-1", "launch argument respawn_delay:='-1' must be >= 0"),
    ("image_qos:=fastest", 'Argument "image_qos" provided value "fastest" is not valid'),
])
def test_a_bad_argument_fails_the_launch_clearly(launches, argument, reason):
    launch = launches("track.launch.py", argument)
    code = launch.wait_exit(60)
    log = launch.log()
    print(f"\n$ ros2 launch cfvgg_ros track.launch.py {argument}  -> exit {code}\n{log.strip()[-600:]}")
    assert code != 0 and reason in log, log
    assert "process started" not in log  # nothing was started


def test_replay_launch_plays_tracks_and_records(launches, tmp_path):
    bag, out = tmp_path / "bag", tmp_path / "out"
    make = subprocess.run([sys.executable, "-m", "cfvgg_ros.cli.bag", "make", "synthetic/translation", str(bag),
                           "--size", "320x240", "--max-frames", "45"], capture_output=True, text=True, timeout=300)
    assert make.returncode == 0, make.stderr
    launch = launches("replay_uav123.launch.py", f"bag:={bag}", f"output:={out}", "bag_tool:=cfvgg",
                      "tracker:=opencv-csrt", "play_delay:=4.0", "tail:=2.0")
    code = launch.wait_exit(240)
    log = launch.log()
    print(f"\n--- ros2 launch cfvgg_ros replay_uav123.launch.py bag_tool:=cfvgg ... (log) ---\n{log[-2000:]}")
    assert code == 0, log[-3000:]
    assert "tracking with 'opencv-csrt' on /camera/image_raw" in log
    assert "[cfvgg-bag-3]: process has finished cleanly" in log  # the player ended, then the launch
    from rosbags.highlevel import AnyReader

    with AnyReader([out]) as reader:
        counts = {c.topic: c.msgcount for c in reader.connections}
    assert counts.get("/target_box", 0) >= 40, counts
    assert counts.get("/track_node/status", 0) > 0, counts
