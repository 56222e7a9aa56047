"""Real-time benchmark of the ROS 2 node: replay sequences through ``track_node`` over real DDS at
chosen frame rates, several times each, idle or with a CPU-bound load on the other core(s).

Usage::

    python benchmarks/realtime.py                         # the default plan below, 3 repetitions
    python benchmarks/realtime.py --load                  # the same with a busy loop on the other core
    python benchmarks/realtime.py --runs synthetic/aerial@30 --reps 10 --tracker eco-hc

Default plan: the UAV123@10fps eval sequences (720p) at 10 Hz (their capture rate) and 30 Hz
(a stress test: three times the motion per frame and the frame rate), and the synthetic aerial
sequence (720p) at 30 and 60 Hz. Each sequence becomes a bag once; each run starts a fresh node
(pinned to ``--cpu-core``; player and recorder on the other cores), plays the bag at the rate,
records and scores the outputs (:func:`cfvgg_ros.bags.replay.replay_sequence`).

Per run it prints: frames with a pose / frames, AUC node vs offline (the same tracker run by
``cfvgg-bench`` on the same core, once per sequence), frames skipped by the node's backlog
policy, frames lost before the node (played, never received), the largest gap (consecutive
frames without a pose), latency image receipt -> publish over all results (mean, p95, p99) and
p95 after the first second, the node's CPU time per frame during playback and its tracker init
time and how long after it the node was live (frames after the init frame, ms after the init
finished: the first-frame cost absorbed); then per sequence and rate the spread over the
repetitions (min-max). The node runs with
its default parameters except ``score_threshold`` (``--score-threshold``, default 0: never LOST,
so every frame gets a pose and the node AUC compares with the offline one).

``--load`` starts one CPU-bound process (a Python busy loop) pinned to each core other than the
node's for the whole benchmark: a UAV's computer runs other work beside the tracker.

On a shared machine, other people's jobs change the figures: each run records the CPU that
processes outside this benchmark used meanwhile (column "other CPU %", 100 = one core), and
``--wait-idle S`` waits (up to S seconds) before each run until no such process uses more than
20 % of a core.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

UAV = ["UAV123_10fps/wakeboard7", "UAV123_10fps/wakeboard4", "UAV123_10fps/person11"]
DEFAULT_RUNS = [f"{s}@{hz}" for s in UAV for hz in (10, 30)] + ["synthetic/aerial@30", "synthetic/aerial@60"]
COLUMNS = ("run", "Hz", "poses/frames", "AUC otb node / offline", "AUC pysot node / offline", "skipped",
           "lost", "gap", "latency ms mean / p95 / p99", "p95 ≥1 s", "CPU ms/frame", "init ms",
           "live after (frames / ms)", "other CPU %")
TICK = os.sysconf("SC_CLK_TCK")


def offline_auc(tracker: str, specs: list[str], out: Path, core: int) -> dict:
    """``{spec: {rules: AUC}}`` of an offline cfvgg-bench run on ``core``, always run afresh: results
    stored under the same tracker name may come from an earlier default (cfvgg-bench resumes by name)."""
    from cfvgg_ros.evaluation.metrics import score_sequence
    from cfvgg_ros.evaluation.results import iter_results

    cmd = [sys.executable, "-m", "cfvgg_ros.cli.bench", "--trackers", tracker, "--sequences", ",".join(specs),
           "--results", str(out), "--run-name", "offline", "--no-progress", "--no-plots", "--cpu-core", str(core),
           "--no-resume"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return {f"{r.dataset}/{r.sequence}": {rules: score_sequence(r.boxes, r.gt_boxes, rules).auc
                                          for rules in ("otb", "pysot")}
            for r in iter_results(out / "offline") if r.tracker == tracker}


def start_load(core: int) -> list[subprocess.Popen]:
    """One busy-loop process pinned to each allowed core except ``core``."""
    others = sorted(set(os.sched_getaffinity(0)) - {core})
    procs = []
    for other in others:
        procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"],
                                      preexec_fn=lambda c=other: os.sched_setaffinity(0, {c})))
    return procs


def _cpu_ticks() -> dict[int, tuple[int, int]]:
    """``{pid: (parent pid, user + system ticks)}`` of every process."""
    ticks = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                ticks[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
            except (OSError, IndexError, ValueError):
                pass
    return ticks


def _ours(pid: int, ticks: dict, mine: set[int]) -> bool:
    """Whether ``pid`` is this benchmark, one of its descendants, or one of ``mine`` (load)."""
    seen = 0
    while pid > 1 and seen < 64:
        if pid == os.getpid() or pid in mine:
            return True
        pid, seen = ticks.get(pid, (0, 0))[0], seen + 1
    return False


class OtherCpu:
    """Samples, once a second in a thread, the CPU used by processes outside this benchmark (and
    its ``mine`` load processes): :meth:`percent` since :meth:`start` (100 = one core)."""

    def __init__(self, mine=()) -> None:
        self.mine = set(mine)
        self._stop = threading.Event()
        self._used = 0.0
        self._seconds = 0.0

    def sample(self, seconds: float = 1.0) -> float:
        before, t0 = _cpu_ticks(), time.monotonic()
        time.sleep(seconds)
        after, t1 = _cpu_ticks(), time.monotonic()
        used = sum(after[pid][1] - before[pid][1] for pid in after
                   if pid in before and not _ours(pid, after, self.mine)) / TICK
        return 100.0 * used / (t1 - t0)

    def _run(self) -> None:
        while not self._stop.is_set():
            percent = self.sample()
            self._used += percent
            self._seconds += 1.0

    def start(self) -> OtherCpu:
        self._stop.clear()
        self._used = self._seconds = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def percent(self) -> float:
        self._stop.set()
        self._thread.join()
        return self._used / self._seconds if self._seconds else float("nan")

    def wait_idle(self, timeout: float, threshold: float = 20.0) -> bool:
        """Until other processes use at most ``threshold`` % over a 2 s sample; False after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            if self.sample(2.0) <= threshold:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(10.0)


