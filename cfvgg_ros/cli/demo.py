"""``make demo`` / ``cfvgg-demo``: the main job on the built-in default.

Tracks the built-in synthetic aerial sequence (or ``--sequence SPEC``: a dataset spec under
the shared data folder such as ``OTB100/Dog1``, or a path to an OTB-layout folder) on one
pinned core, scores it under both rule sets, and writes under ``--output`` (default
``results/demo``): the per-frame results, the report tables (CSV), the success and precision
plots (PNG) and an annotated GIF and MP4 (ground truth green, tracker red).

Only the standard library is imported at the top: the core is pinned before numpy loads.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_SEQUENCE = "synthetic/aerial"
DEFAULT_TRACKER = "opencv-csrt"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="cfvgg-demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sequence", default=DEFAULT_SEQUENCE,
                        help=f"dataset spec or OTB-layout folder (default {DEFAULT_SEQUENCE})")
    parser.add_argument("--tracker", default=DEFAULT_TRACKER, help=f"tracker name (default {DEFAULT_TRACKER})")
    parser.add_argument("--output", default="results/demo", help="output folder (default results/demo)")
    parser.add_argument("--data-root", default=None, help="benchmark data root (default ../shared/data)")
    parser.add_argument("--cpu-core", type=int, default=None, help="core to pin to (default: first allowed)")
    parser.add_argument("--gif-frames", type=int, default=150, help="frames in the annotated GIF (default 150)")
    return parser.parse_args(argv)


def _annotated_frames(sequence, result, limit: int | None):
    from ..evaluation.plots import annotate_frame

    count = len(sequence) if limit is None else min(limit, len(sequence))
    for index in range(count):
        boxes = {"ground truth": sequence.boxes[index], result.tracker: result.boxes[index]}
        colours = {"ground truth": (60, 220, 60), result.tracker: (230, 25, 75)}
        yield annotate_frame(sequence.frame(index), boxes, colours=colours)


def main(argv=None) -> int:
    args = parse_args(argv)
    from ..threads import single_core

    core = single_core(args.cpu_core)

    from ..datasets.sequence import DatasetError
    from ..evaluation.plots import write_gif, write_video
    from ..evaluation.report import write_report
    from ..evaluation.runner import BenchmarkInputError, resolve_spec, run_benchmark
    from ..paths import shared_data_root

    data_root = Path(args.data_root) if args.data_root else shared_data_root()
    out = Path(args.output)
    try:
        sequence = resolve_spec(args.sequence, data_root)
    except (DatasetError, BenchmarkInputError, FileNotFoundError, KeyError) as exc:
        print(f"cfvgg-demo: cannot load sequence {args.sequence!r}: {exc}", file=sys.stderr)
        return 2
    print(f"cfvgg-demo: {args.tracker} on {sequence.dataset}/{sequence.name} "
          f"({len(sequence)} frames, {sequence.frame(0).shape[1]}x{sequence.frame(0).shape[0]}), "
          f"pinned to core {core}")
    started = time.perf_counter()
    try:
        run = run_benchmark([(args.tracker, {})], [sequence], data_root, out / "runs", jobs=1, resume=False)
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
    gif = write_gif(_annotated_frames(sequence, result, args.gif_frames), out / "demo.gif",
                    fps=min(sequence.fps, 15.0), max_side=480)
    video = write_video(_annotated_frames(sequence, result, None), out / "demo.mp4", fps=sequence.fps)
    print("outputs:")
    for path in [*files, gif, video, run.run_dir]:
        print(f"  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
