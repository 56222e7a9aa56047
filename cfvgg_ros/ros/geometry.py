"""Camera geometry for the target pose: the unit bearing ray to a pixel.

With a calibrated camera (sensor_msgs/CameraInfo ``K``, ``D``, ``distortion_model``), the
box centre is undistorted and back-projected to the unit ray ``r = (x, y, 1) / ||(x, y, 1)||``
in the camera optical frame (z forward, x right, y down); the orientation is the shortest
rotation taking the optical axis ``(0, 0, 1)`` onto ``r``.
"""

from __future__ import annotations

import math

import numpy as np


def box_center(box) -> tuple[float, float]:
    """Centre (u, v) of an (x, y, w, h) box in pixel coordinates."""
    x, y, w, h = box
    return x + w / 2.0, y + h / 2.0


def bearing_ray(u: float, v: float, K, D=None, distortion_model: str = "plumb_bob") -> np.ndarray:
    """Unit ray in the optical frame through pixel (u, v), distortion removed."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    D = np.zeros(0) if D is None else np.asarray(D, dtype=np.float64).ravel()
    if D.size and np.any(D != 0):
        import cv2

        pts = np.array([[[u, v]]], dtype=np.float64)
        if distortion_model == "equidistant":
            x, y = cv2.fisheye.undistortPoints(pts, K, D[:4]).ravel()
        else:
            x, y = cv2.undistortPoints(pts, K, D).ravel()
    else:
        x = (u - K[0, 2] - K[0, 1] * (v - K[1, 2]) / K[1, 1]) / K[0, 0]
        y = (v - K[1, 2]) / K[1, 1]
    ray = np.array([x, y, 1.0])
    return ray / np.linalg.norm(ray)


def quaternion_from_z_to(ray: np.ndarray) -> tuple[float, float, float, float]:
    """(x, y, z, w) quaternion of the shortest rotation taking (0, 0, 1) onto unit ``ray``."""
    rx, ry, rz = (float(c) for c in ray)
    # q = (z × r, 1 + z·r), normalised; z × r = (-ry, rx, 0)
    w = 1.0 + rz
    if w < 1e-12:  # ray points backwards: rotate 180° about x
        return (1.0, 0.0, 0.0, 0.0)
    norm = math.sqrt(ry * ry + rx * rx + w * w)
    return (-ry / norm, rx / norm, 0.0, w / norm)
