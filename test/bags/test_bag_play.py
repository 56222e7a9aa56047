"""cfvgg-bag play over real DDS: a player process, a subscriber node in the test process."""

from __future__ import annotations

import signal
import subprocess
import time

import numpy as np
import pytest
from bag_processes import finish, start_bag_cli
from geometry_msgs.msg import PolygonStamped
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rosbags.interfaces import QosDurability, QosReliability
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from cfvgg_ros.bags import EPOCH_NS, IMAGE_TOPIC, INIT_BBOX_STAMPED_TOPIC, BagError
from cfvgg_ros.bags.make import offered_qos
from cfvgg_ros.bags.play import message_class, play_bag, qos_from_offers
from cfvgg_ros.ros.conversions import image_to_rgb
from cfvgg_ros.ros.stamps import stamp_to_ns

PERIOD = 1.0 / 30.0
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)


def start_player(bag, env, *args, stdin=None):
    return start_bag_cli("play", bag, env, *args, stdin=stdin)


def test_play_publishes_every_frame_in_order_at_the_recorded_rate(ros, synthetic_bag, translation_sequence,
                                                                 subprocess_env, wait_until):
    frames, inits = [], []
    ros.node.create_subscription(Image, IMAGE_TOPIC, lambda m: frames.append((time.monotonic(), m)), RELIABLE)
    ros.node.create_subscription(PolygonStamped, INIT_BBOX_STAMPED_TOPIC, inits.append, LATCHED)
    proc = start_player(synthetic_bag.path, subprocess_env, "--wait-for", IMAGE_TOPIC)
    out = finish(proc)
    assert proc.returncode == 0, out
    assert wait_until(lambda: len(frames) == 20 and inits, 5.0), out
    stamps = [stamp_to_ns(m.header.stamp) for _, m in frames]
    assert stamps == [EPOCH_NS + round(i * 1e9 / 30) for i in range(20)]
    np.testing.assert_array_equal(image_to_rgb(frames[7][1]), translation_sequence.frame(7))
    assert stamp_to_ns(inits[0].header.stamp) == EPOCH_NS
    gaps = np.diff([t for t, _ in frames])
    # recorded timing, with a wide tolerance for a loaded 2-core machine
    assert 0.5 * PERIOD < np.median(gaps) < 1.6 * PERIOD
    assert 0.6 * 19 * PERIOD < frames[-1][0] - frames[0][0] < 2.0 * 19 * PERIOD
    assert "published 62 messages" in out


def test_start_paused_waits_for_the_resume_service(ros, synthetic_bag, subprocess_env, wait_until):
    frames = []
    ros.node.create_subscription(Image, IMAGE_TOPIC, frames.append, RELIABLE)
    client = ros.node.create_client(Trigger, "/cfvgg_bag_player/resume")
    proc = start_player(synthetic_bag.path, subprocess_env, "--start-paused", "--rate", "4",
                        "--topics", IMAGE_TOPIC, stdin=subprocess.DEVNULL)
    try:
        assert client.wait_for_service(timeout_sec=15.0)
        time.sleep(0.5)
        assert frames == []  # paused
        response = client.call_async(Trigger.Request())
        assert wait_until(response.done, 5.0)
        assert response.result().success
    finally:
        out = finish(proc)
    assert proc.returncode == 0, out
    assert "paused" in out
    assert wait_until(lambda: len(frames) == 20, 5.0), out


def test_start_paused_resumes_on_enter(ros, synthetic_bag, subprocess_env, wait_until):
    frames = []
    ros.node.create_subscription(Image, IMAGE_TOPIC, frames.append, RELIABLE)
    # --wait-for: the player's writer must have matched this reader before Enter releases it (seeing
    # its publisher from here does not mean it sees us yet: early samples would be dropped)
    proc = start_player(synthetic_bag.path, subprocess_env, "--start-paused", "--rate", "4",
                        "--topics", IMAGE_TOPIC, "--wait-for", IMAGE_TOPIC, stdin=subprocess.PIPE)
    assert wait_until(lambda: ros.node.count_publishers(IMAGE_TOPIC) > 0, 15.0)
    time.sleep(0.3)
    assert frames == []
    proc.stdin.write("\n")
    proc.stdin.flush()
    out = finish(proc)
    assert proc.returncode == 0, out
    assert wait_until(lambda: len(frames) == 20, 5.0), out


def test_loop_repeats_until_interrupted(ros, synthetic_bag, subprocess_env, wait_until):
    frames = []
    ros.node.create_subscription(Image, IMAGE_TOPIC, frames.append, RELIABLE)
    proc = start_player(synthetic_bag.path, subprocess_env, "--loop", "--rate", "5", "--topics", IMAGE_TOPIC,
                        "--wait-for", IMAGE_TOPIC)
    try:
        assert wait_until(lambda: len(frames) > 25, 15.0)
    finally:
        proc.send_signal(signal.SIGINT)
        out = finish(proc)
    assert proc.returncode == 0, out
    stamps = [stamp_to_ns(m.header.stamp) for m in frames]
    assert stamps[20] == stamps[0] == EPOCH_NS  # second pass starts over


def test_play_rejects_bad_input(tmp_path, synthetic_bag):
    with pytest.raises(BagError, match="rosbag2 directory"):
        play_bag(tmp_path)
    with pytest.raises(BagError, match="rate"):
        play_bag(synthetic_bag.path, rate=0.0)
    with pytest.raises(BagError, match="not in"):
        play_bag(synthetic_bag.path, topics=["/nope"])
    with pytest.raises(BagError, match="cannot import"):
        message_class("sensor_msgs/Image")
    with pytest.raises(BagError, match="not available"):
        message_class("no_such_msgs/msg/Thing")


def test_qos_follows_the_recorded_offers():
    reliable, latched = offered_qos(depth=7), offered_qos(transient_local=True, depth=1)
    qos = qos_from_offers([reliable])
    assert qos.reliability == ReliabilityPolicy.RELIABLE
    assert (qos.durability, qos.depth) == (DurabilityPolicy.VOLATILE, 7)
    qos = qos_from_offers([latched])
    assert qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
    qos = qos_from_offers([reliable, offered_qos(reliable=False)])
    assert qos.reliability == ReliabilityPolicy.BEST_EFFORT
    assert qos_from_offers([]).depth == 10
    assert latched.reliability == QosReliability.RELIABLE
    assert latched.durability == QosDurability.TRANSIENT_LOCAL
