"""sensor_msgs/Image <-> numpy without cv_bridge.

Handles rgb8, bgr8, rgba8, bgra8 and mono8 (and their 16-bit-free aliases), honours the
``step`` row padding and rejects anything else with :class:`ImageConversionError`.
Works on rclpy messages and on any object with the same fields (rosbags messages too).

The header fields are checked before the pixel data is touched or anything is allocated: an image
larger than ``max_pixels`` (default :data:`DEFAULT_MAX_PIXELS`, 16.8 MP: 4096 x 4096, so DCI 4K
4096 x 2160 and UHD 3840 x 2160 pass) is rejected, so a header claiming 100000 x 100000 pixels
costs nothing. Any malformed field (wrong type, negative size, short buffer) raises
:class:`ImageConversionError` with the reason, never another exception (fuzzed in
``test/ros/test_fuzz_messages.py``).
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


#: default ``max_pixels`` of :func:`image_to_rgb`: 4096 x 4096 (admits DCI 4K and UHD; 50 MB as RGB)
DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageConversionError(ValueError):
    """An Image message that cannot be turned into an RGB frame (says why)."""


def _header_int(msg, field: str) -> int:
    try:
        value = getattr(msg, field)
        if isinstance(value, float) or not hasattr(value, "__index__"):
            raise TypeError(f"{type(value).__name__}")
        return int(value.__index__())
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise ImageConversionError(f"image field {field!r} is not an integer: {exc}") from None


def image_to_rgb(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/Image into an HxWx3 uint8 RGB array (a copy).

    ``max_pixels`` bounds ``width * height`` (checked from the header, before the data is read);
    larger images raise :class:`ImageConversionError`, as does every malformed message."""
    try:
        encoding = str(msg.encoding)
    except Exception as exc:  # noqa: BLE001 - a field whose __str__ fails is a malformed message
        raise ImageConversionError(f"image encoding is unreadable: {type(exc).__name__}") from None
    if encoding not in ENCODINGS:
        shown = encoding if len(encoding) <= 40 else encoding[:40] + "..."
        raise ImageConversionError(
            f"unsupported image encoding {shown!r}; supported: {', '.join(ENCODINGS)}"
        )
    channels = ENCODINGS[encoding]
    height, width, step = _header_int(msg, "height"), _header_int(msg, "width"), _header_int(msg, "step")
    if height <= 0 or width <= 0:
        what = "negative" if min(height, width) < 0 else "zero"
        raise ImageConversionError(f"image has {what} size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageConversionError(
            f"image {width}x{height} has {width * height} pixels, more than the limit of {max_pixels} "
            "(max_pixels)"
        )
    if step < width * channels:
        raise ImageConversionError(
            f"step {step} is smaller than width*channels = {width}*{channels} for {encoding}"
        )
    needed = (height - 1) * step + width * channels
    try:
        data = np.frombuffer(memoryview(msg.data).cast("B"), dtype=np.uint8)
    except (AttributeError, TypeError, ValueError) as exc:
        raise ImageConversionError(f"image data is not a contiguous byte buffer: {exc}") from None
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
