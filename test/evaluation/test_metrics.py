"""Hand-computed checks of the OTB (MATLAB toolkit) and pysot/got10k metric rule sets."""

import math

import numpy as np
import pytest

from cfvgg_ros.evaluation.metrics import (
    PRECISION_THRESHOLDS,
    RULES,
    SUCCESS_THRESHOLDS,
    SequenceScore,
    center_error,
    mean_scores,
    otb_prepare,
    overlap,
    precision_curve,
    score_sequence,
    success_curve,
    success_thresholds,
)

NAN4 = [np.nan] * 4
GT = [0.0, 0.0, 10.0, 10.0]


def test_thresholds():
    assert len(SUCCESS_THRESHOLDS) == 21 and len(PRECISION_THRESHOLDS) == 51
    assert PRECISION_THRESHOLDS[20] == 20.0
    for rules in RULES:
        values = success_thresholds(rules)
        np.testing.assert_allclose(values, np.arange(21) / 20, atol=1e-15)
        assert values[0] == 0.0 and values[-1] == 1.0 and values[10] == 0.5 and values[5] == 0.25
    # MATLAB's 0:0.05:1 counts the upper half down from 1: 1 - 8 * 0.05 is the double nearest 0.6
    assert success_thresholds("otb")[12] == 1 - 8 * 0.05
    assert success_thresholds("pysot")[12] == 12 * 0.05


