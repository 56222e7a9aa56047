"""OTB-2015 loader: the shared sequences, and tmp_path fixtures for the toolkit's range quirks
(David, BlurCar1, Tiger1, Human4, two-target folders), delimiters and bad input."""

import re
from pathlib import Path

import cv2
import numpy as np
import pytest

from cfvgg_ros.datasets import list_sequences, load_sequence, resolve
from cfvgg_ros.datasets.otb import list_otb_sequences, load_otb_folder, load_otb_sequence, otb_table
from cfvgg_ros.datasets.sequence import DatasetError
from cfvgg_ros.paths import shared_data_root

_JPEG = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))[1].tobytes()


def otb_root() -> Path:
    data = shared_data_root()
    if data is None or not (data / "OTB100").is_dir():
        pytest.skip("shared/data/OTB100 not found (set $CFVGG_SHARED to the shared folder)")
    return data / "OTB100"


def first_line_box(path: Path) -> np.ndarray:
    line = next(ln for ln in path.read_text().splitlines() if ln.strip())
    return np.array([float(v) for v in re.split(r"[,\s]+", line.strip())])


def make_seq(root: Path, folder: str, numbers, boxes, anno="groundtruth_rect.txt", digits=4, text=None):
    img = root / folder / "img"
    img.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (img / f"{n:0{digits}d}.jpg").write_bytes(_JPEG)
    body = text if text is not None else "\n".join(",".join(f"{v:g}" for v in b) for b in boxes) + "\n"
    (root / folder / anno).write_text(body)


def boxes_for(n, start=1):
    return [(10 + i, 20 + i, 30, 40) for i in range(start, start + n)]


# ----------------------------------------------------------------------------- shared data


def test_shared_otb_sequences_are_consistent():
    root = otb_root()
    names = list_sequences("OTB100", root)
    assert {"Jogging-1", "Jogging-2", "Diving"} <= set(names)
    assert "Jogging" not in names
    for name in names:
        seq = load_sequence("OTB2015", root, name)
        assert seq.dataset == "OTB100" and seq.fps == 30
        assert len(seq.frames) == len(seq.boxes) > 0
        assert all(Path(f).is_file() for f in seq.frames)
        anno = Path(seq.attributes["annotation"])
        expected = first_line_box(anno)
        expected[:2] -= 1
        np.testing.assert_allclose(seq.boxes[0], expected)


def test_shared_diving_scores_215_of_231_images():
    root = otb_root()
    assert len(list((root / "Diving" / "img").glob("*.jpg"))) == 231
    seq = load_otb_sequence(root, "Diving")
    assert len(seq) == 215
    assert seq.frames[-1].endswith("0215.jpg")


def test_shared_jogging_targets_differ():
    root = otb_root()
    one, two = load_otb_sequence(root, "Jogging-1"), load_otb_sequence(root, "Jogging_2")
    assert one.name == "Jogging-1" and two.name == "Jogging-2"
    assert len(one) == len(two) == 307
    assert one.frames == two.frames
    assert not np.allclose(one.boxes[0], two.boxes[0])


def test_shared_mixed_delimiters_and_crlf_parse():
    root = otb_root()
    seq = load_otb_sequence(root, "FaceOcc1")  # tab separated, CRLF line ends
    np.testing.assert_allclose(seq.boxes[0], [117, 68, 114, 162])


# ----------------------------------------------------------------------------- table quirks


def test_table_holds_the_100_otb2015_sequences():
    table = otb_table()
    assert len(table) == 100
    assert table["David"][2:4] == [300, 770]
    assert table["Diving"][2:4] == [1, 215]
    assert table["BlurCar1"][2:4] == [247, 988]
    assert table["Tiger1"][4] == 5
    assert table["Human4"][1] == "groundtruth_rect.2.txt"
    assert {"Jogging-1", "Jogging-2", "Skating2-1", "Skating2-2"} <= set(table)


@pytest.mark.parametrize("numbers", [range(300, 771), range(1, 771)], ids=["trimmed", "full"])
def test_david_uses_frames_300_to_770(tmp_path, numbers):
    make_seq(tmp_path, "David", numbers, boxes_for(471))
    seq = load_otb_sequence(tmp_path, "David")
    assert len(seq) == 471
    assert Path(seq.frames[0]).name == "0300.jpg" and Path(seq.frames[-1]).name == "0770.jpg"
    np.testing.assert_allclose(seq.boxes[0], [10, 20, 30, 40])
    assert seq.attributes["first_frame"] == 300


