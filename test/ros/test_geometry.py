"""Bearing ray and its quaternion against hand-computed values."""

import math

import numpy as np

from cfvgg_ros.ros.geometry import bearing_ray, box_center, quaternion_from_z_to

K = [500.0, 0.0, 320.0, 0.0, 500.0, 240.0, 0.0, 0.0, 1.0]


def test_principal_point_is_the_optical_axis():
    assert np.allclose(bearing_ray(320, 240, K), [0, 0, 1])
    assert np.allclose(quaternion_from_z_to(np.array([0.0, 0.0, 1.0])), [0, 0, 0, 1])


def test_pixel_500_right_is_45_degrees():
    ray = bearing_ray(820, 240, K)
    assert np.allclose(ray, [math.sqrt(0.5), 0, math.sqrt(0.5)])
    q = quaternion_from_z_to(ray)  # 45° about +y
    assert np.allclose(q, [0, math.sin(math.pi / 8), 0, math.cos(math.pi / 8)])


def test_quaternion_rotates_axis_onto_ray():
    ray = bearing_ray(100, 400, K)
    x, y, z, w = quaternion_from_z_to(ray)
    R = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
    assert np.allclose(R @ [0, 0, 1], ray)


def test_distortion_is_removed():
    D = [-0.2, 0.05, 0.0, 0.0, 0.0]
    import cv2

    # distort a known normalised point, then check the ray recovers it
    point = np.array([[[0.3, -0.2, 1.0]]])
    pix, _ = cv2.projectPoints(point, np.zeros(3), np.zeros(3), np.array(K).reshape(3, 3), np.array(D))
    u, v = pix.ravel()
    ray = bearing_ray(u, v, K, D)
    expected = np.array([0.3, -0.2, 1.0]) / np.linalg.norm([0.3, -0.2, 1.0])
    assert np.allclose(ray, expected, atol=1e-5)


def test_box_center():
    assert box_center((10, 20, 30, 40)) == (25.0, 40.0)
