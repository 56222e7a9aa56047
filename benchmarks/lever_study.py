"""Measure tracker variants ("levers") on the TRAIN split only, under harder conditions than plain OPE.

The train split is small and a tracker on a student distilled from it scores high on it, so
plain OPE separates variants poorly. This script runs every tracker spec over every train
sequence under several *conditions* and prints the mean AUC (pysot rules) per condition:

* ``ope``: one pass from the ground truth (as cfvgg-bench);
* ``stride2`` / ``stride3``: every 2nd / 3rd frame only (2x / 3x the motion per frame, as a 30 Hz
  replay of 10 Hz video, or a tracker that falls behind);
* ``sre:<name>``: one of OTB's spatial-robustness starts (:mod:`cfvgg_ros.evaluation.perturbation`);
* ``rollN``: the video turned by N degrees more every frame about the target's centre (a camera
  rolling about the line of sight: the target and its surroundings rotate in the image, which the
  train split hardly shows and the eval split does, e.g. a motorbike looping); the ground truth is
  the axis-aligned box of the turned annotation, as for VOT's rotated boxes.

Eval-split sequences are refused: this is the tuning tool, the eval split only reports.

    .venv/bin/python benchmarks/lever_study.py --trackers "feco,cfvgg" --jobs 2 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_CONDITIONS = "ope,stride2,stride3,sre:scale_8,sre:scale_12,sre:topLeft,sre:right"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trackers", required=True,
                        help="tracker specs as cfvgg-bench takes them ('name:key=value,key=value,...')")
    parser.add_argument("--conditions", default=DEFAULT_CONDITIONS, help=f"default {DEFAULT_CONDITIONS}")
    parser.add_argument("--sequences", default=None, help="train-split specs (default: the whole train split)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes, each pinned to one core")
    parser.add_argument("--json", default=None, help="write per-run AUCs to this JSON file")
    parser.add_argument("--per-sequence", action="store_true", help="also print the per-sequence table")
    parser.add_argument("--register", default=None,
                        help="a Python file run in every process before tracking (e.g. to register variants "
                             "with cfvgg_ros.core.register_tracker)")
    return parser


def parse_condition(text: str) -> tuple[int, str | None, float]:
    """``ope`` -> (1, None, 0); ``strideN`` -> (N, None, 0); ``sre:<name>`` -> (1, name, 0);
    ``rollN`` -> (1, None, N degrees per frame)."""
    if text == "ope":
        return 1, None, 0.0
    if text.startswith("stride") and text[6:].isdigit() and int(text[6:]) >= 1:
        return int(text[6:]), None, 0.0
    if text.startswith("roll") and text[4:].replace(".", "", 1).isdigit() and float(text[4:]) > 0:
        return 1, None, float(text[4:])
    if text.startswith("sre:"):
        from cfvgg_ros.evaluation.perturbation import parse_perturbations

        return 1, parse_perturbations(text[4:])[0], 0.0
    raise SystemExit(f"unknown condition {text!r}: use ope, strideN, rollN or sre:<perturbation>")


def rolled(sequence, degrees_per_frame: float):
    """``sequence`` with frame i turned by ``i * degrees_per_frame`` about the target's centre
    (the last annotated centre while the target is out of view), borders replicated; boxes become
    the axis-aligned boxes of the turned annotations (same centre, w' = |w cos a| + |h sin a|,
    h' = |w sin a| + |h cos a|)."""
    import cv2
    import numpy as np

    from cfvgg_ros.datasets.sequence import Sequence

    boxes = np.asarray(sequence.boxes, np.float64)
    centres = boxes[:, :2] + (boxes[:, 2:] - 1.0) / 2.0  # pixel-centre convention of the trackers
    for i in range(len(centres)):
        if not np.all(np.isfinite(centres[i])):
            centres[i] = centres[i - 1] if i else np.nan
    angles = np.deg2rad(degrees_per_frame * np.arange(len(boxes)))
    c, s = np.abs(np.cos(angles)), np.abs(np.sin(angles))
    sizes = np.stack([boxes[:, 2] * c + boxes[:, 3] * s, boxes[:, 2] * s + boxes[:, 3] * c], axis=1)
    turned = np.concatenate([centres - (sizes - 1.0) / 2.0, sizes], axis=1)
    base = sequence.frame

    def render(i, _base=base, _centres=centres, _deg=degrees_per_frame):
        frame = _base(i)
        if not np.all(np.isfinite(_centres[i])):
            return frame
        # cv2 turns counter-clockwise for positive angles in image coordinates (y down)
        matrix = cv2.getRotationMatrix2D((float(_centres[i][0]), float(_centres[i][1])), _deg * i, 1.0)
        return cv2.warpAffine(frame, matrix, (frame.shape[1], frame.shape[0]), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)

    return Sequence(name=f"{sequence.name}@roll{degrees_per_frame:g}", dataset=sequence.dataset, boxes=turned,
                    frames=list(sequence.frames), fps=sequence.fps, render=render)


def strided(sequence, stride: int):
    """``sequence`` keeping every ``stride``-th frame (and its box) from the first."""
    from cfvgg_ros.datasets.sequence import Sequence

    if stride == 1:
        return sequence
    render = None
    if sequence.render is not None:
        base = sequence.render

        def render(i, _base=base, _s=stride):
            return _base(i * _s)
    return Sequence(name=f"{sequence.name}@stride{stride}", dataset=sequence.dataset,
                    boxes=sequence.boxes[::stride], frames=list(sequence.frames[::stride]),
                    fps=sequence.fps / stride, render=render)


def _register(path: str | None) -> None:
    if path:
        import runpy

        runpy.run_path(path)


def run_one(task) -> dict:
    """One (tracker spec, sequence, condition) run; returns its pysot AUC and timing."""
    label, name, params, spec, condition, register = task
    _register(register)
    from cfvgg_ros.datasets import resolve
    from cfvgg_ros.evaluation.metrics import score_sequence
    from cfvgg_ros.evaluation.runner import run_sequence

    stride, perturbation, roll = parse_condition(condition)
    sequence = strided(resolve(spec, None), stride)
    if roll:
        sequence = rolled(sequence, roll)
    result = run_sequence(name, params, sequence, init_perturbation=perturbation)
    score = score_sequence(result.boxes, result.gt_boxes, rules="pysot")
    return {"tracker": label, "sequence": spec, "condition": condition, "auc": 100.0 * float(score.auc),
            "seconds": float(__import__("numpy").nansum(result.times)), "errors": len(result.errors)}


def _worker_init(cores) -> None:
    from cfvgg_ros.threads import single_core

    single_core(cores.get())


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from cfvgg_ros.threads import single_core

    if args.jobs <= 1:
        single_core(None)
    _register(args.register)
    from cfvgg_ros.cli.bench import parse_tracker_specs
    from cfvgg_ros.datasets.splits import load_splits
    from cfvgg_ros.evaluation.results import tracker_label

    splits = load_splits()
    specs = args.sequences.split(",") if args.sequences else list(splits["train"])
    leaked = sorted(set(specs) & set(splits["eval"]))
    if leaked:
        raise SystemExit(f"refusing eval-split sequences {leaked}: tune on the train split only")
    conditions = [c.strip() for c in args.conditions.split(",") if c.strip()]
    for c in conditions:
        parse_condition(c)
    trackers = [(tracker_label(n, p), n, p) for n, p in parse_tracker_specs(args.trackers)]
    tasks = [(label, n, p, s, c, args.register) for label, n, p in trackers for c in conditions for s in specs]
    start = time.time()
    if args.jobs > 1:
        import multiprocessing as mp
        import os

        ctx = mp.get_context("spawn")
        cores = ctx.Queue()
        for core in sorted(os.sched_getaffinity(0))[: args.jobs]:
            cores.put(core)
        with ctx.Pool(args.jobs, initializer=_worker_init, initargs=(cores,)) as pool:
            rows = pool.map(run_one, tasks, chunksize=1)
    else:
        rows = [run_one(t) for t in tasks]
    print(f"# {len(rows)} runs in {time.time() - start:.0f} s; mean AUC (pysot, %) over {len(specs)} train sequences")
    header = ["tracker"] + conditions + ["mean"]
    table = []
    for label, _, _ in trackers:
        cells = [label]
        means = []
        for c in conditions:
            values = [r["auc"] for r in rows if r["tracker"] == label and r["condition"] == c]
            means.append(sum(values) / len(values))
            cells.append(f"{means[-1]:.1f}")
        cells.append(f"{sum(means) / len(means):.1f}")
        table.append(cells)
    widths = [max(len(r[i]) for r in [header] + table) for i in range(len(header))]
    for row in [header] + table:
        cells = enumerate(zip(row, widths, strict=True))
        print("  ".join(f"{v:<{w}}" if i == 0 else f"{v:>{w}}" for i, (v, w) in cells))
    if args.per_sequence:
        for label, _, _ in trackers:
            print(f"\n{label}")
            for s in specs:
                vals = [next(r["auc"] for r in rows if r["tracker"] == label and r["sequence"] == s
                             and r["condition"] == c) for c in conditions]
                print(f"  {s:28s}" + "".join(f"{v:8.1f}" for v in vals))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
