"""Memory and frame time of one tracker in process, without ROS or DDS: does the tracking core
itself grow over a long run? The soak's scene (the synthetic aerial sequence at 720p, played
forwards then backwards) with a re-init on the ground-truth box at exponentially distributed
intervals (seeded), RSS and the mean frame time printed every ``--every`` frames.

    python benchmarks/tracker_memory.py                                  # cfvgg, 21,000 frames
    python benchmarks/tracker_memory.py --tracker "cfvgg:patch_sampler=crop" --cpu-core 0
    python benchmarks/tracker_memory.py --threaded --trim-period 10   # the node's allocation pattern

``--threaded`` reproduces the node's memory traffic without ROS: a producer thread copies every frame
into a fresh buffer (as a received image message is), hands it through a one-frame queue to a worker
thread that tracks it, and the worker trims the heap (``--trim-period``, the node's
``heap_trim_period``; 0 = off) when no frame waits.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker", default="cfvgg", help="one spec as cfvgg-bench takes it (name:key=value,...)")
    parser.add_argument("--frames", type=int, default=21000)
    parser.add_argument("--every", type=int, default=3000, help="print every this many frames")
    parser.add_argument("--reinit-every", type=float, default=600.0, help="mean frames between re-inits")
    parser.add_argument("--cpu-core", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threaded", action="store_true",
                        help="fresh frame buffers from a producer thread, tracking in a worker thread "
                             "(the node's pattern)")
    parser.add_argument("--trim-period", type=float, default=0.0,
                        help="with --threaded: seconds between heap trims when idle (0 = off)")
    parser.add_argument("--rate", type=float, default=60.0,
                        help="with --threaded: frames a second the producer offers (the worker idles between them)")
    args = parser.parse_args(argv)

    from cfvgg_ros.threads import single_core

    core = single_core(args.cpu_core)
    import numpy as np
    import psutil

    from cfvgg_ros.cli.bench import parse_tracker_specs
    from cfvgg_ros.core import create_tracker
    from cfvgg_ros.datasets.synthetic import make_sequence

    specs = parse_tracker_specs(args.tracker)
    if len(specs) != 1:
        parser.error(f"--tracker takes one spec, got {len(specs)}")
    name, params = specs[0]
    seq = make_sequence("aerial", num_frames=90, width=1280, height=720)
    frames = [np.ascontiguousarray(seq.frame(i)) for i in range(90)]
    boxes = np.asarray(seq.boxes, dtype=float)
    loop = 2 * len(frames) - 2

    def index(k: int) -> int:
        k %= loop
        return k if k < len(frames) else loop - k

    rng = random.Random(args.seed)
    tracker = create_tracker(name, **params)
    process = psutil.Process()
    tracker.init(frames[0], tuple(boxes[0]))
    next_init = 1 + int(rng.expovariate(1.0 / args.reinit_every))
    inits, base, t0 = 1, None, time.perf_counter()
    print(f"# {args.tracker} on core {core}: {args.frames} frames of 1280x720, a re-init every "
          f"~{args.reinit_every:g} frames (seed {args.seed})"
          + (f", threaded at {args.rate:g} Hz, heap trim every {args.trim_period:g} s" if args.threaded else ""),
          flush=True)

    def work(k: int, frame) -> None:
        nonlocal inits, next_init, base, t0
        i = index(k)
        if k >= next_init:
            tracker.init(frame, tuple(boxes[i]))
            inits += 1
            next_init = k + 1 + int(rng.expovariate(1.0 / args.reinit_every))
        else:
            tracker.update(frame)
        if k % args.every == 0:
            now = time.perf_counter()
            rss = process.memory_info().rss / 2**20
            base = rss if base is None else base
            print(f"{k:7d} frames, {inits:3d} inits: RSS {rss:7.1f} MB ({rss - base:+.1f} since the first "
                  f"sample), {1000.0 * (now - t0) / args.every:.2f} ms a frame", flush=True)
            t0 = now

    if not args.threaded:
        for k in range(1, args.frames + 1):
            work(k, frames[index(k)])
        return 0

    import queue
    import threading

    from cfvgg_ros.ros.heap_trim import HeapTrimmer

    handoff: queue.Queue = queue.Queue(maxsize=1)
    trimmer = HeapTrimmer(args.trim_period)

    def produce() -> None:
        start = time.perf_counter()
        for k in range(1, args.frames + 1):
            delay = start + k / args.rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            handoff.put((k, np.array(frames[index(k)], copy=True)))  # a received message's fresh buffer
        handoff.put(None)

    def consume() -> None:
        while (item := handoff.get()) is not None:
            work(*item)
            del item
            if handoff.empty():
                trimmer.maybe_trim()

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"# heap trims {trimmer.trims}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
