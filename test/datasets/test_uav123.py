"""UAV123 / UAV123@10fps / UAV20L loaders: the shipped range tables, the shared 10 fps
sequences, and tmp_path fixtures for the 30 fps, trimmed-folder and UAV20L layouts."""

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from cfvgg_ros.datasets import list_sequences, resolve
from cfvgg_ros.datasets.sequence import DatasetError
from cfvgg_ros.datasets.uav123 import list_uav_sequences, load_uav_sequence, uav_ranges, video_of
from cfvgg_ros.paths import shared_data_root

_JPEG = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


def uav10_root() -> Path:
    data = shared_data_root()
    if data is None or not (data / "UAV123_10fps").is_dir():
        pytest.skip("shared/data/UAV123_10fps not found (set $CFVGG_SHARED to the shared folder)")
    return data / "UAV123_10fps"


def make_uav(root: Path, variant_dirs, seq: str, numbers, lines):
    frames_dir, anno_dir = variant_dirs
    folder = root / "data_seq" / frames_dir / video_of(seq)
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"{n:06d}.jpg").write_bytes(_JPEG)
    (root / "anno" / anno_dir).mkdir(parents=True, exist_ok=True)
    (root / "anno" / anno_dir / f"{seq}.txt").write_text("\n".join(lines) + "\n")


def box_lines(n):
    return [f"{100 + i},{200 + i},30,40" for i in range(n)]


# ----------------------------------------------------------------------------- tables


def test_tables_cover_the_benchmarks():
    r30, r10, r20 = uav_ranges("UAV123"), uav_ranges("UAV123_10fps"), uav_ranges("UAV20L")
    assert len(r30) == len(r10) == 123 and set(r30) == set(r10)
    assert len(r20) == 20
    assert r30["bird1_2"] == (775, 1477) and r10["bird1_2"] == (259, 493)
    assert r30["car1_s"] == (1, 1475)
    assert all(1 <= first <= last for first, last in r30.values())
    # every UAV20L video is a whole UAV123 folder: it ends where the last UAV123 cut of it ends
    for video, (first, last) in r20.items():
        assert first == 1
        assert last == max(e for s, (_, e) in r30.items() if video_of(s) == video)


def test_10fps_table_matches_shared_ranges_json():
    root = uav10_root()
    ranges = json.loads((root / "ranges.json").read_text())
    assert len(ranges) == 123
    table = uav_ranges("UAV123_10fps")
    assert {k: list(v) for k, v in table.items()} == {k: list(v) for k, v in ranges.items()}


def test_video_of():
    assert video_of("bird1_2") == "bird1"
    assert video_of("car1_s") == "car1_s"
    assert video_of("person11") == "person11"
    assert video_of("group3_4") == "group3"


# ----------------------------------------------------------------------------- shared data


def test_shared_10fps_sequences_are_consistent():
    root = uav10_root()
    names = list_sequences("UAV123_10fps", root)
    assert {"boat1", "wakeboard7", "person11"} <= set(names)
    for name in names:
        seq = resolve(f"UAV123_10fps/{name}", root.parent)
        assert seq.fps == 10 and seq.dataset == "UAV123_10fps"
        first, last = uav_ranges("UAV123_10fps")[name]
        assert len(seq.frames) == len(seq.boxes) == last - first + 1
        assert all(Path(f).is_file() for f in seq.frames)
        line = (root / "anno" / "UAV123_10fps" / f"{name}.txt").read_text().splitlines()[0]
        expected = np.array([float(v) for v in re.split(r"[,\s]+", line.strip())])
        if np.isfinite(expected).all():
            expected[:2] -= 1
            np.testing.assert_allclose(seq.boxes[0], expected)


# ----------------------------------------------------------------------------- fixtures


