"""Image message decoding: encodings, row padding, and clear errors for malformed input."""

from types import SimpleNamespace

import numpy as np
import pytest

from cfvgg_ros.ros.conversions import ImageConversionError, image_to_rgb, rgb_to_image


def _msg(pixels: np.ndarray, encoding: str, pad: int = 0) -> SimpleNamespace:
    h, w = pixels.shape[:2]
    row = pixels.reshape(h, -1)
    padded = np.concatenate([row, np.full((h, pad), 77, np.uint8)], axis=1)
    return SimpleNamespace(height=h, width=w, encoding=encoding, is_bigendian=0,
                           step=padded.shape[1], data=padded.tobytes())


RGB = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3) * 7


@pytest.mark.parametrize("pad", [0, 5])
def test_rgb_bgr_rgba_bgra_mono(pad):
    assert np.array_equal(image_to_rgb(_msg(RGB, "rgb8", pad)), RGB)
    assert np.array_equal(image_to_rgb(_msg(RGB[:, :, ::-1].copy(), "bgr8", pad)), RGB)
    alpha = np.full((2, 3, 1), 255, np.uint8)
    assert np.array_equal(image_to_rgb(_msg(np.concatenate([RGB, alpha], 2), "rgba8", pad)), RGB)
    bgra = np.concatenate([RGB[:, :, ::-1], alpha], 2)
    assert np.array_equal(image_to_rgb(_msg(bgra, "bgra8", pad)), RGB)
    grey = RGB[:, :, 0].copy()
    out = image_to_rgb(_msg(grey, "mono8", pad))
    assert out.shape == (2, 3, 3) and np.array_equal(out[:, :, 1], grey)


def test_round_trip_through_message():
    frame = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    for enc in ("rgb8", "bgr8"):
        msg = rgb_to_image(frame, SimpleNamespace(), enc)
        assert msg.step == 15 and len(msg.data) == 60
        assert np.array_equal(image_to_rgb(msg), frame)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"encoding": "yuv422"}, "unsupported image encoding"),
        ({"encoding": "16UC1"}, "unsupported image encoding"),
        ({"height": 0}, "zero size"),
        ({"step": 4}, "smaller than width"),
        ({"data": b"\x00" * 10}, "expected at least"),
    ],
)
def test_malformed_images_raise_clear_errors(change, message):
    msg = _msg(RGB, "rgb8")
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ImageConversionError, match=message):
        image_to_rgb(msg)
