"""Init messages -> validated target boxes ``(x, y, w, h)``.

Three inputs start (or restart) tracking:

* ``sensor_msgs/RegionOfInterest`` -- ``x_offset, y_offset, width, height``; applied to the newest
  frame. (ROS reads an all-zero ROI as "the whole image"; as a target it is rejected.)
* ``geometry_msgs/PolygonStamped`` -- two opposite corners (any order) or four corners (the
  axis-aligned box around them); the header stamp names the frame the box was drawn on.
* ``vision_msgs/Detection2D`` -- ``bbox.center`` and ``size_x``/``size_y`` (the rotation
  ``theta`` is ignored: the tracker works with axis-aligned boxes); its header stamp names
  the frame, as for the polygon.

Messages are read by field name only, so rclpy and rosbags messages both work. Every
rejection raises :class:`InitRequestError` saying what was wrong (missing fields, text or
out-of-float-range numbers, stamps before 1970 or with ``nanosec`` >= 1e9 included; fuzzed in
``test/ros/test_fuzz_messages.py``); the box itself is checked by the tracker contract's
:func:`cfvgg_ros.core.check_box`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cfvgg_ros.core import TrackerError, check_box
from cfvgg_ros.ros.stamps import NS_PER_S, stamp_to_ns

Box = tuple[float, float, float, float]
MIN_SIDE_PX = 2.0  # a box must keep at least this many pixels per side inside the frame


class InitRequestError(ValueError):
    """An init message that cannot give a target box (says why)."""


@dataclass(frozen=True)
class InitRequest:
    """A box to (re)initialise on: on the frame stamped ``stamp_ns``, or on the newest frame
    when ``stamp_ns`` is None. ``source`` names the input (for logs and status)."""

    box: Box
    source: str
    stamp_ns: int | None = None


def check_box_values(box) -> Box:
    """Four finite numbers with positive width and height (:func:`cfvgg_ros.core.check_box`),
    else :class:`InitRequestError`."""
    try:
        return check_box(box)
    except TrackerError as exc:
        raise InitRequestError(str(exc)) from exc


def fit_box_to_frame(box, width: int, height: int) -> Box:
    """Clip a valid box to a ``width`` x ``height`` frame. Raises :class:`InitRequestError` when
    the box lies outside the frame or keeps less than ``MIN_SIDE_PX`` pixels per side in it."""
    x, y, w, h = check_box_values(box)
    fw, fh = _number(width, "frame width"), _number(height, "frame height")
    if not fw > 0 or not fh > 0:
        raise InitRequestError(f"frame has zero size ({width}x{height})")
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, fw), min(y + h, fh)
    if x1 <= x0 or y1 <= y0:
        raise InitRequestError(f"box (x, y, w, h) = {(x, y, w, h)} lies outside the {width}x{height} frame")
    if x1 - x0 < MIN_SIDE_PX or y1 - y0 < MIN_SIDE_PX:
        raise InitRequestError(
            f"box (x, y, w, h) = {(x, y, w, h)} keeps only {x1 - x0:g}x{y1 - y0:g} px inside the "
            f"{width}x{height} frame (at least {MIN_SIDE_PX:g} px per side needed)"
        )
    return (x0, y0, x1 - x0, y1 - y0)


def _number(value, what: str) -> float:
    """A message field as a float; text, None and numbers beyond the float range are rejected."""
    if isinstance(value, (str, bytes, bytearray)) or value is None:
        raise InitRequestError(f"{what} is not a number: {_short(value)}")
    try:
        return float(value)
    except OverflowError:
        raise InitRequestError(f"{what} is out of range: {_short(value)}") from None
    except (TypeError, ValueError) as exc:
        raise InitRequestError(f"{what} is not a number: {_short(value)} ({exc})") from None


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} characters)"


def _field(msg, path: str, kind: str):
    """``msg.<path>`` (dotted), else :class:`InitRequestError` naming the missing field."""
    value = msg
    for name in path.split("."):
        try:
            value = getattr(value, name)
        except AttributeError:
            raise InitRequestError(f"{kind} has no field {path!r}") from None
    return value


def stamp_ns_of(msg, kind: str) -> int | None:
    """The header stamp of an init message in ns, None for a zero stamp ("the newest frame").
    A stamp must be integer ``sec`` >= 0 and ``nanosec`` in [0, 1e9), else :class:`InitRequestError`;
    future and past stamps are the frame buffer's business."""
    stamp = _field(msg, "header.stamp", kind)
    try:
        sec, nanosec = (getattr(stamp, name) for name in ("sec", "nanosec"))
    except AttributeError:
        raise InitRequestError(f"{kind} header stamp has no sec / nanosec") from None
    if not all(hasattr(v, "__index__") and not isinstance(v, (bool, float)) for v in (sec, nanosec)):
        raise InitRequestError(f"{kind} header stamp is not integer sec / nanosec: {_short(sec)}, {_short(nanosec)}")
    if not 0 <= nanosec.__index__() < NS_PER_S or sec.__index__() < 0:
        raise InitRequestError(
            f"{kind} header stamp sec={_short(sec)}, nanosec={_short(nanosec)} is invalid "
            "(sec >= 0 and 0 <= nanosec < 1e9 needed)"
        )
    return stamp_to_ns(stamp) or None


