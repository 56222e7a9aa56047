"""Property-based fuzzing (hypothesis) of everything the node parses from the network: Image
messages -> RGB frames, init messages (RegionOfInterest, PolygonStamped, Detection2D) ->
InitRequest, and the boxes fitted to a frame.

Thousands of generated messages per property: every encoding string (the supported ones, near
misses and arbitrary text), width / height / step / data-length combinations (headers claiming
100000 x 100000 pixels over a tiny buffer, steps smaller than a row, buffers one byte short, data
that is not a byte buffer), NaN / infinite / negative / huge boxes, 0-6 polygon corners and stamps
in the past, the future, zero and out of range. The property: either a result that satisfies its
postconditions comes out, or the module's own error (ImageConversionError, InitRequestError) with
a message, never another exception, and an image over the size limit is rejected before its data
is touched. The messages are plain stand-ins (the modules read them by field name), so no rclpy.

Deterministic: ``derandomize=True`` (the same examples on every run, no example database).
"""

from __future__ import annotations

import array
import math
import re
from types import SimpleNamespace as NS

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from cfvgg_ros.ros.conversions import DEFAULT_MAX_PIXELS, ENCODINGS, ImageConversionError, image_to_rgb
from cfvgg_ros.ros.init_requests import (
    MIN_SIDE_PX,
    InitRequest,
    InitRequestError,
    fit_box_to_frame,
    request_from_detection,
    request_from_polygon,
    request_from_roi,
)

EXAMPLES = 1000  # per property (2000 for the image decoder and box fitting)


def weighted(*choices):
    """``st.one_of`` with weights: ``(weight, strategy)`` pairs (one_of picks branches evenly and
    merges equal ones)."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(range(len(table))).flatmap(lambda i: table[i])


def fuzz(max_examples: int = EXAMPLES):
    return settings(max_examples=max_examples, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ----------------------------------------------------------------------------- Image messages

NEAR_MISSES = ["RGB8", "rgb8 ", " bgr8", "rgb16", "16UC1", "16UC3", "32FC1", "yuv422", "bayer_rggb8",
               "8UC2", "8UC4", "mono16", "", "rgb8\x00", "jpeg"]
# mostly supported encodings, then near misses and arbitrary text
ENCODING = weighted((6, st.sampled_from(sorted(ENCODINGS))), (1, st.sampled_from(NEAR_MISSES)),
                    (1, st.text(max_size=30)))
HUGE_SIDES = [0, 1, 4097, 100_000, 2**31 - 1, 2**32 - 1, 2**32, 2**63, -1, -(2**31)]
SIDE = weighted((8, st.integers(1, 40)), (1, st.integers(-2, 0)), (1, st.sampled_from(HUGE_SIDES)),
                (1, st.integers(-(2**70), 2**70)))


class CountingData:
    """An Image's ``data`` field that records whether it was read."""

    def __init__(self, payload):
        self.payload, self.read = payload, False

    def __get__(self, obj, owner=None):
        self.read = True
        return self.payload


def _image(encoding, height, width, step, payload):
    field = CountingData(payload)
    cls = type("Image", (), {"data": field})
    msg = cls()
    msg.encoding, msg.height, msg.width, msg.step, msg.is_bigendian = encoding, height, width, step, 0
    return msg, field


