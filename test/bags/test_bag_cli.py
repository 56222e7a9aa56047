"""cfvgg-bag make on the command line and on real datasets; in-process play of an sqlite3 bag."""

from __future__ import annotations

import threading

import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from sensor_msgs.msg import Image

from cfvgg_ros.bags import CAMERA_INFO_TOPIC, EPOCH_NS, IMAGE_TOPIC
from cfvgg_ros.bags.make import make_bag
from cfvgg_ros.bags.play import play_bag
from cfvgg_ros.cli.bag import build_parser, main
from cfvgg_ros.paths import shared_data_root
from cfvgg_ros.ros.stamps import stamp_to_ns

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)


def test_make_cli_writes_a_bag_and_reports_bad_input(tmp_path, capsys):
    out = tmp_path / "bag"
    assert main(["make", "synthetic/scale", str(out), "--size", "64x48", "--max-frames", "4", "--fps", "15",
                 "--storage", "sqlite3", "--encoding", "bgr8"]) == 0
    assert "4 frames at 15 Hz" in capsys.readouterr().out
    with Reader(out) as reader:
        assert reader.topics[IMAGE_TOPIC].msgcount == 4
        assert reader.duration >= round(3 / 15 * 1e9)
    assert main(["make", "synthetic/scale", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["make", "nosuchdataset/x", str(tmp_path / "b")]) == 2
    assert "unknown dataset" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["make", "synthetic/scale", "x", "--size", "big"])


def test_record_cli_defaults_to_the_node_outputs():
    args = build_parser().parse_args(["record", "out"])
    assert args.topics == ["/target_box,/target_roi,/target_pose,/track_node/status"]


@pytest.mark.shared
def test_make_from_a_real_uav123_10fps_sequence(tmp_path):
    root = shared_data_root()
    if root is None or not (root / "UAV123_10fps").is_dir():
        pytest.skip("shared/data/UAV123_10fps is not available")
    made = make_bag("UAV123_10fps/person11", tmp_path / "person11", data_root=root, max_frames=2)
    assert (made.fps, made.num_frames, made.has_camera_info) == (10.0, 2, False)
    with Reader(made.path) as reader:
        assert CAMERA_INFO_TOPIC not in reader.topics
        assert reader.topics[IMAGE_TOPIC].msgcount == 2


def test_play_in_process_sqlite3_bag_and_skip_unknown_types(ros, tmp_path, translation_sequence, wait_until):
    made = make_bag(translation_sequence, tmp_path / "bag", storage="sqlite3", max_frames=5)
    # add a topic of a message type rclpy does not know to a copy of the bag
    store = get_typestore(Stores.ROS2_JAZZY)
    store.register(get_types_from_msg("int32 value", "fake_msgs/msg/Thing"))
    mixed = tmp_path / "mixed"
    writer = Writer(mixed, version=9, storage_plugin=StoragePlugin.SQLITE3)
    with Reader(made.path) as reader, writer:
        conns = {c.id: writer.add_connection(c.topic, c.msgtype, typestore=store,
                                             offered_qos_profiles=c.ext.offered_qos_profiles)
                 for c in reader.connections}
        fake = writer.add_connection("/fake", "fake_msgs/msg/Thing", typestore=store)
        for conn, timestamp, data in reader.messages():
            writer.write(conns[conn.id], timestamp, data)
        thing = store.types["fake_msgs/msg/Thing"](value=3)
        writer.write(fake, EPOCH_NS, store.serialize_cdr(thing, "fake_msgs/msg/Thing"))

    frames, logs = [], []
    ros.node.create_subscription(Image, IMAGE_TOPIC, frames.append, RELIABLE)
    stats = play_bag(mixed, rate=4.0, topics=[IMAGE_TOPIC, "/fake"], wait_for=[IMAGE_TOPIC],
                     stop=threading.Event(), log=logs.append)
    assert stats.published == {IMAGE_TOPIC: 5} and stats.loops == 1 and not stats.interrupted
    assert any("not playing /fake" in line for line in logs)
    assert wait_until(lambda: len(frames) == 5, 5.0)
    assert [stamp_to_ns(m.header.stamp) for m in frames] == [EPOCH_NS + round(i * 1e9 / 30) for i in range(5)]
