"""Shared parts of the reliability benchmarks (``soak.py``, ``dds_fuzz.py``, ``faults.py``): the
tracking node as its own process with its resources (psutil: RSS, threads, open files, CPU), a
probe node that feeds it and records what it publishes, synthetic frames, and small statistics.

The probe runs in its own rclpy context in the calling process (a thread spins it). It publishes
the node's inputs (``/image``, ``/camera_info``, ``/init_bbox``, ``/init_bbox_stamped`` and, when
``vision_msgs`` is importable, ``/init_detection``), calls ``/track_node/reset``, and records the
header stamp and arrival time of every ``target_pose`` and the values of every ``~/status``.

Both sides use the shipped Fast DDS profile (``config/fastdds_shm.xml``: shared memory, 32 MiB
segment, needed for 720p frames) unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set: import this
module before rclpy.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("FASTRTPS_DEFAULT_PROFILES_FILE", str(ROOT / "config" / "fastdds_shm.xml"))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
# a domain of its own (unless one is set): another node named track_node on the machine (a demo,
# a test, a second benchmark) would otherwise receive these inputs too, and answer for this one
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 100)))
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

NODE_NAME = "track_node"
NS = 1_000_000_000


def default_tracker() -> str:
    """The node's default tracker (from its parameter table, never hard-coded here)."""
    from cfvgg_ros.ros.params import SPECS

    return str(SPECS["tracker"].default)


def pin_to(cores) -> None:
    """Pin this process to ``cores`` (those that exist); silently keeps the affinity otherwise."""
    allowed = set(range(os.cpu_count() or 1))
    wanted = {c for c in cores if c in allowed}
    if wanted:
        os.sched_setaffinity(0, wanted)


def machine_load() -> str:
    """``uptime``-style load averages."""
    return "load average " + " ".join(f"{v:.2f}" for v in os.getloadavg())


def domain() -> str:
    return f"ROS_DOMAIN_ID {os.environ['ROS_DOMAIN_ID']}"


# ----------------------------------------------------------------------------- node process
@dataclass
class Resources:
    """One sample of the node process's resources."""

    t: float
    rss_mb: float
    threads: int
    fds: int
    cpu_s: float

    def line(self) -> str:
        return f"RSS {self.rss_mb:.1f} MB, {self.threads} threads, {self.fds} open files, CPU {self.cpu_s:.1f} s"


class NodeProcess:
    """``python -m cfvgg_ros.ros.track_node`` with ``params`` (a params file in ``work``), its log
    in ``work/node.log``."""

    def __init__(self, work: Path, params: dict, env: dict | None = None,
                 command: list[str] | None = None) -> None:
        import yaml

        work.mkdir(parents=True, exist_ok=True)
        self.params_file = work / "params.yaml"
        self.params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": dict(params)}}))
        self.log_path = work / "node.log"
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", "RCUTILS_LOGGING_BUFFERED_STREAM": "0", **(env or {})}
        child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), child_env.get("PYTHONPATH", "")) if p)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        command = command or [sys.executable, "-m", "cfvgg_ros.ros.track_node"]
        self.proc = subprocess.Popen([*command, "--ros-args", "--params-file", str(self.params_file)],
                                     cwd=ROOT, env=child_env, stdout=self._log, stderr=subprocess.STDOUT)
        import psutil

        self.ps = psutil.Process(self.proc.pid)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def resources(self) -> Resources:
        with self.ps.oneshot():
            cpu = self.ps.cpu_times()
            return Resources(time.monotonic(), self.ps.memory_info().rss / 2**20, self.ps.num_threads(),
                             self.ps.num_fds(), cpu.user + cpu.system)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_count(self, level: str) -> int:
        """Lines of the node log at ``level`` (``ERROR``, ``WARN``, ``FATAL``)."""
        return sum(1 for line in self.log().splitlines() if f"[{level}]" in line)

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


