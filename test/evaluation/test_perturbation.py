"""OTB's SRE init perturbations: boxes hand-computed with the benchmark toolkit's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.evaluation.perturbation import SRE, PerturbationError, parse_perturbations, perturb_box

IMAGE = (100, 200)  # height, width
BOX = (10.0, 20.0, 31.0, 40.0)  # inclusive corners (40, 59); 10 % = 3.1 px wide, 4 px high


@pytest.mark.parametrize(
    "name, expected",
    [
        ("left", (6, 20, 31, 40)),  # x - ceil(3.1)
        ("right", (14, 20, 31, 40)),
        ("up", (10, 16, 31, 40)),  # y - ceil(4.0)
        ("down", (10, 24, 31, 40)),
        ("topLeft", (7, 16, 34, 44)),  # x = round(6.9), y = 16; corner (40, 59) stays
        ("topRight", (10, 16, 34, 44)),  # right = round(43.1) = 43
        ("bottomLeft", (7, 20, 34, 44)),  # bottom = round(63) = 63
        ("bottomRight", (10, 20, 34, 44)),
        ("scale_8", (13, 24, 25, 32)),  # centre (25.5, 40), size (24.8, 32) -> round(13.1), round(24.8)
        ("scale_9", (12, 22, 28, 36)),  # size (27.9, 36): x = round(11.55)
        ("scale_11", (8, 18, 34, 44)),  # size (34.1, 44): x = round(8.45)
        ("scale_12", (7, 16, 37, 48)),  # size (37.2, 48): x = round(6.9)
    ],
)
def test_perturbations_match_the_toolkit(name, expected):
    np.testing.assert_array_equal(perturb_box(BOX, name, IMAGE), expected)


def test_twelve_perturbations_in_toolkit_order():
    assert SRE == ("left", "right", "up", "down", "topLeft", "topRight", "bottomLeft", "bottomRight",
                   "scale_8", "scale_9", "scale_11", "scale_12")


def test_matlab_rounding_of_halves():
    # centre (5, 5), 0.9 x 10 = 9: x = round(0.5) = 1 (MATLAB), not 0 (round half to even)
    np.testing.assert_array_equal(perturb_box((0, 0, 10, 10), "scale_9", IMAGE), (1, 1, 9, 9))


def test_clipped_to_the_image():
    image = (30, 25)
    np.testing.assert_array_equal(perturb_box((1, 3, 20, 20), "left", image), (0, 3, 20, 20))
    np.testing.assert_array_equal(perturb_box((6, 3, 20, 20), "right", image), (8, 3, 17, 20))
    np.testing.assert_array_equal(perturb_box((2, 8, 20, 20), "down", image), (2, 10, 20, 20))
    np.testing.assert_array_equal(perturb_box((2, 12, 20, 20), "down", image), (2, 14, 20, 16))


@pytest.mark.parametrize(
    "box, name, message",
    [
        ((205, 20, 10, 10), "left", "out of the 200x100 image"),
        ((10, 20, 0, 10), "left", "positive size"),
        ((np.nan, 20, 10, 10), "up", "finite"),
        (BOX, "diagonal", "unknown init perturbation 'diagonal'"),
    ],
)
def test_bad_input_is_a_clear_error(box, name, message):
    with pytest.raises(PerturbationError, match=message):
        perturb_box(box, name, IMAGE)


def test_parse_perturbations():
    assert parse_perturbations("sre") == list(SRE)
    assert parse_perturbations(" left, scale_12 ,left") == ["left", "scale_12"]
    for bad in ("", "sre,left", "bogus"):
        with pytest.raises(PerturbationError):
            parse_perturbations(bad)
