"""Tests of the synthetic aerial sequence generator (no shared data needed)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cfvgg_ros.datasets.sequence import DatasetError, read_rgb
from cfvgg_ros.datasets.synthetic import CHALLENGES, PRESETS, make_sequence, write_sequence

W, H = 320, 180


@pytest.fixture(scope="module")
def sequences():
    """One small sequence per preset, built once for the module."""
    return {name: make_sequence(name, width=W, height=H, seed=3) for name in PRESETS}


def _inside(box, margin=0.0):
    x, y, w, h = box
    return x >= -margin and y >= -margin and x + w <= W + margin and y + h <= H + margin


def test_required_presets_exist():
    assert {"aerial", "translation", "scale", "occlusion", "rotation", "illumination", "blur"} <= set(PRESETS)


def test_sequence_metadata(sequences):
    seq = sequences["aerial"]
    assert seq.dataset == "synthetic" and seq.name == "aerial"
    assert seq.fps == 30.0 and seq.frames == [] and callable(seq.render)
    assert len(seq) == PRESETS["aerial"].num_frames == seq.boxes.shape[0]
    assert all(seq.attributes[c] for c in CHALLENGES)
    single = sequences["scale"].attributes
    assert single["scale"] and not single["occlusion"] and single["challenges"] == ("scale",)
    assert len(make_sequence("translation", num_frames=7, width=W, height=H)) == 7


def test_frame_shape_dtype_and_default_size():
    seq = make_sequence("translation", num_frames=2)
    frame = seq.frame(1)
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8


def test_render_is_deterministic_in_any_order(sequences):
    seq = sequences["aerial"]
    a = seq.frame(40)
    seq.frame(3)
    seq.frame(120)
    b = seq.frame(40)
    assert a.shape == (H, W, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    again = make_sequence("aerial", width=W, height=H, seed=3)
    assert np.array_equal(again.boxes, seq.boxes)
    assert np.array_equal(again.frame(40), a)
    other = make_sequence("aerial", width=W, height=H, seed=4)
    assert not np.array_equal(other.frame(40), a)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_boxes_finite_and_inside_frame(sequences, name):
    boxes = sequences[name].boxes
    assert np.isfinite(boxes).all()
    assert (boxes[:, 2:] > 4).all()
    assert all(_inside(b, margin=1.0) for b in boxes)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_boxes_survive_float32_polygon_transport(sequences, name):
    """Boxes lie on the 1/256 px grid, so the four float32 corners of an init polygon give back
    exactly the float64 box an offline run starts from (the node's conversion)."""
    from types import SimpleNamespace

    from cfvgg_ros.bags.make import box_polygon
    from cfvgg_ros.ros.init_requests import box_from_polygon

    boxes = sequences[name].boxes
    assert np.array_equal(np.round(boxes * 256) / 256, boxes)
    for box in boxes[::7]:
        corners = [SimpleNamespace(x=float(np.float32(x)), y=float(np.float32(y))) for x, y in box_polygon(box)]
        assert box_from_polygon(SimpleNamespace(points=corners)) == tuple(box)


@pytest.mark.parametrize("name", ["aerial", "rotation", "scale"])
def test_ground_truth_matches_rendered_target(sequences, name):
    seq = sequences[name]
    scene = seq.render
    for i in range(0, len(seq), 29):
        box = seq.boxes[i]
        # geometry: the rendered coverage mask spans the GT box (within a pixel)
        ys, xs = np.nonzero(scene.target_alpha(i) > 0.5)
        est = np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1])
        assert np.abs(est - box).max() <= 1.5
        # pixels: without photometry, the target changes nothing outside its box
        diff = np.abs(scene.render(i, photometry=False).astype(int)
                      - scene.render(i, target=False, photometry=False).astype(int)).sum(2)
        yy, xx = np.nonzero(diff)
        assert len(xx) > 0.5 * box[2] * box[3] * 0.5
        x, y, w, h = box
        assert xx.min() >= x - 2 and xx.max() <= x + w + 1 and yy.min() >= y - 2 and yy.max() <= y + h + 1
        # full rendering (blur, illumination, noise): the change is concentrated in the box
        diff = np.abs(seq.frame(i).astype(int) - scene.render(i, target=False).astype(int)).sum(2)
        x0, y0 = int(max(x - 4, 0)), int(max(y - 4, 0))
        inside = diff[y0:int(y + h + 5), x0:int(x + w + 5)].sum()
        assert inside >= 0.9 * diff.sum()


def test_scale_preset_changes_area_by_expected_factor(sequences):
    boxes = sequences["scale"].boxes
    ratio = boxes[:, 2] * boxes[:, 3] / (boxes[0, 2] * boxes[0, 3])
    assert ratio.max() == pytest.approx(1.6**2, rel=0.08)
    assert ratio[-1] < 1.15  # grows, then shrinks back