def test_uav123_30fps_cut_of_a_video(tmp_path):
    lines = box_lines(703)
    lines[5] = "NaN,NaN,NaN,NaN"
    make_uav(tmp_path, ("UAV123", "UAV123"), "bird1_2", range(770, 1480), lines)
    seq = load_uav_sequence(tmp_path, "bird1_2", "UAV123")
    assert len(seq) == 703 and seq.fps == 30
    assert Path(seq.frames[0]).name == "000775.jpg" and Path(seq.frames[-1]).name == "001477.jpg"
    assert Path(seq.frames[0]).parent.name == "bird1"
    np.testing.assert_allclose(seq.boxes[0], [99, 199, 30, 40])
    assert np.isnan(seq.boxes[5]).all() and np.isfinite(seq.boxes[6]).all()
    assert list_uav_sequences(tmp_path, "UAV123") == ["bird1_2"]


def test_trimmed_folder_is_read_in_order(tmp_path):
    # a redistributed 10 fps folder holding only bird1_2's 235 frames, renumbered from 1
    make_uav(tmp_path, ("UAV123_10fps", "UAV123_10fps"), "bird1_2", range(1, 236), box_lines(235))
    seq = load_uav_sequence(tmp_path, "bird1_2", "UAV123_10fps")
    assert len(seq) == 235 and seq.fps == 10
    assert Path(seq.frames[0]).name == "000001.jpg" and Path(seq.frames[-1]).name == "000235.jpg"


def test_folder_matching_neither_reading_is_refused(tmp_path):
    make_uav(tmp_path, ("UAV123_10fps", "UAV123_10fps"), "bird1_2", range(1, 200), box_lines(235))
    with pytest.raises(DatasetError, match="no frame 259"):
        load_uav_sequence(tmp_path, "bird1_2", "UAV123_10fps")


def test_uav20l_whole_folder(tmp_path):
    # UAV20L lives in the UAV123 download: frames data_seq/UAV123/<video>, boxes anno/UAV20L/<seq>.txt
    make_uav(tmp_path / "UAV123", ("UAV123", "UAV20L"), "person20", range(1, 1784), box_lines(1783))
    seq = resolve("UAV20L/person20", tmp_path)
    assert seq.dataset == "UAV20L" and len(seq) == 1783 and seq.fps == 30
    assert Path(seq.frames[-1]).name == "001783.jpg"
    assert list_sequences("UAV20L", tmp_path / "UAV123") == ["person20"]


def test_sequence_outside_the_table_uses_its_annotation_length(tmp_path):
    make_uav(tmp_path, ("UAV123", "UAV123"), "mydrone_1", range(1, 11), box_lines(10))
    seq = load_uav_sequence(tmp_path, "mydrone_1", "UAV123")
    assert len(seq) == 10 and Path(seq.frames[0]).parent.name == "mydrone"


def test_missing_annotation(tmp_path):
    make_uav(tmp_path, ("UAV123", "UAV123"), "boat1", range(1, 902), box_lines(901))
    with pytest.raises(DatasetError, match="missing annotation"):
        load_uav_sequence(tmp_path, "boat2", "UAV123")


def test_count_mismatch(tmp_path):
    make_uav(tmp_path, ("UAV123", "UAV123"), "boat1", range(1, 902), box_lines(900))
    with pytest.raises(DatasetError, match="900 boxes but the range 1..901"):
        load_uav_sequence(tmp_path, "boat1", "UAV123")


def test_missing_frame_folder(tmp_path):
    (tmp_path / "anno" / "UAV123").mkdir(parents=True)
    (tmp_path / "anno" / "UAV123" / "truck2.txt").write_text("\n".join(box_lines(385)))
    with pytest.raises(DatasetError, match="missing frame folder"):
        load_uav_sequence(tmp_path, "truck2", "UAV123")
    assert list_uav_sequences(tmp_path, "UAV123") == []


def test_unknown_variant(tmp_path):
    with pytest.raises(DatasetError, match="unknown UAV benchmark"):
        load_uav_sequence(tmp_path, "boat1", "UAV999")
