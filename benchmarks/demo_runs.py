"""``make demo`` N times in a row, as a new user would run it, and one table of the runs.

    python benchmarks/demo_runs.py                 # 10 runs, idle
    python benchmarks/demo_runs.py --load          # a CPU-bound busy loop on the other core meanwhile

Each run is ``make demo`` (the node's default tracker on the synthetic 720p aerial sequence at
30 Hz through the node over DDS, then the same tracker offline on the same frames). Its
``demo:`` line (:func:`cfvgg_ros.cli.demo.demo_line`) is parsed; printed per run and as min-max:
poses / frames, the largest gap, AUC node and offline (otb, pysot), latency mean / p95 / p99 /
p95 after the first second, frames skipped and lost, init and "live after" ms.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(
    r"demo: (?P<tracker>\S+) poses (?P<poses>\d+)/(?P<frames>\d+) gap (?P<gap>\d+) "
    r"AUC otb (?P<otb>[\d.]+) \(offline (?P<otb_off>[\d.]+)\) "
    r"pysot (?P<pysot>[\d.]+) \(offline (?P<pysot_off>[\d.]+)\) "
    r"latency_ms mean (?P<mean>[\d.]+) p95 (?P<p95>[\d.]+) p99 (?P<p99>[\d.]+) p95_after_1s (?P<p95_1s>[\d.]+) "
    r"skipped (?P<skipped>\d+) lost_before_node (?P<lost>\d+) init_ms (?P<init>\d+) live_after_ms (?P<live>\d+)")
COLUMNS = ("poses", "gap", "otb", "otb_off", "pysot", "pysot_off", "mean", "p95", "p99", "p95_1s", "skipped", "lost",
           "init", "live")


def _busy(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10000))


def parse(output: str) -> dict | None:
    """The values of the run's ``demo:`` line (None when it has none)."""
    match = LINE.search(output)
    return None if match is None else match.groupdict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--load", action="store_true", help="busy loop on the highest allowed core meanwhile")
    parser.add_argument("--make-args", default="", help="ARGS passed to make demo")
    args = parser.parse_args(argv)
    stop, busy = multiprocessing.Event(), None
    if args.load:
        core = max(os.sched_getaffinity(0))
        busy = multiprocessing.Process(target=_busy, args=(stop,), daemon=True)
        busy.start()
        os.sched_setaffinity(busy.pid, {core})
        print(f"busy loop on core {core}")
    rows, failures = [], 0
    try:
        for run in range(1, args.runs + 1):
            started = time.monotonic()
            cmd = ["make", "-s", "demo"] + ([f"ARGS={args.make_args}"] if args.make_args else [])
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            values = parse(proc.stdout)
            if proc.returncode or values is None:
                failures += 1
                print(f"run {run}: FAILED (exit {proc.returncode})\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
                continue
            rows.append(values)
            print(f"run {run} ({time.monotonic() - started:.0f} s): " + " ".join(f"{k}={values[k]}" for k in
                                                                                 ("tracker", "frames", *COLUMNS)))
    finally:
        stop.set()
        if busy is not None:
            busy.join(5)
    if rows:
        print(f"\n{len(rows)} run(s) of {rows[0]['tracker']}, {failures} failed; min-max:")
        for key in COLUMNS:
            values = [float(r[key]) for r in rows]
            print(f"  {key:10s} {min(values):g} - {max(values):g}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
