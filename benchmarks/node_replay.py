"""End-to-end benchmark of the ROS 2 node: replay sequences through ``track_node`` over real
DDS at their frame rate and faster, and compare with the offline ``cfvgg-bench`` run.

Usage::

    python benchmarks/node_replay.py                       # UAV123@10fps eval, feco, 10 and 30 Hz
    python benchmarks/node_replay.py --tracker eco-hc --rates 1,3 --sequences UAV123_10fps/person11

For each sequence and playback rate it prints: frames, frames with a pose, AUC (otb and pysot
rules) of the recorded outputs beside the offline AUC of the same tracker (``cfvgg-bench``,
one pinned core), the tracker's FPS inside the node, latency image receipt -> publish (mean,
p95), dropped frames and the node's CPU time per frame. The node is pinned to one core; the
player and recorder run on the other.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

UAV_EVAL = ["UAV123_10fps/wakeboard7", "UAV123_10fps/wakeboard4", "UAV123_10fps/person11"]


def offline_auc(tracker: str, specs: list[str], out: Path) -> dict:
    """``{spec: (otb AUC, pysot AUC)}`` of an offline cfvgg-bench run (resumable)."""
    from cfvgg_ros.evaluation.metrics import score_sequence
    from cfvgg_ros.evaluation.results import iter_results

    run_dir = out / "offline"
    cmd = [sys.executable, "-m", "cfvgg_ros.cli.bench", "--trackers", tracker, "--sequences", ",".join(specs),
           "--results", str(out), "--run-name", "offline", "--no-progress", "--no-plots"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    table = {}
    for r in iter_results(run_dir):
        if r.tracker == tracker:
            table[f"{r.dataset}/{r.sequence}"] = tuple(
                score_sequence(r.boxes, r.gt_boxes, rules).auc for rules in ("otb", "pysot"))
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracker", default="feco")
    parser.add_argument("--sequences", default=",".join(UAV_EVAL))
    parser.add_argument("--rates", default="1,3", help="playback speed factors (1 = the dataset's rate)")
    parser.add_argument("--output", default="results/node-replay")
    parser.add_argument("--cpu-core", type=int, default=0)
    parser.add_argument("--score-threshold", type=float, default=0.0,
                        help="the node's LOST threshold (default 0: never LOST, so every frame gets a pose and "
                             "the AUC compares with the offline run; -1: the tracker's default)")
    parser.add_argument("--keep-input-bags", action="store_true", help="keep the (large) input bags")
    args = parser.parse_args(argv)

    import shutil

    from cfvgg_ros.bags.replay import replay_sequence
    from cfvgg_ros.datasets import resolve
    from cfvgg_ros.paths import shared_data_root

    specs = [s for s in args.sequences.split(",") if s]
    rates = [float(r) for r in args.rates.split(",") if r]
    out = Path(args.output)
    data_root = shared_data_root()
    offline = offline_auc(args.tracker, specs, out)
    rows = []
    for spec in specs:
        sequence = resolve(spec, data_root)
        for rate in rates:
            run_out = out / f"{sequence.name}@{sequence.fps * rate:g}Hz"
            replay = replay_sequence(sequence, run_out, tracker=args.tracker, rate=rate, cpu_core=args.cpu_core,
                                     node_params={"score_threshold": args.score_threshold}, log=lambda *_: None)
            s = replay.scores
            d = s.diagnostics
            rows.append((
                spec, sequence.fps * rate, len(s.matched), int(s.matched.sum()),
                100 * s.scores["otb"].auc, 100 * offline[spec][0], 100 * s.scores["pysot"].auc,
                100 * offline[spec][1], s.tracker_fps,
                d["latency_ms"].mean if "latency_ms" in d else float("nan"),
                d["latency_p95_ms"].mean if "latency_p95_ms" in d else float("nan"),
                d["dropped_frames"].last if "dropped_frames" in d else float("nan"),
                replay.cpu_ms_per_frame,
            ))
            if not args.keep_input_bags:
                shutil.rmtree(replay.input_bag, ignore_errors=True)
            print(f"done {spec} at {sequence.fps * rate:g} Hz", file=sys.stderr)
    header = ("sequence", "Hz", "frames", "poses", "AUC otb node", "AUC otb offline", "AUC pysot node",
              "AUC pysot offline", "tracker FPS", "latency ms", "latency p95 ms", "dropped", "CPU ms/frame")
    print(f"tracker {args.tracker}; node pinned to core {args.cpu_core}; score_threshold {args.score_threshold}")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row[0], f"{row[1]:g}", str(row[2]), str(row[3])] + [f"{v:.1f}" for v in row[4:11]] + \
                [f"{row[11]:.0f}", f"{row[12]:.1f}"]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
