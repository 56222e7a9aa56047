"""sensor_msgs/CompressedImage decoding (image_transport "compressed"): jpeg and png, colour and
grey, round trips; the size is read from the header and checked before decoding; every malformed
message (fuzzed: arbitrary bytes, cut and corrupted real images, lying headers) gives an
ImageConversionError with a reason, never another exception. Deterministic (``derandomize``)."""

from __future__ import annotations

import struct
import zlib
from types import SimpleNamespace as NS

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cfvgg_ros.ros.conversions import (
    ImageConversionError,
    compressed_size,
    compressed_to_rgb,
    rgb_to_compressed,
)

FRAME = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
FUZZ = settings(derandomize=True, max_examples=400, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])


def _encoded(fmt: str, frame=FRAME) -> bytes:
    return rgb_to_compressed(frame, NS(format="", data=b""), fmt).data


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_round_trip(fmt):
    msg = rgb_to_compressed(FRAME, NS(format="", data=b""), fmt)
    assert fmt in msg.format and compressed_size(msg.data) == (fmt, 64, 48)
    out = compressed_to_rgb(msg)
    assert out.shape == (48, 64, 3) and out.dtype == np.uint8
    if fmt == "png":
        assert np.array_equal(out, FRAME)  # lossless, and RGB order kept


def test_grey_png_becomes_rgb_and_format_strings_of_image_transport():
    ok, grey = cv2.imencode(".png", FRAME[:, :, 0])
    out = compressed_to_rgb(NS(format="mono8; png compressed ", data=grey.tobytes()))
    assert out.shape == (48, 64, 3) and np.array_equal(out[:, :, 0], FRAME[:, :, 0])
    assert compressed_to_rgb(NS(format="bgr8; jpeg compressed bgr8", data=_encoded("jpeg"))).shape == (48, 64, 3)


def test_size_limit_before_decoding():
    with pytest.raises(ImageConversionError, match="jpeg image 64x48 has 3072 pixels, more than the limit of 3000"):
        compressed_to_rgb(NS(format="jpeg", data=_encoded("jpeg")), max_pixels=3000)
    # a png header claiming 100000 x 100000 over a few bytes: refused from the header alone
    ihdr = (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 100000, 100000)
            + b"\x08\x02\0\0\0")
    with pytest.raises(ImageConversionError, match="more than the limit"):
        compressed_to_rgb(NS(format="png", data=ihdr + struct.pack(">I", zlib.crc32(ihdr[12:]))))
    with pytest.raises(ImageConversionError, match="larger than any image within the limit"):
        compressed_to_rgb(NS(format="png", data=b"\0" * 6000), max_pixels=1000)


@pytest.mark.parametrize("msg, reason", [
    (NS(format="tiff", data=b"II*\0"), "unsupported compressed format 'tiff'"),
    (NS(format="jpeg", data=b""), "neither png nor jpeg"),
    (NS(format="jpeg", data=12), "not a contiguous byte buffer"),
    (NS(format="png", data=b"\x89PNG\r\n\x1a\n\0\0\0\rXXXX"), "png data has no IHDR header"),
    (NS(format="jpeg", data=b"\xff\xd8\xff\xda\0\x08"), "no frame header"),
])
def test_malformed_messages(msg, reason):
    with pytest.raises(ImageConversionError, match=reason):
        compressed_to_rgb(msg)


def _check(msg) -> None:
    try:
        out = compressed_to_rgb(msg, max_pixels=512 * 512)
    except ImageConversionError as exc:
        assert str(exc)
        return
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


@FUZZ
@given(st.binary(max_size=4096), st.sampled_from(["jpeg", "png", "rgb8; jpeg compressed bgr8", "x"]))
def test_fuzz_arbitrary_bytes(data, fmt):
    _check(NS(format=fmt, data=data))


@FUZZ
@given(st.sampled_from(["jpeg", "png"]), st.integers(0, 10_000), st.binary(min_size=1, max_size=16),
       st.booleans())
def test_fuzz_cut_and_corrupted_images(fmt, position, patch, cut):
    data = bytearray(_encoded(fmt))
    position %= len(data)
    if cut:
        data = data[:position]
    else:
        data[position:position + len(patch)] = patch
    _check(NS(format=fmt, data=bytes(data)))
