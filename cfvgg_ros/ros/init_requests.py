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
rejection raises :class:`InitRequestError` saying what was wrong; the box itself is checked by
the tracker contract's :func:`cfvgg_ros.core.check_box`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cfvgg_ros.core import TrackerError, check_box
from cfvgg_ros.ros.stamps import stamp_to_ns

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
    if width <= 0 or height <= 0:
        raise InitRequestError(f"frame has zero size ({width}x{height})")
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, float(width)), min(y + h, float(height))
    if x1 <= x0 or y1 <= y0:
        raise InitRequestError(f"box (x, y, w, h) = {(x, y, w, h)} lies outside the {width}x{height} frame")
    if x1 - x0 < MIN_SIDE_PX or y1 - y0 < MIN_SIDE_PX:
        raise InitRequestError(
            f"box (x, y, w, h) = {(x, y, w, h)} keeps only {x1 - x0:g}x{y1 - y0:g} px inside the "
            f"{width}x{height} frame (at least {MIN_SIDE_PX:g} px per side needed)"
        )
    return (x0, y0, x1 - x0, y1 - y0)


def box_from_roi(msg) -> Box:
    """Box of a sensor_msgs/RegionOfInterest."""
    box = (float(msg.x_offset), float(msg.y_offset), float(msg.width), float(msg.height))
    if box[2] == 0 and box[3] == 0:
        raise InitRequestError("RegionOfInterest has zero area (width = height = 0: 'whole image' in ROS)")
    return check_box_values(box)


def box_from_polygon(msg) -> Box:
    """Axis-aligned box of a geometry_msgs/Polygon(Stamped) with two or four corners."""
    polygon = getattr(msg, "polygon", msg)
    points = list(polygon.points)
    if len(points) not in (2, 4):
        raise InitRequestError(f"polygon must have 2 corners (opposite) or 4, got {len(points)}")
    xs, ys = [float(p.x) for p in points], [float(p.y) for p in points]
    if not all(math.isfinite(v) for v in xs + ys):
        raise InitRequestError(f"polygon has NaN or infinite corners: {list(zip(xs, ys, strict=True))}")
    return check_box_values((min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)))


def box_from_detection(msg) -> Box:
    """Box of a vision_msgs/Detection2D (centre + size; ``theta`` ignored)."""
    bbox = msg.bbox
    centre = bbox.center
    position = getattr(centre, "position", centre)  # Jazzy: center.position.x; older: center.x
    cx, cy = float(position.x), float(position.y)
    w, h = float(bbox.size_x), float(bbox.size_y)
    if not all(math.isfinite(v) for v in (cx, cy, w, h)):
        raise InitRequestError(f"detection has NaN or infinite values: centre {(cx, cy)}, size {(w, h)}")
    return check_box_values((cx - w / 2.0, cy - h / 2.0, w, h))


def request_from_roi(msg, source: str = "init_bbox") -> InitRequest:
    """Request on the newest frame."""
    return InitRequest(box_from_roi(msg), source, None)


def request_from_polygon(msg, source: str = "init_bbox_stamped") -> InitRequest:
    """Request on the frame named by the header stamp (a zero stamp means the newest frame)."""
    return InitRequest(box_from_polygon(msg), source, stamp_to_ns(msg.header.stamp) or None)


def request_from_detection(msg, source: str = "init_detection") -> InitRequest:
    """Request on the frame named by the header stamp (a zero stamp means the newest frame)."""
    return InitRequest(box_from_detection(msg), source, stamp_to_ns(msg.header.stamp) or None)
