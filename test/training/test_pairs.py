"""Training pairs: crop geometry, determinism, and the train-split-only rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cfvgg_ros.datasets import DatasetError, Sequence
from cfvgg_ros.paths import shared_data_root
from cfvgg_ros.training.config import ConfigError, config_from_dict
from cfvgg_ros.training.pairs import (
    PairDataset,
    PairSettings,
    box_centre,
    crop_square,
    patch_position,
    training_sequences,
)


def _square_sequence(n: int = 12) -> Sequence:
    """A white 20x12 box moving right over a dark gradient, one frame per call."""
    boxes = np.array([[40 + 3 * i, 30 + i, 20, 12] for i in range(n)], float)
    boxes[5] = np.nan

    def render(i: int) -> np.ndarray:
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[..., 0] = np.linspace(0, 80, 160, dtype=np.uint8)[None, :]
        if np.all(np.isfinite(boxes[i])):
            x, y, w, h = boxes[i].astype(int)
            frame[y : y + h, x : x + w] = 255
        return frame

    return Sequence(name="square", dataset="test", boxes=boxes, render=render)


def test_crop_square_centres_the_requested_point_and_flips():
    frame = np.zeros((50, 60, 3), np.uint8)
    frame[20, 30] = 255
    patch = crop_square(frame, np.array([30.0, 20.0]), side=11, out_size=11)
    assert patch.shape == (11, 11, 3) and patch[5, 5, 0] == 255
    frame[20, 32] = 128
    assert crop_square(frame, np.array([30.0, 20.0]), 11, 11, flip=True)[5, 3, 0] == 128
    assert box_centre(np.array([10.0, 20.0, 4.0, 6.0])).tolist() == [11.5, 22.5]
    with pytest.raises(ValueError):
        crop_square(frame, np.zeros(2), 0, 8)


def test_pairs_are_deterministic_and_locate_the_target():
    settings = PairSettings(patch_size=64, search_area_scale=3.0, max_frame_gap=4, samples_per_epoch=10)
    dataset = PairDataset([_square_sequence()], settings, seed=7)
    assert len(dataset) == 10
    first = dataset[3]
    again = dataset[3]
    for key in first:
        assert np.array_equal(first[key].numpy(), again[key].numpy())
    dataset.set_epoch(1)
    assert not np.array_equal(dataset[3]["search"].numpy(), first["search"].numpy())
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["template"].shape == (3, 64, 64) and item["search"].shape == (3, 64, 64)
        for patch, centre in (("template", "template_centre"), ("search", "search_centre")):
            y, x = (int(round(v)) for v in item[centre].tolist())
            assert item[patch][1, y, x] == pytest.approx(255, abs=1), (index, patch)
        assert float(item["template_size"]) == pytest.approx(64 / 3.0, rel=1e-5)
    with pytest.raises(IndexError):
        dataset[10]


def test_a_turned_crop_puts_frame_points_where_patch_position_says():
    frame = np.zeros((80, 90, 3), np.uint8)
    centre = np.array([45.0, 40.0])
    frame[40, 49] = 255  # 4 px right of the centre
    # turned by 90 degrees (scale 1): the patch's axes are the frame's turned, so a point to the
    # right of the centre lies 4 rows above the patch centre (hand-computed: R(-90) (4, 0) = (0, -4))
    patch = crop_square(frame, centre, side=21, out_size=21, angle=np.pi / 2)
    assert patch[6, 10, 0] == 255 and patch[10, 10, 0] == 0
    assert patch_position(np.array([4.0, 0.0]), 21, 21, angle=np.pi / 2) == pytest.approx([6.0, 10.0])
    frame[40, 49] = 0
    frame[45, 54] = 255  # offset (9, 5)
    for flip in (False, True):
        for angle in (0.0, np.deg2rad(30.0), np.deg2rad(-75.0)):
            patch = crop_square(frame, centre, side=42, out_size=63, flip=flip, angle=angle)
            y, x = np.unravel_index(np.argmax(patch[..., 0]), patch.shape[:2])
            expected = patch_position(np.array([9.0, 5.0]), 42, 63, flip=flip, angle=angle)
            assert np.hypot(y - expected[0], x - expected[1]) <= 1.0, (flip, angle)
    # angle 0 is the plain crop, and the position reduces to the unturned formula
    assert np.array_equal(crop_square(frame, centre, 30, 20, angle=0.0), crop_square(frame, centre, 30, 20))
    unturned = patch_position(np.array([9.0, 5.0]), 30, 20)
    assert unturned.tolist() == pytest.approx([9.5 + 5 * 20 / 30, 9.5 + 9 * 20 / 30])


def test_augmented_pairs_keep_the_target_under_the_label():
    settings = dict(patch_size=64, search_area_scale=3.0, max_frame_gap=4, samples_per_epoch=12)
    plain = PairDataset([_square_sequence()], PairSettings(**settings), seed=7)
    turned = PairDataset([_square_sequence()], PairSettings(**settings, rotation_jitter=60.0), seed=7)
    coloured = PairDataset(
        [_square_sequence()], PairSettings(**settings, colour_jitter=0.2, blur_probability=1.0), seed=7
    )
    grey = PairDataset([_square_sequence()], PairSettings(**settings, grey_probability=1.0), seed=7)
    moved = 0
    for index in range(12):
        item, base = turned[index], plain[index]
        y, x = (int(round(v)) for v in item["search_centre"].tolist())
        assert item["search"][1, y, x] == pytest.approx(255, abs=1), index
        moved += not np.allclose(item["search_centre"].numpy(), base["search_centre"].numpy())
        # the extra draws come after the paper's: the geometry of a pair is unchanged by them
        assert np.array_equal(item["template"].numpy(), base["template"].numpy())
        colour = coloured[index]
        assert np.array_equal(colour["search_centre"].numpy(), base["search_centre"].numpy())
        assert np.array_equal(colour["template"].numpy(), base["template"].numpy())
        assert not np.array_equal(colour["search"].numpy(), base["search"].numpy())
        for key in colour:
            assert np.array_equal(colour[key].numpy(), coloured[index][key].numpy())  # deterministic
        g = grey[index]
        for patch in ("template", "search"):
            assert np.array_equal(g[patch][0].numpy(), g[patch][1].numpy())
            assert np.array_equal(g[patch][1].numpy(), g[patch][2].numpy())
    assert moved >= 10  # turned about the patch centre, an off-centre target moves in the patch


def test_settings_and_empty_data_are_refused():
    with pytest.raises(ValueError, match="patch_size"):
        PairSettings(patch_size=4)
    with pytest.raises(ValueError, match="rotation_jitter"):
        PairSettings(rotation_jitter=200.0)
    with pytest.raises(ValueError, match="colour_jitter"):
        PairSettings(colour_jitter=-0.1)
    with pytest.raises(ValueError, match="blur_probability"):
        PairSettings(blur_probability=1.5)
    with pytest.raises(ValueError, match="grey_probability"):
        PairSettings(grey_probability=float("nan"))
    empty = Sequence(name="e", dataset="t", boxes=np.full((3, 4), np.nan), render=lambda i: None)
    with pytest.raises(DatasetError, match="visible"):
        PairDataset([empty], PairSettings())


@pytest.fixture
def split_root(tmp_path):
    (tmp_path / "splits.json").write_text(
        json.dumps(
            {
                "train": {"OTB100": ["Dog1"]},
                "eval": {"OTB100": ["Crossing"], "UAV123_10fps": ["person11"]},
            }
        )
    )
    return tmp_path


def test_eval_split_sequences_are_refused(split_root):
    with pytest.raises(DatasetError, match="eval split"):
        training_sequences("train", ["OTB100/Crossing"], split_root)
    with pytest.raises(DatasetError, match="eval split"):
        training_sequences("train", ["synthetic/translation", "OTB2015/Crossing"], split_root)
    with pytest.raises(DatasetError, match="'train' split"):
        training_sequences("eval", None, split_root)
    with pytest.raises(DatasetError, match="neither split"):
        training_sequences("train", ["OTB100/Basketball"], split_root)
    with pytest.raises(ConfigError, match="eval"):
        config_from_dict({"data": {"split": "eval"}})


def test_default_sequences_are_the_train_split():
    root = shared_data_root()
    if root is None or not (root / "splits.json").is_file():
        pytest.skip("shared/data with splits.json is not available")
    from cfvgg_ros.datasets.splits import load_splits

    sequences = training_sequences("train", None, root)
    names = {f"{s.dataset}/{s.name}" for s in sequences}
    train = set(load_splits(root)["train"])
    assert len(sequences) == len(train)
    assert not names & set(load_splits(root)["eval"])
