"""Measure a tracker's LOST threshold from a finished ``cfvgg-bench`` run on the TRAIN split: for
candidate score thresholds, how many frames score below it and how many of those really miss the
target (overlap < 0.1 with the ground truth), and how many real misses it catches. The node's
LOST state uses the threshold a tracker registers (:class:`cfvgg_ros.core.TrackerInfo`).

    .venv/bin/cfvgg-bench --split train --trackers cfvgg --run-name cfvgg-train
    .venv/bin/python benchmarks/lost_threshold.py results/cfvgg-train cfvgg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cfvgg_ros.evaluation.metrics import overlap  # noqa: E402

DEFAULT_THRESHOLDS = "0.03,0.05,0.06,0.07,0.08,0.10,0.12,0.15,0.20"
MISS_OVERLAP = 0.1


def collect(run_dir: Path, tracker: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame scores and overlaps (frames after the first with valid ground truth)."""
    scores, overlaps = [], []
    for path in sorted((run_dir / tracker).rglob("*.npz")):
        data = np.load(path, allow_pickle=True)
        ious = overlap(data["boxes"], data["gt_boxes"], rules="pysot")[1:]
        valid = np.isfinite(ious)
        scores.append(data["scores"][1:][valid])
        overlaps.append(ious[valid])
    if not scores:
        raise SystemExit(f"no results of {tracker!r} under {run_dir}")
    return np.concatenate(scores), np.concatenate(overlaps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("tracker")
    parser.add_argument("--thresholds", default=DEFAULT_THRESHOLDS)
    args = parser.parse_args(argv)
    scores, overlaps = collect(args.run_dir, args.tracker)
    missed = overlaps < MISS_OVERLAP
    print(f"{args.tracker}: {scores.size} frames, {int(missed.sum())} with overlap < {MISS_OVERLAP}; "
          f"score median {np.median(scores):.3f}, 5th percentile {np.percentile(scores, 5):.3f}")
    print("threshold  below (% frames)  of them missing (%)  misses caught (%)")
    for t in (float(x) for x in args.thresholds.split(",")):
        below = scores < t
        share = 100.0 * below.mean()
        precision = 100.0 * (below & missed).sum() / max(int(below.sum()), 1)
        recall = 100.0 * (below & missed).sum() / max(int(missed.sum()), 1)
        print(f"{t:9.3f}  {share:16.1f}  {precision:19.1f}  {recall:17.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
