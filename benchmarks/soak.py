"""Soak test of the ROS 2 tracking node: 720p synthetic frames at 30 Hz for a bounded time, with
re-inits, ``~/reset`` calls and the target leaving the frame at random intervals.

Usage::

    python benchmarks/soak.py                       # 30 minutes (the README figures)
    python benchmarks/soak.py --duration 60 --warm-up 15 --window 20     # the CI version (a test runs it)

The node runs as its own process (``python -m cfvgg_ros.ros.track_node``, its default tracker and
parameters, pinned to ``--cpu-core``); this script publishes from the other core(s): the
synthetic aerial sequence (``--frames`` frames, played forwards then backwards in a loop, so the
target never jumps), stamped with the wall clock. Events, at exponentially distributed intervals
(mean ``--event-every`` s, seeded): a stamped re-init on the ground-truth box (``reinit``), a
``~/reset`` call followed 1 s later by a re-init (``reset``), and the target leaving the frame
for 1-4 s (``leave``: the same scene rendered without the target; if the node is not TRACKING 2 s
after the target came back, it is re-initialised).

Printed: the node's RSS (psutil) at the end of the warm-up and at the end (and its maximum and
trend after the warm-up), threads and open file descriptors at both points, the latency (image
receipt -> publish, per result, from ``~/status``) p95 in the first and the last window after
the warm-up (all results, and "steady": results of frames at least 1 s after the last init or
reset), poses published, frames published / received / tracked / skipped / missing, errors,
the machine's load average (sampled with the resources), and whether the goals hold: RSS growth
< 5 MB after the warm-up, no thread or file-descriptor growth, steady latency p95 drift < 10 %.
"""

from __future__ import annotations

import argparse
import collections
import math
import random
import signal
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402  (sets the Fast DDS profile before rclpy loads)

SETTLE_S = 1.0  # results of frames this long after an init or reset are "steady"
GOALS = {"rss_growth_mb": 5.0, "latency_drift": 0.10}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=1800.0, help="seconds of stream (default 1800)")
    parser.add_argument("--warm-up", type=float, default=60.0, help="seconds before the first RSS sample")
    parser.add_argument("--window", type=float, default=300.0, help="latency windows after warm-up / at the end (s)")
    parser.add_argument("--rate", type=float, default=30.0, help="frame rate (Hz)")
    parser.add_argument("--size", default="1280x720", help="frame size WxH")
    parser.add_argument("--frames", type=int, default=90, help="synthetic frames in the loop")
    parser.add_argument("--tracker", default=None, help="tracker (default: the node's default)")
    parser.add_argument("--cpu-core", type=int, default=0, help="the node's core (this script: the others)")
    parser.add_argument("--event-every", type=float, default=20.0, help="mean seconds between events")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sample-every", type=float, default=10.0, help="resource sampling period (s)")
    parser.add_argument("--output", default="results/soak")
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--node-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the node process (repeatable), e.g. a malloc tunable")
    parser.add_argument("--node-param", action="append", default=[], metavar="NAME=VALUE",
                        help="a node parameter (repeatable; YAML value), e.g. heap_trim_period=0")
    parser.add_argument("--stall-every", type=float, default=0.0,
                        help="stop the node process (SIGSTOP) every this many seconds after the warm-up, while the "
                             "stream goes on (0: never): what a moment of falling behind leaves resident")
    parser.add_argument("--stall-seconds", type=float, default=2.0, help="how long each stall lasts (SIGCONT after)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="diagnostic: run the node under tracemalloc, snapshot it after the warm-up and at the "
                             "end, print the source lines whose allocations grew most (slows the node)")
    args = parser.parse_args(argv)

    width, height = (int(v) for v in args.size.split("x"))
    warm_up = min(args.warm_up, args.duration / 2)
    window = min(args.window, (args.duration - warm_up) / 2)
    tracker = args.tracker or rel.default_tracker()
    out = Path(args.output)
    params = {"tracker": tracker, "cpu_core": args.cpu_core, "camera_info_topic": ""}
    for item in args.node_param:
        name, _, value = item.partition("=")
        params[name] = yaml.safe_load(value)
    print(f"# soak: {tracker} on core {args.cpu_core}, {width}x{height} at {args.rate:g} Hz for "
          f"{args.duration:g} s (warm-up {warm_up:g} s, windows {window:g} s), events every "
          f"~{args.event_every:g} s (seed {args.seed}), node env {args.node_env}, "
          f"node params {args.node_param}"
          + (f", a {args.stall_seconds:g} s stall every {args.stall_every:g} s" if args.stall_every > 0 else "")
          + f"; {rel.domain()}; "
          f"{rel.machine_load()}", flush=True)
    env = dict(item.split("=", 1) for item in args.node_env)
    command = None
    if args.tracemalloc:
        env["CFVGG_TRACEMALLOC_PREFIX"] = str(out.resolve() / "tracemalloc")
        command = [sys.executable, str(Path(__file__).resolve().parent / "node_tracemalloc.py")]
    node = rel.NodeProcess(out, params, env=env, command=command)
    rel.pin_to(set(range(64)) - {args.cpu_core})  # after the node started: it pins itself
    probe = rel.Probe()
    probe.keep_statuses = False  # 30 statuses a second for 30 minutes: keep only what is needed
    try:
        frames = rel.make_frames(probe, "aerial", args.frames, width, height, without=True)
        probe.wait_ready(node)
        figures = soak(args, node, probe, frames, warm_up, window)
    finally:
        probe.close()
        code = node.stop()
    figures["node_exit_code"] = code
    figures["tracker"] = tracker
    report(figures)
    if args.tracemalloc:
        import node_tracemalloc

        snaps = sorted(out.glob("tracemalloc.*"), key=lambda p: int(p.suffix[1:]))
        if len(snaps) >= 2:
            print("tracemalloc, warm-up -> end:\n  " + "\n  ".join(node_tracemalloc.compare(snaps[0], snaps[-1])))
    rel.write_json(args.json, figures)
    return 0 if figures["alive"] and code == 0 else 1