def test_rotation_preset_turns_the_target(sequences):
    boxes = sequences["rotation"].boxes
    aspect = boxes[:, 2] / boxes[:, 3]
    assert aspect.max() / aspect.min() > 1.4
    translation = sequences["translation"].boxes
    assert np.ptp(translation[:, 2]) < 0.5 and np.ptp(translation[:, 3]) < 0.5
    assert np.ptp(translation[:, 0]) > W / 4  # the target crosses a good part of the view


def test_occlusion_preset_partially_hides_the_target(sequences):
    seq = sequences["occlusion"]
    scene = seq.render
    fractions = np.array([scene.occluded_fraction(i) for i in range(len(seq))])
    assert 0.2 <= fractions.max() <= 0.55
    assert (fractions > 0.05).sum() >= 10 and (fractions < 0.01).sum() >= 30
    i = int(np.argmax(fractions))
    x, y, w, h = seq.boxes[i].astype(int)
    with_occ = scene.render(i, photometry=False)[y:y + h, x:x + w]
    without = scene.render(i, occluder=False, photometry=False)[y:y + h, x:x + w]
    changed = (np.abs(with_occ.astype(int) - without.astype(int)).sum(2) > 30).mean()
    assert 0.1 < changed < 0.7
    assert sequences["translation"].render.occluded_fraction(0) == 0.0


def test_illumination_preset_varies_brightness(sequences):
    seq = sequences["illumination"]
    means = np.array([seq.frame(i).mean() for i in range(0, len(seq), 10)])
    assert means.max() / means.min() > 1.3
    flat = sequences["translation"]
    flat_means = np.array([flat.frame(i).mean() for i in range(0, len(flat), 30)])
    assert flat_means.max() / flat_means.min() < 1.15


def test_blur_preset_blurs_fast_motion():
    blurred = make_sequence("blur", width=W, height=H, seed=2, noise_sigma=0.0)
    sharp = make_sequence("blur", width=W, height=H, seed=2, noise_sigma=0.0, exposure=0.0)
    assert np.array_equal(blurred.boxes, sharp.boxes)
    i = int(round(PRESETS["blur"].burst_time * (len(blurred) - 1)))
    x, y, w, h = blurred.boxes[i].astype(int)

    def along_motion_gradient(img):  # the burst drives the target roughly along x
        grey = cv2.cvtColor(img[y:y + h, x:x + w], cv2.COLOR_RGB2GRAY).astype(np.float64)
        return np.abs(np.diff(grey, axis=1)).mean()

    assert along_motion_gradient(blurred.frame(i)) < 0.75 * along_motion_gradient(sharp.frame(i))


def test_target_leaving_view_gives_nan_rows():
    seq = make_sequence("translation", width=W, height=H, speed=40.0, num_frames=60)
    boxes = seq.boxes
    missing = np.isnan(boxes).all(1)
    assert missing.any() and (~missing).any()
    assert np.isnan(boxes).any(1).sum() == missing.sum()  # whole rows only
    assert seq.frame(int(np.flatnonzero(missing)[0])).shape == (H, W, 3)


def test_bad_input_is_rejected(sequences):
    with pytest.raises(DatasetError, match="unknown synthetic preset"):
        make_sequence("nope")
    with pytest.raises(TypeError, match="unknown scenario parameter"):
        make_sequence("aerial", width=W, height=H, not_a_field=1)
    with pytest.raises(ValueError):
        make_sequence("aerial", width=8, height=8)
    with pytest.raises(IndexError):
        sequences["aerial"].render(len(sequences["aerial"]))
    with pytest.raises(IndexError):
        sequences["aerial"].frame(-1)
    with pytest.raises(ValueError, match="extension"):
        write_sequence(sequences["aerial"], "/nonexistent", ext="gif")


def test_write_sequence_round_trip(tmp_path):
    seq = make_sequence("aerial", width=W, height=H, num_frames=4, seed=1)
    out = write_sequence(seq, tmp_path / "Synthetic", ext="png")
    images = sorted((out / "img").iterdir())
    assert [p.name for p in images] == ["0001.png", "0002.png", "0003.png", "0004.png"]
    assert np.array_equal(read_rgb(str(images[2])), seq.frame(2))
    gt = np.loadtxt(out / "groundtruth_rect.txt", delimiter=",")
    assert gt.shape == (4, 4)
    np.testing.assert_allclose(gt[:, :2] - 1.0, seq.boxes[:, :2], atol=1e-3)
    np.testing.assert_allclose(gt[:, 2:], seq.boxes[:, 2:], atol=1e-3)
    jpg = write_sequence(seq, tmp_path / "Jpg")
    assert (jpg / "img" / "0001.jpg").is_file()
