"""cfvgg-bag make: a sequence -> rosbag2 directory, read back with rosbags."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rosbags.interfaces import QosDurability, QosReliability
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore
from ruamel.yaml import YAML

from cfvgg_ros.bags import (
    CAMERA_FRAME_ID,
    CAMERA_INFO_TOPIC,
    EPOCH_NS,
    GROUNDTRUTH_TOPIC,
    IMAGE_TOPIC,
    INIT_BBOX_STAMPED_TOPIC,
    INIT_BBOX_TOPIC,
    BagError,
)
from cfvgg_ros.bags.make import box_polygon, init_roi, make_bag, synthetic_camera_info
from cfvgg_ros.bags.score import polygon_box, read_groundtruth
from cfvgg_ros.datasets import Sequence
from cfvgg_ros.ros.conversions import image_to_rgb
from cfvgg_ros.ros.stamps import stamp_to_ns

TYPES = get_typestore(Stores.ROS2_JAZZY)


def read_all(path) -> dict[str, list]:
    """topic -> [(bag time, message)] of every message in a bag."""
    out: dict[str, list] = {}
    with Reader(path) as reader:
        for conn, timestamp, data in reader.messages():
            out.setdefault(conn.topic, []).append((timestamp, TYPES.deserialize_cdr(data, conn.msgtype)))
    return out


def metadata(path) -> dict:
    return YAML(typ="safe").load((path / "metadata.yaml").read_text())["rosbag2_bagfile_information"]


@pytest.mark.parametrize("storage,encoding", [("mcap", "rgb8"), ("sqlite3", "bgr8")])
def test_make_writes_every_topic_with_stamps_pixels_and_groundtruth(tmp_path, translation_sequence,
                                                                   storage, encoding):
    seq = translation_sequence
    made = make_bag(seq, tmp_path / "bag", storage=storage, encoding=encoding)
    assert (made.num_frames, made.fps, made.init_frame, made.has_camera_info) == (len(seq), 30.0, 0, True)
    info = metadata(made.path)
    assert info["version"] == 9
    assert info["storage_identifier"] == storage
    assert info["custom_data"]["cfvgg_ros.sequence"] == "synthetic/translation"

    msgs = read_all(made.path)
    n = len(seq)
    assert {t: len(v) for t, v in msgs.items()} == {
        IMAGE_TOPIC: n, CAMERA_INFO_TOPIC: n, GROUNDTRUTH_TOPIC: n,
        INIT_BBOX_TOPIC: 1, INIT_BBOX_STAMPED_TOPIC: 1,
    }
    stamps = [EPOCH_NS + round(i * 1e9 / 30.0) for i in range(n)]
    for i, (timestamp, image) in enumerate(msgs[IMAGE_TOPIC]):
        assert timestamp == stamps[i] == stamp_to_ns(image.header.stamp)
        assert image.header.frame_id == CAMERA_FRAME_ID
        assert image.encoding == encoding
        assert (image.width, image.height) == (320, 240)
        np.testing.assert_array_equal(image_to_rgb(image), seq.frame(i))
    for i, (timestamp, polygon) in enumerate(msgs[GROUNDTRUTH_TOPIC]):
        assert timestamp == stamps[i] == stamp_to_ns(polygon.header.stamp)
        np.testing.assert_allclose(polygon_box(polygon.polygon.points), seq.boxes[i], atol=1e-3)
    for i, (_, cam) in enumerate(msgs[CAMERA_INFO_TOPIC]):
        assert stamp_to_ns(cam.header.stamp) == stamps[i]
        assert cam.k[2] == pytest.approx((320 - 1) / 2)
        assert cam.k[0] == pytest.approx(160 / math.tan(math.pi / 6))

    (roi_time, roi), = msgs[INIT_BBOX_TOPIC]
    (init_time, init), = msgs[INIT_BBOX_STAMPED_TOPIC]
    assert stamps[0] < roi_time == init_time < stamps[1]  # after frame 0, before frame 1
    assert stamp_to_ns(init.header.stamp) == stamps[0]
    np.testing.assert_allclose(polygon_box(init.polygon.points), seq.boxes[0], atol=1e-3)
    x, y, w, h = seq.boxes[0]
    assert (roi.x_offset, roi.y_offset, roi.width, roi.height) == init_roi(seq.boxes[0], 320, 240)
    assert abs(roi.x_offset - x) <= 0.5 and abs(roi.width - w) <= 1.0 and abs(roi.height - h) <= 1.0


def test_make_records_offered_qos_profiles(synthetic_bag):
    with Reader(synthetic_bag.path) as reader:
        offers = {c.topic: c.ext.offered_qos_profiles for c in reader.connections}
    assert all(len(profiles) == 1 for profiles in offers.values())
    assert offers[IMAGE_TOPIC][0].reliability == QosReliability.RELIABLE
    assert offers[IMAGE_TOPIC][0].durability == QosDurability.VOLATILE
    assert offers[INIT_BBOX_TOPIC][0].durability == QosDurability.TRANSIENT_LOCAL
    assert offers[INIT_BBOX_STAMPED_TOPIC][0].depth == 1
    topics = metadata(synthetic_bag.path)["topics_with_message_count"]
    assert all(t["topic_metadata"]["offered_qos_profiles"][0]["reliability"] == "reliable" for t in topics)


def test_dataset_sequence_without_target_on_first_frames_has_no_camera_info(tmp_path):
    """A hand-made 'dataset' sequence: NaN boxes give empty polygons, init on the first valid frame,
    no camera_info, the dataset's frame rate unless overridden."""
    boxes = np.array([[np.nan] * 4, [np.nan] * 4, [4.0, 5.0, 6.0, 7.0], [5.0, 5.0, 6.0, 7.0], [np.nan] * 4])
    frames = np.random.default_rng(0).integers(0, 256, size=(5, 24, 32, 3), dtype=np.uint8)
    seq = Sequence(name="hand", dataset="UAV123_10fps", boxes=boxes, fps=10.0, render=lambda i: frames[i])
    made = make_bag(seq, tmp_path / "bag", max_frames=4)
    assert (made.num_frames, made.init_frame, made.fps, made.has_camera_info) == (4, 2, 10.0, False)
    msgs = read_all(made.path)
    assert CAMERA_INFO_TOPIC not in msgs
    assert [len(m.polygon.points) for _, m in msgs[GROUNDTRUTH_TOPIC]] == [0, 0, 4, 4]
    (_, init), = msgs[INIT_BBOX_STAMPED_TOPIC]
    assert stamp_to_ns(init.header.stamp) == EPOCH_NS + 2 * 100_000_000
    gt = read_groundtruth(made.path)
    assert gt.init_frame == 2 and gt.sequence == "UAV123_10fps/hand" and gt.fps == 10.0
    np.testing.assert_array_equal(np.isnan(gt.boxes[:, 0]), [True, True, False, False])

    made = make_bag(seq, tmp_path / "bag", fps=25.0, overwrite=True)
    stamps = [t for t, _ in read_all(made.path)[IMAGE_TOPIC]]
    assert np.diff(stamps).tolist() == [40_000_000] * 4