@st.composite
def image_messages(draw):
    encoding = draw(ENCODING)
    channels = ENCODINGS.get(encoding, draw(st.integers(1, 4)))
    height, width = draw(SIDE), draw(SIDE)
    row = max(width, 0) * channels
    step = draw(weighted(
        (4, st.just(row)),  # packed rows
        (4, st.builds(lambda pad: row + pad, st.integers(1, 9))),  # padded rows
        (1, st.builds(lambda short: row - short, st.integers(1, 3))),  # a step shorter than a row
        (1, st.sampled_from([0, -1, 2**32 - 1, 2**40])),
        (1, st.integers(-(2**40), 2**40)),
    ))
    small = 0 < height <= 40 and 0 < width <= 40 and 0 <= step <= 400
    needed = (height - 1) * step + row if small else 0
    length = draw(weighted(
        (6, st.just(needed)), (1, st.just(needed + 7)), (1, st.just(max(needed - 1, 0))), (1, st.integers(0, 64)),
    )) if small else draw(st.integers(0, 64))
    content = draw(st.binary(min_size=length, max_size=length)) if length <= 2048 else bytes(length)
    kind = draw(weighted((6, st.sampled_from(["bytes", "bytearray", "array", "numpy", "memoryview"])),
                         (1, st.sampled_from(["list", "none", "str", "strided"]))))
    payload = {
        "bytes": lambda: content,
        "bytearray": lambda: bytearray(content),
        "array": lambda: array.array("B", content),  # rclpy's uint8[] field type
        "numpy": lambda: np.frombuffer(content, np.uint8),  # rosbags' uint8[] field type
        "memoryview": lambda: memoryview(content),
        "list": lambda: list(content),
        "none": lambda: None,
        "str": lambda: content.decode("latin-1"),
        "strided": lambda: np.frombuffer(content * 2, np.uint8)[::2],  # not contiguous
    }[kind]()
    max_pixels = draw(weighted((4, st.just(DEFAULT_MAX_PIXELS)), (1, st.integers(1, 2000))))
    return encoding, height, width, step, payload, max_pixels


def _reference_rgb(encoding, height, width, step, data: bytes) -> np.ndarray:
    """Plain-numpy decoding, row by row (the oracle)."""
    channels = ENCODINGS[encoding]
    rows = [np.frombuffer(data[r * step: r * step + width * channels], np.uint8).reshape(width, channels)
            for r in range(height)]
    pixels = np.stack(rows)
    if channels == 1:
        return np.repeat(pixels, 3, axis=2)
    if encoding in ("bgr8", "bgra8", "8UC3"):
        pixels = pixels[:, :, [2, 1, 0]]
    return np.ascontiguousarray(pixels[:, :, :3])


@fuzz(2000)
@given(image_messages())
def test_image_to_rgb_gives_a_valid_frame_or_its_own_error(case):
    encoding, height, width, step, payload, max_pixels = case
    msg, data = _image(encoding, height, width, step, payload)
    try:
        frame = image_to_rgb(msg, max_pixels=max_pixels)
    except ImageConversionError as exc:
        assert str(exc)
        event("rejected: " + re.sub(r"'.*'|-?\d+", "N", str(exc))[:45])  # the kind of error
        if encoding in ENCODINGS and height > 0 and width > 0 and width * height > max_pixels:
            assert not data.read, "the data of an image over the size limit was read"
            assert "limit" in str(exc)
        return
    event("decoded")
    assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8 and frame.flags.c_contiguous
    assert frame.shape == (height, width, 3)
    assert width * height <= max_pixels
    raw = bytes(memoryview(payload).cast("B"))
    assert np.array_equal(frame, _reference_rgb(encoding, height, width, step, raw))


def test_a_header_claiming_100000_squared_pixels_is_rejected_before_its_data_is_read():
    for encoding in ENCODINGS:
        msg, data = _image(encoding, 100_000, 100_000, 100_000 * ENCODINGS[encoding], b"\x00" * 16)
        with pytest.raises(ImageConversionError, match="more than the limit of 16777216"):
            image_to_rgb(msg)
        assert not data.read


@pytest.mark.parametrize("width, height", [(3840, 2160), (4096, 2160), (4096, 4096)])
def test_the_default_limit_admits_4k(width, height):
    msg, _ = _image("mono8", height, width, width, bytes(width * height))
    assert image_to_rgb(msg).shape == (height, width, 3)


def test_the_limit_is_an_argument():
    msg, data = _image("rgb8", 10, 10, 30, bytes(300))
    assert image_to_rgb(msg, max_pixels=100).shape == (10, 10, 3)
    msg, data = _image("rgb8", 10, 11, 33, bytes(330))
    with pytest.raises(ImageConversionError, match="110 pixels, more than the limit of 100"):
        image_to_rgb(msg, max_pixels=100)
    assert not data.read