def machine_load() -> str:
    """The load average and the busiest processes (besides this benchmark's), for the record."""
    top = subprocess.run(["ps", "-eo", "pcpu,comm", "--sort=-pcpu"], capture_output=True, text=True).stdout
    busy = [line.strip() for line in top.splitlines()[1:6] if line.strip() and float(line.split()[0]) >= 10]
    return f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}; busy: {', '.join(busy) or 'none'}"


def row(label: str, hz: float, replay, offline: dict, other_cpu: float) -> list[str]:
    s, rt = replay.scores, replay.realtime
    off = offline.get(s.sequence, {})

    def auc(rules: str) -> str:
        return f"{100 * s.scores[rules].auc:.1f} / {100 * off[rules]:.1f}" if rules in off else \
            f"{100 * s.scores[rules].auc:.1f} / -"

    return [label, f"{hz:g}", f"{rt.poses}/{rt.frames}", auc("otb"), auc("pysot"), str(rt.skipped),
            str(rt.transport_lost), str(rt.largest_gap),
            f"{rt.latency():.1f} / {rt.latency(95):.1f} / {rt.latency(99):.1f}", f"{rt.latency(95, True):.1f}",
            f"{replay.cpu_ms_per_frame:.1f}", f"{rt.init_ms:.0f}", f"{rt.catch_up_frames} / {rt.catch_up_ms:.0f}",
            f"{other_cpu:.0f}"]


def spread(values) -> str:
    lo, hi = min(values), max(values)
    fmt = "{:.0f}" if all(float(v).is_integer() for v in values) else "{:.1f}"
    return fmt.format(lo) if lo == hi else f"{fmt.format(lo)}–{fmt.format(hi)}"


