"""Replay a sequence through the tracking node over real DDS and score what it published.

The pipeline of ``make demo`` and of the real-time benchmark, each hop a separate process as
on a robot: ``cfvgg-bag make`` (sequence -> rosbag2) -> ``track_node`` (own process, pinned to
one core) + ``cfvgg-bag record`` (the node's outputs) -> ``cfvgg-bag play`` (at the recorded
rate times ``rate``) -> :func:`cfvgg_ros.bags.score.score_bags`. Player and recorder run on the
other cores (as a camera driver and a logger would), so the node's core is its own.

The player publishes the images (and camera_info), the ground truth and one init: the stamped
``/init_bbox_stamped``, which names its frame. The bag's unstamped ``/init_bbox`` holds the same
box; played too, it would make the node initialise twice (each init costs fECO a few hundred
ms), and on whichever frame is the newest when it arrives, which under load is not always the
init frame.

Besides the scores, :class:`RealtimeStats` says how the node kept up: frames with a result,
the largest run of frames without one, frames skipped by the node's backlog policy, frames
lost before the node (played but never received), the latency of each result (image receipt
-> publish, from the ``last_result_*`` values of the recorded ``~/status``), the tracker's
init time and the node's CPU time per frame during playback.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import (
    CAMERA_INFO_TOPIC,
    GROUNDTRUTH_TOPIC,
    IMAGE_TOPIC,
    INIT_BBOX_STAMPED_TOPIC,
    OUTPUT_TOPICS,
    STATUS_TOPIC,
    BagError,
)

#: results of frames this long (stream time) after the init frame make the "settled" latency.
SETTLE_S = 1.0


@dataclass
class RealtimeStats:
    """How the node kept up with one replay (see the module docstring). Latencies in ms, one per
    result whose status was recorded, in frame order; ``settled_latency_ms`` only those of frames
    at least ``SETTLE_S`` after the init frame."""

    frames: int
    poses: int
    largest_gap: int
    received: int
    skipped: int
    missing_estimate: int
    init_ms: float
    catch_up_frames: int = -1
    catch_up_ms: float = float("nan")
    latency_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    settled_latency_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def transport_lost(self) -> int:
        """Frames played but never received by the node (lost in DDS or never sent)."""
        return self.frames - self.received

    def latency(self, q: float | None = None, settled: bool = False) -> float:
        """Mean latency (``q`` None) or its ``q``-th percentile; NaN without results."""
        values = self.settled_latency_ms if settled else self.latency_ms
        if not len(values):
            return float("nan")
        return float(values.mean() if q is None else np.percentile(values, q))

    def summary(self) -> str:
        """Two lines: frames and gaps, then latency."""
        return (f"  poses {self.poses}/{self.frames} frames, largest gap {self.largest_gap} frame(s); "
                f"skipped by the node {self.skipped}, lost before the node {self.transport_lost}; "
                f"tracker init {self.init_ms:.0f} ms, then live {self.catch_up_frames} frame(s) and "
                f"{self.catch_up_ms:.0f} ms later\n"
                f"  latency receipt->publish (ms): mean {self.latency():.1f}, p95 {self.latency(95):.1f}, "
                f"p99 {self.latency(99):.1f}, max {self.latency(100):.1f}; after the first {SETTLE_S:g} s: "
                f"p95 {self.latency(95, True):.1f}, max {self.latency(100, True):.1f} "
                f"({len(self.latency_ms)} results timed)")


def largest_gap(matched: np.ndarray, start: int = 0) -> int:
    """The longest run of False in ``matched[start:]`` (frames without a result)."""
    longest = run = 0
    for hit in np.asarray(matched[start:], dtype=bool):
        run = 0 if hit else run + 1
        longest = max(longest, run)
    return longest


def realtime_stats(scores, statuses: list[dict]) -> RealtimeStats:
    """:class:`RealtimeStats` of a scored replay (:class:`~cfvgg_ros.bags.score.BagScores`) and
    its recorded status values (:func:`~cfvgg_ros.bags.score.read_status_values`)."""

    def last_int(key: str) -> int:
        for values in reversed(statuses):
            if values.get(key, "").lstrip("-").isdigit():
                return int(values[key])
        return 0

    latencies: dict[int, float] = {}
    for values in statuses:
        stamp, latency = values.get("last_result_stamp_ns", ""), values.get("last_result_latency_ms", "nan")
        if stamp.isdigit() and latency not in ("", "nan"):
            latencies[int(stamp)] = float(latency)
    init_stamp = int(scores.stamps_ns[scores.init_frame])
    ordered = sorted(latencies.items())
    def last_float(key: str) -> float:
        for values in reversed(statuses):
            if values.get(key, "nan") not in ("nan", ""):
                return float(values[key])
        return float("nan")

    return RealtimeStats(
        frames=len(scores.matched), poses=int(scores.matched.sum()),
        largest_gap=largest_gap(scores.matched, scores.init_frame),
        received=last_int("frames_received"), skipped=last_int("frames_skipped"),
        missing_estimate=last_int("frames_missing"), init_ms=last_float("init_ms"),
        catch_up_frames=last_int("catch_up_frames") if any(v.get("catch_up_frames") for v in statuses) else -1,
        catch_up_ms=last_float("catch_up_ms"),
        latency_ms=np.array([v for _, v in ordered]),
        settled_latency_ms=np.array([v for s, v in ordered if s >= init_stamp + SETTLE_S * 1e9]),
    )


@dataclass
class ReplayResult:
    """Paths and scores of one replay (``scores`` is a :class:`~cfvgg_ros.bags.score.BagScores`,
    ``realtime`` a :class:`RealtimeStats`)."""

    input_bag: Path
    output_bag: Path
    node_log: Path
    scores: object
    made: object
    node_cpu_s: float = float("nan")
    startup_cpu_s: float = float("nan")
    realtime: RealtimeStats | None = None

    @property
    def cpu_ms_per_frame(self) -> float:
        """The node process's CPU time (user + system, all threads) during playback, per frame
        of the bag (start-up and warm-up are ``startup_cpu_s``)."""
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


def other_cores(core: int) -> set[int] | None:
    """This process's allowed cores except ``core`` (None when that leaves none, or without
    ``sched_getaffinity``)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    others = set(os.sched_getaffinity(0)) - {core}
    return others or None