def box_from_roi(msg) -> Box:
    """Box of a sensor_msgs/RegionOfInterest."""
    box = tuple(
        _number(_field(msg, name, "RegionOfInterest"), f"RegionOfInterest {name}")
        for name in ("x_offset", "y_offset", "width", "height")
    )
    if box[2] == 0 and box[3] == 0:
        raise InitRequestError("RegionOfInterest has zero area (width = height = 0: 'whole image' in ROS)")
    return check_box_values(box)


def box_from_polygon(msg) -> Box:
    """Axis-aligned box of a geometry_msgs/Polygon(Stamped) with two or four corners."""
    polygon = getattr(msg, "polygon", msg)
    try:
        points = list(_field(polygon, "points", "polygon"))
    except TypeError:
        raise InitRequestError("polygon points are not a list of corners") from None
    if len(points) not in (2, 4):
        raise InitRequestError(f"polygon must have 2 corners (opposite) or 4, got {len(points)}")
    xs = [_number(_field(p, "x", "polygon corner"), f"polygon corner {i} x") for i, p in enumerate(points)]
    ys = [_number(_field(p, "y", "polygon corner"), f"polygon corner {i} y") for i, p in enumerate(points)]
    if not all(math.isfinite(v) for v in xs + ys):
        raise InitRequestError(f"polygon has NaN or infinite corners: {list(zip(xs, ys, strict=True))}")
    return check_box_values((min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))


def box_from_detection(msg) -> Box:
    """Box of a vision_msgs/Detection2D (centre + size; ``theta`` ignored)."""
    centre = _field(msg, "bbox.center", "Detection2D")
    position = getattr(centre, "position", centre)  # Jazzy: center.position.x; older: center.x
    cx = _number(_field(position, "x", "Detection2D bbox.center"), "Detection2D centre x")
    cy = _number(_field(position, "y", "Detection2D bbox.center"), "Detection2D centre y")
    w = _number(_field(msg, "bbox.size_x", "Detection2D"), "Detection2D size_x")
    h = _number(_field(msg, "bbox.size_y", "Detection2D"), "Detection2D size_y")
    if not all(math.isfinite(v) for v in (cx, cy, w, h)):
        raise InitRequestError(f"detection has NaN or infinite values: centre {(cx, cy)}, size {(w, h)}")
    return check_box_values((cx - w / 2.0, cy - h / 2.0, w, h))


def request_from_roi(msg, source: str = "init_bbox") -> InitRequest:
    """Request on the newest frame."""
    return InitRequest(box_from_roi(msg), source, None)


def request_from_polygon(msg, source: str = "init_bbox_stamped") -> InitRequest:
    """Request on the frame named by the header stamp (a zero stamp means the newest frame)."""
    return InitRequest(box_from_polygon(msg), source, stamp_ns_of(msg, "PolygonStamped"))


def request_from_detection(msg, source: str = "init_detection") -> InitRequest:
    """Request on the frame named by the header stamp (a zero stamp means the newest frame)."""
    return InitRequest(box_from_detection(msg), source, stamp_ns_of(msg, "Detection2D"))
