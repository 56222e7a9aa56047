"""sensor_msgs/Image <-> numpy without cv_bridge.

Handles rgb8, bgr8, rgba8, bgra8 and mono8 (and their 16-bit-free aliases), honours the
``step`` row padding and rejects anything else with :class:`ImageConversionError`.
Works on rclpy messages and on any object with the same fields (rosbags messages too).
"""

from __future__ import annotations

import numpy as np

# encoding -> channels per pixel
ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "8UC3": 3, "8UC1": 1}


# OpenCV conversion to RGB per encoding (rgb8 needs none)
_TO_RGB = {
    "bgr8": "COLOR_BGR2RGB",
    "8UC3": "COLOR_BGR2RGB",  # OpenCV's default channel order is BGR
    "rgba8": "COLOR_RGBA2RGB",
    "bgra8": "COLOR_BGRA2RGB",
    "mono8": "COLOR_GRAY2RGB",
    "8UC1": "COLOR_GRAY2RGB",
}


class ImageConversionError(ValueError):
    """An Image message that cannot be turned into an RGB frame (says why)."""


def image_to_rgb(msg) -> np.ndarray:
    """Decode a sensor_msgs/Image into an HxWx3 uint8 RGB array (a copy)."""
    encoding = str(msg.encoding)
    if encoding not in ENCODINGS:
        raise ImageConversionError(
            f"unsupported image encoding {encoding!r}; supported: {', '.join(ENCODINGS)}"
        )
    channels = ENCODINGS[encoding]
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ImageConversionError(f"image has zero size ({width}x{height})")
    if step < width * channels:
        raise ImageConversionError(
            f"step {step} is smaller than width*channels = {width}*{channels} for {encoding}"
        )
    data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    needed = (height - 1) * step + width * channels
    if data.size < needed:
        raise ImageConversionError(
            f"image data has {data.size} bytes, expected at least {needed} "
            f"({height} rows of step {step}, {encoding})"
        )
    # a view of the rows without their padding; one copy (OpenCV's) makes the RGB frame
    pixels = np.lib.stride_tricks.as_strided(data, shape=(height, width, channels), strides=(step, channels, 1))
    code = _TO_RGB.get(encoding)
    if code is None:  # rgb8: the pixels are already in order
        return np.array(pixels, order="C")
    import cv2

    if channels == 1:
        pixels = pixels[:, :, 0]
    return cv2.cvtColor(pixels, getattr(cv2, code))


def rgb_to_image(frame: np.ndarray, msg, encoding: str = "rgb8"):
    """Fill ``msg`` (a sensor_msgs/Image instance) from an HxWx3 uint8 RGB frame; returns it."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ImageConversionError(f"expected HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}")
    if encoding == "rgb8":
        out = frame
    elif encoding == "bgr8":
        out = frame[:, :, ::-1]
    elif encoding == "mono8":
        out = (frame @ np.array([0.299, 0.587, 0.114])).round().clip(0, 255).astype(np.uint8)[..., None]
    else:
        raise ImageConversionError(f"cannot encode as {encoding!r} (rgb8, bgr8, mono8)")
    out = np.ascontiguousarray(out)
    msg.height, msg.width = int(out.shape[0]), int(out.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 0
    msg.step = int(out.shape[1] * out.shape[2])
    msg.data = out.tobytes()
    return msg
