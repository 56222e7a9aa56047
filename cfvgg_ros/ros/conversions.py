"""sensor_msgs/Image <-> numpy without cv_bridge.

Handles rgb8, bgr8, rgba8, bgra8 and mono8 (and their 16-bit-free aliases), honours the
``step`` row padding and rejects anything else with :class:`ImageConversionError`.
Works on rclpy messages and on any object with the same fields (rosbags messages too).
"""

from __future__ import annotations

import numpy as np

# encoding -> (channels, conversion to RGB as channel indices, or "grey")
ENCODINGS = {
    "rgb8": (3, (0, 1, 2)),
    "bgr8": (3, (2, 1, 0)),
    "rgba8": (4, (0, 1, 2)),
    "bgra8": (4, (2, 1, 0)),
    "mono8": (1, "grey"),
    "8UC3": (3, (2, 1, 0)),  # OpenCV's default channel order is BGR
    "8UC1": (1, "grey"),
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
    channels, order = ENCODINGS[encoding]
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
    rows = np.lib.stride_tricks.as_strided(data, shape=(height, width * channels), strides=(step, 1))
    pixels = rows.reshape(height, width, channels)
    if order == "grey":
        return np.repeat(pixels, 3, axis=2)
    return np.ascontiguousarray(pixels[:, :, list(order)])


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
