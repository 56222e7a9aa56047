"""Harness for the tracking-node tests over real DDS.

* An isolated ROS domain: a random ``ROS_DOMAIN_ID`` (1..100) per test session and
  ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, set here before rclpy initialises, and passed to
  the node subprocesses.
* :class:`NodeProcess`: the node as its own process (``python -m cfvgg_ros.ros.track_node``
  with a params file), its log in a file.
* :class:`RosClient`: the test's side in its own rclpy context: publishes images and init
  requests with chosen stamps, records every output, waits on conditions with timeouts.
* :class:`FaultyTracker`: a plug-in tracker (``tracker: "conftest:FaultyTracker"``) that wraps
  CSRT and raises on frames whose top-left pixel is magenta, to test tracker exceptions;
  :class:`SlowTracker` (``"conftest:SlowTracker"``) takes a chosen time per init and update.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

_DOMAIN_VAR = "CFVGG_TEST_ROS_DOMAIN_ID"
if not os.environ.get(_DOMAIN_VAR):
    os.environ[_DOMAIN_VAR] = str(random.SystemRandom().randint(1, 100))
os.environ["ROS_DOMAIN_ID"] = os.environ[_DOMAIN_VAR]
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)  # tests choose the profile themselves

from cfvgg_ros.core import Tracker, TrackResult, create_tracker  # noqa: E402
from cfvgg_ros.evaluation.metrics import box_iou as iou  # noqa: E402,F401  (re-exported to the tests)

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FPS = 30
BASE_STAMP_NS = 1_700_000_000 * 1_000_000_000
MAGENTA = (255, 0, 255)
NODE_NAME = "track_node"


def stamp_of(index: int) -> int:
    """Header stamp (ns) of synthetic frame ``index`` at 30 Hz."""
    return BASE_STAMP_NS + index * 1_000_000_000 // FPS




class FaultyTracker(Tracker):
    """CSRT that raises RuntimeError in init/update on frames whose pixel (0, 0) is magenta."""

    def __init__(self) -> None:
        super().__init__()
        self._inner = create_tracker("opencv-csrt")

    @staticmethod
    def _check(frame) -> None:
        if tuple(int(c) for c in frame[0, 0]) == MAGENTA:
            raise RuntimeError("injected tracker failure")

    def _init(self, frame, box) -> None:
        self._check(frame)
        self._inner.init(frame, box)

    def _update(self, frame):
        self._check(frame)
        return self._inner.update(frame)


class SixthUpdateFails(Tracker):
    """Stands in for a tracker whose 6th update runs new code (fECO's first filter training):
    raises on the 6th update after each init."""

    def _init(self, frame, box) -> None:
        self._box, self._updates = tuple(box), 0

    def _update(self, frame):
        self._updates += 1
        if self._updates == 6:
            raise RuntimeError("6th update reached")
        return TrackResult(self._box, 1.0)


class SlowTracker(Tracker):
    """Stands in for a tracker of a chosen speed: sleeps ``init_s`` in init and ``update_s`` per
    update and returns the init box with score 1 (the backlog tests need a cost, not a tracker)."""

    def __init__(self, init_s: float = 0.0, update_s: float = 0.0) -> None:
        super().__init__()
        self.init_s, self.update_s = float(init_s), float(update_s)

    def _init(self, frame, box) -> None:
        self._box = tuple(box)
        time.sleep(self.init_s)

    def _update(self, frame):
        time.sleep(self.update_s)
        return TrackResult(self._box, 1.0)


# ----------------------------------------------------------------------------- node process
class NodeProcess:
    """The tracking node in its own process; ``params`` go into a params file."""

    def __init__(self, tmp_dir: Path, params: dict | None = None, module: str = "cfvgg_ros.ros.track_node",
                 extra_args: list[str] | None = None, env: dict | None = None) -> None:
        import yaml

        self.params_file = Path(tmp_dir) / "params.yaml"
        self.params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": dict(params or {})}}))
        self.log_path = Path(tmp_dir) / "node.log"
        child_env = dict(os.environ)
        child_env["PYTHONUNBUFFERED"] = "1"
        child_env["RCUTILS_LOGGING_BUFFERED_STREAM"] = "0"
        child_env["PYTHONPATH"] = os.pathsep.join([str(HERE), str(ROOT), child_env.get("PYTHONPATH", "")])
        child_env.update(env or {})
        self.cmd = [sys.executable, "-m", module, *(extra_args or []),
                    "--ros-args", "--params-file", str(self.params_file)]
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=child_env, stdout=self._log,
                                     stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_exit(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._log.close()

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


# ----------------------------------------------------------------------------- test client
class RosClient:
    """The test's ROS side: publishers for the node's inputs, recorders for its outputs."""

    def __init__(self, node_name: str = NODE_NAME) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import PolygonStamped, PoseStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image, RegionOfInterest
        from std_srvs.srv import Trigger

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f"cfvgg_test_client_{os.getpid()}", context=self.context)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.pub_image = self.node.create_publisher(Image, "/image", reliable)
        self.pub_info = self.node.create_publisher(CameraInfo, "/camera_info", reliable)
        self.pub_roi = self.node.create_publisher(RegionOfInterest, "/init_bbox", reliable)
        self.pub_polygon = self.node.create_publisher(PolygonStamped, "/init_bbox_stamped", reliable)
        self.lock = threading.Lock()
        self.poses: list = []
        self.rois: list = []
        self.boxes: list = []
        self.statuses: list[dict] = []
        self.debug_images: list = []
        self.node.create_subscription(PoseStamped, "/target_pose", lambda m: self._add(self.poses, m), reliable)
        self.node.create_subscription(RegionOfInterest, "/target_roi", lambda m: self._add(self.rois, m), reliable)
        self.node.create_subscription(PolygonStamped, "/target_box", lambda m: self._add(self.boxes, m), reliable)
        self.node.create_subscription(Image, f"/{node_name}/debug_image",
                                      lambda m: self._add(self.debug_images, m), reliable)
        self.node.create_subscription(DiagnosticArray, f"/{node_name}/status", self._on_status, reliable)
        self.reset_client = self.node.create_client(Trigger, f"/{node_name}/reset")
        self._Image, self._CameraInfo = Image, CameraInfo
        self._RegionOfInterest, self._PolygonStamped, self._Trigger = RegionOfInterest, PolygonStamped, Trigger
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # context shut down
            pass

    def _add(self, store: list, msg) -> None:
        with self.lock:
            store.append(msg)

    def _on_status(self, msg) -> None:
        values = {kv.key: kv.value for kv in msg.status[0].values}
        values["_level"] = msg.status[0].level[0] if isinstance(msg.status[0].level, bytes) else msg.status[0].level
        values["_message"] = msg.status[0].message
        self._add(self.statuses, values)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=5)

    # -- waiting ---------------------------------------------------------------------------
    @staticmethod
    def wait_for(predicate, timeout: float = 10.0, what: str = "condition", log=None):
        """Poll ``predicate`` until it returns a truthy value (returned) or fail after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.01)
        detail = f"\n--- node log ---\n{log()[-4000:]}" if log is not None else ""
        pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}")

    def call(self, service, request, timeout: float = 60.0, resend_after: float = 5.0, log=None):
        """Call an idempotent service, sending the request again each ``resend_after`` s without a reply.

        ``service_is_ready`` says our side has matched the server; the server's reply writer may not
        have matched our reply reader yet (discovery is asymmetric, slow on a loaded 2-core runner),
        and Fast DDS drops a reply it cannot deliver. Resending is safe only for calls that change
        nothing twice (get_state, listing, describing or setting parameters).
        """
        self.wait_for(service.service_is_ready, 30, f"service {service.srv_name}", log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            future = service.call_async(request)
            resend_at = min(deadline, time.monotonic() + resend_after)
            while time.monotonic() < resend_at:
                if future.done():
                    return future.result()
                time.sleep(0.01)
            future.cancel()
        detail = f"\n--- node log ---\n{log()[-4000:]}" if log is not None else ""
        pytest.fail(f"no reply from {service.srv_name} in {timeout:.0f} s (resent every {resend_after:.0f} s){detail}")

    def last_status(self) -> dict | None:
        with self.lock:
            return self.statuses[-1] if self.statuses else None

    def status_where(self, predicate) -> dict | None:
        with self.lock:
            for values in reversed(self.statuses):
                if predicate(values):
                    return values
        return None

    def wait_ready(self, node: NodeProcess | None = None, timeout: float = 30.0) -> None:
        """Until the node's status arrives and it subscribes to our image and init topics."""
        log = node.log if node is not None else None

        def ready():
            if node is not None and not node.alive():
                pytest.fail(f"node exited with code {node.proc.returncode}:\n{node.log()[-4000:]}")
            return (self.last_status() is not None and self.pub_image.get_subscription_count() > 0
                    and self.pub_roi.get_subscription_count() > 0
                    and self.pub_polygon.get_subscription_count() > 0
                    and self.reset_client.service_is_ready())

        self.wait_for(ready, timeout, "the node to come up", log)

    def clear(self) -> None:
        with self.lock:
            self.poses.clear()
            self.rois.clear()
            self.boxes.clear()
            self.statuses.clear()
            self.debug_images.clear()

    # -- publishing ------------------------------------------------------------------------
    def image_msg(self, frame: np.ndarray, stamp_ns: int, encoding: str = "rgb8"):
        from cfvgg_ros.ros.conversions import rgb_to_image

        msg = rgb_to_image(frame, self._Image(), encoding)
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        msg.header.frame_id = "camera_optical"
        return msg

    def publish_image(self, msg, stamp_ns: int, wait: bool = True, timeout: float = 10.0, log=None) -> dict | None:
        """Publish an Image; with ``wait``, until the node's status reports handling its stamp."""
        self.pub_image.publish(msg)
        if not wait:
            return None
        return self.wait_for(lambda: self.status_where(lambda s: s.get("frame_stamp_ns") == str(stamp_ns)),
                             timeout, f"the node to handle frame {stamp_ns}", log)

    def publish_frame(self, frame: np.ndarray, stamp_ns: int, wait: bool = True, log=None) -> dict | None:
        return self.publish_image(self.image_msg(frame, stamp_ns), stamp_ns, wait, log=log)

    def publish_roi(self, box) -> None:
        x, y, w, h = (int(round(v)) for v in box)
        self.pub_roi.publish(self._RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h))

    def publish_polygon(self, corners, stamp_ns: int) -> None:
        from geometry_msgs.msg import Point32

        msg = self._PolygonStamped()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)
        msg.header.frame_id = "camera_optical"
        msg.polygon.points = [Point32(x=float(x), y=float(y), z=0.0) for x, y in corners]
        self.pub_polygon.publish(msg)

    def publish_camera_info(self, width: int, height: int, fx: float = 300.0) -> None:
        msg = self._CameraInfo()
        msg.width, msg.height = width, height
        msg.k = [fx, 0.0, width / 2.0, 0.0, fx, height / 2.0, 0.0, 0.0, 1.0]
        msg.d = [0.0] * 5
        msg.distortion_model = "plumb_bob"
        self.pub_info.publish(msg)

    def call_reset(self, timeout: float = 10.0):
        future = self.reset_client.call_async(self._Trigger.Request())
        self.wait_for(future.done, timeout, "the ~/reset service")
        return future.result()

    def pose_for(self, stamp_ns: int):
        with self.lock:
            for msg in reversed(self.poses):
                if msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec == stamp_ns:
                    return msg
        return None

    def wait_box(self, stamp_ns: int, timeout: float = 5.0, log=None):
        """The target_box for ``stamp_ns`` (outputs on other topics may arrive after the status)."""
        return self.wait_for(lambda: self.box_for(stamp_ns), timeout, f"target_box of frame {stamp_ns}", log)

    def wait_pose(self, stamp_ns: int, timeout: float = 5.0, log=None):
        return self.wait_for(lambda: self.pose_for(stamp_ns), timeout, f"target_pose of frame {stamp_ns}", log)

    def box_for(self, stamp_ns: int):
        """(x, y, w, h) from the target_box polygon published for ``stamp_ns``, or None."""
        with self.lock:
            for msg in reversed(self.boxes):
                if msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec == stamp_ns:
                    xs = [p.x for p in msg.polygon.points]
                    ys = [p.y for p in msg.polygon.points]
                    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
        return None


def corners_of(box) -> list[tuple[float, float]]:
    x, y, w, h = box
    return [(x, y), (x + w, y + h)]


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def synthetic():
    """The 40-frame 320x240 translation sequence: (frames, ground-truth boxes, scene)."""
    from cfvgg_ros.datasets.synthetic import make_sequence

    seq = make_sequence("translation", num_frames=40, width=320, height=240)
    frames = [seq.frame(i) for i in range(len(seq))]
    return frames, seq.boxes, seq.render


@pytest.fixture(scope="session")
def h():
    """Helpers for the node tests (fixtures, not imports: other test folders have conftests too)."""
    return SimpleNamespace(NodeProcess=NodeProcess, iou=iou, stamp_of=stamp_of, corners_of=corners_of,
                           MAGENTA=MAGENTA, FPS=FPS)


@pytest.fixture(scope="module")
def ros_client():
    pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")
    client = RosClient()
    yield client
    client.close()