@pytest.mark.parametrize("rules", RULES)
def test_identical_boxes(rules):
    boxes = [[10.0, 20.0, 30.0, 40.0], [11.0, 21.0, 30.0, 40.0], [12.5, 22.0, 31.0, 39.0]]
    np.testing.assert_array_equal(overlap(boxes, boxes, rules), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(center_error(boxes, boxes, rules), [0.0, 0.0, 0.0])
    score = score_sequence(boxes, boxes, rules)
    # overlap 1 passes every threshold t < 1 but not 1 > 1
    assert score.success[-1] == 0.0 and np.all(score.success[:-1] == 1.0)
    assert score.auc == pytest.approx(20 / 21)
    assert score.precision20 == 1.0 and np.all(score.precision == 1.0)
    assert score.num_frames == 3 and score.rules == rules


@pytest.mark.parametrize("rules", RULES)
def test_half_overlap(rules):
    pred = [GT, [5.0, 0.0, 10.0, 10.0], [2.5, 2.5, 10.0, 10.0]]
    gt = [GT, GT, GT]
    # frame 2 with +1 (otb): right = x + w - 1 -> 9 and 14; side = min(9, 14) - max(0, 5) + 1 = 5
    #            without (pysot): right = x + w -> 10 and 15; side = min(10, 15) - max(0, 5) = 5
    # inter = 5 * 10 = 50, union = 100 + 100 - 50 = 150
    # frame 3: side 7.5 both ways, inter 56.25, union 143.75
    expected = [1.0, 50 / 150, 56.25 / 143.75]
    np.testing.assert_allclose(overlap(pred, gt, rules), expected, rtol=0, atol=1e-15)
    # centres x + (w-1)/2 (otb) or x + w/2 (pysot) differ by the same offset: errors agree
    np.testing.assert_allclose(center_error(pred, gt, rules), [0.0, 5.0, math.hypot(2.5, 2.5)])


@pytest.mark.parametrize("rules", RULES)
def test_disjoint_and_touching_boxes(rules):
    pred = [GT, [20.0, 20.0, 10.0, 10.0], [10.0, 0.0, 10.0, 10.0]]
    np.testing.assert_array_equal(overlap(pred, [GT] * 3, rules), [1.0, 0.0, 0.0])
    np.testing.assert_allclose(center_error(pred, [GT] * 3, rules), [0.0, math.sqrt(800.0), 10.0])


def test_nan_ground_truth_otb_counts_frames():
    gt = [GT, NAN4, [0.0, 0.0, 0.0, 10.0], GT]
    pred = [GT, GT, GT, [5.0, 0.0, 10.0, 10.0]]
    np.testing.assert_allclose(overlap(pred, gt, "otb"), [1.0, -1.0, -1.0, 1 / 3])
    np.testing.assert_allclose(center_error(pred, gt, "otb"), [0.0, -1.0, -1.0, 5.0])
    score = score_sequence(pred, gt, "otb")
    assert score.num_frames == 4
    assert score.success[0] == pytest.approx(2 / 4)  # -1 > 0 fails, frames stay in the denominator
    assert score.precision[0] == pytest.approx(3 / 4)  # -1 <= 0 passes (toolkit quirk)
    assert score.precision20 == 1.0


def test_nan_ground_truth_pysot_drops_frames():
    gt = [GT, NAN4, [0.0, 0.0, 0.0, 10.0], GT]
    pred = [GT, GT, GT, [5.0, 0.0, 10.0, 10.0]]
    overlaps = overlap(pred, gt, "pysot")
    assert overlaps[0] == 1.0 and overlaps[3] == pytest.approx(1 / 3)
    assert np.isnan(overlaps[1]) and np.isnan(overlaps[2])
    score = score_sequence(pred, gt, "pysot")
    assert score.num_frames == 2
    assert score.success[0] == 1.0 and score.success[7] == 0.5  # 1/3 > 0.35 fails
    assert score.precision[0] == 0.5 and score.precision[5] == 1.0


def test_otb_ground_truth_validity_uses_one_based_pixels():
    # the toolkit keeps rows with all four numbers > 0 in 1-based pixels: x, y > -1 here
    gt = [GT, [-1.0, 0.0, 10.0, 10.0], [-0.5, 0.0, 10.0, 10.0]]
    pred = [GT, [-1.0, 0.0, 10.0, 10.0], [-0.5, 0.0, 10.0, 10.0]]
    np.testing.assert_array_equal(overlap(pred, gt, "otb"), [1.0, -1.0, 1.0])
    np.testing.assert_array_equal(overlap(pred, gt, "pysot"), [1.0, 1.0, 1.0])


def test_invalid_tracker_box_replaced_by_previous_otb():
    shifted = [5.0, 0.0, 10.0, 10.0]
    gt = [GT] * 4
    pred = [GT, shifted, NAN4, [1.0, 1.0, 0.0, 10.0]]
    np.testing.assert_array_equal(otb_prepare(pred, gt), [GT, shifted, shifted, shifted])
    np.testing.assert_allclose(overlap(pred, gt, "otb"), [1.0, 1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(center_error(pred, gt, "otb"), [0.0, 5.0, 5.0, 5.0])
    # pysot replaces nothing: invalid boxes score overlap 0 and an infinite error
    np.testing.assert_allclose(overlap(pred, gt, "pysot"), [1.0, 1 / 3, 0.0, 0.0])
    np.testing.assert_array_equal(center_error(pred, gt, "pysot"), [0.0, 5.0, np.inf, np.inf])
    assert score_sequence(pred, gt, "pysot").precision[50] == 0.5


def test_otb_replacement_quirks():
    # only partly NaN: MATLAB's all(...) is false, the box is kept and fails every threshold
    pred = [GT, [np.nan, 0.0, 10.0, 10.0]]
    assert np.isnan(overlap(pred, [GT, GT], "otb")[1])
    score = score_sequence(pred, [GT, GT], "otb")
    assert score.success[0] == 0.5 and score.precision[50] == 0.5
    # replacement runs before frame 1 is forced: frame 2 copies the raw frame-1 output
    pred = [[1.0, 0.0, 10.0, 10.0], NAN4]
    np.testing.assert_array_equal(otb_prepare(pred, [GT, GT]), [GT, [1.0, 0.0, 10.0, 10.0]])
    np.testing.assert_allclose(overlap(pred, [GT, GT], "otb"), [1.0, 90 / 110])
    # no replacement where the ground truth is NaN
    np.testing.assert_array_equal(otb_prepare([GT, NAN4], [GT, NAN4])[1], NAN4)


def test_first_frame_forcing():
    pred = [[50.0, 50.0, 10.0, 10.0], GT]
    np.testing.assert_array_equal(overlap(pred, [GT, GT], "otb"), [1.0, 1.0])
    np.testing.assert_array_equal(center_error(pred, [GT, GT], "otb"), [0.0, 0.0])
    np.testing.assert_array_equal(overlap(pred, [GT, GT], "pysot"), [0.0, 1.0])
    np.testing.assert_allclose(center_error(pred, [GT, GT], "pysot"), [math.hypot(50, 50), 0.0])
    assert score_sequence(pred, [GT, GT], "otb").auc == pytest.approx(20 / 21)
    assert score_sequence(pred, [GT, GT], "pysot").auc == pytest.approx(10 / 21)
    # inputs are not modified
    assert pred[0] == [50.0, 50.0, 10.0, 10.0]


@pytest.mark.parametrize("rules", RULES)
def test_auc_of_known_overlaps(rules):
    # t = k/20: 1 > t for k = 0..19 (20), 0.5 > t for k = 0..9 (10), 0.25 > t for k = 0..4 (5)
    curve = success_curve([1.0, 0.5, 0.25, 0.0], rules)
    expected = np.array([3] * 5 + [2] * 5 + [1] * 10 + [0]) / 4
    np.testing.assert_array_equal(curve, expected)
    assert curve.mean() == pytest.approx(35 / 84)


def test_curve_nan_handling():
    assert success_curve([1.0, np.nan], "otb")[0] == 0.5
    assert success_curve([1.0, np.nan], "pysot")[0] == 1.0
    assert precision_curve([-1.0, 30.0], "otb")[0] == 0.5
    assert precision_curve([np.nan, 30.0], "pysot")[30] == 1.0
    np.testing.assert_array_equal(success_curve([np.nan], "pysot"), np.zeros(21))


@pytest.mark.parametrize("rules", RULES)
def test_precision_boundary_at_20_pixels(rules):
    curve = precision_curve([20.0, 20.000001, 0.0, 50.0], rules)
    assert curve[20] == 0.5 and curve[19] == 0.25 and curve[21] == 0.75 and curve[50] == 1.0
    # a 12-16-20 triangle: centre error exactly 20 px counts as a success
    pred = [GT, [12.0, 16.0, 10.0, 10.0], [12.0, 16.5, 10.0, 10.0]]
    errors = center_error(pred, [GT] * 3, rules)
    assert errors[1] == 20.0 and errors[2] > 20.0
    assert score_sequence(pred, [GT] * 3, rules).precision20 == pytest.approx(2 / 3)


def test_mean_scores_otb_drops_all_zero_curves():
    good = score_sequence([GT, GT], [GT, GT], "otb")
    zero = SequenceScore(0.0, 0.0, np.zeros(21), np.zeros(51), 5, "otb")
    half = SequenceScore(0.25, 0.5, np.full(21, 0.25), np.full(51, 0.5), 3, "otb")
    overall = mean_scores([good, zero, half])
    np.testing.assert_allclose(overall.success, (good.success + half.success) / 2)
    assert overall.auc == pytest.approx((20 / 21 + 0.25) / 2)
    assert overall.precision20 == pytest.approx(0.75)
    assert overall.num_frames == 10 and overall.rules == "otb"
    assert mean_scores([zero]).auc == 0.0


def test_mean_scores_pysot_plain_mean():
    good = score_sequence([GT, GT], [GT, GT], "pysot")
    zero = SequenceScore(0.0, 0.0, np.zeros(21), np.zeros(51), 4, "pysot")
    overall = mean_scores([good, zero])
    assert overall.auc == pytest.approx(10 / 21)
    assert overall.precision20 == 0.5 and overall.num_frames == 6


def test_bad_input():
    with pytest.raises(ValueError, match="rule set"):
        overlap([GT], [GT], "vot")
    with pytest.raises(ValueError, match="boxes but gt"):
        score_sequence([GT, GT], [GT])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        score_sequence([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        center_error(GT, GT)
    with pytest.raises(ValueError, match="empty"):
        score_sequence(np.zeros((0, 4)), np.zeros((0, 4)))
    with pytest.raises(ValueError, match="1-D"):
        success_curve(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least one"):
        mean_scores([])
    otb = score_sequence([GT], [GT], "otb")
    pysot = score_sequence([GT], [GT], "pysot")
    with pytest.raises(ValueError, match="different rule sets"):
        mean_scores([otb, pysot])
