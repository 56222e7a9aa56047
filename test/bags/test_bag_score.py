"""Scoring an output bag against its input bag: hand-made bags with hand-computed scores."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from cfvgg_ros.bags import EPOCH_NS, BagError
from cfvgg_ros.bags.make import box_polygon, make_bag
from cfvgg_ros.bags.score import match_outputs, polygon_box, read_outputs, score_bags
from cfvgg_ros.cli.bag import main
from cfvgg_ros.datasets import Sequence

TYPES = get_typestore(Stores.ROS2_JAZZY)
T = TYPES.types
GT_BOX = (10.0, 10.0, 20.0, 20.0)
SHIFTED = (20.0, 10.0, 20.0, 20.0)  # IoU 1/3 with GT_BOX, centre error 10 px
FPS = 10.0


def stamp(i: int) -> int:
    return EPOCH_NS + round(i * 1e9 / FPS)


def header(ns: int):
    sec, nanosec = divmod(ns, 10**9)
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                    frame_id="camera_optical")


def polygon_msg(ns: int, box):
    Point32 = T["geometry_msgs/msg/Point32"]
    points = [Point32(x=x, y=y, z=0.0) for x, y in (box_polygon(box) if box is not None else [])]
    polygon = T["geometry_msgs/msg/Polygon"](points)
    return T["geometry_msgs/msg/PolygonStamped"](header=header(ns), polygon=polygon)


def status_msg(ns: int, values: dict):
    KeyValue, Status = T["diagnostic_msgs/msg/KeyValue"], T["diagnostic_msgs/msg/DiagnosticStatus"]
    status = Status(level=0, name="track_node", message="", hardware_id="",
                    values=[KeyValue(key=k, value=v) for k, v in values.items()])
    return T["diagnostic_msgs/msg/DiagnosticArray"](header=header(ns), status=[status])


@pytest.fixture(scope="module")
def groundtruth_bag(tmp_path_factory):
    """5 frames at 10 Hz, the target at GT_BOX on every frame."""
    seq = Sequence(name="hand", dataset="OTB100", boxes=np.tile(GT_BOX, (5, 1)), fps=FPS,
                   render=lambda i: np.full((48, 64, 3), 40 * i, np.uint8))
    return make_bag(seq, tmp_path_factory.mktemp("gt") / "input").path


@pytest.fixture(scope="module")
def output_bag(tmp_path_factory):
    """Outputs: frames 0, 1 exact, frame 2 shifted, frame 3 missing, frame 4 lost (empty polygon),
    plus a repeated frame-1 stamp (ignored) and a stamp of no frame (unmatched); two status messages."""
    path = tmp_path_factory.mktemp("out") / "output"
    polygon_type = "geometry_msgs/msg/PolygonStamped"
    status_type = "diagnostic_msgs/msg/DiagnosticArray"
    outputs = [(0, GT_BOX), (1, GT_BOX), (1, SHIFTED), (2, SHIFTED), (4, None)]
    with Writer(path, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        box_conn = writer.add_connection("/target_box", polygon_type, typestore=TYPES)
        # not a default status name: found as the bag's DiagnosticArray topic
        status_conn = writer.add_connection("/my_tracker/status", status_type, typestore=TYPES)
        receive = 1_000 * 10**9
        for k, (frame, box) in enumerate(outputs):
            data = TYPES.serialize_cdr(polygon_msg(stamp(frame), box), polygon_type)
            writer.write(box_conn, receive + k * 10**8, data)
        writer.write(box_conn, receive + 10**9, TYPES.serialize_cdr(polygon_msg(stamp(2) + 7 * 10**6, GT_BOX),
                                                                   polygon_type))
        for k, (tracker_fps, latency) in enumerate([("50", "12.0"), ("70", "14.0")]):
            values = {"state": "TRACKING", "fps": "9.5", "tracker_fps": tracker_fps, "latency_ms": latency,
                      "latency_p95_ms": "20", "dropped_frames": str(k), "last_error": ""}
            data = TYPES.serialize_cdr(status_msg(receive + k, values), status_type)
            writer.write(status_conn, receive + k, data)
    return path


def test_score_matches_hand_computed_auc_and_precision(output_bag, groundtruth_bag):
    result = score_bags(output_bag, groundtruth_bag)
    assert result.sequence == "OTB100/hand" and result.init_frame == 0
    np.testing.assert_array_equal(result.matched, [True, True, True, False, True])
    assert (result.num_outputs, result.duplicate_outputs, result.unmatched_outputs) == (6, 1, 1)
    np.testing.assert_allclose(result.boxes[1], GT_BOX)  # the first output of a stamp wins
    assert np.isnan(result.boxes[3]).all() and np.isnan(result.boxes[4]).all()
    # pysot: overlaps [1, 1, 1/3, 0, 0] -> (7 thresholds <= 0.30 pass 3 frames, 13 pass 2, t=1 none) / 5 / 21
    assert result.scores["pysot"].auc == pytest.approx(47 / 105)
    assert result.scores["pysot"].precision20 == pytest.approx(3 / 5)  # errors [0, 0, 10, inf, inf]
    # otb: missing/lost boxes repeat the previous box -> overlaps [1, 1, 1/3, 1/3, 1/3]
    assert result.scores["otb"].auc == pytest.approx(61 / 105)
    assert result.scores["otb"].precision20 == pytest.approx(1.0)
    assert result.tracker_fps == pytest.approx(60.0) and result.node_fps == pytest.approx(9.5)
    assert result.diagnostics["latency_ms"].mean == pytest.approx(13.0)
    assert "state" not in result.diagnostics
    assert result.output_rate_hz == pytest.approx(5 / 1.0)
    text = result.summary()
    assert "AUC  44.8" in text and "AUC  58.1" in text and "tracker FPS 60.0" in text

    only = score_bags(output_bag, groundtruth_bag, rules="pysot", status_topic="/absent")
    assert list(only.scores) == ["pysot"] and only.diagnostics == {}
    record = result.to_sequence_result("node")
    assert (record.dataset, record.sequence, record.num_frames) == ("OTB100", "hand", 5)


def test_score_cli_prints_and_writes_json(output_bag, groundtruth_bag, tmp_path, capsys):
    out_json = tmp_path / "score.json"
    assert main(["score", str(output_bag), "--groundtruth", str(groundtruth_bag), "--rules", "pysot",
                 "--json", str(out_json)]) == 0
    assert "pysot  AUC  44.8" in capsys.readouterr().out
    payload = json.loads(out_json.read_text())
    assert payload["scores"]["pysot"]["auc"] == pytest.approx(47 / 105)
    assert payload["frames_with_output"] == 4
    assert main(["score", str(output_bag), "--groundtruth", str(tmp_path)]) == 2
    assert "no metadata.yaml" in capsys.readouterr().err


def test_score_rejects_bad_input(output_bag, groundtruth_bag):
    with pytest.raises(BagError, match="rule"):
        score_bags(output_bag, groundtruth_bag, rules="vot")
    with pytest.raises(BagError, match="no output topic"):
        score_bags(output_bag, groundtruth_bag, topic="/target_pose")
    with pytest.raises(BagError, match="no ground-truth topic"):
        score_bags(output_bag, output_bag)
    with pytest.raises(BagError, match="has type"):
        read_outputs(output_bag, "/my_tracker/status")


def test_polygon_box_and_matching():
    class P:
        def __init__(self, x, y):
            self.x, self.y = x, y

    np.testing.assert_allclose(polygon_box([P(4, 6), P(1, 2)]), [1, 2, 3, 4])
    assert np.isnan(polygon_box([P(1, 2)])).all()
    from cfvgg_ros.bags.score import Outputs

    outputs = Outputs(np.array([100, 205, 900]), np.arange(12.0).reshape(3, 4), np.zeros(3))
    boxes, matched, unmatched, duplicates = match_outputs(np.array([200, 100, 300]), outputs, tolerance_ns=10)
    np.testing.assert_array_equal(matched, [True, True, False])
    np.testing.assert_allclose(boxes[0], [4, 5, 6, 7])
    assert (unmatched, duplicates) == (1, 0)


def test_bench_from_bag_reports_the_same_scores(output_bag, groundtruth_bag, tmp_path, capsys):
    from cfvgg_ros.cli.bench import main as bench_main

    argv = ["--from-bag", str(output_bag), "--groundtruth", str(groundtruth_bag), "--results", str(tmp_path),
            "--run-name", "bag", "--no-plots", "--label", "node"]
    assert bench_main(argv) == 0
    out = capsys.readouterr().out
    assert "OTB100/hand" in out and "44.8" in out and "58.1" in out  # pysot 47/105, otb 61/105
    assert (tmp_path / "bag" / "report_pysot.csv").is_file()
    assert bench_main(["--from-bag", str(output_bag), "--results", str(tmp_path)]) == 2  # no --groundtruth
