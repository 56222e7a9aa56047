"""One table of topic names: the node's defaults, the bag tools and the launch files take their
names from :mod:`cfvgg_ros.ros.topics` and none restates one."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from cfvgg_ros.ros import topics

ROOT = Path(__file__).resolve().parents[2]


def test_resolve_names_like_ros():
    assert topics.resolve("target_box") == "/target_box"
    assert topics.resolve("/init_bbox", "other") == "/init_bbox"
    assert topics.resolve("~/status") == "/track_node/status"
    assert topics.resolve("~/status", "tracker", "/drone1/") == "/drone1/tracker/status"
    assert topics.resolve("target_pose", namespace="drone1") == "/drone1/target_pose"


def test_recorded_outputs():
    assert topics.OUTPUT_TOPICS == ("/target_box", "/target_roi", "/target_pose", "/track_node/status")
    assert topics.STATUS_TOPIC == "/track_node/status" and topics.OUTPUT_BOX_TOPIC == "/target_box"


def test_bag_tools_use_the_table():
    import cfvgg_ros.bags as bags

    assert bags.IMAGE_TOPIC == topics.DRIVER_IMAGE == "/camera/image_raw"
    assert bags.CAMERA_INFO_TOPIC == topics.DRIVER_CAMERA_INFO == "/camera/camera_info"
    assert bags.INIT_BBOX_TOPIC == topics.INIT_BBOX and bags.INIT_BBOX_STAMPED_TOPIC == topics.INIT_BBOX_STAMPED
    assert bags.GROUNDTRUTH_TOPIC == topics.GROUNDTRUTH == "/groundtruth"
    assert bags.OUTPUT_TOPICS == topics.OUTPUT_TOPICS and bags.STATUS_TOPIC == topics.STATUS_TOPIC
    assert not hasattr(bags, "STATUS_TOPICS")  # no status topic that no node publishes


def test_table_stamps_and_bags_import_without_rclpy():
    code = ("import sys; import cfvgg_ros.ros.topics, cfvgg_ros.ros.stamps, cfvgg_ros.bags; "
            "bad = [m for m in ('rclpy', 'numpy', 'cv2') if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def _table_names() -> set[str]:
    values = {v for k, v in vars(topics).items() if k.isupper() and isinstance(v, str)}
    return {v for v in values if v.startswith(("/", "~/"))} | set(topics.OUTPUT_TOPICS)


@pytest.mark.parametrize("path", sorted(
    [p for p in (ROOT / "cfvgg_ros").rglob("*.py") if p.name != "topics.py"] + list((ROOT / "launch").glob("*.py")),
    key=str), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_restates_a_topic_name(path):
    names = _table_names()
    tree = ast.parse(path.read_text(), filename=str(path))
    restated = sorted({n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and n.value in names})
    assert not restated, f"{path.name} restates {restated}; import them from cfvgg_ros.ros.topics"
