"""Fault injection against a live tracking node, each fault with a printed outcome.

Usage::

    python benchmarks/faults.py                                   # 720p, the node's default tracker
    python benchmarks/faults.py --size 320x240 --stop-s 2 --spike-s 2 --json f.json   # short (tests)

Faults (``--faults``, comma-separated, default all):

* ``stop``: the camera stream stops for ``--stop-s`` seconds (5) and resumes (the scene went on
  meanwhile). Outcome: when ``~/status`` said ``stream: stale`` (and its level), poses published
  during the gap after the backlog was done (must be none), the state and poses after the
  resume, and whether every pose came in stamp order.
* ``stamps``: one late frame (its stamp 0.5 s old: reordered on the way) in a running stream,
  then the camera's clock jumps back 100 s for good. Outcome: whether the late frame got a pose
  (it must not), ``frames_out_of_order``, the new time base in the log, poses after the jump.
* ``spike``: the input rate jumps from ``--rate`` to ``--spike-hz`` (120) for ``--spike-s``
  seconds (5). Outcome: the rate achieved, latency (image receipt -> publish) p95 and maximum
  during the spike, the largest backlog and lag in ``~/status`` against the backlog policy's
  bounds (``max_backlog`` frames, ``max_lag`` s), frames skipped, RSS before and after, and the
  mode and latency once the rate is back.
* ``respawn``: the node started by ``launch/track.launch.py`` through ``launch.LaunchService``
  (needs the ``launch`` / ``launch_ros`` wheels, see ``../shared/wheels/ros2-jazzy-launch``) with
  ``respawn:=true``, killed with SIGKILL while tracking; launch restarts it. Outcome: seconds
  until the new process runs and until its ``~/status`` is back, and how long the first
  ``/init_bbox`` sent then takes to give a pose. When the launch file declares no ``respawn``
  argument, a launch description with the same node and ``respawn=True`` stands in (said so).
  The package is made findable by a throw-away ament prefix (share/ and lib/cfvgg_ros/ links
  into this checkout), so no ``colcon build`` is needed.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402  (sets the Fast DDS profile before rclpy loads)

FAULTS = ("stop", "stamps", "spike", "respawn")


class Stream:
    """Frames at a rate, the scene advancing with the wall clock (also while nothing is sent)."""

    def __init__(self, probe: rel.Probe, frames: rel.Frames, rate: float) -> None:
        self.p, self.frames, self.rate = probe, frames, rate
        self.t0 = time.monotonic()
        self.offset_ns = 0  # added to every stamp (a camera clock reset)
        self.sent: list[tuple[int, int, float]] = []  # (stamp, frame index, publish time)

    def index_now(self) -> int:
        return self.frames.index(int((time.monotonic() - self.t0) * 30))  # the scene moves at 30 frames/s

    def publish(self, stamp_ns: int | None = None) -> int:
        index = self.index_now()
        stamp = time.time_ns() + self.offset_ns if stamp_ns is None else stamp_ns
        self.p.publish_image(self.frames.with_target[index], stamp)
        self.sent.append((stamp, index, time.monotonic()))
        return stamp

    def run(self, seconds: float, rate: float | None = None) -> list[int]:
        period, start, stamps, k = 1.0 / (rate or self.rate), time.monotonic(), [], 0
        while time.monotonic() - start < seconds:
            stamps.append(self.publish())
            k += 1
            time.sleep(max(0.0, start + k * period - time.monotonic()))
        return stamps

    def init(self, node) -> int:
        """A stamped init on the ground truth of the frame just sent; waits for TRACKING."""
        stamp = self.publish()
        self.p.publish_polygon(self.frames.boxes[self.sent[-1][1]], stamp)
        self.p.wait_for(lambda: self.p.status_where(lambda s: s.get("init_stamp_ns") == str(stamp)
                                                    and s.get("state") == "TRACKING"), 30, "the init", node)
        return stamp


def in_stamp_order(stamps: list[int]) -> bool:
    return all(b >= a for a, b in zip(stamps, stamps[1:], strict=False))


def fault_stop(probe, node, stream, stop_s: float, settle: float) -> dict:
    stream.init(node)
    stream.run(settle)
    before = probe.status()
    last = stream.sent[-1][0]
    stopped = time.monotonic()
    samples = []
    while time.monotonic() - stopped < stop_s:
        samples.append((time.monotonic() - stopped, probe.status()))
        time.sleep(0.1)
    with probe.lock:
        during = [(s, t) for s, t in probe.poses if t > stopped + 0.5]
    stale = [(t, s) for t, s in samples if s.get("stream") == "stale"]
    resumed = time.monotonic()
    first = stream.run(settle)
    time.sleep(0.5)
    after = probe.status()
    with probe.lock:
        poses = [(s, t) for s, t in probe.poses if t >= resumed]
        order = [s for s, _ in probe.poses]
    return {
        "stop_s": stop_s, "stale_after_s": round(stale[0][0], 2) if stale else None,
        "stale_status": {k: stale[-1][1].get(k) for k in ("stream", "stream_age_ms", "_level", "_message",
                                                          "state")} if stale else {},
        "poses_during_gap": len(during), "poses_after_resume": len(poses),
        "first_pose_after_resume_ms": round(1e3 * (min(t for _, t in poses) - resumed), 1) if poses else None,
        "stale_pose_after_resume": any(s <= last for s, _ in poses),
        "state_after": after.get("state"), "stream_after": after.get("stream"),
        "stream_gaps": rel.status_int(after, "stream_gaps") - rel.status_int(before, "stream_gaps"),
        "frames_missing": rel.status_int(after, "frames_missing") - rel.status_int(before, "frames_missing"),
        "poses_in_stamp_order": in_stamp_order(order), "first_stamp_after": first[0] if first else None,
    }


def fault_stamps(probe, node, stream, settle: float) -> dict:
    probe.reset()
    stream.offset_ns = 0
    stream.init(node)
    stream.run(settle)
    before = probe.status()
    late = stream.sent[-1][0] - 500_000_000 + 1  # a frame 0.5 s old arrives now
    stream.publish(late)
    stream.run(settle / 2)
    stream.offset_ns = -100 * rel.NS  # the camera clock jumps back 100 s
    jumped = time.monotonic()
    jump_stamps = stream.run(settle)
    time.sleep(0.5)
    after = probe.status()
    with probe.lock:
        late_pose = any(s == late for s, _ in probe.poses)
        after_jump = [s for s, t in probe.poses if t >= jumped and s in set(jump_stamps)]
        base = [s for s, _ in probe.poses if s in set(jump_stamps)]
    log = node.log()
    return {
        "late_frame_got_pose": late_pose,
        "frames_out_of_order": rel.status_int(after, "frames_out_of_order")
        - rel.status_int(before, "frames_out_of_order"),
        "stamp_jumps_back": rel.status_int(after, "stamp_jumps_back") - rel.status_int(before, "stamp_jumps_back"),
        "new_time_base_logged": "a new time base" in log,
        "late_frame_logged": "older than the last frame tracked" in log,
        "frames_after_jump": len(jump_stamps), "poses_after_jump": len(after_jump),
        "poses_in_stamp_order_after_jump": in_stamp_order(base), "state_after": after.get("state"),
    }


def fault_spike(probe, node, stream, spike_hz: float, spike_s: float, settle: float) -> dict:
    probe.reset()
    stream.offset_ns = 0
    stream.init(node)
    stream.run(settle)
    before, rss_before = probe.status(), node.resources()
    with probe.lock:
        probe.statuses.clear()
    start = time.monotonic()
    stamps = stream.run(spike_s, spike_hz)
    spike_end = time.monotonic()
    rss_spike = node.resources()
    stream.run(settle)
    time.sleep(1.0)
    after, rss_after = probe.status(), node.resources()
    spike_set = set(stamps)
    with probe.lock:
        statuses = list(probe.statuses)
        results = dict(probe.results)
    spike_lat = [lat for s, (lat, _) in results.items() if s in spike_set]
    tail = [lat for s, (lat, t) in results.items() if t >= spike_end + 2.0]
    p = node_params(node)
    return {
        "spike_hz": spike_hz, "spike_s": spike_s, "achieved_hz": round(len(stamps) / (spike_end - start), 1),
        "frames_sent": len(stamps),
        "received": rel.status_int(after, "frames_received") - rel.status_int(before, "frames_received"),
        "frames_skipped": rel.status_int(after, "frames_skipped") - rel.status_int(before, "frames_skipped"),
        "spike_results": len(spike_lat), "latency_p95_ms": rel.percentile(spike_lat, 95),
        "latency_max_ms": max(spike_lat) if spike_lat else float("nan"),
        "backlog_max": max((rel.status_int(s, "backlog") for s in statuses), default=0),
        "lag_max_ms": max((float(s.get("lag_ms", "nan")) for s in statuses if s.get("lag_ms") not in (None, "nan")),
                          default=float("nan")),
        "max_backlog": p.get("max_backlog", 90), "max_lag_s": p.get("max_lag", 1.0),
        "modes": sorted({s.get("mode") for s in statuses if s.get("mode")}),
        "mode_after": after.get("mode"), "latency_after_p95_ms": rel.percentile(tail, 95),
        "rss_before_mb": rss_before.rss_mb, "rss_end_of_spike_mb": rss_spike.rss_mb, "rss_after_mb": rss_after.rss_mb,
        "threads": [rss_before.threads, rss_after.threads], "state_after": after.get("state"),
    }


def node_params(node) -> dict:
    import yaml

    from cfvgg_ros.ros.params import defaults

    given = yaml.safe_load(node.params_file.read_text())["/**"]["ros__parameters"]
    return {**defaults(), **given}


# ----------------------------------------------------------------------------- respawn
def launch_available() -> str | None:
    """None when launch and launch_ros import, else why not."""
    try:
        import launch  # noqa: F401
        import launch_ros.actions  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure means no launch
        return f"launch / launch_ros not importable ({type(exc).__name__}: {exc}); install " \
               "../shared/wheels/ros2-jazzy-launch/*.whl with pip --no-deps"
    return None


def launch_declares_respawn(path: Path) -> bool:
    """Whether the launch file declares a ``respawn`` argument (asked of launch itself)."""
    try:
        from launch import LaunchContext
        from launch.launch_description_sources import PythonLaunchDescriptionSource

        description = PythonLaunchDescriptionSource(str(path)).try_get_launch_description_without_context()
        if description is None:
            description = PythonLaunchDescriptionSource(str(path)).get_launch_description(LaunchContext())
        return "respawn" in {arg.name for arg in description.get_launch_arguments()}
    except Exception:  # noqa: BLE001 - fall back on reading the file
        pass
    import ast

    tree = ast.parse(path.read_text())
    return any(isinstance(n, ast.Call) and getattr(n.func, "id", None) == "DeclareLaunchArgument"
               and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value == "respawn"
               for n in ast.walk(tree))


def ament_prefix(where: Path) -> Path:
    """A throw-away ament prefix that makes this checkout the package ``cfvgg_ros``."""
    prefix = where / "prefix"
    (prefix / "share" / "ament_index" / "resource_index" / "packages").mkdir(parents=True, exist_ok=True)
    (prefix / "share" / "ament_index" / "resource_index" / "packages" / "cfvgg_ros").write_text("")
    share = prefix / "share" / "cfvgg_ros"
    share.mkdir(parents=True, exist_ok=True)
    for name in ("config", "models", "launch", "package.xml"):
        if not (share / name).exists():
            (share / name).symlink_to(rel.ROOT / name)
    lib = prefix / "lib" / "cfvgg_ros"
    lib.mkdir(parents=True, exist_ok=True)
    exe = lib / "track_node"
    exe.write_text(f"#!{sys.executable}\nimport sys\nfrom cfvgg_ros.ros.track_node import main\n"
                   "sys.exit(main())\n")
    exe.chmod(0o755)
    return prefix


LAUNCHER = textwrap.dedent("""
    import sys
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription
    from launch.launch_description_sources import PythonLaunchDescriptionSource
    from launch_ros.actions import Node

    launch_file, params_file, cpu_core, use_file = sys.argv[1:5]
    if use_file == "1":
        include = IncludeLaunchDescription(PythonLaunchDescriptionSource(launch_file), launch_arguments={
            "respawn": "true", "params_file": params_file, "image_topic": "/image", "camera_info_topic": "",
            "cpu_core": cpu_core}.items())
        description = LaunchDescription([include])
    else:  # a stand-in with the same node: the launch file has no respawn argument (yet)
        description = LaunchDescription([Node(
            package="cfvgg_ros", executable="track_node", name="track_node", output="screen", respawn=True,
            parameters=[params_file, {"image_topic": "/image", "camera_info_topic": "", "cpu_core": int(cpu_core)}])])
    service = LaunchService(argv=[])
    service.include_launch_description(description)
    sys.exit(service.run())
