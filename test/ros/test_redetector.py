"""The template re-detector alone (numpy / OpenCV, no ROS): where it finds a moved template,
when it gives up (peak -1), how the frame edges bound its window, and the downscaling of big
templates. Expected boxes are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.ros.redetector import TemplateRedetector

TEXTURE = np.random.default_rng(3).integers(0, 256, (400, 500, 3), dtype=np.uint8)


def _crop(top: int, left: int, height: int = 160, width: int = 200) -> np.ndarray:
    """A frame cut out of the random texture: texture pixel (X, Y) is at (X - left, Y - top)."""
    return np.ascontiguousarray(TEXTURE[top:top + height, left:left + width])


def test_finds_a_shifted_template_at_the_right_place():
    # frame 1 = texture[100:260, 100:300]; the target (50, 40, 20, 16) is texture (150, 140)
    first = _crop(100, 100)
    redetector = TemplateRedetector(first, (50, 40, 20, 16))
    assert redetector.scale == 1.0 and redetector.template.shape == (16, 20)
    # frame 2 = texture[105:265, 93:293]: texture (150, 140) is at (57, 35), a move of (+7, -5).
    # The window is 4x the box around its centre (60, 48): x 20..100, y 16..80, which holds it.
    box, peak = redetector.search(_crop(105, 93), (50, 40, 20, 16), 4.0)
    assert box == (57.0, 35.0, 20.0, 16.0)
    assert peak == pytest.approx(1.0, abs=1e-4)


def test_relocate_keeps_the_last_confident_size_centred_on_the_match():
    redetector = TemplateRedetector(_crop(100, 100), (50, 40, 20, 16))
    # last box (50, 40, 30, 20): centre (65, 50), window 4 x the template size (20 x 16) around it:
    # x 25..105, y 18..82; the match (57, 35, 20, 16) has centre (67, 43) -> (52, 33, 30, 20)
    box, peak = redetector.relocate(_crop(105, 93), (50, 40, 30, 20), 4.0, min_ncc=0.8)
    assert box == (52.0, 33.0, 30, 20) and peak == pytest.approx(1.0, abs=1e-4)


def test_relocate_refuses_a_weak_match():
    redetector = TemplateRedetector(_crop(100, 100), (50, 40, 20, 16))
    unrelated = _crop(240, 300)  # texture that never held the template
    _, peak = redetector.search(unrelated, (50, 40, 20, 16), 4.0)
    assert -1.0 < peak < 0.6
    assert redetector.relocate(unrelated, (50, 40, 20, 16), 4.0, min_ncc=0.8) is None


@pytest.mark.parametrize("around, scale", [
    ((1000.0, 1000.0, 20.0, 16.0), 4.0),  # the window lies outside the frame: empty
    ((50.0, 40.0, 20.0, 16.0), 0.5),  # a 10 x 8 window cannot hold the 20 x 16 template
    ((-15.0, -12.0, 20.0, 16.0), 1.0),  # clipped at the top-left corner to x 0..5, y 0..4
])
def test_peak_is_minus_one_when_the_window_cannot_hold_the_template(around, scale):
    redetector = TemplateRedetector(_crop(100, 100), (50, 40, 20, 16))
    assert redetector.search(_crop(105, 93), around, scale) == (around, -1.0)
    assert redetector.relocate(_crop(105, 93), around, scale, min_ncc=-0.99) is None


def test_peak_is_minus_one_for_a_flat_template():
    flat = np.full((160, 200, 3), 90, np.uint8)
    redetector = TemplateRedetector(flat, (50, 40, 20, 16))
    assert redetector.search(_crop(100, 100), (50, 40, 20, 16), 4.0) == ((50, 40, 20, 16), -1.0)


def _two_copies() -> tuple[np.ndarray, np.ndarray]:
    """A dim noise frame with the same bright 20 x 16 patch at (30, 30) and at (180, 144) (the
    bottom-right corner of the 200 x 160 frame); returns (frame, patch)."""
    rng = np.random.default_rng(7)
    frame = rng.integers(0, 40, (160, 200, 3), dtype=np.uint8)
    patch = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    frame[30:46, 30:50] = patch
    frame[144:160, 180:200] = patch
    return frame, patch


def test_the_search_stays_inside_its_window():
    frame, _ = _two_copies()
    redetector = TemplateRedetector(frame, (30, 30, 20, 16))
    # window 3 x the box around (40, 38): x 10..70, y 14..62 -- only the first copy is inside
    assert redetector.search(frame, (30, 30, 20, 16), 3.0)[0] == (30.0, 30.0, 20.0, 16.0)
    # around the second copy the window is x 146..200 (226 clipped), y 116..160 (180 clipped)
    box, peak = redetector.search(frame, (176, 140, 20, 16), 4.0)
    assert box == (180.0, 144.0, 20.0, 16.0) and peak == pytest.approx(1.0, abs=1e-4)


def test_template_at_the_top_left_edge_is_clipped_and_found():
    frame, patch = _two_copies()
    frame[0:16, 0:20] = patch
    # the init box (-5, -4, 20, 16) keeps x 0..15, y 0..12 of the frame: a 12 x 15 template
    redetector = TemplateRedetector(frame, (-5, -4, 20, 16))
    assert redetector.template.shape == (12, 15)
    # window around (5, 4), 4 x (20, 16): x 0..45, y 0..36 (clipped); the clipped patch is at (0, 0)
    box, peak = redetector.search(frame, (-5, -4, 20, 16), 4.0)
    assert box == (0.0, 0.0, 20.0, 16.0) and peak == pytest.approx(1.0, abs=1e-4)


def test_big_templates_are_downscaled_to_max_side():
    # 96 x 64 box: scale 48 / 96 = 0.5, template 48 x 32
    first = _crop(50, 50, 240, 320)
    redetector = TemplateRedetector(first, (100, 80, 96, 64))
    assert redetector.scale == 0.5 and redetector.template.shape == (32, 48)
    # frame 2 = texture[44:284, 40:360]: the target moves (+10, +6) to (110, 86). Window 2 x the box
    # around (148, 112): x 52..244, y 48..176, halved to 96 x 64; the match at (29, 19) there maps
    # back to (52 + 29 / 0.5, 48 + 19 / 0.5) = (110, 86) (even offsets: the 2x2 averages line up)
    box, peak = redetector.search(_crop(44, 40, 240, 320), (100, 80, 96, 64), 2.0)
    assert box == (110.0, 86.0, 96.0, 64.0) and peak == pytest.approx(1.0, abs=1e-4)
    # a tall box: scale 48 / 120 = 0.4, template round(30 * 0.4) x round(120 * 0.4) = 12 x 48
    assert TemplateRedetector(first, (10, 10, 30, 120)).template.shape == (48, 12)
    # small boxes are not upscaled
    assert TemplateRedetector(first, (10, 10, 30, 40), max_side=48).scale == 1.0
