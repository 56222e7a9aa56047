"""Replay a sequence through the tracking node over real DDS and score what it published.

The pipeline of ``make demo`` and of the node benchmark, each hop a separate process as on
a robot: ``cfvgg-bag make`` (sequence -> rosbag2) -> ``track_node`` (own process, pinned to
one core) + ``cfvgg-bag record`` (the node's outputs) -> ``cfvgg-bag play`` (at the
recorded rate times ``rate``) -> :func:`cfvgg_ros.bags.score.score_bags`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import CAMERA_INFO_TOPIC, IMAGE_TOPIC, OUTPUT_TOPICS, STATUS_TOPIC, BagError


@dataclass
class ReplayResult:
    """Paths and scores of one replay (``scores`` is a :class:`~cfvgg_ros.bags.score.BagScores`)."""

    input_bag: Path
    output_bag: Path
    node_log: Path
    scores: object
    made: object
    node_cpu_s: float = float("nan")

    @property
    def cpu_ms_per_frame(self) -> float:
        """The node process's CPU time (user + system, all threads, start-up included) per
        frame of the bag."""
        return 1000.0 * self.node_cpu_s / max(1, self.made.num_frames)


def _stop(proc: subprocess.Popen, timeout: float = 15.0) -> int:
    """SIGINT, then SIGTERM, then SIGKILL, until ``proc`` exits; returns its exit code."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        if proc.poll() is not None:
            break
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    return proc.returncode


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads) from ``/proc``; NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def _wait_for_recorder(recorder: subprocess.Popen, node: subprocess.Popen, timeout: float) -> list[str]:
    """Read the recorder's output until it subscribed to every output topic (the node has
    advertised them by then), so that playback starts only when nothing can be missed.
    Gives up when the node or the recorder exits, or after ``timeout`` seconds."""
    import queue
    import threading

    lines: list[str] = []
    incoming: queue.Queue = queue.Queue()

    def read() -> None:
        for line in recorder.stdout:
            incoming.put(line)
            if line.startswith(f"recording {STATUS_TOPIC}"):
                break
        incoming.put(None)

    threading.Thread(target=read, daemon=True).start()
    waiting = set(OUTPUT_TOPICS)
    deadline = time.monotonic() + timeout
    while waiting:
        if time.monotonic() > deadline:
            raise BagError(f"the node's outputs {sorted(waiting)} did not appear within {timeout:.0f} s")
        if node.poll() is not None:
            raise BagError(f"track_node exited with code {node.returncode} during start-up")
        try:
            line = incoming.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            if waiting:
                raise BagError(f"cfvgg-bag record stopped early: {''.join(lines)[-2000:]}")
            break
        lines.append(line)
        if line.startswith("recording "):
            waiting.discard(line.split()[1])
    return lines


def replay_environment(domain_id: int | None = None) -> dict:
    """Environment for the replay's processes: loopback discovery and an isolated domain id
    (random in 1..100 unless ``ROS_DOMAIN_ID`` is already set)."""
    env = dict(os.environ)
    env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    if domain_id is not None:
        env["ROS_DOMAIN_ID"] = str(domain_id)
    else:
        env.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
    return env


def replay_sequence(spec, out_dir, *, tracker: str, tracker_params: dict | None = None, data_root=None,
                    rate: float = 1.0, size=None, max_frames: int | None = None, cpu_core: int = 0,
                    storage: str = "mcap", startup_timeout: float = 60.0, node_params: dict | None = None,
                    log=print) -> ReplayResult:
    """Make a bag of ``spec``, replay it through a ``track_node`` process running ``tracker``
    and score the recorded outputs (both rule sets). Raises :class:`BagError` when the node
    does not start or a hop fails; every process is stopped on return. ``node_params`` are
    extra node parameters (``{"score_threshold": 0.0}``), passed as ``-p name:=value``."""
    from ..ros.qos import package_share
    from .make import make_bag
    from .score import score_bags

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    input_bag, output_bag, node_log = out / "input_bag", out / "output_bag", out / "track_node.log"
    made = make_bag(spec, input_bag, data_root=data_root, storage=storage, max_frames=max_frames,
                    synthetic_size=size, overwrite=True)
    log(f"bag: {made.num_frames} frames of {made.sequence} at {made.fps:g} Hz -> {input_bag}")
    env = replay_environment()
    py = sys.executable
    node_cmd = [py, "-m", "cfvgg_ros.ros.track_node", "--ros-args",
                "--params-file", str(package_share() / "config" / "track.yaml"),
                "-p", f"tracker:={tracker}",
                # a YAML double-quoted string (a bare {...} would parse as a mapping, not a string)
                "-p", f"tracker_params:={json.dumps(json.dumps(tracker_params or {}))}",
                "-p", f"image_topic:={IMAGE_TOPIC}",
                # an empty value must be a quoted YAML string
                "-p", "camera_info_topic:=" + (CAMERA_INFO_TOPIC if made.has_camera_info else '""'),
                "-p", f"cpu_core:={cpu_core}"]
    for name, value in (node_params or {}).items():
        node_cmd += ["-p", f"{name}:={json.dumps(value)}"]
    bag_cli = [py, "-m", "cfvgg_ros.cli.bag"]
    with open(node_log, "w") as node_out:
        node = subprocess.Popen(node_cmd, env=env, stdout=node_out, stderr=subprocess.STDOUT)
        recorder = subprocess.Popen([*bag_cli, "record", str(output_bag), "--overwrite", "--topics", *OUTPUT_TOPICS],
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            log(f"track_node ({tracker}, core {cpu_core}) and recorder started; "
                f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}")
            recorder_lines = _wait_for_recorder(recorder, node, startup_timeout)
            player = subprocess.run(
                [*bag_cli, "play", str(input_bag), "--rate", str(rate), "--wait-for", IMAGE_TOPIC,
                 "--wait-timeout", str(startup_timeout), "--delay", "1.0"],
                env=env, capture_output=True, text=True,
                timeout=startup_timeout + 60 + made.num_frames / made.fps / rate)
            if node.poll() is not None:
                raise BagError(f"track_node exited with code {node.returncode}; see {node_log}")
            if player.returncode != 0:
                raise BagError(f"cfvgg-bag play failed ({player.returncode}): {player.stderr.strip()[-2000:]}")
            time.sleep(1.5)  # let the last results arrive
            node_cpu_s = process_cpu_seconds(node.pid)
        finally:
            rec_code = _stop(recorder)
            _stop(node)
    if rec_code not in (0, 130, -signal.SIGINT):
        output = recorder.stdout.read()[-2000:] if recorder.stdout else ""
        raise BagError(f"cfvgg-bag record failed ({rec_code}): {output}")
    rec_log = "".join(recorder_lines) + (recorder.stdout.read() if recorder.stdout else "")
    (out / "recorder.log").write_text(rec_log)
    scores = score_bags(output_bag, input_bag, rules=("otb", "pysot"))
    return ReplayResult(input_bag=input_bag, output_bag=output_bag, node_log=node_log, scores=scores, made=made,
                        node_cpu_s=node_cpu_s)
