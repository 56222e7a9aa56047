"""Do a camera's images reach the node? Delivered / sent over real DDS from an independent publisher.

Usage::

    python benchmarks/image_transport.py                  # the table below, 2 repetitions
    python benchmarks/image_transport.py --reps 3 --frames 150 --markdown
    python benchmarks/image_transport.py publish --width 1280 --height 720 --reliability best_effort

The publisher is its own process, loads no Fast DDS profile (``FASTRTPS_DEFAULT_PROFILES_FILE``
removed from its environment: a stock camera driver's middleware settings) and publishes
``--frames`` rgb8 frames at ``--hz`` (default 90 at 30 Hz) with QoS best effort (keep last 5, as
``SensorDataQoS`` drivers do) or reliable (keep last 10, the ROS default), once the node has matched
it for a moment. The node (``track_node`` in its own process, pinned to ``--cpu-core``; the
publisher on the other core) tracks the moving square in them (an init on the first frame), with
each node setting:

* ``node profile + best_available`` -- the node's defaults: its own Fast DDS profile
  (``config/fastdds_node.xml``: readers on UDP with a 16 MiB receive buffer) and ``image_qos:
  best_available`` (reliable towards a reliable publisher, else best effort);
* ``SHM profile + sensor_data`` -- the node's previous defaults (``config/fastdds_shm.xml``, best effort);
* ``no profile + best_available`` -- Fast DDS's defaults in the node too;
* ``node profile + sensor_data`` -- best effort even towards a reliable publisher.

Delivered = frames the node received (``~/status`` ``frames_received``) / frames sent; poses =
frames with a ``target_box``; "lost" = samples the middleware reported lost in transport
(``frames_lost_in_transport``). The machine's ``net.core.rmem_max`` is printed: it caps the UDP
receive buffer the node's profile asks for.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
RELIABILITIES = ("best_effort", "reliable")
BASE_STAMP_NS = 1_800_000_000 * 1_000_000_000
SQUARE = 96  # side of the moving target (px)
EMPTY_PROFILE = '<?xml version="1.0" encoding="UTF-8" ?>\n<dds xmlns="http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles"><profiles/></dds>\n'
#: node setting -> (profile: "node" | "shm" | "none", image_qos)
SETTINGS = {
    "node profile + best_available": ("node", "best_available"),
    "SHM profile + sensor_data": ("shm", "sensor_data"),
    "no profile + best_available": ("none", "best_available"),
    "node profile + sensor_data": ("node", "sensor_data"),
}


def stamp_of(run: int, index: int, hz: float) -> int:
    return BASE_STAMP_NS + run * 3600 * 1_000_000_000 + int(index * 1e9 / hz)


def box_of(index: int, width: int, height: int) -> tuple[int, int, int, int]:
    """The moving square in frame ``index``: (x, y, w, h)."""
    x = width // 4 + (4 * index) % (width // 2)
    return x, height // 2 - SQUARE // 2, SQUARE, SQUARE


# ----------------------------------------------------------------------------- publisher process
def publish(args) -> int:
    """The independent publisher (its own process, no Fast DDS profile); prints a JSON line."""
    import numpy as np
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    rclpy.init()
    node = rclpy.create_node(f"independent_camera_{os.getpid()}")
    if args.reliability == "reliable":
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    else:
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
    pub = node.create_publisher(Image, args.topic, qos)
    w, h = args.width, args.height
    rng = np.random.default_rng(0)
    small = rng.integers(40, 200, (h // 16 + 1, w // 16 + 1, 3), dtype=np.uint8)
    base = np.repeat(np.repeat(small, 16, axis=0), 16, axis=1)[:h, :w]  # blocky texture: trackable background
    msg = Image(height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3)
    msg.header.frame_id = "camera_optical"
    deadline = time.monotonic() + args.match_timeout
    stable_since = None
    while time.monotonic() < deadline:  # matched, and still matched after the node's QoS settled
        if pub.get_subscription_count() > 0:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= args.settle:
                break
        else:
            stable_since = None
        time.sleep(0.02)
    else:
        print(json.dumps({"sent": 0, "error": "no subscription matched"}), flush=True)
        return 1
    start, late = time.monotonic(), 0.0
    for i in range(args.frames):
        target = start + i / args.hz
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            late = max(late, -delay)
        frame = base.copy()
        x, y, bw, bh = box_of(i, w, h)
        frame[y:y + bh, x:x + bw] = (255, 40, 40)
        frame[y + bh // 4:y + 3 * bh // 4, x + bw // 4:x + 3 * bw // 4] = (30, 30, 220)
        msg.data = frame.tobytes()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_of(args.run, i, args.hz), 1_000_000_000)
        pub.publish(msg)
    time.sleep(args.linger)
    print(json.dumps({"sent": args.frames, "max_late_s": round(late, 4)}), flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


def publisher_command(width: int, height: int, frames: int, hz: float, reliability: str, run: int,
                      topic: str = "/camera/image_raw", core: int | None = None) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "publish", "--width", str(width), "--height", str(height),
           "--frames", str(frames), "--hz", str(hz), "--reliability", reliability, "--run", str(run),
           "--topic", topic]
    return (["taskset", "-c", str(core)] + cmd) if core is not None and os.path.exists("/usr/bin/taskset") else cmd


def publisher_env() -> dict:
    """The environment of a stock camera driver: no Fast DDS profile."""
    return {k: v for k, v in os.environ.items() if k != "FASTRTPS_DEFAULT_PROFILES_FILE"}


def run_publisher(cmd: list[str], timeout: float = 120.0) -> dict:
    proc = subprocess.run(cmd, env=publisher_env(), capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"publisher failed ({proc.returncode}): {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


# ----------------------------------------------------------------------------- measurement
class Observer:
    """The benchmark's own ROS side (its own context): the node's status and boxes, and the init."""

    def __init__(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from geometry_msgs.msg import Point32, PolygonStamped
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f"transport_observer_{os.getpid()}", context=self.context)
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.lock = threading.Lock()
        self.status: dict = {}
        self.box_stamps: set[int] = set()
        self.node.create_subscription(DiagnosticArray, "/track_node/status", self._on_status, reliable)
        self.node.create_subscription(PolygonStamped, "/target_box", self._on_box, reliable)
        self.pub_init = self.node.create_publisher(PolygonStamped, "/init_bbox_stamped", reliable)
        self._Polygon, self._Point = PolygonStamped, Point32
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self._spin, daemon=True)
        self.thread.start()

    def _spin(self) -> None:
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 - context shut down
            pass

    def _on_status(self, msg) -> None:
        with self.lock:
            self.status = {kv.key: kv.value for kv in msg.status[0].values}

    def _on_box(self, msg) -> None:
        with self.lock:
            self.box_stamps.add(msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec)

    def value(self, key: str, default: str = "0") -> str:
        with self.lock:
            return self.status.get(key, default)

    def init_on(self, stamp_ns: int, box) -> None:
        x, y, w, h = box
        msg = self._Polygon()
        msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
        msg.polygon.points = [self._Point(x=float(x), y=float(y), z=0.0),
                              self._Point(x=float(x + w), y=float(y + h), z=0.0)]
        self.pub_init.publish(msg)

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2)
        self.thread.join(timeout=5)
        self.node.destroy_node()
        self.context.try_shutdown()


def start_node(setting: str, tracker: str | None, core: int, workdir: Path, log_path: Path):
    import yaml

    profile, qos = SETTINGS[setting]
    params = {"image_topic": "/camera/image_raw", "camera_info_topic": "", "image_qos": qos, "cpu_core": core,
              "status_period": 0.25}
    if tracker:
        params["tracker"] = tracker
    params_file = workdir / "params.yaml"
    params_file.write_text(yaml.safe_dump({"/**": {"ros__parameters": params}}))
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("FASTRTPS_DEFAULT_PROFILES_FILE", None)
    if profile == "shm":
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(ROOT / "config" / "fastdds_shm.xml")
    elif profile == "none":
        empty = workdir / "empty_profile.xml"
        empty.write_text(EMPTY_PROFILE)
        env["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(empty)
    log = open(log_path, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "cfvgg_ros.ros.track_node", "--ros-args", "--params-file",
                             str(params_file)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, log


def measure_run(observer: Observer, width: int, height: int, reliability: str, frames: int, hz: float, run: int,
                publisher_core: int | None) -> dict:
    """One publisher run against the running node: delivered, poses, lost."""
    before_received = int(observer.value("frames_received"))
    before_lost = int(observer.value("frames_lost_in_transport"))
    cmd = publisher_command(width, height, frames, hz, reliability, run, core=publisher_core)
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run_publisher(cmd)))
    thread.start()
    first = stamp_of(run, 0, hz)
    deadline = time.monotonic() + 60
    while thread.is_alive() and int(observer.value("frames_received")) == before_received:
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    observer.init_on(first, box_of(0, width, height))
    qos, seen = observer.value("image_qos", ""), int(observer.value("frames_received"))
    while thread.is_alive():  # the subscription's QoS while this publisher's frames arrive
        time.sleep(0.05)
        received = int(observer.value("frames_received"))
        if received != seen:
            qos, seen = observer.value("image_qos", ""), received
    thread.join()
    time.sleep(1.0)  # the last frames' status
    stamps = {stamp_of(run, i, hz) for i in range(frames)}
    with observer.lock:
        poses = len(stamps & observer.box_stamps)
    return {"sent": int(result.get("sent", 0)), "delivered": int(observer.value("frames_received")) - before_received,
            "lost": int(observer.value("frames_lost_in_transport")) - before_lost, "poses": poses,
            "qos": qos}


def rmem_max() -> str:
    try:
        return Path("/proc/sys/net/core/rmem_max").read_text().strip()
    except OSError:
        return "unknown"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    pub = sub.add_parser("publish", help="the independent publisher (run by the benchmark and the tests)")
    pub.add_argument("--width", type=int, default=1280)
    pub.add_argument("--height", type=int, default=720)
    pub.add_argument("--frames", type=int, default=90)
    pub.add_argument("--hz", type=float, default=30.0)
    pub.add_argument("--reliability", choices=RELIABILITIES, default="best_effort")
    pub.add_argument("--topic", default="/camera/image_raw")
    pub.add_argument("--run", type=int, default=0, help="offsets the stamps (one hour per run)")
    pub.add_argument("--settle", type=float, default=1.5, help="matched this long before the first frame (s)")
    pub.add_argument("--match-timeout", type=float, default=60.0)
    pub.add_argument("--linger", type=float, default=1.0, help="stay up this long after the last frame (s)")
    parser.add_argument("--frames", type=int, default=90)
    parser.add_argument("--hz", type=float, default=30.0)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--resolutions", default="720p,1080p")
    parser.add_argument("--settings", default=",".join(SETTINGS), help="node settings (names above)")
    parser.add_argument("--tracker", help="node tracker (default: the node's default)")
    parser.add_argument("--cpu-core", type=int, default=0)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    if args.command == "publish":
        return publish(args)

    os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    publisher_core = next((c for c in cores if c != args.cpu_core), None)
    rows, run = [], 0
    observer = Observer()
    try:
        for setting in [s.strip() for s in args.settings.split(",") if s.strip()]:
            with tempfile.TemporaryDirectory() as tmp:
                with observer.lock:
                    observer.status = {}
                proc, log = start_node(setting, args.tracker, args.cpu_core, Path(tmp), Path(tmp) / "node.log")
                try:
                    deadline = time.monotonic() + 120
                    while not observer.value("state", "") and time.monotonic() < deadline:
                        if proc.poll() is not None:
                            raise RuntimeError((Path(tmp) / "node.log").read_text()[-3000:])
                        time.sleep(0.1)
                    for res in args.resolutions.split(","):
                        width, height = RESOLUTIONS[res]
                        for reliability in RELIABILITIES:
                            for rep in range(args.reps):
                                run += 1
                                row = {"setting": setting, "resolution": res, "publisher": reliability, "rep": rep,
                                       **measure_run(observer, width, height, reliability, args.frames, args.hz,
                                                     run, publisher_core)}
                                rows.append(row)
                                print(f"{setting:32s} {res:6s} {reliability:12s} delivered {row['delivered']}/"
                                      f"{row['sent']}  poses {row['poses']}  lost {row['lost']}  ({row['qos']})",
                                      flush=True)
                finally:
                    proc.send_signal(2)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                    log.close()
    finally:
        observer.close()
    print(f"\nnet.core.rmem_max = {rmem_max()}; {args.frames} frames at {args.hz:g} Hz per run; "
          f"{args.reps} run(s) per cell; min-max over the runs")
    header = "| node setting | resolution | publisher | delivered / sent | with a pose | lost in transport |"
    print(header)
    print("|---|---|---|---:|---:|---:|")
    for setting in dict.fromkeys(r["setting"] for r in rows):
        for res in dict.fromkeys(r["resolution"] for r in rows):
            for reliability in RELIABILITIES:
                key = (setting, res, reliability)
                cell = [r for r in rows if (r["setting"], r["resolution"], r["publisher"]) == key]
                if not cell:
                    continue

                def span(key, cell=cell):
                    lo, hi = min(r[key] for r in cell), max(r[key] for r in cell)
                    return f"{lo}" if lo == hi else f"{lo}-{hi}"

                print(f"| {setting} | {res} | {reliability} | {span('delivered')} / {cell[0]['sent']} | "
                      f"{span('poses')} | {span('lost')} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"rmem_max": rmem_max(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
