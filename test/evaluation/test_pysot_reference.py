"""The package's `pysot` metrics agree with the independent plain implementation in
benchmarks/pysot_reference.py on random tracker outputs with invalid frames mixed in."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from pysot_reference import auc_and_precision, iou  # noqa: E402

from cfvgg_ros.evaluation.metrics import score_sequence  # noqa: E402


def test_reference_iou_hand_computed():
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_package_pysot_rules_match_reference(seed):
    rng = np.random.default_rng(seed)
    n = 200
    gt = np.column_stack([rng.uniform(0, 300, n), rng.uniform(0, 200, n), rng.uniform(10, 80, (n, 2))])
    pred = gt + rng.normal(0, 12, (n, 4))
    pred[:, 2:] = np.abs(pred[:, 2:]) + 1
    gt[rng.choice(n, 10, replace=False)] = np.nan  # absent target
    pred[rng.choice(n, 5, replace=False)] = np.nan  # tracker gave no box
    ours = score_sequence(pred, gt, rules="pysot")
    ref_auc, ref_p20 = auc_and_precision(pred.tolist(), gt.tolist())
    assert ours.auc == pytest.approx(ref_auc, abs=1e-9)
    assert ours.precision20 == pytest.approx(ref_p20, abs=1e-9)
