"""The small parsers and analyses of benchmark scripts, against hand-made inputs."""

import importlib.util
from types import SimpleNamespace

import numpy as np
import pytest

from cfvgg_ros.cli.demo import demo_line
from cfvgg_ros.paths import SOURCE_ROOT


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, SOURCE_ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_demo_runs_parses_the_line_the_demo_prints():
    realtime = SimpleNamespace(poses=149, frames=150, largest_gap=1, skipped=0, transport_lost=2, init_ms=212.4,
                               catch_up_ms=87.0,
                               latency=lambda q=None, settled=False: {None: 20.0, 95: 31.5, 99: 48.25}[q] - settled)
    scores = SimpleNamespace(scores={"otb": SimpleNamespace(auc=0.7634), "pysot": SimpleNamespace(auc=0.7629)})
    line = demo_line(scores, realtime, {"otb": 0.763, "pysot": 0.762}, "cfvgg")
    values = _load("demo_runs").parse(f"noise\n{line}\nmore")
    assert values == {"tracker": "cfvgg", "poses": "149", "frames": "150", "gap": "1", "otb": "76.3",
                      "otb_off": "76.3", "pysot": "76.3", "pysot_off": "76.2", "mean": "20.0", "p95": "31.5",
                      "p99": "48.2", "p95_1s": "30.5", "skipped": "0", "lost": "2", "init": "212", "live": "87"}
    assert _load("demo_runs").parse("no demo line") is None


def test_lost_threshold_counts_frames_below_and_misses(tmp_path):
    gt = np.tile([10.0, 10.0, 20.0, 20.0], (6, 1))
    boxes = gt.copy()
    boxes[4:] = [200.0, 200.0, 20.0, 20.0]  # the last two frames miss the target
    run = tmp_path / "trk" / "DS"
    run.mkdir(parents=True)
    np.savez(run / "seq.npz", boxes=boxes, gt_boxes=gt, scores=np.array([1.0, 0.5, 0.04, 0.5, 0.04, 0.5]))
    scores, overlaps = _load("lost_threshold").collect(tmp_path, "trk")
    np.testing.assert_allclose(scores, [0.5, 0.04, 0.5, 0.04, 0.5])  # the first frame is the init
    np.testing.assert_allclose(overlaps, [1, 1, 1, 0, 0])


def test_lever_study_roll_condition_turns_frames_and_boxes_about_the_target():
    from cfvgg_ros.datasets.sequence import Sequence

    lever = _load("lever_study")
    assert lever.parse_condition("roll2") == (1, None, 2.0)
    assert lever.parse_condition("roll0.5") == (1, None, 0.5)
    assert lever.parse_condition("stride3") == (3, None, 0.0)
    frame = np.zeros((80, 100, 3), np.uint8)
    frame[37:43, 40:60] = 255  # a 20 x 6 bar, centre (49.5, 39.5)
    boxes = np.array([[40.0, 37.0, 20.0, 6.0], [np.nan] * 4, [40.0, 37.0, 20.0, 6.0]])
    seq = Sequence(name="bar", dataset="t", boxes=boxes, render=lambda i: frame.copy())
    turned = lever.rolled(seq, 90.0)
    np.testing.assert_allclose(turned.boxes[0], [40.0, 37.0, 20.0, 6.0])
    assert np.all(np.isnan(turned.boxes[1]))  # out of view stays out of view
    # frame 2 is turned by 180 degrees: the bar maps onto itself; frame 1 (90 degrees) about the last
    # annotated centre: the bar stands upright, 6 wide and 20 high, centred where it was
    np.testing.assert_allclose(turned.boxes[2], [40.0, 37.0, 20.0, 6.0], atol=1e-9)
    upright = turned.frame(1)[..., 0] > 127
    rows, cols = np.nonzero(upright)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (30, 49, 47, 52)
    half = lever.rolled(Sequence(name="bar", dataset="t", boxes=boxes[[0, 0]], render=lambda i: frame), 45.0)
    side = (20.0 + 6.0) / np.sqrt(2.0)  # |w cos 45| + |h sin 45|
    np.testing.assert_allclose(half.boxes[1], [49.5 - (side - 1) / 2, 39.5 - (side - 1) / 2, side, side])
    with pytest.raises(SystemExit):
        lever.parse_condition("roll-1")