def soak(args, node, probe, frames, warm_up: float, window: float) -> dict:
    rng = random.Random(args.seed)
    period = 1.0 / args.rate
    events: list[tuple[float, str]] = []
    inits: list[int] = []  # stamps of the frames inits and resets happened at
    samples: list[tuple[rel.Resources, str]] = []
    published = 0
    absent_until = -1.0
    check_at = None  # after a "leave": re-init if not TRACKING by then
    pending_init_at = None  # after a "reset": re-init then

    def init_on(k: int, stamp: int, why: str) -> None:
        probe.publish_polygon(frames.boxes[frames.index(k)], stamp)
        inits.append(stamp)
        events.append((time.monotonic() - start, why))

    start = time.monotonic()
    next_stall = start + warm_up + args.stall_every if args.stall_every > 0 else math.inf
    resume_at = None  # while the node is stopped: when to let it go on
    next_event = start + 2.0 + rng.expovariate(1.0 / args.event_every)
    next_sample = start
    warm_sample = None
    k = 0
    first = True
    while True:
        now = time.monotonic()
        if now - start >= args.duration:
            break
        target = start + k * period
        if now < target:
            time.sleep(target - now)
            now = time.monotonic()
        if resume_at is None and now >= next_stall and node.alive():
            node.proc.send_signal(signal.SIGSTOP)
            resume_at = now + args.stall_seconds
            events.append((now - start, f"stall {args.stall_seconds:g} s"))
        elif resume_at is not None and now >= resume_at:
            node.proc.send_signal(signal.SIGCONT)
            resume_at, next_stall = None, now + args.stall_every
        index = frames.index(k)
        absent = now < absent_until
        msg = (frames.without_target if absent else frames.with_target)[index]
        stamp = time.time_ns()
        probe.publish_image(msg, stamp)
        published += 1
        if first:
            init_on(k, stamp, "init")
            first = False
        elif pending_init_at is not None and now >= pending_init_at and not absent:
            init_on(k, stamp, "init after reset")
            pending_init_at = None
        elif check_at is not None and now >= check_at:
            check_at = None
            if probe.status().get("state") != "TRACKING":
                init_on(k, stamp, "init after LOST")
        elif now >= next_event and not absent and pending_init_at is None:
            kind = rng.choice(("reinit", "reset", "leave"))
            if kind == "reinit":
                init_on(k, stamp, "reinit")
            elif kind == "reset":
                probe.reset_client.call_async(probe.Trigger.Request())
                inits.append(stamp)
                events.append((now - start, "reset"))
                pending_init_at = now + 1.0
            else:
                gone = rng.uniform(1.0, 4.0)
                absent_until = now + gone
                check_at = absent_until + 2.0
                events.append((now - start, f"leave {gone:.1f} s"))
            next_event = now + rng.expovariate(1.0 / args.event_every)
        if now >= next_sample:
            sample = (node.resources(), rel.machine_load())
            samples.append(sample)
            next_sample += args.sample_every
            if warm_sample is None and now - start >= warm_up:
                warm_sample = sample
                if args.tracemalloc:
                    node.proc.send_signal(signal.SIGUSR1)
            if len(samples) % max(1, round(60 / args.sample_every)) == 1:
                status = probe.status()
                print(f"[{now - start:6.0f} s] {sample[0].line()}; {status.get('state')} "
                      f"received {status.get('frames_received')} poses {len(probe.poses)}; {sample[1]}", flush=True)
            if not node.alive():
                break
        k += 1
    if resume_at is not None:
        node.proc.send_signal(signal.SIGCONT)
    end = time.monotonic()
    time.sleep(1.0)  # the last results arrive
    if args.tracemalloc and node.alive():
        node.proc.send_signal(signal.SIGUSR1)
        time.sleep(3.0)
    final = node.resources() if node.alive() else samples[-1][0]
    samples.append((final, rel.machine_load()))
    warm_sample = warm_sample or samples[0]
    status = probe.status()
    with probe.lock:
        results = dict(probe.results)
        poses = len(probe.poses)

    def latencies(t0: float, t1: float, steady: bool) -> list[float]:
        values = []
        for stamp, (latency, arrival) in results.items():
            if not t0 <= arrival - start < t1:
                continue
            if steady and any(0 <= stamp - s < SETTLE_S * rel.NS for s in inits):
                continue
            values.append(latency)
        return values

    after = [s for s, _ in samples if s.t - start >= warm_up]
    first_w, last_w = (warm_up, warm_up + window), (end - start - window, end - start)
    fig = {
        "duration_s": round(end - start, 1), "rate_hz": args.rate, "size": args.size, "warm_up_s": warm_up,
        "window_s": window, "alive": node.alive(),
        "rss_warm_mb": warm_sample[0].rss_mb, "rss_end_mb": final.rss_mb,
        "rss_max_after_warm_mb": max(s.rss_mb for s in after) if after else final.rss_mb,
        "rss_growth_mb": final.rss_mb - warm_sample[0].rss_mb,
        "threads_warm": warm_sample[0].threads, "threads_end": final.threads,
        "threads_range_after_warm": [min(s.threads for s in after), max(s.threads for s in after)] if after else [],
        "fds_warm": warm_sample[0].fds, "fds_end": final.fds,
        "fds_range_after_warm": [min(s.fds for s in after), max(s.fds for s in after)] if after else [],
        "cpu_s": final.cpu_s,
        "frames_published": published, "poses": poses, "results_with_latency": len(results),
        "frames_received": rel.status_int(status, "frames_received"),
        "frames_processed": rel.status_int(status, "frames_processed"),
        "frames_skipped": rel.status_int(status, "frames_skipped"),
        "frames_missing": rel.status_int(status, "frames_missing"),
        "frames_out_of_order": rel.status_int(status, "frames_out_of_order"),
        "inits": rel.status_int(status, "inits"), "redetections": rel.status_int(status, "redetections"),
        "errors": rel.status_int(status, "errors"), "log_errors": node.log_count("ERROR"),
        "log_fatal": node.log_count("FATAL"),
        "heap_trims": rel.status_int(status, "heap_trims"),
        "heap_trim_ms": float(status.get("heap_trim_ms", "nan")),
        "events": dict(collections.Counter(
            e.split(" ")[0] if e.startswith(("leave", "stall")) else e for _, e in events)),
        "recovery_inits": sum(1 for _, e in events if e == "init after LOST"),
        "load_samples": [load for _, load in samples],
    }
    # the lowest RSS in the first and last windows: one sample moves by a frame buffer (2.6 MiB at
    # 720p) with how many frames are alive at that instant; the floor shows what stays resident
    for label, (t0, t1) in (("first", first_w), ("last", last_w)):
        window_rss = [s.rss_mb for s, _ in samples if t0 <= s.t - start <= t1]
        fig[f"rss_floor_{label}_mb"] = min(window_rss) if window_rss else float("nan")
    fig["rss_floor_growth_mb"] = fig["rss_floor_last_mb"] - fig["rss_floor_first_mb"]
    for label, (t0, t1) in (("first", first_w), ("last", last_w)):
        for steady in (False, True):
            values = latencies(t0, t1, steady)
            key = f"latency_{label}{'_steady' if steady else ''}"
            fig[f"{key}_p95_ms"] = rel.percentile(values, 95)
            fig[f"{key}_mean_ms"] = sum(values) / len(values) if values else float("nan")
            fig[f"{key}_n"] = len(values)
    minutes = int((end - start) // 60)
    fig["latency_steady_p95_per_minute_ms"] = [round(rel.percentile(latencies(60 * m, 60 * (m + 1), True), 95), 1)
                                               for m in range(minutes)]
    fig["rss_mb_per_minute"] = [round(next((s.rss_mb for s, _ in samples if s.t - start >= 60 * m), final.rss_mb), 1)
                                for m in range(minutes + 1)]
    for key in ("latency", "latency_steady"):
        a, b = fig[key.replace("latency", "latency_first") + "_p95_ms"], fig[key.replace("latency", "latency_last")
                                                                          + "_p95_ms"]
        fig[f"{key}_p95_drift"] = (b - a) / a if a > 0 else float("nan")
    fig["goals"] = {
        "rss_growth_below_5_mb": fig["rss_growth_mb"] < GOALS["rss_growth_mb"],
        "no_thread_growth": fig["threads_end"] <= fig["threads_warm"],
        "no_fd_growth": fig["fds_end"] <= fig["fds_warm"],
        "steady_latency_p95_increase_below_10_percent": fig["latency_steady_p95_drift"] < GOALS["latency_drift"],
    }
    return fig


def report(f: dict) -> None:
    print(f"soak {f['tracker']} {f['size']} at {f['rate_hz']:g} Hz for {f['duration_s']:.0f} s: node alive "
          f"{f['alive']} (exit code {f['node_exit_code']})")
    print(f"  RSS {f['rss_warm_mb']:.1f} MB after warm-up ({f['warm_up_s']:g} s) -> {f['rss_end_mb']:.1f} MB at the "
          f"end: {f['rss_growth_mb']:+.1f} MB (max {f['rss_max_after_warm_mb']:.1f} MB)")
    print(f"  RSS floor (lowest sample) first / last window {f['rss_floor_first_mb']:.1f} / "
          f"{f['rss_floor_last_mb']:.1f} MB: {f['rss_floor_growth_mb']:+.1f} MB")
    print(f"  threads {f['threads_warm']} -> {f['threads_end']} (range {f['threads_range_after_warm']}); "
          f"open fds {f['fds_warm']} -> {f['fds_end']} (range {f['fds_range_after_warm']}); "
          f"node CPU {f['cpu_s']:.0f} s")
    for key, name in (("", "all results"), ("_steady", f"steady (>= {SETTLE_S:g} s after an init)")):
        first, last, w = f"latency_first{key}", f"latency_last{key}", f["window_s"]
        print(f"  latency p95 {name}: first {w:g} s {f[first + '_p95_ms']:.1f} ms (n={f[first + '_n']}), "
              f"last {w:g} s {f[last + '_p95_ms']:.1f} ms (n={f[last + '_n']}): "
              f"drift {100 * f['latency' + key + '_p95_drift']:+.1f} %")
    print(f"  frames published {f['frames_published']}, received {f['frames_received']}, tracked "
          f"{f['frames_processed']}, skipped {f['frames_skipped']}, missing {f['frames_missing']}, out of order "
          f"{f['frames_out_of_order']}; poses {f['poses']}; inits {f['inits']} ({f['events']}, "
          f"{f['recovery_inits']} after LOST), re-detections {f['redetections']}")
    trims = f["heap_trims"]
    print(f"  heap trims {trims}, {f['heap_trim_ms']:.1f} ms in all"
          + (f" ({f['heap_trim_ms'] / trims:.2f} ms each)" if trims else ""))
    print(f"  errors in ~/status {f['errors']}, ERROR lines in the log {f['log_errors']}, FATAL {f['log_fatal']}")
    print(f"  load: {f['load_samples'][0]} (start) .. {f['load_samples'][-1]} (end); max 1-min "
          f"{max(float(s.split()[2]) for s in f['load_samples']):.2f}")
    print("  goals: " + ", ".join(f"{name} {'yes' if ok else 'NO'}" for name, ok in f["goals"].items()))


if __name__ == "__main__":
    sys.exit(main())
