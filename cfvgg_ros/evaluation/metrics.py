"""One-pass evaluation (OPE) metrics: success (overlap) and precision (centre error) curves.

Two documented rule sets, picked by name (``RULES``). Boxes are ``(x, y, w, h)`` float64,
0-based pixels, one row per frame; ground-truth rows of NaN mark frames without a target.
AUC and precision values are fractions in ``[0, 1]``; reports multiply them by 100.

``"otb"`` -- the official MATLAB OTB-2015 toolkit (``calcSeqErrRobust.m``, ``calcRectInt.m``,
``genPerfMat.m``, ``plotDrawSave.m``; the UAV123 toolkit reuses the same files):

* Tracker boxes, in this order (as ``calcSeqErrRobust``): for frames 2..N a box is replaced
  by the (already processed) previous tracker box when MATLAB's
  ``all((isnan(r) | r(3)<=0 | r(4)<=0) & ~isnan(r_anno))`` holds -- i.e. when the box is all
  NaN or has ``w <= 0`` or ``h <= 0``, *and* the ground-truth row holds no NaN. A box with
  only some NaN entries is therefore *not* replaced and scores as a failure (NaN compares
  false). Then frame 1 is forced to the ground truth.
* Ground truth is valid when all four numbers are ``> 0`` in the toolkit's 1-based pixels,
  which for our 0-based boxes means ``x > -1, y > -1, w > 0, h > 0`` (NaN is never valid).
  Invalid frames get overlap ``-1`` and centre error ``-1`` and *stay in the denominator*:
  ``-1 > t`` fails every overlap threshold, but ``-1 <= t`` passes every distance threshold,
  so such frames count as successes in the precision curve (a toolkit quirk, reproduced).
* Overlap with the +1-pixel convention: right = ``x + w - 1``, intersection side =
  ``max(0, min(r1, r2) - max(l1, l2) + 1)``, union = ``w1 h1 + w2 h2 - inter``. The -1 and
  +1 cancel, so this equals the no-+1 formula for any boxes; kept in that form for fidelity.
* Centre = ``x + (w - 1) / 2`` (not ``x + w / 2``); the offset is common to both boxes, so the
  Euclidean centre error equals the one with ``x + w / 2`` exactly.
* Success at ``t`` = fraction of frames with overlap ``> t`` for ``t = 0:0.05:1`` (21 values,
  MATLAB's colon values, see :func:`success_thresholds`); AUC = mean of the 21 rates.
  Precision at ``t`` = fraction with error ``<= t`` for ``t = 0:1:50``; the score is ``t = 20``.
  The toolkit divides counts by ``N + eps``; we divide by ``N`` (differs by <= 1 ulp).
* Several sequences (OPE, ``plotDrawSave``): the mean of the *per-sequence* curves, after
  dropping sequences whose curve sums to ``<= eps`` (all-zero curves), separately for the
  success and precision curves. When every curve is dropped the toolkit gives NaN; we give 0.

``"pysot"`` -- the Python toolkits (pysot / got10k style):

* Frames with invalid ground truth (NaN, ``w <= 0`` or ``h <= 0``) are dropped from numerator
  and denominator (got10k's UAV123 experiment does this; pysot's ``OPEBenchmark`` instead
  keeps them as ``-1`` in the denominator much as the OTB rules do). :func:`overlap` and
  :func:`center_error` mark them NaN and the curve functions skip NaN entries.
* Overlap without +1: ``x2 = x + w``, intersection side ``max(0, min(x2) - max(x1))``, clipped
  to ``[0, 1]``; centre = ``x + w / 2``.
* Invalid tracker boxes (any NaN, ``w <= 0`` or ``h <= 0``) score overlap 0 and an infinite
  centre error (in the toolkits NaN results fail every threshold; a negative size gives a
  zero intersection). Nothing is replaced and frame 1 is *not* forced: it scores whatever
  the tracker output holds there (trackers normally report the init box).
* Thresholds ``np.arange(0, 1.05, 0.05)`` with overlap ``> t``; ``0..50`` px with error ``<= t``.
* Several sequences: the plain mean of the per-sequence curves (pysot ``show_result``, got10k
  ``report``); the AUC is the mean of that curve, the precision score its value at 20 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

RULES = ("otb", "pysot")

#: Overlap thresholds of the Python toolkits, ``np.arange(0, 1.05, 0.05)`` (21 values).
SUCCESS_THRESHOLDS = np.arange(0.0, 1.05, 0.05)
#: Centre-error thresholds in pixels, ``0, 1, ..., 50`` (51 values).
PRECISION_THRESHOLDS = np.arange(0.0, 51.0)
#: The precision score is the precision curve at this many pixels.
PRECISION_SCORE_PIXELS = 20


def _matlab_colon(start: float, step: float, stop: float) -> np.ndarray:
    """``start:step:stop`` as MATLAB computes it: the first half counted up from ``start``,
    the second half counted down from the last value, the middle value (odd count) the mean."""
    n = int(round((stop - start) / step))
    last = start + n * step
    values = np.empty(n + 1)
    for k in range(n + 1):
        values[k] = start + k * step if 2 * k < n else last - (n - k) * step
    if n % 2 == 0:
        values[n // 2] = (start + last) / 2
    return values


_OTB_SUCCESS_THRESHOLDS = _matlab_colon(0.0, 0.05, 1.0)


def _check_rules(rules: str) -> str:
    if rules not in RULES:
        raise ValueError(f"unknown rule set {rules!r}; choose one of {RULES}")
    return rules


def success_thresholds(rules: str = "otb") -> np.ndarray:
    """The 21 overlap thresholds of a rule set (``0:0.05:1`` as MATLAB or numpy computes it;
    the two differ by one ulp at a few entries)."""
    _check_rules(rules)
    return (_OTB_SUCCESS_THRESHOLDS if rules == "otb" else SUCCESS_THRESHOLDS).copy()


def _as_boxes(boxes, name: str) -> np.ndarray:
    """``boxes`` as a float64 (N, 4) array (clear error otherwise)."""
    try:
        array = np.array(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers of shape (N, 4)") from exc
    if array.ndim != 2 or array.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4) of (x, y, w, h), got {array.shape}")
    return array


def _as_pair(pred, gt) -> tuple[np.ndarray, np.ndarray]:
    pred_boxes = _as_boxes(pred, "pred")
    gt_boxes = _as_boxes(gt, "gt")
    if len(pred_boxes) != len(gt_boxes):
        raise ValueError(f"pred has {len(pred_boxes)} boxes but gt has {len(gt_boxes)}")
    return pred_boxes, gt_boxes


def _valid_gt(gt: np.ndarray, rules: str) -> np.ndarray:
    """Per-frame ground-truth validity mask of a rule set (see the module docstring)."""
    with np.errstate(invalid="ignore"):
        if rules == "otb":
            # all four > 0 in the toolkit's 1-based pixels = x, y > -1 in 0-based pixels
            shifted = gt + np.array([1.0, 1.0, 0.0, 0.0])
            return np.all(shifted > 0, axis=1)
        return ~np.isnan(gt).any(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)


def _valid_pred(pred: np.ndarray) -> np.ndarray:
    """Tracker boxes that are finite with positive width and height."""
    with np.errstate(invalid="ignore"):
        return np.isfinite(pred).all(axis=1) & (pred[:, 2] > 0) & (pred[:, 3] > 0)


def otb_prepare(pred, gt) -> np.ndarray:
    """The tracker boxes as ``calcSeqErrRobust`` scores them: invalid boxes replaced by the
    previous box (frames 2..N, in order), then frame 1 set to the ground truth."""
    boxes, gt_boxes = _as_pair(pred, gt)
    boxes = boxes.copy()
    for i in range(1, len(boxes)):
        r, r_gt = boxes[i], gt_boxes[i]
        with np.errstate(invalid="ignore"):
            bad = np.isnan(r) | (r[2] <= 0) | (r[3] <= 0)
        if np.all(bad & ~np.isnan(r_gt)):
            boxes[i] = boxes[i - 1]
    if len(boxes):
        boxes[0] = gt_boxes[0]
    return boxes


def _iou(a: np.ndarray, b: np.ndarray, plus_one: bool) -> np.ndarray:
    """Row-wise IoU of (x, y, w, h) boxes; ``plus_one`` uses the inclusive-pixel convention."""
    one = 1.0 if plus_one else 0.0
    right = np.minimum(a[:, 0] + a[:, 2] - one, b[:, 0] + b[:, 2] - one)
    bottom = np.minimum(a[:, 1] + a[:, 3] - one, b[:, 1] + b[:, 3] - one)
    inter_w = np.maximum(0.0, right - np.maximum(a[:, 0], b[:, 0]) + one)
    inter_h = np.maximum(0.0, bottom - np.maximum(a[:, 1], b[:, 1]) + one)
    inter = inter_w * inter_h
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return inter / union


def box_iou(a, b) -> float:
    """IoU of two single (x, y, w, h) boxes (no +1; 0 when the union is empty)."""
    value = float(_iou(np.asarray([a], float), np.asarray([b], float), plus_one=False)[0])
    return value if np.isfinite(value) else 0.0


def overlap(pred, gt, rules: str = "otb") -> np.ndarray:
    """Per-frame overlap (IoU) of tracker boxes ``pred`` with ``gt``, both (N, 4) x, y, w, h.

    ``otb``: as ``calcSeqErrRobust`` (boxes prepared by :func:`otb_prepare`, +1 convention,
    ``-1`` for invalid ground truth). ``pysot``: no +1, clipped to [0, 1], 0 for invalid tracker
    boxes, NaN for invalid ground truth (dropped by :func:`success_curve`).
    """
    _check_rules(rules)
    pred_boxes, gt_boxes = _as_pair(pred, gt)
    valid = _valid_gt(gt_boxes, rules)
    result = np.full(len(gt_boxes), -1.0 if rules == "otb" else np.nan)
    if rules == "otb":
        boxes = otb_prepare(pred_boxes, gt_boxes)
        result[valid] = _iou(boxes[valid], gt_boxes[valid], plus_one=True)
    else:
        ious = np.clip(_iou(pred_boxes, gt_boxes, plus_one=False), 0.0, 1.0)
        ious[~_valid_pred(pred_boxes)] = 0.0
        result[valid] = ious[valid]
    return result


def _centres(boxes: np.ndarray, rules: str) -> np.ndarray:
    offset = 1.0 if rules == "otb" else 0.0
    return boxes[:, :2] + (boxes[:, 2:] - offset) / 2.0


def center_error(pred, gt, rules: str = "otb") -> np.ndarray:
    """Per-frame Euclidean distance in pixels between box centres.

    ``otb``: boxes prepared by :func:`otb_prepare`, centre ``x + (w - 1) / 2``, ``-1`` for
    invalid ground truth. ``pysot``: centre ``x + w / 2``, ``inf`` for invalid tracker boxes,
    NaN for invalid ground truth (dropped by :func:`precision_curve`).
    """
    _check_rules(rules)
    pred_boxes, gt_boxes = _as_pair(pred, gt)
    valid = _valid_gt(gt_boxes, rules)
    if rules == "otb":
        pred_boxes = otb_prepare(pred_boxes, gt_boxes)
    with np.errstate(invalid="ignore"):
        errors = np.linalg.norm(_centres(pred_boxes, rules) - _centres(gt_boxes, rules), axis=1)
    if rules == "otb":
        errors[~valid] = -1.0
    else:
        errors[~_valid_pred(pred_boxes)] = np.inf
        errors[~valid] = np.nan
    return errors


def _as_vector(values, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of per-frame values, got shape {array.shape}")
    return array


def _rate_curve(values: np.ndarray, thresholds: np.ndarray, rules: str, above: bool) -> np.ndarray:
    """Fraction of frames whose value passes each threshold (``> t`` or ``<= t``)."""
    if rules == "pysot":
        values = values[~np.isnan(values)]
    if len(values) == 0:
        return np.zeros(len(thresholds))
    with np.errstate(invalid="ignore"):
        passed = values[:, None] > thresholds[None, :] if above else values[:, None] <= thresholds[None, :]
    return passed.sum(axis=0) / len(values)


def success_curve(overlaps, rules: str = "otb") -> np.ndarray:
    """Success rates (21,) at :func:`success_thresholds`: fraction of frames with overlap ``> t``.

    ``otb`` counts every frame (``-1`` / NaN fail); ``pysot`` drops NaN (invalid ground truth).
    """
    _check_rules(rules)
    return _rate_curve(_as_vector(overlaps, "overlaps"), success_thresholds(rules), rules, above=True)


def precision_curve(errors, rules: str = "otb") -> np.ndarray:
    """Precision (51,) at ``PRECISION_THRESHOLDS``: fraction of frames with error ``<= t`` px.

    ``otb`` counts every frame (``-1`` passes, NaN fails); ``pysot`` drops NaN frames.
    """
    _check_rules(rules)
    return _rate_curve(_as_vector(errors, "errors"), PRECISION_THRESHOLDS, rules, above=False)


@dataclass
class SequenceScore:
    """Scores of one sequence (or, from :func:`mean_scores`, of a set of sequences).

    ``auc`` is the mean of ``success`` (21,); ``precision20`` is ``precision[20]`` (51,);
    ``num_frames`` counts the frames in the denominators (all frames for ``otb``, frames with
    valid ground truth for ``pysot``; summed over sequences by :func:`mean_scores`).
    """

    auc: float
    precision20: float
    success: np.ndarray
    precision: np.ndarray
    num_frames: int
    rules: str = "otb"


def _score_from_curves(success: np.ndarray, precision: np.ndarray, num_frames: int, rules: str):
    return SequenceScore(
        auc=float(np.mean(success)),
        precision20=float(precision[PRECISION_SCORE_PIXELS]),
        success=success,
        precision=precision,
        num_frames=int(num_frames),
        rules=rules,
    )


def score_sequence(pred_boxes, gt_boxes, rules: str = "otb") -> SequenceScore:
    """Score one tracker run: ``pred_boxes`` and ``gt_boxes`` are (N, 4) x, y, w, h, N >= 1.

    For ``otb`` the first-frame forcing and previous-box replacement are applied here (via
    :func:`overlap` / :func:`center_error`); the input is not modified.
    """
    _check_rules(rules)
    pred, gt = _as_pair(pred_boxes, gt_boxes)
    if len(gt) == 0:
        raise ValueError("cannot score an empty sequence")
    overlaps = overlap(pred, gt, rules)
    errors = center_error(pred, gt, rules)
    num_frames = len(gt) if rules == "otb" else int(np.count_nonzero(~np.isnan(overlaps)))
    success = success_curve(overlaps, rules)
    return _score_from_curves(success, precision_curve(errors, rules), num_frames, rules)


def _mean_curve(curves: np.ndarray, rules: str) -> np.ndarray:
    if rules == "otb":
        # plotDrawSave: aa = aa(sum(aa,2) > eps, :) drops all-zero sequence curves
        curves = curves[curves.sum(axis=1) > np.finfo(np.float64).eps]
    if len(curves) == 0:
        return np.zeros(curves.shape[1])
    return curves.mean(axis=0)


def mean_scores(scores: Sequence[SequenceScore]) -> SequenceScore:
    """Overall score of several sequences, following the rule set the scores were made with:
    the mean of per-sequence curves (``otb`` first drops all-zero curves, as ``plotDrawSave``).
    ``num_frames`` is the total over sequences."""
    scores = list(scores)
    if not scores:
        raise ValueError("mean_scores needs at least one SequenceScore")
    rule_sets = {score.rules for score in scores}
    if len(rule_sets) != 1:
        raise ValueError(f"cannot average scores made with different rule sets: {sorted(rule_sets)}")
    rules = _check_rules(rule_sets.pop())
    success = np.stack([np.asarray(s.success, dtype=np.float64) for s in scores])
    precision = np.stack([np.asarray(s.precision, dtype=np.float64) for s in scores])
    if success.shape[1] != len(SUCCESS_THRESHOLDS) or precision.shape[1] != len(PRECISION_THRESHOLDS):
        raise ValueError("every SequenceScore needs a (21,) success and a (51,) precision curve")
    return _score_from_curves(
        _mean_curve(success, rules),
        _mean_curve(precision, rules),
        sum(int(s.num_frames) for s in scores),
        rules,
    )
