"""make -> play -> (a stand-in tracker node) -> record -> score, every hop over real DDS."""

from __future__ import annotations

import subprocess
import sys

import pytest
from geometry_msgs.msg import PolygonStamped
from rclpy.qos import QoSProfile, ReliabilityPolicy

from cfvgg_ros.bags import GROUNDTRUTH_TOPIC
from cfvgg_ros.bags.score import score_bags

RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
TRACKED = 15  # the stand-in tracker reports the first 15 of 20 frames, then loses the target


def test_replayed_and_recorded_outputs_score_as_computed(ros, synthetic_bag, tmp_path, subprocess_env,
                                                         wait_until):
    box_pub = ros.node.create_publisher(PolygonStamped, "/target_box", RELIABLE)
    echoed = []

    def echo(msg: PolygonStamped) -> None:  # a perfect tracker until it loses the target
        echoed.append(msg)
        if len(echoed) <= TRACKED:
            box_pub.publish(msg)

    ros.node.create_subscription(PolygonStamped, GROUNDTRUTH_TOPIC, echo, RELIABLE)
    out_bag = tmp_path / "out"
    cli = [sys.executable, "-m", "cfvgg_ros.cli.bag"]
    recorder = subprocess.Popen([*cli, "record", str(out_bag), "--topics", "/target_box",
                                 "--until-idle", "1.0", "--duration", "40"],
                                env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True)
    try:
        assert wait_until(lambda: box_pub.get_subscription_count() > 0, 15.0), "recorder never subscribed"
        player = subprocess.run([*cli, "play", str(synthetic_bag.path), "--wait-for", GROUNDTRUTH_TOPIC],
                                env=subprocess_env, capture_output=True, text=True, timeout=30)
        assert player.returncode == 0, player.stdout + player.stderr
        out, _ = recorder.communicate(timeout=20)
    finally:
        if recorder.poll() is None:
            recorder.kill()
            recorder.communicate()
    assert recorder.returncode == 0, out
    assert len(echoed) == 20

    result = score_bags(out_bag, synthetic_bag.path, rules=("otb", "pysot"))
    assert int(result.matched.sum()) == TRACKED and result.unmatched_outputs == 0
    # IoU 1 on 15 frames (passes every threshold but t = 1), no box on 5: pysot AUC = 15/20 * 20/21
    assert result.scores["pysot"].auc == pytest.approx(0.75 * 20 / 21)
    # otb repeats the last box on the lost frames; the target keeps moving, so they score less
    assert result.scores["pysot"].auc < result.scores["otb"].auc < 20 / 21
