"""How the node kept up, read from a recorded output bag: poses, the largest gap, skipped and
lost frames, per-result latency (all, and after the first second) from the ``last_result_*``
status values. A hand-made bag with hand-computed answers."""

from __future__ import annotations

import numpy as np
import pytest
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from cfvgg_ros.bags import EPOCH_NS
from cfvgg_ros.bags.make import box_polygon, make_bag
from cfvgg_ros.bags.replay import largest_gap, realtime_stats
from cfvgg_ros.bags.score import read_status_values, score_bags
from cfvgg_ros.datasets import Sequence

TYPES = get_typestore(Stores.ROS2_JAZZY)
T = TYPES.types
BOX = (10.0, 10.0, 20.0, 20.0)
FPS = 10.0
FRAMES = 25  # 2.5 s at 10 Hz
TRACKED = [0, 1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]  # 6-8: a gap of 3


def stamp(i: int) -> int:
    return EPOCH_NS + round(i * 1e9 / FPS)


def header(ns: int):
    sec, nanosec = divmod(ns, 10**9)
    return T["std_msgs/msg/Header"](stamp=T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec),
                                    frame_id="camera_optical")


@pytest.fixture(scope="module")
def bags(tmp_path_factory):
    seq = Sequence(name="hand", dataset="OTB100", boxes=np.tile(BOX, (FRAMES, 1)), fps=FPS,
                   render=lambda i: np.full((48, 64, 3), 8 * i, np.uint8))
    input_bag = make_bag(seq, tmp_path_factory.mktemp("gt") / "input").path
    output = tmp_path_factory.mktemp("out") / "output"
    polygon_type, status_type = "geometry_msgs/msg/PolygonStamped", "diagnostic_msgs/msg/DiagnosticArray"
    Point32, KeyValue = T["geometry_msgs/msg/Point32"], T["diagnostic_msgs/msg/KeyValue"]
    with Writer(output, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        box_conn = writer.add_connection("/target_box", polygon_type, typestore=TYPES)
        status_conn = writer.add_connection("/track_node/status", status_type, typestore=TYPES)
        t = 1_000 * 10**9
        for k, frame in enumerate(TRACKED):
            points = [Point32(x=x, y=y, z=0.0) for x, y in box_polygon(BOX)]
            msg = T[polygon_type](header=header(stamp(frame)), polygon=T["geometry_msgs/msg/Polygon"](points))
            writer.write(box_conn, t + k * 10**8, TYPES.serialize_cdr(msg, polygon_type))
            # latency: 300 ms on the init frame, then 10 ms + frame number; every status twice
            # (a timer status repeats the last result); frame 12's status was never recorded
            values = {"last_result_stamp_ns": str(stamp(frame)),
                      "last_result_latency_ms": "300.00" if frame == 0 else f"{10 + frame:.2f}",
                      "frames_received": str(frame + 1), "frames_skipped": str(3 if frame >= 9 else 0),
                      "frames_missing": "0", "init_ms": "280.50"}
            if frame >= 14:  # live from frame 14 on
                values.update(catch_up_frames="14", catch_up_ms="350.00")
            status = T["diagnostic_msgs/msg/DiagnosticStatus"](
                level=0, name="track_node", message="", hardware_id="",
                values=[KeyValue(key=key, value=v) for key, v in values.items()])
            data = TYPES.serialize_cdr(T[status_type](header=header(t), status=[status]), status_type)
            if frame != 12:
                writer.write(status_conn, t + k * 10**8 + 1, data)
                writer.write(status_conn, t + k * 10**8 + 2, data)
    return input_bag, output


def test_largest_gap():
    assert largest_gap(np.array([True, False, False, True, False])) == 2
    assert largest_gap(np.array([False, False, True, True]), start=2) == 0
    assert largest_gap(np.array([], dtype=bool)) == 0


def test_realtime_stats_from_a_recorded_bag(bags):
    input_bag, output = bags
    statuses = read_status_values(output)
    assert len(statuses) == 2 * (len(TRACKED) - 1) and statuses[0]["init_ms"] == "280.50"
    stats = realtime_stats(score_bags(output, input_bag), statuses)
    assert (stats.frames, stats.poses, stats.largest_gap) == (FRAMES, len(TRACKED), 3)
    assert (stats.received, stats.skipped, stats.missing_estimate) == (FRAMES, 3, 0)
    assert stats.transport_lost == 0 and stats.init_ms == pytest.approx(280.5)
    assert stats.catch_up_frames == 14 and stats.catch_up_ms == pytest.approx(350.0)
    timed = [f for f in TRACKED if f != 12]
    expected = np.array([300.0 if f == 0 else 10.0 + f for f in timed])
    np.testing.assert_allclose(stats.latency_ms, expected)
    settled = np.array([10.0 + f for f in timed if f >= 10])  # frames at least 1 s after the init frame
    np.testing.assert_allclose(stats.settled_latency_ms, settled)
    assert stats.latency() == pytest.approx(expected.mean())
    assert stats.latency(95, settled=True) == pytest.approx(np.percentile(settled, 95))
    text = stats.summary()
    assert "poses 22/25 frames, largest gap 3 frame(s)" in text and "skipped by the node 3" in text