# ----------------------------------------------------------------------------- init messages

BEYOND_FLOAT = st.sampled_from([10**400, -(10**400)])  # ints float() cannot convert
ANY_FLOAT = st.floats(allow_nan=True, allow_infinity=True)  # NaN, +-inf, huge, tiny, -0.0
COORD = weighted((6, st.floats(-100, 5000)), (2, st.integers(-10, 5000)), (1, ANY_FLOAT),
                 (1, st.integers(-(2**70), 2**70)), (1, BEYOND_FLOAT))
SIZE = weighted((6, st.floats(-1, 800)), (2, st.integers(-3, 800)), (1, ANY_FLOAT),
                (1, st.integers(-(2**70), 2**70)), (1, BEYOND_FLOAT))
SEC = weighted((2, st.just(0)), (4, st.integers(1_600_000_000, 1_900_000_000)), (1, st.integers(-(2**31), 2**31 - 1)),
               (1, st.integers(-(2**70), 2**70)))
NANOSEC = weighted((2, st.just(0)), (4, st.integers(0, 999_999_999)), (1, st.sampled_from([10**9, 2**32 - 1, -1])),
                   (1, st.integers(-(2**40), 2**40)))
CORNERS = st.sampled_from([2, 2, 2, 4, 4, 4, 0, 1, 3, 5, 6])
FRAME_SIDE = weighted((3, st.sampled_from([320, 480, 640, 720, 1080, 1280, 1920, 2160, 3840, 4096])),
                      (3, st.integers(1, 4096)), (1, st.integers(-2, 3)))


def _header(sec, nanosec):
    return NS(stamp=NS(sec=sec, nanosec=nanosec), frame_id="camera")


def _check_request(request, stamp=None):
    assert isinstance(request, InitRequest) and isinstance(request.source, str)
    x, y, w, h = request.box
    assert all(isinstance(v, float) and math.isfinite(v) for v in request.box)
    assert w > 0 and h > 0
    if stamp is not None:
        sec, nanosec = stamp
        if sec == 0 and nanosec == 0:
            assert request.stamp_ns is None
        else:
            assert 0 <= nanosec < 10**9 and request.stamp_ns == sec * 10**9 + nanosec > 0


def _check_fitted(box, width, height):
    try:
        x, y, w, h = fit_box_to_frame(box, width, height)
    except InitRequestError as exc:
        assert str(exc)
        return None
    assert all(isinstance(v, float) and math.isfinite(v) for v in (x, y, w, h))
    assert x >= 0 and y >= 0 and w >= MIN_SIDE_PX and h >= MIN_SIDE_PX
    assert x + w <= width and y + h <= height
    return x, y, w, h


@fuzz()
@given(COORD, COORD, SIZE, SIZE, FRAME_SIDE, FRAME_SIDE)
def test_roi_gives_a_request_or_its_own_error(x, y, w, h, frame_w, frame_h):
    try:
        request = request_from_roi(NS(x_offset=x, y_offset=y, width=w, height=h, do_rectify=False))
    except InitRequestError as exc:
        assert str(exc)
        event("rejected")
        return
    event("accepted")
    _check_request(request)
    assert request.box == (float(x), float(y), float(w), float(h)) and request.stamp_ns is None
    _check_fitted(request.box, frame_w, frame_h)


@fuzz()
@given(CORNERS.flatmap(lambda n: st.lists(st.tuples(COORD, COORD), min_size=n, max_size=n)), SEC, NANOSEC,
       FRAME_SIDE, FRAME_SIDE)
