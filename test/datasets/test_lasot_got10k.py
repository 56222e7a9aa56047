"""LaSOT and GOT-10k loaders on tmp_path fixtures in the official layouts."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from cfvgg_ros.datasets import list_sequences, load_sequence, resolve
from cfvgg_ros.datasets.got10k import load_got10k_sequence
from cfvgg_ros.datasets.lasot import load_lasot_sequence
from cfvgg_ros.datasets.sequence import DatasetError

_JPEG = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


def write_images(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1, count + 1):
        (folder / f"{n:08d}.jpg").write_bytes(_JPEG)


# ----------------------------------------------------------------------------- LaSOT


def make_lasot(root: Path, name: str, count: int = 4) -> Path:
    seq_dir = root / name.rsplit("-", 1)[0] / name
    write_images(seq_dir / "img", count)
    lines = [f"{10 + i},{20 + i},30,40" for i in range(count)]
    lines[-1] = "5,5,0,10"  # invalid (w = 0)
    (seq_dir / "groundtruth.txt").write_text("\n".join(lines) + "\n")
    flags = ["0"] * count
    flags[1] = "1"
    (seq_dir / "full_occlusion.txt").write_text(",".join(flags))
    (seq_dir / "out_of_view.txt").write_text(",".join(["0"] * count))
    return seq_dir


def test_lasot_nested_layout(tmp_path):
    make_lasot(tmp_path, "airplane-1")
    make_lasot(tmp_path, "traffic-light-3")
    assert list_sequences("LaSOT", tmp_path) == ["airplane-1", "traffic-light-3"]
    seq = load_sequence("lasot", tmp_path, "airplane-1")
    assert seq.dataset == "LaSOT" and seq.fps == 30 and len(seq) == len(seq.frames) == 4
    np.testing.assert_allclose(seq.boxes[0], [9, 19, 30, 40])
    # occluded frames keep their box; only the invalid one is NaN
    assert np.isfinite(seq.boxes[1]).all() and np.isnan(seq.boxes[3]).all()
    assert seq.attributes["full_occlusion"].tolist() == [False, True, False, False]
    assert not seq.attributes["out_of_view"].any()
    assert load_lasot_sequence(tmp_path, "traffic-light-3").attributes["category"] == "traffic-light"


def test_lasot_flat_layout_and_resolve(tmp_path):
    seq_dir = make_lasot(tmp_path / "staging", "cat-2")
    (tmp_path / "LaSOT").mkdir()
    seq_dir.rename(tmp_path / "LaSOT" / "cat-2")
    assert list_sequences("LaSOT", tmp_path / "LaSOT") == ["cat-2"]
    assert len(resolve("LaSOT/cat-2", tmp_path)) == 4


def test_lasot_bad_input(tmp_path):
    seq_dir = make_lasot(tmp_path, "bird-1")
    with pytest.raises(DatasetError, match="<category>-<n>"):
        load_lasot_sequence(tmp_path, "bird")
    (seq_dir / "out_of_view.txt").write_text("0,0")
    with pytest.raises(DatasetError, match="2 flags for 4 frames"):
        load_lasot_sequence(tmp_path, "bird-1")
    (seq_dir / "groundtruth.txt").unlink()
    with pytest.raises(DatasetError, match="missing annotation"):
        load_lasot_sequence(tmp_path, "bird-1")


# ----------------------------------------------------------------------------- GOT-10k


def test_got10k_test_split_has_only_the_first_box(tmp_path):
    root = tmp_path / "GOT-10k"
    seq_dir = root / "test" / "GOT-10k_Test_000001"
    write_images(seq_dir, 5)
    (seq_dir / "groundtruth.txt").write_text("11.5,21,30,40\n")
    seq = load_got10k_sequence(root, "GOT-10k_Test_000001")
    assert seq.dataset == "GOT10k" and seq.fps == 10 and len(seq) == len(seq.frames) == 5
    np.testing.assert_allclose(seq.boxes[0], [10.5, 20, 30, 40])  # 1-based -> 0-based
    assert np.isnan(seq.boxes[1:]).all()
    assert seq.attributes["split"] == "test"
    assert resolve("GOT10k/GOT-10k_Test_000001", tmp_path).frames == seq.frames


def test_got10k_val_with_absence(tmp_path):
    seq_dir = tmp_path / "val" / "GOT-10k_Val_000002"
    write_images(seq_dir, 3)
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\n5,6,7,8\n9,10,11,12\n")
    (seq_dir / "absence.label").write_text("0\n1\n0\n")
    assert list_sequences("GOT-10k", tmp_path) == ["GOT-10k_Val_000002"]
    seq = load_sequence("GOT10k", tmp_path, "val/GOT-10k_Val_000002")
    np.testing.assert_allclose(seq.boxes[[0, 2]], [[0, 1, 3, 4], [8, 9, 11, 12]])
    assert np.isnan(seq.boxes[1]).all()
    assert seq.attributes["absent"].tolist() == [False, True, False]


def test_got10k_bad_input(tmp_path):
    seq_dir = tmp_path / "train" / "GOT-10k_Train_000003"
    write_images(seq_dir, 3)
    with pytest.raises(DatasetError, match="missing annotation"):
        load_got10k_sequence(tmp_path, "GOT-10k_Train_000003")
    (seq_dir / "groundtruth.txt").write_text("1,2,3,4\n5,6,7,8\n")
    with pytest.raises(DatasetError, match="3 images .* 2 boxes"):
        load_got10k_sequence(tmp_path, "GOT-10k_Train_000003")
    with pytest.raises(DatasetError, match="missing folder"):
        load_got10k_sequence(tmp_path, "GOT-10k_Train_000009")