# ----------------------------------------------------------------------------- probe
class Probe:
    """The feeding and recording side (see the module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, image_topic: str = "/image") -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PolygonStamped, PoseStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
        from std_srvs.srv import Trigger

        try:
            from vision_msgs.msg import Detection2D
        except ImportError:
            Detection2D = None  # noqa: N806
        self.Image, self.CameraInfo, self.RegionOfInterest = Image, CameraInfo, RegionOfInterest
        self.PolygonStamped, self.Detection2D, self.Trigger = PolygonStamped, Detection2D, Trigger
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f"cfvgg_reliability_probe_{os.getpid()}", context=self.context)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_image = self.node.create_publisher(Image, image_topic, reliable)
        self.pub_info = self.node.create_publisher(CameraInfo, "/camera_info", reliable)
        self.pub_roi = self.node.create_publisher(RegionOfInterest, "/init_bbox", reliable)
        self.pub_polygon = self.node.create_publisher(PolygonStamped, "/init_bbox_stamped", reliable)
        self.pub_detection = (self.node.create_publisher(Detection2D, "/init_detection", reliable)
                              if Detection2D is not None else None)
        self.lock = threading.Lock()
        self.poses: list[tuple[int, float]] = []  # (header stamp ns, arrival monotonic s)
        self.statuses: list[dict] = []
        self.keep_statuses = True
        self.boxes: dict[int, tuple] = {}  # target_box by header stamp: (x, y, w, h)
        self.node.create_subscription(PoseStamped, "/target_pose", self._on_pose, reliable)
        self.node.create_subscription(PolygonStamped, "/target_box", self._on_box, reliable)
        self.node.create_subscription(DiagnosticArray, f"/{node_name}/status", self._on_status, reliable)
        self.reset_client = self.node.create_client(Trigger, f"/{node_name}/reset")
        self.latest: dict = {}
        self.results: dict[int, tuple[float, float]] = {}  # result stamp -> (latency ms, arrival)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - the context was shut down
            pass

    def _on_pose(self, msg) -> None:
        stamp = msg.header.stamp.sec * NS + msg.header.stamp.nanosec
        with self.lock:
            self.poses.append((stamp, time.monotonic()))

    def _on_box(self, msg) -> None:
        xs, ys = [p.x for p in msg.polygon.points], [p.y for p in msg.polygon.points]
        stamp = msg.header.stamp.sec * NS + msg.header.stamp.nanosec
        with self.lock:
            self.boxes[stamp] = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))

    def _on_status(self, msg) -> None:
        status = msg.status[0]
        values = {kv.key: kv.value for kv in status.values}
        level = status.level
        values["_level"] = level[0] if isinstance(level, bytes) else int(level)
        values["_message"] = status.message
        values["_t"] = now = time.monotonic()
        with self.lock:
            self.latest = values
            stamp = values.get("last_result_stamp_ns", "")
            if stamp and int(stamp) not in self.results:
                self.results[int(stamp)] = (float(values["last_result_latency_ms"]), now)
            if self.keep_statuses:
                self.statuses.append(values)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)

    # -- waiting --------------------------------------------------------------------------
    def wait_for(self, predicate, timeout: float, what: str, node: NodeProcess | None = None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if node is not None and not node.alive():
                raise RuntimeError(f"the node exited (code {node.proc.returncode}) while waiting for {what}:\n"
                                   f"{node.log()[-3000:]}")
            time.sleep(0.01)
        tail = f"\n--- node log ---\n{node.log()[-3000:]}" if node is not None else ""
        raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")

    def wait_ready(self, node: NodeProcess, timeout: float = 120.0) -> None:
        """Until the node publishes its status and subscribes to the image and init topics."""
        self.wait_for(lambda: (self.status() and self.pub_image.get_subscription_count() > 0
                               and self.pub_roi.get_subscription_count() > 0
                               and self.pub_polygon.get_subscription_count() > 0
                               and self.reset_client.service_is_ready()), timeout, "the node to come up", node)

    def status(self) -> dict:
        with self.lock:
            return dict(self.latest)

    def status_where(self, predicate) -> dict | None:
        with self.lock:
            for values in reversed(self.statuses):
                if predicate(values):
                    return values
        return None

    def wait_handled(self, stamp_ns: int, node: NodeProcess, timeout: float = 30.0) -> dict:
        return self.wait_for(lambda: self.status_where(lambda s: s.get("frame_stamp_ns") == str(stamp_ns)),
                             timeout, f"frame {stamp_ns} to be handled", node)

    def pose_stamps(self) -> list[int]:
        with self.lock:
            return [stamp for stamp, _ in self.poses]

    # -- publishing -----------------------------------------------------------------------
    def image(self, frame: np.ndarray, stamp_ns: int = 0, encoding: str = "rgb8"):
        from cfvgg_ros.ros.conversions import rgb_to_image

        msg = rgb_to_image(frame, self.Image(), encoding)
        set_stamp(msg, stamp_ns)
        msg.header.frame_id = "camera_optical"
        return msg

    def publish_image(self, msg, stamp_ns: int) -> None:
        set_stamp(msg, stamp_ns)
        self.pub_image.publish(msg)

    def publish_roi(self, box) -> None:
        x, y, w, h = (max(0, int(round(v))) for v in box)
        self.pub_roi.publish(self.RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h))

    def publish_polygon(self, box, stamp_ns: int) -> None:
        from geometry_msgs.msg import Point32

        x, y, w, h = (float(v) for v in box)
        msg = self.PolygonStamped()
        set_stamp(msg, stamp_ns)
        msg.header.frame_id = "camera_optical"
        msg.polygon.points = [Point32(x=x, y=y, z=0.0), Point32(x=x + w, y=y + h, z=0.0)]
        self.pub_polygon.publish(msg)

    def reset(self, timeout: float = 10.0):
        future = self.reset_client.call_async(self.Trigger.Request())
        self.wait_for(future.done, timeout, "the ~/reset service")
        return future.result()


def set_stamp(msg, stamp_ns: int) -> None:
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), NS)


# ----------------------------------------------------------------------------- frames
@dataclass
class Frames:
    """Synthetic frames as ready Image messages, played forwards then backwards (no jump in the
    target's motion at the loop point): ``with_target[i]`` and, when made, the same scene without
    the target (``without_target[i]``: the target left the frame); ``boxes[i]`` ground truth."""

    with_target: list
    without_target: list
    boxes: np.ndarray
    width: int
    height: int
    order: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.with_target)
        self.order = list(range(n)) + list(range(n - 2, 0, -1))

    def index(self, k: int) -> int:
        """The sequence frame shown at the ``k``-th publish of the loop."""
        return self.order[k % len(self.order)]


def make_frames(probe: Probe, preset: str, count: int, width: int, height: int, without: bool = False) -> Frames:
    from cfvgg_ros.datasets.synthetic import make_sequence

    seq = make_sequence(preset, num_frames=count, width=width, height=height)
    with_target = [probe.image(seq.frame(i)) for i in range(count)]
    without_target = [probe.image(seq.render.render(i, target=False)) for i in range(count)] if without else []
    return Frames(with_target, without_target, np.asarray(seq.boxes, float), width, height)


# ----------------------------------------------------------------------------- statistics
def percentile(values, q: float) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.percentile(values, q)) if values else float("nan")


def write_json(path: str | None, data: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(data, indent=2, default=float))


def status_int(status: dict, key: str) -> int:
    value = status.get(key, "")
    return int(value) if value not in ("", None) else 0