def test_make_from_spec_renders_synthetic_at_the_asked_size(tmp_path):
    made = make_bag("synthetic/translation", tmp_path / "bag", synthetic_size=(64, 48), max_frames=3,
                    storage="sqlite3")
    assert made.num_frames == 3 and made.sequence == "synthetic/translation"
    _, image = read_all(made.path)[IMAGE_TOPIC][0]
    assert (image.width, image.height) == (64, 48)


def test_make_rejects_bad_input(tmp_path, translation_sequence):
    with pytest.raises(BagError, match="storage"):
        make_bag(translation_sequence, tmp_path / "a", storage="rosbag1")
    with pytest.raises(BagError, match="encoding"):
        make_bag(translation_sequence, tmp_path / "a", encoding="yuv422")
    with pytest.raises(BagError, match="frame rate"):
        make_bag(translation_sequence, tmp_path / "a", fps=0.0)
    with pytest.raises(BagError, match="max_frames"):
        make_bag(translation_sequence, tmp_path / "a", max_frames=0)
    (tmp_path / "plain").mkdir()
    with pytest.raises(BagError, match="already exists"):
        make_bag(translation_sequence, tmp_path / "plain")
    with pytest.raises(BagError, match="not a rosbag2 directory"):
        make_bag(translation_sequence, tmp_path / "plain", overwrite=True)
    absent = Sequence(name="absent", dataset="OTB100", boxes=np.full((2, 4), np.nan),
                      render=lambda i: np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(BagError, match="no valid ground-truth box"):
        make_bag(absent, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_geometry_helpers():
    assert box_polygon([1, 2, 3, 4]) == [(1, 2), (4, 2), (4, 6), (1, 6)]
    assert box_polygon([np.nan, 2, 3, 4]) == []
    assert init_roi([-3.2, 10.6, 50, 20], 40, 30) == (0, 11, 40, 19)
    cam = synthetic_camera_info(640, 480)
    assert cam["k"][0] == cam["k"][4] == pytest.approx(320 / math.tan(math.radians(30)))
    assert cam["p"][:3] == cam["k"][:3] and cam["d"] == [0.0] * 5
    with pytest.raises(BagError):
        synthetic_camera_info(0, 10)
