"""cfvgg-bag record over real DDS: a recorder process, publishers in the test process."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest
from bag_processes import finish, start_bag_cli
from geometry_msgs.msg import Point32, PolygonStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.interfaces import QosReliability
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore
from sensor_msgs.msg import RegionOfInterest

from cfvgg_ros.bags import BagError
from cfvgg_ros.bags.record import normalise_topic, record_bag, register_from_share
from cfvgg_ros.ros.stamps import stamp_to_ns

TYPES = get_typestore(Stores.ROS2_JAZZY)
RESULTS_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def start_recorder(out_dir, env, *args):
    return start_bag_cli("record", out_dir, env, *args)


def test_record_writes_what_was_published_and_stops_when_idle(ros, tmp_path, subprocess_env, wait_until):
    out_dir = tmp_path / "out"
    proc = start_recorder(out_dir, subprocess_env, "--topics", "/target_box,target_roi", "/never",
                          "--until-idle", "1.0", "--idle-topics", "/target_box", "--duration", "30")
    box_pub = ros.node.create_publisher(PolygonStamped, "/target_box", RESULTS_QOS)
    roi_pub = ros.node.create_publisher(RegionOfInterest, "/target_roi", RESULTS_QOS)
    try:
        assert wait_until(lambda: box_pub.get_subscription_count() and roi_pub.get_subscription_count(), 15.0)
        for i in range(10):
            msg = PolygonStamped()
            msg.header.stamp.sec, msg.header.stamp.nanosec = 100 + i, 5
            msg.header.frame_id = "camera_optical"
            msg.polygon.points = [Point32(x=float(i), y=2.0, z=0.0), Point32(x=float(i) + 3.5, y=6.0, z=0.0)]
            box_pub.publish(msg)
            roi_pub.publish(RegionOfInterest(x_offset=i, y_offset=1, width=3, height=4))
        # /target_roi keeps going (like a periodic status) but is not an idle topic: still stops
        deadline = time.monotonic() + 10.0
        while proc.poll() is None and time.monotonic() < deadline:
            roi_pub.publish(RegionOfInterest(x_offset=99, y_offset=1, width=3, height=4))
            time.sleep(0.1)
    finally:
        out = finish(proc)
    assert proc.returncode == 0, out
    assert "stopped by idle" in out and "never published: /never" in out

    boxes, rois = [], []
    with Reader(out_dir) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == {
            "/target_box": "geometry_msgs/msg/PolygonStamped",
            "/target_roi": "sensor_msgs/msg/RegionOfInterest",
        }
        offers = {c.topic: c.ext.offered_qos_profiles for c in reader.connections}
        for conn, _, data in reader.messages():
            msg = TYPES.deserialize_cdr(data, conn.msgtype)
            (boxes if conn.topic == "/target_box" else rois).append(msg)
    assert offers["/target_box"][0].reliability == QosReliability.RELIABLE
    assert [stamp_to_ns(m.header.stamp) for m in boxes] == [(100 + i) * 10**9 + 5 for i in range(10)]
    assert [(p.x, p.y) for p in boxes[3].polygon.points] == [(3.0, 2.0), (6.5, 6.0)]
    assert [m.x_offset for m in rois[:10]] == list(range(10))
    assert len(rois) > 10 and {m.x_offset for m in rois[10:]} == {99}


def test_record_stops_after_duration_with_an_empty_bag(tmp_path, subprocess_env):
    proc = start_recorder(tmp_path / "empty", subprocess_env, "--topics", "/nothing_here",
                          "--duration", "0.5")
    out = finish(proc)
    assert proc.returncode == 0, out
    assert "stopped by duration" in out
    with Reader(tmp_path / "empty") as reader:
        assert reader.message_count == 0


def test_record_rejects_bad_input(tmp_path):
    with pytest.raises(BagError, match="no topics"):
        record_bag(tmp_path / "a", [])
    with pytest.raises(BagError, match="duration"):
        record_bag(tmp_path / "a", ["/x"], duration=0)
    with pytest.raises(BagError, match="storage"):
        record_bag(tmp_path / "a", ["/x"], storage="bag")
    with pytest.raises(BagError, match="idle topics"):
        record_bag(tmp_path / "a", ["/x"], idle_topics=["/y"])
    with pytest.raises(BagError, match="empty topic"):
        normalise_topic(" ")
    (tmp_path / "exists").mkdir()
    with pytest.raises(BagError, match="already exists"):
        record_bag(tmp_path / "exists", ["/x"])
    assert normalise_topic("target_box") == "/target_box"


def test_missing_message_definitions_come_from_the_ament_share(monkeypatch):
    share = Path(sys.prefix) / "share"
    if not (share / "diagnostic_msgs" / "msg" / "DiagnosticArray.msg").is_file():
        pytest.skip(f"no ROS message definitions under {share}")
    monkeypatch.setenv("AMENT_PREFIX_PATH", sys.prefix)
    store = get_typestore(Stores.EMPTY)
    register_from_share(store, "diagnostic_msgs/msg/DiagnosticArray")
    needed = {"diagnostic_msgs/msg/KeyValue", "std_msgs/msg/Header", "builtin_interfaces/msg/Time"}
    assert needed <= set(store.types)
    assert store.hash_rihs01("diagnostic_msgs/msg/DiagnosticArray") == TYPES.hash_rihs01(
        "diagnostic_msgs/msg/DiagnosticArray")
    with pytest.raises(BagError, match="not found"):
        register_from_share(store, "no_such_msgs/msg/Thing")
    with pytest.raises(BagError, match="expected"):
        register_from_share(store, "Thing")


def test_record_stops_cleanly_on_sigterm(ros, tmp_path, subprocess_env, wait_until):
    proc = start_recorder(tmp_path / "signalled", subprocess_env, "--topics", "/nothing_here")
    try:
        assert wait_until(lambda: "cfvgg_bag_recorder" in ros.node.get_node_names(), 15.0)
        proc.send_signal(signal.SIGTERM)
    finally:
        out = finish(proc)
    assert proc.returncode == 0, out
    assert "stopped by signal" in out
    with Reader(tmp_path / "signalled") as reader:
        assert reader.message_count == 0
