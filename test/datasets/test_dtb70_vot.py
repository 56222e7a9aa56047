"""DTB70 and VOT loaders: shared sequences, polygon -> box conversion, both VOT layouts, bad input."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from cfvgg_ros.datasets import list_sequences, load_sequence, resolve
from cfvgg_ros.datasets.dtb70 import load_dtb70_sequence
from cfvgg_ros.datasets.sequence import DatasetError
from cfvgg_ros.datasets.vot import load_vot_sequence, read_vot_boxes, region_to_box
from cfvgg_ros.paths import shared_data_root

_JPEG = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


def shared(folder: str) -> Path:
    data = shared_data_root()
    if data is None or not (data / folder).is_dir():
        pytest.skip(f"shared/data/{folder} not found (set $CFVGG_SHARED to the shared folder)")
    return data / folder


def write_images(folder: Path, count: int, digits: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"{n:0{digits}d}.jpg").write_bytes(_JPEG)


# ----------------------------------------------------------------------------- DTB70


def test_shared_dtb70_sequences():
    root = shared("DTB70")
    names = list_sequences("DTB70", root)
    assert {"Surfing06", "MountainBike6"} <= set(names)
    for name in names:
        seq = load_sequence("DTB70", root, name)
        assert len(seq.frames) == len(seq.boxes) > 0 and seq.fps == 30
        assert all(Path(f).is_file() for f in seq.frames)
        line = (root / name / "groundtruth_rect.txt").read_text().splitlines()[0]
        expected = np.array([float(v) for v in re.split(r"[,\s]+", line.strip())])
        expected[:2] -= 1
        np.testing.assert_allclose(seq.boxes[0], expected)


def test_dtb70_fixture_and_mismatch(tmp_path):
    write_images(tmp_path / "Car2" / "img", 3, 5)
    (tmp_path / "Car2" / "groundtruth_rect.txt").write_text("5,6,7,8\n5.5,6,7,8\n0,0,0,0\n")
    seq = load_dtb70_sequence(tmp_path, "Car2")
    np.testing.assert_allclose(seq.boxes[:2], [[4, 5, 7, 8], [4.5, 5, 7, 8]])
    assert np.isnan(seq.boxes[2]).all()
    (tmp_path / "Car2" / "groundtruth_rect.txt").write_text("5,6,7,8\n5,6,7,8\n")
    with pytest.raises(DatasetError, match="3 images .* 2 annotated boxes"):
        load_dtb70_sequence(tmp_path, "Car2")
    with pytest.raises(DatasetError, match="missing folder"):
        load_dtb70_sequence(tmp_path, "Car3")


# ----------------------------------------------------------------------------- VOT


def test_region_to_box_rotated_polygon_by_hand():
    # corners of a square of side sqrt(8) rotated 45 deg, centred on (10, 20)
    box = region_to_box([10, 18, 12, 20, 10, 22, 8, 20])
    np.testing.assert_allclose(box, [8, 18, 4, 4])
    # the first bag frame: x = min(291.827, 396.382, 442.173, 337.618), y = min(203.603, 264.289, ...)
    bag = region_to_box([291.827, 203.603, 396.382, 264.289, 442.173, 185.397, 337.618, 124.711])
    np.testing.assert_allclose(bag, [291.827, 124.711, 150.346, 139.578])


def test_region_to_box_rectangle_and_bad_sizes():
    np.testing.assert_allclose(region_to_box([1.5, 2, 3, 4]), [1.5, 2, 3, 4])
    for bad in ([1, 2, 3], [1, 2, 3, 4, 5, 6, 7]):
        with pytest.raises(DatasetError):
            region_to_box(bad)


def test_shared_vot_bag():
    root = shared("VOT2015")
    assert "bag" in list_sequences("VOT2015", root)
    seq = resolve("VOT2015/bag", root.parent)
    assert seq.dataset == "VOT2015" and len(seq.frames) == len(seq.boxes) == 196
    assert all(Path(f).is_file() for f in seq.frames)
    assert Path(seq.frames[0]).parent.name == "color"
    np.testing.assert_allclose(seq.boxes[0], [291.827, 124.711, 150.346, 139.578])
    assert np.isfinite(seq.boxes).all()


@pytest.mark.parametrize("layout", ["color", "flat"])
def test_vot_layouts_and_folder_resolve(tmp_path, layout):
    seq_dir = tmp_path / "ball"
    write_images(seq_dir / "color" if layout == "color" else seq_dir, 3, 8)
    lines = ["10,18,12,20,10,22,8,20", "1,2,3,4", ",".join(["NaN"] * 8)]
    (seq_dir / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    seq = load_vot_sequence(tmp_path, "ball", "VOT")
    np.testing.assert_allclose(seq.boxes[:2], [[8, 18, 4, 4], [1, 2, 3, 4]])
    assert np.isnan(seq.boxes[2]).all()
    assert resolve(str(seq_dir)).frames == seq.frames


def test_vot_mismatch_and_missing(tmp_path):
    write_images(tmp_path / "ball" / "color", 2, 8)
    with pytest.raises(DatasetError, match="missing annotation"):
        load_vot_sequence(tmp_path, "ball")
    (tmp_path / "ball" / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n1,2,3,4\n")
    with pytest.raises(DatasetError, match="2 images .* 3 annotated boxes"):
        load_vot_sequence(tmp_path, "ball")
    (tmp_path / "ball" / "groundtruth.txt").write_text("1,2,3,4\n1,2,3\n")
    with pytest.raises(DatasetError, match="groundtruth.txt:2"):
        read_vot_boxes(tmp_path / "ball" / "groundtruth.txt")


def test_resolve_rejects_unknown_folder_and_spec(tmp_path):
    with pytest.raises(DatasetError, match="neither"):
        resolve(str(tmp_path))
    with pytest.raises(DatasetError, match="unknown dataset"):
        resolve("NOPE/seq", tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        resolve("VOT2015/bag", tmp_path)
    with pytest.raises(DatasetError, match="<dataset>/<sequence>"):
        resolve("justaname", tmp_path)
