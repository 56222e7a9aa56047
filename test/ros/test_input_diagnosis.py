"""The node says why no images arrive (over real DDS): a publisher that matched but sends nothing
(``no_frames``), and a publisher whose QoS the subscription cannot match (``incompatible_qos``:
``image_qos: reliable`` facing a best-effort camera) -- in ``~/status`` (``input``, ``input_hint``,
level WARN) and in the log, each naming the likely fix."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest

from cfvgg_ros.paths import SOURCE_ROOT

PARAMS = {"tracker": "opencv-csrt", "warm_up": False, "image_qos": "reliable", "camera_info_topic": "",
          "input_warn_after": 1.0, "status_period": 0.25}


@pytest.fixture(scope="module")
def node(tmp_path_factory, ros_client, h):
    proc = h.NodeProcess(tmp_path_factory.mktemp("diagnosis"), PARAMS)
    ros_client.wait_ready(proc)
    yield proc
    assert proc.stop() == 0, proc.log()[-3000:]


def test_a_matched_publisher_that_sends_nothing_is_reported(node, ros_client):
    # the test client's reliable image publisher matched the node and has published nothing
    status = ros_client.wait_for(lambda: ros_client.status_where(lambda s: s.get("input") == "no_frames"),
                                 10, "input no_frames", node.log)
    assert status["_level"] == 1 and "input no_frames" in status["_message"]
    assert "may not be publishing" in status["input_hint"] and status["image_publishers_matched"] == "1"
    assert status["image_qos"] == "reliable"
    ros_client.wait_for(lambda: "image input no_frames" in node.log(), 5, "the warning in the log", node.log)


def test_an_incompatible_publisher_is_reported_with_the_fix(node, ros_client, synthetic, h):
    cmd = [sys.executable, str(SOURCE_ROOT / "benchmarks" / "image_transport.py"), "publish", "--topic", "/image",
           "--width", "320", "--height", "240", "--frames", "3", "--reliability", "best_effort",
           "--match-timeout", "6"]
    result = {}
    thread = threading.Thread(target=lambda: result.update(proc=subprocess.run(cmd, capture_output=True, text=True,
                                                                                timeout=60)))
    thread.start()
    try:
        status = ros_client.wait_for(
            lambda: ros_client.status_where(lambda s: s.get("input") == "incompatible_qos"), 20,
            "input incompatible_qos", node.log)
    finally:
        thread.join()
    assert status["_level"] == 1
    assert "RELIABILITY" in status["input_hint"] and "image_qos:=best_available" in status["input_hint"]
    assert "offers QoS incompatible" in node.log()
    assert result["proc"].returncode == 1  # it never matched: a reliable subscription ignores best effort
    # frames from a compatible publisher clear it
    ros_client.publish_frame(synthetic[0][0], h.stamp_of(0), log=node.log)
    ros_client.wait_for(lambda: ros_client.last_status().get("input") == "ok", 10, "input ok", node.log)
