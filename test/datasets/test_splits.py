"""splits.json: the train/eval sets, their separation, and that every listed sequence loads
with one existing frame per box and its first box equal to the file's first line (0-based)."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from cfvgg_ros.datasets import DATASETS, canonical_dataset, resolve
from cfvgg_ros.datasets.sequence import DatasetError
from cfvgg_ros.datasets.splits import load_splits, split_of
from cfvgg_ros.paths import shared_data_root

DATA = shared_data_root()
SPECS = []
if DATA is not None and (DATA / "splits.json").is_file():
    SPECS = [spec for specs in load_splits(DATA).values() for spec in specs]
NO_DATA = pytest.param(None, marks=pytest.mark.skip(reason="shared/data/splits.json not found"))


def data_root() -> Path:
    if DATA is None or not (DATA / "splits.json").is_file():
        pytest.skip("shared/data/splits.json not found (set $CFVGG_SHARED to the shared folder)")
    return DATA


def annotation_first_box(seq) -> np.ndarray:
    path = Path(seq.attributes["annotation"])
    line = next(ln for ln in path.read_text().splitlines() if ln.strip())
    values = np.array([float(v) for v in re.split(r"[,\s]+", line.strip())])
    if seq.dataset.startswith("VOT"):
        return values if values.size == 4 else np.array(
            [values[0::2].min(), values[1::2].min(), np.ptp(values[0::2]), np.ptp(values[1::2])])
    values[:2] -= 1  # OTB, UAV123, DTB70 annotations are 1-based
    return values


def test_shared_splits_match_the_readme():
    splits = load_splits(data_root())
    assert set(splits) == {"train", "eval"}
    assert set(splits["train"]) == {
        "UAV123_10fps/boat1", "UAV123_10fps/wakeboard10", "UAV123_10fps/wakeboard3", "UAV123_10fps/truck2",
        "UAV123_10fps/building5", "OTB100/Dog1", "OTB100/FaceOcc1", "OTB100/Woman",
    }
    assert {"OTB100/Jogging-1", "OTB100/Jogging-2", "OTB100/Diving", "VOT2015/bag", "DTB70/Surfing06"} <= set(
        splits["eval"])
    assert not set(splits["train"]) & set(splits["eval"])


def test_split_of_with_aliases():
    root = data_root()
    assert split_of("OTB100/Dog1", root) == "train"
    assert split_of("OTB2015/Diving", root) == "eval"
    assert split_of("uav123_10fps/person11", root) == "eval"
    assert split_of("OTB100/Basketball", root) is None
    with pytest.raises(DatasetError):
        split_of("Dog1", root)


@pytest.mark.parametrize("spec", SPECS or [NO_DATA])
def test_every_split_sequence_loads(spec):
    seq = resolve(spec, data_root())
    dataset, name = spec.split("/", 1)
    assert seq.dataset == canonical_dataset(dataset) and seq.name == name
    assert len(seq.frames) == len(seq.boxes) > 0
    assert all(Path(f).is_file() for f in seq.frames)
    assert seq.boxes.dtype == np.float64 and seq.boxes.shape[1] == 4
    np.testing.assert_allclose(seq.boxes[0], annotation_first_box(seq))
    assert seq.fps == (10 if dataset == "UAV123_10fps" else 30)


def test_dataset_names():
    assert {"OTB100", "UAV123", "UAV123_10fps", "UAV20L", "DTB70", "VOT2015", "VOT", "LaSOT", "GOT10k",
            "synthetic"} == set(DATASETS)
    assert canonical_dataset("OTB2015") == "OTB100"


# ----------------------------------------------------------------------------- fixtures


def test_splits_fixture_and_errors(tmp_path):
    with pytest.raises(DatasetError, match="missing split file"):
        load_splits(tmp_path)
    (tmp_path / "splits.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_splits(tmp_path)
    (tmp_path / "splits.json").write_text(json.dumps({"train": {"OTB100": ["A"]}}))
    with pytest.raises(DatasetError, match="exactly"):
        load_splits(tmp_path)
    leak = {"train": {"OTB100": ["A", "B"]}, "eval": {"OTB100": ["B"]}}
    (tmp_path / "splits.json").write_text(json.dumps(leak))
    with pytest.raises(DatasetError, match="both train and eval"):
        load_splits(tmp_path)
    (tmp_path / "splits.json").write_text(json.dumps({"train": {"OTB100": ["A"]}, "eval": {"DTB70": ["C"]}}))
    assert load_splits(tmp_path) == {"train": ["OTB100/A"], "eval": ["DTB70/C"]}
    assert split_of("OTB2015/A", tmp_path) == "train" and split_of("DTB70/C", tmp_path) == "eval"
