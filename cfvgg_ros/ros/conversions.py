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


# -- sensor_msgs/CompressedImage (image_transport's "compressed" format) ----------------------------
#: compressed formats accepted (the image_transport "compressed" plug-in writes e.g. "rgb8; jpeg
#: compressed bgr8" or just "jpeg"; the data's own signature decides, the format string must name one)
COMPRESSED_FORMATS = ("jpeg", "jpg", "png")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def compressed_size(data: bytes) -> tuple[str, int, int]:
    """(kind, width, height) read from a PNG or JPEG header without decoding anything;
    :class:`ImageConversionError` when ``data`` is neither or its header is cut short."""
    if data[:8] == _PNG_SIGNATURE:
        if len(data) < 24 or data[12:16] != b"IHDR":
            raise ImageConversionError("png data has no IHDR header")
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:2] == b"\xff\xd8":
        pos, size = 2, len(data)
        while pos + 4 <= size:
            if data[pos] != 0xFF:
                raise ImageConversionError(f"jpeg data has no marker at byte {pos}")
            marker = data[pos + 1]
            if marker == 0xFF:  # fill byte
                pos += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
                pos += 2
                continue
            length = int.from_bytes(data[pos + 2:pos + 4], "big")
            if length < 2:
                raise ImageConversionError(f"jpeg segment at byte {pos} has length {length}")
            if marker in _JPEG_SOF:
                if pos + 9 > size:
                    break
                height = int.from_bytes(data[pos + 5:pos + 7], "big")
                width = int.from_bytes(data[pos + 7:pos + 9], "big")
                return "jpeg", width, height
            if marker == 0xDA:  # start of scan before any frame header
                break
            pos += 2 + length
        raise ImageConversionError("jpeg data has no frame header (SOF) before its scan or end")
    raise ImageConversionError(f"compressed data is neither png nor jpeg (starts with {bytes(data[:8]).hex()})")


def compressed_to_rgb(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode a sensor_msgs/CompressedImage (jpeg or png, colour or grey) into an HxWx3 uint8 RGB
    array with OpenCV. The size is read from the data's header and checked against ``max_pixels``
    (and the data length against that image's raw size) before anything is decoded; every
    malformed message raises :class:`ImageConversionError` with the reason."""
    try:
        fmt = str(msg.format).lower()
    except Exception as exc:  # noqa: BLE001 - a field whose __str__ fails is a malformed message
        raise ImageConversionError(f"compressed image format is unreadable: {type(exc).__name__}") from None
    if not any(name in fmt for name in COMPRESSED_FORMATS):
        shown = fmt if len(fmt) <= 40 else fmt[:40] + "..."
        raise ImageConversionError(f"unsupported compressed format {shown!r}; supported: jpeg, png")
    try:
        data = memoryview(msg.data).cast("B")
    except (AttributeError, TypeError, ValueError) as exc:
        raise ImageConversionError(f"compressed data is not a contiguous byte buffer: {exc}") from None
    if len(data) > 4 * max_pixels + 1024:  # 16-bit RGBA png at the limit, plus headers
        raise ImageConversionError(f"compressed data of {len(data)} bytes is larger than any image within the limit "
                                   f"of {max_pixels} pixels (max_pixels)")
    kind, width, height = compressed_size(bytes(data[:65536]))
    if width <= 0 or height <= 0:
        raise ImageConversionError(f"{kind} header gives zero size ({width}x{height})")
    if width * height > max_pixels:
        raise ImageConversionError(f"{kind} image {width}x{height} has {width * height} pixels, more than the limit "
                                   f"of {max_pixels} (max_pixels)")
    import cv2

    buffer = np.frombuffer(data, dtype=np.uint8)
    try:
        decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)  # BGR, 8 bit
    except cv2.error as exc:
        raise ImageConversionError(f"{kind} data cannot be decoded: {str(exc).strip().splitlines()[-1]}") from None
    if decoded is None or decoded.ndim != 3 or decoded.shape[:2] != (height, width):
        raise ImageConversionError(f"{kind} data ({len(data)} bytes, header {width}x{height}) cannot be decoded")
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def rgb_to_compressed(frame: np.ndarray, msg, fmt: str = "jpeg", quality: int = 90):
    """Fill ``msg`` (a sensor_msgs/CompressedImage) from an HxWx3 uint8 RGB frame; returns it."""
    import cv2

    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ImageConversionError(f"expected HxWx3 uint8 RGB, got {frame.shape} {frame.dtype}")
    ext, params = (".png", []) if fmt == "png" else (".jpg", [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    ok, encoded = cv2.imencode(ext, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageConversionError(f"cannot encode as {fmt}")
    msg.format = f"rgb8; {fmt} compressed bgr8"
    msg.data = encoded.tobytes()
    return msg