def test_polygon_gives_a_request_or_its_own_error(corners, sec, nanosec, frame_w, frame_h):
    msg = NS(header=_header(sec, nanosec), polygon=NS(points=[NS(x=cx, y=cy, z=0.0) for cx, cy in corners]))
    try:
        request = request_from_polygon(msg)
    except InitRequestError as exc:
        assert str(exc)
        event("rejected")
        return
    event("accepted")
    assert len(corners) in (2, 4)
    _check_request(request, (sec, nanosec))
    xs, ys = [float(c[0]) for c in corners], [float(c[1]) for c in corners]
    assert request.box == (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    _check_fitted(request.box, frame_w, frame_h)


@fuzz()
@given(COORD, COORD, SIZE, SIZE, st.booleans(), SEC, NANOSEC, FRAME_SIDE, FRAME_SIDE)
def test_detection_gives_a_request_or_its_own_error(cx, cy, w, h, jazzy, sec, nanosec, frame_w, frame_h):
    centre = NS(position=NS(x=cx, y=cy), theta=0.0) if jazzy else NS(x=cx, y=cy, theta=0.0)
    msg = NS(header=_header(sec, nanosec), bbox=NS(center=centre, size_x=w, size_y=h), results=[])
    try:
        request = request_from_detection(msg)
    except InitRequestError as exc:
        assert str(exc)
        event("rejected")
        return
    event("accepted")
    _check_request(request, (sec, nanosec))
    bx, by, bw, bh = request.box
    assert (bw, bh) == (float(w), float(h))
    assert abs(bx + bw / 2 - float(cx)) <= 1e-9 * max(1.0, abs(bw), abs(float(cx)))  # up to rounding
    _check_fitted(request.box, frame_w, frame_h)


@st.composite
def box_near_a_frame(draw):
    """A frame size and a box around it (partly outside, inside, tiny, larger than the frame)."""
    frame_w, frame_h = draw(FRAME_SIDE), draw(FRAME_SIDE)
    span_w, span_h = max(frame_w, 4), max(frame_h, 4)
    box = (draw(st.floats(-0.5 * span_w, 1.1 * span_w)), draw(st.floats(-0.5 * span_h, 1.1 * span_h)),
           draw(st.floats(0.01, 1.5 * span_w)), draw(st.floats(0.01, 1.5 * span_h)))
    return box, frame_w, frame_h


ANY_BOX_AND_FRAME = st.tuples(st.tuples(COORD, COORD, SIZE, SIZE), FRAME_SIDE, FRAME_SIDE)


@fuzz(2000)
@given(weighted((3, box_near_a_frame()), (2, ANY_BOX_AND_FRAME)))
def test_fit_box_to_frame_keeps_the_box_inside_or_raises(case):
    box, frame_w, frame_h = case
    fitted = _check_fitted(box, frame_w, frame_h)
    event("fitted" if fitted else "rejected")
    if fitted is None:
        return
    x, y, w, h = fitted
    # the fitted box is the part of the box inside the frame
    bx, by, bw, bh = (float(v) for v in box)
    assert x == max(bx, 0.0) and y == max(by, 0.0)
    assert math.isclose(x + w, min(bx + bw, frame_w), rel_tol=1e-12, abs_tol=1e-9)
    assert math.isclose(y + h, min(by + bh, frame_h), rel_tol=1e-12, abs_tol=1e-9)


@pytest.mark.parametrize("make", [
    lambda: request_from_roi(NS(x_offset="10", y_offset=0, width=5, height=5)),
    lambda: request_from_roi(NS(x_offset=None, y_offset=0, width=5, height=5)),
    lambda: request_from_polygon(NS(header=_header(0, 0), polygon=NS(points=None))),
    lambda: request_from_polygon(NS(header=_header(1.5, 0), polygon=NS(points=[NS(x=0, y=0), NS(x=9, y=9)]))),
    lambda: request_from_detection(NS(header=_header(0, 0), bbox=NS(center=None, size_x=1, size_y=1))),
], ids=["text field", "missing number", "no points", "float stamp", "no centre"])
def test_malformed_fields_raise_init_request_errors(make):
    with pytest.raises(InitRequestError):
        make()
