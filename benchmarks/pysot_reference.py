"""An independent, deliberately plain implementation of the `pysot` rule set.

Written separately from :mod:`cfvgg_ros.evaluation.metrics` (pure Python, one frame at a
time, no shared code) to cross-check it, as the foundation issue's acceptance asks:
- frames whose ground truth is invalid (NaN, or width/height <= 0) are dropped;
- IoU without the +1-pixel convention (corners x1 = x, x2 = x + w);
- success at threshold t counts overlap > t, t in 0, 0.05, ..., 1 (21 values), AUC = mean;
- precision counts centre error <= 20 px, centres at x + w/2;
- an invalid tracker box scores overlap 0 and an infinite centre error.
"""

from __future__ import annotations

import math


def _valid(box) -> bool:
    return all(math.isfinite(v) for v in box) and box[2] > 0 and box[3] > 0


def iou(a, b) -> float:
    """Intersection over union of two (x, y, w, h) boxes, no +1."""
    ix = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    iy = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0.0, ix) * max(0.0, iy)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def auc_and_precision(pred, gt) -> tuple[float, float]:
    """(AUC, precision@20) as fractions for one sequence; ``pred`` and ``gt`` are lists of boxes."""
    overlaps, errors = [], []
    for p, g in zip(pred, gt, strict=True):
        p, g = [float(v) for v in p], [float(v) for v in g]
        if not _valid(g):
            continue
        if not _valid(p):
            overlaps.append(0.0)
            errors.append(math.inf)
            continue
        overlaps.append(iou(p, g))
        dx = (p[0] + p[2] / 2) - (g[0] + g[2] / 2)
        dy = (p[1] + p[3] / 2) - (g[1] + g[3] / 2)
        errors.append(math.hypot(dx, dy))
    if not overlaps:
        return float("nan"), float("nan")
    rates = []
    for k in range(21):
        t = k * 0.05
        rates.append(sum(1 for o in overlaps if o > t) / len(overlaps))
    precision = sum(1 for e in errors if e <= 20) / len(errors)
    return sum(rates) / len(rates), precision
