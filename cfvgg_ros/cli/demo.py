"""``make demo`` / ``cfvgg-demo``: the main job on the built-in default.

By default, replays the built-in synthetic aerial sequence (1280x720, 30 Hz) through the
tracking node over real DDS, as on a robot: the sequence becomes a rosbag2 bag, ``track_node``
runs as its own process pinned to one core, ``cfvgg-bag play`` publishes the bag at its
recorded rate, ``cfvgg-bag record`` records the node's outputs, and the recording is scored
under both benchmark rule sets. ``--offline`` instead runs the tracker directly on the frames
(the ``cfvgg-bench`` path). ``--sequence SPEC`` picks a real sequence (a dataset spec under
the shared data folder such as ``UAV123_10fps/person11``, or a path to an OTB-layout folder).

Writes under ``--output`` (default ``results/demo``): the bags, the node's log, the success
and precision plots (PNG), the report (CSV) and an annotated GIF and MP4 (ground truth green,
tracker red). Through the node it prints the AUC beside the offline AUC of the same tracker on
the same frames (run afterwards on the same core; ``--no-reference`` skips it), frames with a
pose, the largest gap, frames skipped by the node and lost before it, and the latency (image
receipt -> publish: mean, p95, p99, and p95 after the first second), ending with one
``demo:`` line that holds them all.

The tracker is the node's default (its ``tracker`` parameter), or ``eco-hc`` when that one needs
a CNN model and none can be found.

Only the standard library is imported at the top: the core is pinned before numpy loads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_SEQUENCE = "synthetic/aerial"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cfvgg-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequence", default=DEFAULT_SEQUENCE,
                        help=f"dataset spec or OTB-layout folder (default {DEFAULT_SEQUENCE})")
    parser.add_argument("--tracker", default=None,
                        help="tracker name (default: the node's default tracker; eco-hc when that one needs a "
                             "CNN model and none is available)")
    parser.add_argument("--offline", action="store_true", help="run the tracker directly, without ROS")
    parser.add_argument("--output", default="results/demo", help="output folder (default results/demo)")
    parser.add_argument("--data-root", default=None, help="benchmark data root (default ../shared/data)")
    parser.add_argument("--cpu-core", type=int, default=None, help="core to pin the tracker to (default: first)")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed factor (default 1)")
    parser.add_argument("--max-frames", type=int, default=None, help="use only the first N frames")
    parser.add_argument("--gif-frames", type=int, default=150, help="frames in the annotated GIF (default 150)")
    parser.add_argument("--no-reference", action="store_true",
                        help="through the node: do not run the tracker offline afterwards for its AUC")
    return parser.parse_args(argv)


def default_tracker() -> str:
    """The node's default tracker (:mod:`cfvgg_ros.ros.params`); when it needs a CNN feature model
    and none can be found (shipped, or the paper's converted one), the hand-crafted ``eco-hc``."""
    from ..core import tracker_info
    from ..models.contract import ModelError
    from ..models.store import default_model_path
    from ..ros.params import SPECS

    name = str(SPECS["tracker"].default)
    if not tracker_info(name).cnn_model:
        return name
    try:
        default_model_path()
    except ModelError as exc:
        print(f"cfvgg-demo: no CNN model for {name} ({exc}); using eco-hc", file=sys.stderr)
        return "eco-hc"
    return name


def _annotated_frames(sequence, boxes, tracker: str, limit: int | None):
    from ..evaluation.plots import annotate_frame

    colours = {"ground truth": (60, 220, 60), tracker: (230, 25, 75)}
    count = len(boxes) if limit is None else min(limit, len(boxes))
    for index in range(count):
        yield annotate_frame(sequence.frame(index), {"ground truth": sequence.boxes[index], tracker: boxes[index]},
                             colours=colours)


def _write_media(sequence, boxes, tracker: str, out: Path, gif_frames: int) -> list[Path]:
    from ..evaluation.plots import write_gif, write_video

    gif = write_gif(_annotated_frames(sequence, boxes, tracker, gif_frames), out / "demo.gif",
                    fps=min(sequence.fps, 15.0), max_side=480)
    video = write_video(_annotated_frames(sequence, boxes, tracker, None), out / "demo.mp4", fps=sequence.fps)
    return [gif, video]


def offline_reference(sequence, tracker: str, data_root, out: Path, core: int) -> dict[str, float] | None:
    """AUC per rule set of ``tracker`` run directly on ``sequence``'s frames on ``core`` (as
    ``--offline``; this process is pinned there from now on); None when the run fails."""
    from ..evaluation.metrics import score_sequence
    from ..evaluation.runner import run_benchmark
    from ..threads import single_core

    single_core(core)
    run = run_benchmark([(tracker, {})], [sequence], data_root, out / "offline", jobs=1, resume=False,
                        progress=False)
    if run.failed or not run.results:
        return None
    result = run.result_list()[0]
    return {rules: score_sequence(result.boxes, result.gt_boxes, rules).auc for rules in ("otb", "pysot")}


def demo_line(scores, realtime, offline: dict | None, tracker: str) -> str:
    """The one-line summary of a replay, for tables of repeated runs."""
    def auc(rules: str) -> str:
        node = f"{100 * scores.scores[rules].auc:.1f}"
        return f"{node} (offline {100 * offline[rules]:.1f})" if offline else node

    return (f"demo: {tracker} poses {realtime.poses}/{realtime.frames} gap {realtime.largest_gap} "
            f"AUC otb {auc('otb')} pysot {auc('pysot')} latency_ms mean {realtime.latency():.1f} "
            f"p95 {realtime.latency(95):.1f} p99 {realtime.latency(99):.1f} "
            f"p95_after_1s {realtime.latency(95, True):.1f} skipped {realtime.skipped} "
            f"lost_before_node {realtime.transport_lost} init_ms {realtime.init_ms:.0f} "
            f"live_after_ms {realtime.catch_up_ms:.0f}")


def run_offline(args, sequence, tracker: str, data_root, out: Path) -> int:
    from ..evaluation.report import write_report
    from ..evaluation.runner import BenchmarkInputError, run_benchmark

    started = time.perf_counter()
    try:
        run = run_benchmark([(tracker, {})], [sequence], data_root, out / "runs", jobs=1, resume=False)
    except BenchmarkInputError as exc:
        print(f"cfvgg-demo: {exc}", file=sys.stderr)
        return 2
    if run.failed or not run.results:
        for label, key, why in run.failed:
            print(f"cfvgg-demo: {label} on {key} failed: {why}", file=sys.stderr)
        return 1
    result = run.result_list()[0]
    text, files = write_report(run.result_list(), out)
    print(text)
    print(f"tracker speed: {result.fps:.1f} FPS over {result.num_updates} updates on one core "
          f"(wall time {time.perf_counter() - started:.1f} s including frame rendering/reading)")
    files += _write_media(sequence, result.boxes, tracker, out, args.gif_frames)
    print("outputs:")
    for path in [*files, run.run_dir]:
        print(f"  {path}")
    return 0


def run_replay(args, sequence, tracker: str, data_root, out: Path, core: int) -> int:
    from ..bags import BagError
    from ..bags.replay import replay_sequence
    from ..evaluation.plots import precision_plot, success_plot

    try:
        replay = replay_sequence(sequence, out, tracker=tracker, data_root=data_root, rate=args.rate,
                                 max_frames=args.max_frames, cpu_core=core)
    except BagError as exc:
        print(f"cfvgg-demo: replay failed: {exc}", file=sys.stderr)
        return 1
    scores = replay.scores
    print(scores.summary())
    print(replay.realtime.summary())
    print(f"  node CPU {replay.cpu_ms_per_frame:.1f} ms per frame during playback "
          f"(start-up and warm-up {replay.startup_cpu_s:.1f} s)")
    offline = None
    if not args.no_reference:
        offline = offline_reference(sequence, tracker, data_root, out, core)
        if offline is None:
            print("cfvgg-demo: the offline reference run failed", file=sys.stderr)
        else:
            print("  offline on the same frames: " + ", ".join(
                f"{rules} AUC {100 * auc:.1f} (node {100 * scores.scores[rules].auc:.1f})"
                for rules, auc in offline.items()))
    files = []
    for rules, score in scores.scores.items():
        files.append(success_plot({tracker: score.success}, out / f"success_{rules}.png",
                                  f"Success plot, {sequence.name} through track_node ({rules} rules)"))
        files.append(precision_plot({tracker: score.precision}, out / f"precision_{rules}.png",
                                    f"Precision plot, {sequence.name} through track_node ({rules} rules)"))
    files += _write_media(sequence, scores.boxes, tracker, out, args.gif_frames)
    print("outputs:")
    for path in [replay.input_bag, replay.output_bag, replay.node_log, *files]:
        print(f"  {path}")
    print(demo_line(scores, replay.realtime, offline, tracker))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    import os

    from ..threads import THREAD_ENV_VARS, single_core

    for var in THREAD_ENV_VARS:  # one thread per math library here and in the processes started from here
        os.environ[var] = "1"
    if args.offline:  # the tracker runs here: pin this process
        core = single_core(args.cpu_core)
    else:  # the tracker runs in the node process, pinned there; player and recorder use the others
        core = args.cpu_core if args.cpu_core is not None else min(os.sched_getaffinity(0))
    from ..datasets.sequence import DatasetError
    from ..evaluation.runner import BenchmarkInputError, resolve_spec
    from ..paths import shared_data_root

    data_root = Path(args.data_root) if args.data_root else shared_data_root()
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    try:
        sequence = resolve_spec(args.sequence, data_root)
    except (DatasetError, BenchmarkInputError, FileNotFoundError, KeyError) as exc:
        print(f"cfvgg-demo: cannot load sequence {args.sequence!r}: {exc}", file=sys.stderr)
        return 2
    if args.max_frames:
        from dataclasses import replace

        keep = min(args.max_frames, len(sequence))
        sequence = replace(sequence, boxes=sequence.boxes[:keep], frames=sequence.frames[:keep])
    tracker = args.tracker or default_tracker()
    first = sequence.frame(0)
    mode = "offline" if args.offline else "through track_node over DDS"
    print(f"cfvgg-demo: {tracker} on {sequence.dataset}/{sequence.name} ({len(sequence)} frames, "
          f"{first.shape[1]}x{first.shape[0]}, {sequence.fps:g} Hz), {mode}, tracker on core {core}")
    if args.offline:
        return run_offline(args, sequence, tracker, data_root, out)
    return run_replay(args, sequence, tracker, data_root, out, core)


if __name__ == "__main__":
    sys.exit(main())