""")


def node_pids(launcher) -> list[int]:
    import psutil

    try:
        children = psutil.Process(launcher.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    pids = []
    for child in children:
        try:
            if any("track_node" in part for part in child.cmdline()):
                pids.append(child.pid)
        except psutil.Error:
            pass
    return pids


def fault_respawn(probe, frames, work: Path, tracker: str, cpu_core: int) -> dict:
    why = launch_available()
    if why:
        return {"skipped": why}
    import yaml

    launch_file = rel.ROOT / "launch" / "track.launch.py"
    use_file = launch_declares_respawn(launch_file)
    prefix = ament_prefix(work)
    params = work / "respawn_params.yaml"
    params.write_text(yaml.safe_dump({"/**": {"ros__parameters": {"tracker": tracker, "image_qos": "reliable",
                                                                 "status_period": 0.5}}}))
    env = {**os.environ, "AMENT_PREFIX_PATH": str(prefix), "PYTHONUNBUFFERED": "1"}
    rel.pin_to(range(64))  # launch and the node it starts must not inherit this script's pinning
    log = open(work / "launch.log", "wb")  # noqa: SIM115 - closed below
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(launch_file), str(params), str(cpu_core),
                                 "1" if use_file else "0"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def launch_log() -> str:
        return (work / "launch.log").read_text(errors="replace")[-3000:]

    try:
        probe.wait_for(lambda: node_pids(launcher) and probe.status() and probe.reset_client.service_is_ready()
                       and probe.pub_roi.get_subscription_count() > 0, 120, "the launched node")
        stream = Stream(probe, frames, 30.0)
        first_pid = node_pids(launcher)[0]
        stream.init(None)
        stream.run(2.0)
        with probe.lock:
            tracked = len(probe.poses)
        os.kill(first_pid, signal.SIGKILL)
        killed = time.monotonic()
        with probe.lock:
            probe.latest = {}
        new_pid = probe.wait_for(lambda: [p for p in node_pids(launcher) if p != first_pid], 60,
                                 "launch to respawn the node")[0]
        respawned = time.monotonic()
        probe.wait_for(lambda: probe.status() and probe.pub_roi.get_subscription_count() > 0, 120,
                       "the respawned node's status")
        back = time.monotonic()
        # The first frames after a respawn can reach no reader: the image writer may match the new
        # subscription after the node sees the writer (discovery is not symmetric). A camera keeps
        # sending, so do the same until a frame is handled; then one more, which must arrive.
        fresh, deadline = set(), time.monotonic() + 30
        while not probe.status_where(lambda s: s.get("frame_stamp_ns") in fresh):
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after 30 s: none of {len(fresh)} frames sent at 30 Hz was handled")
            fresh.add(str(stream.publish()))
            time.sleep(1 / 30)
        stamp = stream.publish()
        probe.wait_handled(stamp, None, 30)
        box = frames.boxes[stream.sent[-1][1]]
        sent = time.monotonic()
        probe.publish_roi(box)  # unstamped: on the newest frame
        probe.wait_for(lambda: stamp in probe.pose_stamps(), 30, "a pose after the new /init_bbox")
        init_ms = 1e3 * (time.monotonic() - sent)
        stream.run(1.0)
        with probe.lock:
            after = sum(1 for s, t in probe.poses if t > sent)
        return {
            "launch": "launch/track.launch.py respawn:=true" if use_file
            else "stand-in LaunchDescription (launch/track.launch.py declares no respawn argument)",
            "poses_before_kill": tracked, "killed_pid": first_pid, "new_pid": new_pid,
            "respawn_s": round(respawned - killed, 2), "status_back_s": round(back - killed, 2),
            "frames_sent_until_one_handled": len(fresh),
            "init_to_pose_ms": round(init_ms, 1), "poses_after_init": after,
            "state_after": probe.status().get("state"),
        }
    except Exception as exc:  # noqa: BLE001 - reported, with the launch log
        return {"failed": f"{type(exc).__name__}: {exc}", "launch_log": launch_log()}
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGINT)
            try:
                launcher.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait(timeout=10)
        log.close()


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faults", default=",".join(FAULTS), help=f"comma-separated, of {', '.join(FAULTS)}")
    parser.add_argument("--tracker", default=None, help="tracker (default: the node's default)")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--stop-s", type=float, default=5.0)
    parser.add_argument("--spike-hz", type=float, default=120.0)
    parser.add_argument("--spike-s", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds of normal stream before and after each fault (default 3)")
    parser.add_argument("--cpu-core", type=int, default=0)
    parser.add_argument("--output", default="results/faults")
    parser.add_argument("--json", default=None)
    parser.add_argument("--node-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the node process (repeatable)")
    args = parser.parse_args(argv)
    faults = [f for f in args.faults.split(",") if f]
    unknown = set(faults) - set(FAULTS)
    if unknown:
        parser.error(f"unknown fault(s) {sorted(unknown)}")
    tracker = args.tracker or rel.default_tracker()
    width, height = (int(v) for v in args.size.split("x"))
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    print(f"# faults {faults}: {tracker}, {width}x{height} at {args.rate:g} Hz, node on core {args.cpu_core}; "
          f"{rel.domain()}; {rel.machine_load()}", flush=True)
    results: dict = {"tracker": tracker, "size": args.size}
    probe = rel.Probe()
    node = None
    try:
        frames = rel.make_frames(probe, "aerial", 90, width, height)
        direct = [f for f in faults if f != "respawn"]
        if direct:
            node = rel.NodeProcess(out / "node", {"tracker": tracker, "cpu_core": args.cpu_core,
                                                  "camera_info_topic": "", "status_period": 0.5},
                                    env=dict(item.split("=", 1) for item in args.node_env))
            rel.pin_to(set(range(64)) - {args.cpu_core})  # after the node started: it pins itself
            probe.wait_ready(node)
            stream = Stream(probe, frames, args.rate)
            for fault in direct:
                started = time.monotonic()
                if fault == "stop":
                    results[fault] = fault_stop(probe, node, stream, args.stop_s, args.settle)
                elif fault == "stamps":
                    results[fault] = fault_stamps(probe, node, stream, args.settle)
                else:
                    results[fault] = fault_spike(probe, node, stream, args.spike_hz, args.spike_s, args.settle)
                results[fault]["alive"] = node.alive()
                print(outcome(fault, results[fault]) + f" [{time.monotonic() - started:.0f} s]", flush=True)
            node_code = node.stop()
            results["node_exit_code"] = node_code
            node = None
        if "respawn" in faults:
            results["respawn"] = fault_respawn(probe, frames, out, tracker, args.cpu_core)
            print(outcome("respawn", results["respawn"]), flush=True)
    finally:
        if node is not None:
            node.stop()
        probe.close()
    rel.write_json(args.json, results)
    return 0


def outcome(fault: str, r: dict) -> str:
    if "skipped" in r:
        return f"{fault}: not run: {r['skipped']}"
    if "failed" in r:
        return f"{fault}: FAILED: {r['failed']}\n{r.get('launch_log', '')}"
    if fault == "stop":
        stale = r["stale_status"]
        return (f"stop: stream stopped {r['stop_s']:g} s: ~/status 'stream: stale' {r['stale_after_s']} s after the "
                f"last frame (level {stale.get('_level')}, '{stale.get('_message')}', state {stale.get('state')}); "
                f"{r['poses_during_gap']} poses during the gap; after the resume {r['poses_after_resume']} poses "
                f"(first {r['first_pose_after_resume_ms']} ms after), state {r['state_after']}, stream "
                f"{r['stream_after']}, a pose of a frame from before the gap: {r['stale_pose_after_resume']}; "
                f"stream_gaps +{r['stream_gaps']}, frames_missing +{r['frames_missing']}; poses in stamp order: "
                f"{r['poses_in_stamp_order']}; node alive {r['alive']}")
    if fault == "stamps":
        return (f"stamps: a frame 0.5 s late got a pose: {r['late_frame_got_pose']}; frames_out_of_order "
                f"+{r['frames_out_of_order']}, stamp_jumps_back +{r['stamp_jumps_back']}; after the clock jumped "
                f"back 100 s: new time base logged {r['new_time_base_logged']}, {r['poses_after_jump']}/"
                f"{r['frames_after_jump']} frames with a pose, in stamp order {r['poses_in_stamp_order_after_jump']}, "
                f"state {r['state_after']}; node alive {r['alive']}")
    if fault == "spike":
        return (f"spike: {r['spike_hz']:g} Hz for {r['spike_s']:g} s (achieved {r['achieved_hz']:g} Hz, "
                f"{r['frames_sent']} frames; node received {r['received']} in all, skipped {r['frames_skipped']}): "
                f"latency p95 {r['latency_p95_ms']:.0f} ms, max {r['latency_max_ms']:.0f} ms over {r['spike_results']} "
                f"results; backlog max {r['backlog_max']} (bound {r['max_backlog']}), lag max "
                f"{r['lag_max_ms']:.0f} ms (bound {1e3 * r['max_lag_s']:.0f} ms); modes {r['modes']}; after: mode "
                f"{r['mode_after']}, latency p95 {r['latency_after_p95_ms']:.0f} ms, state {r['state_after']}; RSS "
                f"{r['rss_before_mb']:.1f} -> {r['rss_end_of_spike_mb']:.1f} -> {r['rss_after_mb']:.1f} MB, "
                f"threads {r['threads'][0]} -> {r['threads'][1]}; node alive {r['alive']}")
    return (f"respawn ({r['launch']}): SIGKILL to pid {r['killed_pid']} after {r['poses_before_kill']} poses; "
            f"launch started pid {r['new_pid']} {r['respawn_s']} s later, ~/status back after {r['status_back_s']} s, "
            f"{r['frames_sent_until_one_handled']} frame(s) sent until one was handled; "
            f"the first /init_bbox gave a pose in {r['init_to_pose_ms']} ms, {r['poses_after_init']} poses in the "
            f"next second, state {r['state_after']}")


if __name__ == "__main__":
    sys.exit(main())