def table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker", default=None, help="tracker (default: the node's default)")
    parser.add_argument("--runs", default=",".join(DEFAULT_RUNS),
                        help="comma-separated SPEC@HZ (default: UAV123@10fps eval at 10 and 30 Hz, synthetic at 30 "
                             "and 60 Hz)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each run (default 3)")
    parser.add_argument("--load", action="store_true", help="a busy loop on every core but the node's")
    parser.add_argument("--output", default="results/realtime")
    parser.add_argument("--cpu-core", type=int, default=0, help="the node's core (default 0)")
    parser.add_argument("--score-threshold", type=float, default=0.0,
                        help="the node's LOST threshold (default 0: never LOST; -1: the tracker's default)")
    parser.add_argument("--node-param", action="append", default=[], metavar="NAME=VALUE",
                        help="another node parameter (YAML value), e.g. backlog_policy=latest; repeatable")
    parser.add_argument("--keep-bags", action="store_true", help="keep the (large) input bags")
    parser.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                        help="before each run, wait up to S seconds until no other process uses more than 20%% "
                             "of a core (default 0: do not wait)")
    args = parser.parse_args(argv)

    import yaml

    from cfvgg_ros.bags.make import make_bag
    from cfvgg_ros.bags.replay import replay_sequence
    from cfvgg_ros.paths import shared_data_root
    from cfvgg_ros.ros.params import SPECS

    tracker = args.tracker or str(SPECS["tracker"].default)
    plan = []
    for entry in (e for e in args.runs.split(",") if e):
        spec, _, hz = entry.rpartition("@")
        plan.append((spec, float(hz)))
    specs = list(dict.fromkeys(spec for spec, _ in plan))
    node_params = {"score_threshold": args.score_threshold}
    for item in args.node_param:
        name, _, value = item.partition("=")
        node_params[name] = yaml.safe_load(value)
    out = Path(args.output) / ("loaded" if args.load else "idle")
    data_root = shared_data_root()

    print(f"# tracker {tracker}; node on core {args.cpu_core}; node parameters {node_params}; "
          f"{'LOADED: a busy loop on every other core' if args.load else 'idle: no load started'}", flush=True)
    print(f"# before: {machine_load()}", flush=True)
    offline = offline_auc(tracker, specs, Path(args.output), args.cpu_core)
    load = start_load(args.cpu_core) if args.load else []
    others = OtherCpu(mine=[proc.pid for proc in load])
    rows, results, other_cpu = [], {}, {}
    try:
        shutil.rmtree(out / "bags", ignore_errors=True)  # this benchmark's own, perhaps left by an interrupted run
        bags = {spec: make_bag(spec, out / "bags" / spec.replace("/", "_"), data_root=data_root, overwrite=True)
                for spec in specs}
        for rep in range(args.reps):
            for spec, hz in plan:
                made = bags[spec]
                label = f"{spec.rpartition('/')[2]}@{hz:g}Hz #{rep + 1}"
                if args.wait_idle > 0 and not others.wait_idle(args.wait_idle):
                    print(f"{label}: other processes still busy after {args.wait_idle:g} s; running anyway",
                          file=sys.stderr, flush=True)
                started = time.monotonic()
                others.start()
                replay = replay_sequence(spec, out / f"{spec.replace('/', '_')}@{hz:g}Hz" / f"rep{rep + 1}",
                                         tracker=tracker, rate=hz / made.fps, cpu_core=args.cpu_core,
                                         node_params=node_params, made=made, log=lambda *_: None)
                busy = others.percent()
                rows.append(row(label, hz, replay, offline, busy))
                results.setdefault((spec, hz), []).append(replay)
                other_cpu.setdefault((spec, hz), []).append(busy)
                print(f"{label}: {time.monotonic() - started:.0f} s; other processes {busy:.0f} % CPU; "
                      f"{machine_load()}", file=sys.stderr, flush=True)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
        if not args.keep_bags:
            shutil.rmtree(out / "bags", ignore_errors=True)
    print(f"# after: {machine_load()}")
    print(table(COLUMNS, rows))
    print()
    header = ("sequence", "Hz", "runs", "poses/frames", "AUC otb node (offline)", "skipped", "lost", "gap",
              "latency ms mean", "p95", "p99", "p95 ≥1 s", "CPU ms/frame", "init ms", "live after ms",
              "other CPU %")
    summary = []
    for (spec, hz), replays in results.items():
        rts = [r.realtime for r in replays]
        off = offline.get(replays[0].scores.sequence, {})
        summary.append([
            spec, f"{hz:g}", str(len(replays)), f"{spread([rt.poses for rt in rts])}/{rts[0].frames}",
            spread([100 * r.scores.scores["otb"].auc for r in replays])
            + (f" ({100 * off['otb']:.1f})" if "otb" in off else ""),
            spread([rt.skipped for rt in rts]), spread([rt.transport_lost for rt in rts]),
            spread([rt.largest_gap for rt in rts]), spread([rt.latency() for rt in rts]),
            spread([rt.latency(95) for rt in rts]), spread([rt.latency(99) for rt in rts]),
            spread([rt.latency(95, True) for rt in rts]), spread([r.cpu_ms_per_frame for r in replays]),
            spread([rt.init_ms for rt in rts]), spread([rt.catch_up_ms for rt in rts]),
            spread([round(v) for v in other_cpu[(spec, hz)]]),
        ])
    print(f"spread over {args.reps} repetition(s) (min–max):")
    print(table(header, summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
