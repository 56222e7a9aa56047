"""Init messages -> boxes: ROI, 2- and 4-corner polygons, Detection2D (both center layouts),
and every rejection with its reason."""

from types import SimpleNamespace as NS

import pytest

from cfvgg_ros.ros.init_requests import (
    InitRequestError,
    box_from_detection,
    box_from_polygon,
    box_from_roi,
    check_box_values,
    fit_box_to_frame,
    request_from_detection,
    request_from_polygon,
    request_from_roi,
)
from cfvgg_ros.ros.stamps import stamp_to_ns

NAN = float("nan")


def _polygon(points, sec=0, nanosec=0):
    return NS(header=NS(stamp=NS(sec=sec, nanosec=nanosec)),
              polygon=NS(points=[NS(x=x, y=y, z=0.0) for x, y in points]))


def _detection(cx, cy, w, h, jazzy=True, sec=3, nanosec=4):
    centre = NS(position=NS(x=cx, y=cy), theta=0.3) if jazzy else NS(x=cx, y=cy, theta=0.3)
    return NS(header=NS(stamp=NS(sec=sec, nanosec=nanosec)), bbox=NS(center=centre, size_x=w, size_y=h))


def test_roi_box_on_newest_frame():
    request = request_from_roi(NS(x_offset=10, y_offset=20, width=30, height=40, do_rectify=False))
    assert request.box == (10.0, 20.0, 30.0, 40.0) and request.stamp_ns is None
    assert request.source == "init_bbox"


@pytest.mark.parametrize("points", [
    [(10, 20), (40, 60)],
    [(40, 60), (10, 20)],  # any two opposite corners
    [(10, 60), (40, 20)],
    [(10, 20), (40, 20), (40, 60), (10, 60)],
    [(25, 20), (40, 40), (25, 60), (10, 40)],  # a rotated quadrilateral: its bounding box
])
def test_polygon_corners(points):
    assert box_from_polygon(_polygon(points)) == (10.0, 20.0, 30.0, 40.0)


def test_polygon_stamp_names_the_frame():
    request = request_from_polygon(_polygon([(0, 0), (5, 5)], sec=7, nanosec=9))
    assert request.stamp_ns == 7_000_000_009 == stamp_to_ns(NS(sec=7, nanosec=9))
    assert request_from_polygon(_polygon([(0, 0), (5, 5)])).stamp_ns is None  # zero stamp: newest frame


@pytest.mark.parametrize("jazzy", [True, False])
def test_detection_centre_and_size(jazzy):
    request = request_from_detection(_detection(25.0, 40.0, 30.0, 40.0, jazzy))
    assert request.box == (10.0, 20.0, 30.0, 40.0)
    assert request.stamp_ns == 3_000_000_004
    assert box_from_detection(_detection(25.0, 40.0, 30.0, 40.0, jazzy)) == request.box


@pytest.mark.parametrize("parse, message, reason", [
    (box_from_roi, NS(x_offset=0, y_offset=0, width=0, height=0), "whole image"),
    (box_from_roi, NS(x_offset=5, y_offset=5, width=0, height=10), "zero area"),
    (box_from_polygon, _polygon([(1, 1)]), "got 1"),
    (box_from_polygon, _polygon([(1, 1), (2, 2), (3, 3)]), "got 3"),
    (box_from_polygon, _polygon([(NAN, 1), (5, 5)]), "NaN"),
    (box_from_polygon, _polygon([(1, 1), (float("inf"), 5)]), "NaN or infinite"),
    (box_from_polygon, _polygon([(3, 1), (3, 9)]), "zero area"),
    (box_from_detection, _detection(10, 10, -4, 5), "negative size"),
    (box_from_detection, _detection(10, 10, 0, 5), "zero area"),
    (box_from_detection, _detection(NAN, 10, 4, 5), "NaN"),
])
def test_rejections_say_why(parse, message, reason):
    with pytest.raises(InitRequestError, match=reason):
        parse(message)


@pytest.mark.parametrize("box, reason", [
    ((1, 2, 3), "four numbers"),
    (("a", 2, 3, 4), "four numbers"),
    ((NAN, 2, 3, 4), "NaN"),
    ((1, 2, -3, 4), "negative size"),
    ((1, 2, 3, 0), "zero area"),
])
def test_check_box_values(box, reason):
    with pytest.raises(InitRequestError, match=reason):
        check_box_values(box)


def test_fit_box_to_frame_clips_or_rejects():
    assert fit_box_to_frame((10, 20, 30, 40), 320, 240) == (10.0, 20.0, 30.0, 40.0)
    assert fit_box_to_frame((-10, -20, 30, 40), 320, 240) == (0.0, 0.0, 20.0, 20.0)
    assert fit_box_to_frame((300, 200, 100, 100), 320, 240) == (300.0, 200.0, 20.0, 40.0)
    with pytest.raises(InitRequestError, match="outside the 320x240 frame"):
        fit_box_to_frame((400, 10, 30, 30), 320, 240)
    with pytest.raises(InitRequestError, match="outside"):
        fit_box_to_frame((-50, -40, 40, 30), 320, 240)
    with pytest.raises(InitRequestError, match="keeps only"):
        fit_box_to_frame((319.5, 10, 30, 30), 320, 240)
    with pytest.raises(InitRequestError, match="zero size"):
        fit_box_to_frame((1, 1, 3, 3), 0, 240)