def replay_sequence(spec, out_dir, *, tracker: str, tracker_params: dict | None = None, data_root=None,
                    rate: float = 1.0, size=None, max_frames: int | None = None, cpu_core: int = 0,
                    storage: str = "mcap", startup_timeout: float = 60.0, node_params: dict | None = None,
                    made=None, log=print) -> ReplayResult:
    """Make a bag of ``spec`` (or replay ``made``, a bag made before by
    :func:`cfvgg_ros.bags.make.make_bag`), replay it through a ``track_node`` process running
    ``tracker`` and score the recorded outputs (both rule sets). Raises :class:`BagError` when
    the node does not start or a hop fails; every process is stopped on return. ``node_params``
    are extra node parameters (``{"score_threshold": 0.0}``), passed as ``-p name:=value``."""
    from ..ros.qos import package_share
    from .make import make_bag
    from .score import read_status_values, score_bags

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    output_bag, node_log = out / "output_bag", out / "track_node.log"
    if made is None:
        made = make_bag(spec, out / "input_bag", data_root=data_root, storage=storage, max_frames=max_frames,
                        synthetic_size=size, overwrite=True)
        log(f"bag: {made.num_frames} frames of {made.sequence} at {made.fps:g} Hz -> {made.path}")
    input_bag = Path(made.path)
    env = replay_environment()
    others = other_cores(cpu_core)

    def pin_to_others() -> None:  # player and recorder keep off the node's core
        if others:
            os.sched_setaffinity(0, others)

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
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    preexec_fn=pin_to_others)
        try:
            log(f"track_node ({tracker}, core {cpu_core}) and recorder started; "
                f"ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']}")
            recorder_lines = _wait_for_recorder(recorder, node, startup_timeout)
            played = [IMAGE_TOPIC, INIT_BBOX_STAMPED_TOPIC, GROUNDTRUTH_TOPIC]
            played += [CAMERA_INFO_TOPIC] if made.has_camera_info else []
            player = subprocess.Popen(
                [*bag_cli, "play", str(input_bag), "--topics", *played, "--rate", str(rate), "--wait-for", IMAGE_TOPIC,
                 "--wait-timeout", str(startup_timeout), "--delay", "1.0"],
                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pin_to_others)
            startup_cpu_s = process_cpu_seconds(node.pid)  # the node is up: start-up and warm-up are done
            try:
                _, player_err = player.communicate(timeout=startup_timeout + 60 + made.num_frames / made.fps / rate)
            except subprocess.TimeoutExpired:
                _stop(player)
                raise BagError("cfvgg-bag play did not finish in time") from None
            if node.poll() is not None:
                raise BagError(f"track_node exited with code {node.returncode}; see {node_log}")
            if player.returncode != 0:
                raise BagError(f"cfvgg-bag play failed ({player.returncode}): {player_err.strip()[-2000:]}")
            time.sleep(1.5)  # let the last results arrive
            node_cpu_s = process_cpu_seconds(node.pid) - startup_cpu_s
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
                        node_cpu_s=node_cpu_s, startup_cpu_s=startup_cpu_s,
                        realtime=realtime_stats(scores, read_status_values(output_bag)))