def test_blurcar1_range(tmp_path):
    make_seq(tmp_path, "BlurCar1", range(240, 995), boxes_for(742))
    seq = load_otb_sequence(tmp_path, "BlurCar1")
    assert len(seq) == 742
    assert Path(seq.frames[0]).name == "0247.jpg" and Path(seq.frames[-1]).name == "0988.jpg"


def test_tiger1_omits_first_five_frames(tmp_path):
    make_seq(tmp_path, "Tiger1", range(1, 355), boxes_for(354))
    seq = load_otb_sequence(tmp_path, "Tiger1")
    assert len(seq) == 349
    assert Path(seq.frames[0]).name == "0006.jpg"
    np.testing.assert_allclose(seq.boxes[0], [15, 25, 30, 40])  # line 6: (10+6, 20+6) - 1


def test_board_five_digit_names(tmp_path):
    make_seq(tmp_path, "Board", range(1, 699), boxes_for(698), digits=5)
    assert Path(load_otb_sequence(tmp_path, "Board").frames[0]).name == "00001.jpg"


def test_human4_reads_second_target_and_lists_once(tmp_path):
    make_seq(tmp_path, "Human4", range(1, 668), boxes_for(667), anno="groundtruth_rect.2.txt")
    assert list_otb_sequences(tmp_path) == ["Human4"]
    seq = load_otb_sequence(tmp_path, "Human4-2")
    assert seq.name == "Human4" and len(seq) == 667


def test_two_target_folders(tmp_path):
    for k in (1, 2):
        anno = f"groundtruth_rect.{k}.txt"
        make_seq(tmp_path, "Skating2", range(1, 474), boxes_for(473, start=k), anno=anno)
        make_seq(tmp_path, "Pair", range(1, 6), boxes_for(5, start=k), anno=anno)
    assert list_otb_sequences(tmp_path) == ["Pair-1", "Pair-2", "Skating2-1", "Skating2-2"]
    assert load_otb_sequence(tmp_path, "Skating2.2").name == "Skating2-2"
    pair = load_otb_sequence(tmp_path, "Pair_2")
    assert pair.name == "Pair-2"
    np.testing.assert_allclose(pair.boxes[0], [11, 21, 30, 40])
    with pytest.raises(DatasetError, match="several targets"):
        load_otb_folder(tmp_path / "Pair")


def test_custom_folder_mixed_delimiters_and_invalid_rows(tmp_path):
    text = "1,2,3,4\r\n5\t6\t7\t8\r\n9 10 11 12\n13, 14,0,5\nNaN,NaN,NaN,NaN\n\n"
    make_seq(tmp_path, "mine", range(1, 6), None, text=text)
    seq = resolve(str(tmp_path / "mine"))
    assert seq.name == "mine" and seq.dataset == "OTB100"
    np.testing.assert_allclose(seq.boxes[:3], [[0, 1, 3, 4], [4, 5, 7, 8], [8, 9, 11, 12]])
    assert np.isnan(seq.boxes[3:]).all()
    frame = seq.frame(0)
    assert frame.shape == (8, 8, 3) and frame.dtype == np.uint8


# ----------------------------------------------------------------------------- bad input


def test_missing_annotation(tmp_path):
    (tmp_path / "Nope" / "img").mkdir(parents=True)
    with pytest.raises(DatasetError, match="missing annotation"):
        load_otb_sequence(tmp_path, "Nope")


def test_missing_folder(tmp_path):
    with pytest.raises(DatasetError, match="missing folder"):
        load_otb_sequence(tmp_path, "Basketball")


def test_count_mismatch_custom(tmp_path):
    make_seq(tmp_path, "mine", range(1, 6), boxes_for(6))
    with pytest.raises(DatasetError, match="5 images .* 6 annotated boxes"):
        load_otb_sequence(tmp_path, "mine")


def test_count_mismatch_table(tmp_path):
    make_seq(tmp_path, "David", range(300, 771), boxes_for(470))
    with pytest.raises(DatasetError, match="470 boxes but the OTB-2015 range 300..770"):
        load_otb_sequence(tmp_path, "David")


def test_missing_frames_in_range(tmp_path):
    make_seq(tmp_path, "David", range(300, 700), boxes_for(471))
    with pytest.raises(DatasetError, match="first missing: 700"):
        load_otb_sequence(tmp_path, "David")


def test_bad_annotation_line(tmp_path):
    make_seq(tmp_path, "mine", range(1, 3), None, text="1,2,3,4\n1,2,x,4\n")
    with pytest.raises(DatasetError, match=r"groundtruth_rect.txt:2"):
        load_otb_sequence(tmp_path, "mine")
    make_seq(tmp_path, "three", range(1, 3), None, text="1,2,3\n1,2,3\n")
    with pytest.raises(DatasetError, match="expected 4"):
        load_otb_sequence(tmp_path, "three")
