"""The tracking node's output messages, built from plain values (no node needed).

For a tracked box ``(x, y, w, h)`` on an image with header ``header``
(:func:`result_messages`):

* ``target_pose`` (geometry_msgs/PoseStamped, :func:`pose_msg`): with camera intrinsics, the unit
  bearing ray to the box centre in the optical frame (distortion removed) as position and the
  rotation from the optical axis onto it as orientation; without, the pixel centre ``(u, v, 0)``
  and the identity rotation;
* ``target_roi`` (sensor_msgs/RegionOfInterest, :func:`roi_msg`): the whole pixels the box
  touches, clipped to the image;
* ``target_box`` (geometry_msgs/PolygonStamped, :func:`polygon_msg`): the 4 corners, clockwise
  from the top-left (image coordinates);
* ``target_detection`` (vision_msgs/Detection2D, :func:`detection_msg`, only when vision_msgs is
  importable: :data:`Detection2D` is None otherwise): centre, size and the score (1 when NaN).

Besides: ``~/debug_image`` (:func:`debug_image_msg`, the frame with the box and state drawn) and
``~/status`` (:func:`status_msg`, a DiagnosticArray with one DiagnosticStatus of key/values).
Every output carries the tracked image's header, so a consumer matches results to frames by stamp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point32, PolygonStamped, PoseStamped
from sensor_msgs.msg import Image, RegionOfInterest

from cfvgg_ros.ros.conversions import rgb_to_image
from cfvgg_ros.ros.geometry import bearing_ray, box_center, quaternion_from_z_to

try:  # only on a full ROS install
    from vision_msgs.msg import Detection2D, ObjectHypothesisWithPose
except ImportError:  # pragma: no cover - depends on the environment
    Detection2D = ObjectHypothesisWithPose = None

TRACKING_COLOUR = (0, 255, 0)  # RGB of the debug box while TRACKING
OTHER_COLOUR = (255, 0, 0)  # ... in any other state
TEXT_COLOUR = (255, 255, 0)
DISTORTION_SIZES = (0, 4, 5, 8, 12, 14)  # coefficient counts cv2.undistortPoints accepts


@dataclass(frozen=True)
class CameraModel:
    """What the pose needs of a sensor_msgs/CameraInfo: ``k`` (3x3 row-major), ``d`` and the
    distortion model name."""

    k: tuple
    d: tuple = ()
    distortion_model: str = "plumb_bob"

    @classmethod
    def from_camera_info(cls, msg) -> CameraModel:
        """The model of a sensor_msgs/CameraInfo; ValueError when its K is not a camera matrix
        (9 finite values, positive focal lengths) or its D is not one OpenCV can undistort with
        (finite; 0, 4, 5, 8, 12 or 14 coefficients, at least 4 for ``equidistant``): a camera_info
        that every later pose would fail on is refused when it arrives (found by
        ``benchmarks/dds_fuzz.py``)."""
        k = np.asarray(msg.k, dtype=np.float64)
        if k.size != 9 or not np.all(np.isfinite(k)) or k[0] <= 0 or k[4] <= 0:
            raise ValueError(f"K = {k.tolist()} is not a valid camera matrix")
        d = np.asarray(msg.d, dtype=np.float64).ravel()
        model = msg.distortion_model or "plumb_bob"
        sizes = "at least 4" if model == "equidistant" else "0, 4, 5, 8, 12 or 14"
        if not np.all(np.isfinite(d)) or not (d.size >= 4 if model == "equidistant" else d.size in DISTORTION_SIZES):
            raise ValueError(f"D = {d.tolist()[:16]} is not a valid {model!r} distortion ({sizes} finite coefficients)")
        return cls(tuple(msg.k), tuple(msg.d), model)


@dataclass(frozen=True)
class ResultMessages:
    """The messages of one tracked frame (``detection`` None without vision_msgs)."""

    pose: PoseStamped
    roi: RegionOfInterest
    polygon: PolygonStamped
    detection: object | None


def pose_msg(header, box, camera: CameraModel | None = None) -> PoseStamped:
    """PoseStamped of the box centre: the bearing ray with ``camera``, else the pixel centre."""
    u, v = box_center(tuple(float(c) for c in box))
    pose = PoseStamped()
    pose.header = header
    if camera is not None:
        ray = bearing_ray(u, v, camera.k, camera.d, camera.distortion_model)
        qx, qy, qz, qw = quaternion_from_z_to(ray)
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(c) for c in ray)
        pose.pose.orientation.x, pose.pose.orientation.y = qx, qy
        pose.pose.orientation.z, pose.pose.orientation.w = qz, qw
    else:
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = u, v, 0.0
        pose.pose.orientation.w = 1.0
    return pose


def roi_msg(box, width: int, height: int) -> RegionOfInterest:
    """RegionOfInterest of the pixels the box touches (floor / ceil), clipped to ``width`` x ``height``."""
    x, y, w, h = (float(c) for c in box)
    roi = RegionOfInterest()
    x0, y0 = min(max(int(math.floor(x)), 0), width), min(max(int(math.floor(y)), 0), height)
    x1, y1 = min(max(int(math.ceil(x + w)), x0), width), min(max(int(math.ceil(y + h)), y0), height)
    roi.x_offset, roi.y_offset, roi.width, roi.height = x0, y0, x1 - x0, y1 - y0
    return roi


def polygon_msg(header, box) -> PolygonStamped:
    """PolygonStamped of the box's corners: top-left, top-right, bottom-right, bottom-left."""
    x, y, w, h = (float(c) for c in box)
    polygon = PolygonStamped()
    polygon.header = header
    polygon.polygon.points = [Point32(x=px, y=py, z=0.0)
                              for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
    return polygon


def detection_msg(header, box, score: float, tracker: str):
    """Detection2D of the box (id = the tracker's name, class "target", score 1 when NaN); None
    when vision_msgs is not importable."""
    if Detection2D is None:
        return None
    x, y, w, h = (float(c) for c in box)
    u, v = box_center((x, y, w, h))
    det = Detection2D()
    det.header = header
    det.id = str(tracker)
    centre = det.bbox.center
    position = getattr(centre, "position", centre)  # Jazzy: center.position.x; older: center.x
    position.x, position.y = u, v
    det.bbox.size_x, det.bbox.size_y = w, h
    hypothesis = ObjectHypothesisWithPose()
    target = getattr(hypothesis, "hypothesis", hypothesis)
    target.class_id = "target"
    target.score = float(score) if math.isfinite(score) else 1.0
    det.results.append(hypothesis)
    return det


def result_messages(header, box, score: float, width: int, height: int, camera: CameraModel | None,
                    tracker: str) -> ResultMessages:
    """Every result message of one tracked frame of ``width`` x ``height`` pixels."""
    return ResultMessages(pose=pose_msg(header, box, camera), roi=roi_msg(box, width, height),
                          polygon=polygon_msg(header, box), detection=detection_msg(header, box, score, tracker))


def debug_image_msg(header, frame: np.ndarray, state: str, box=None, score: float | None = None) -> Image:
    """rgb8 Image of ``frame`` (RGB, not modified) with ``box`` drawn (green while TRACKING, else
    red) and the state (and score) written in the top-left corner."""
    import cv2

    frame = frame.copy()
    if box is not None:
        x, y, w, h = box
        colour = TRACKING_COLOUR if state == "TRACKING" else OTHER_COLOUR
        cv2.rectangle(frame, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), colour, 2)
    text = state if score is None else f"{state} {score:.2f}"
    cv2.putText(frame, text, (5, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, TEXT_COLOUR, 1, cv2.LINE_AA)
    msg = rgb_to_image(frame, Image(), "rgb8")
    msg.header = header
    return msg


def status_msg(stamp, name: str, level: int, message: str, hardware_id: str,
               values: list[tuple[str, str]]) -> DiagnosticArray:
    """DiagnosticArray stamped ``stamp`` with one DiagnosticStatus (``level`` 0 OK, 1 WARN, ...)."""
    array = DiagnosticArray()
    array.header.stamp = stamp
    status = DiagnosticStatus()
    status.level = bytes([level])
    status.name = name
    status.message = message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=k, value=v) for k, v in values]
    array.status = [status]
    return array
