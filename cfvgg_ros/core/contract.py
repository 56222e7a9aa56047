"""The tracker contract every tracker in this project (and every peer) implements.

Frames are HxWx3 uint8 **RGB** numpy arrays; boxes are ``(x, y, w, h)`` floats in 0-based
pixel coordinates (x, y = top-left corner).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass

import numpy as np


class TrackerError(ValueError):
    """Raised for invalid tracker input (bad frame, bad box, update before init)."""


@dataclass(frozen=True)
class TrackResult:
    """Output of :meth:`Tracker.update`: the box ``(x, y, w, h)`` and a confidence score
    (higher is surer; its scale depends on the tracker)."""

    box: tuple[float, float, float, float]
    score: float


def check_frame(frame) -> np.ndarray:
    """Validate an RGB frame: HxWx3 uint8 with H, W > 0. Returns it as an ndarray."""
    if not isinstance(frame, np.ndarray):
        raise TrackerError(f"frame must be a numpy array, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise TrackerError(f"frame must be HxWx3 RGB, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        raise TrackerError(f"frame must be uint8, got {frame.dtype}")
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise TrackerError(f"frame is empty: shape {frame.shape}")
    return frame


def check_box(box, frame_shape=None) -> tuple[float, float, float, float]:
    """Validate an init box: four finite numbers, positive width and height, and (when
    ``frame_shape`` is given) overlapping the frame. Returns it as a float tuple."""
    if isinstance(box, (str, bytes, bytearray)):  # iterable, but not four numbers
        raise TrackerError(f"box must be four numbers (x, y, w, h), got {_short_repr(box)}")
    try:
        x, y, w, h = (float(v) for v in box)
    except OverflowError as exc:  # an int beyond the float range
        raise TrackerError(f"box has values beyond the float range: {_short_repr(box)}") from exc
    except (TypeError, ValueError) as exc:
        raise TrackerError(f"box must be four numbers (x, y, w, h), got {_short_repr(box)}") from exc
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        raise TrackerError(f"box has non-finite (NaN or infinite) values: (x, y, w, h) = {(x, y, w, h)}")
    if w < 0 or h < 0:
        raise TrackerError(f"box has negative size: w={w:g}, h={h:g} (width and height must be positive)")
    if w == 0 or h == 0:
        raise TrackerError(f"box has zero area: w={w:g}, h={h:g} (width and height must be positive)")
    if frame_shape is not None:
        fh, fw = frame_shape[:2]
        if x >= fw or y >= fh or x + w <= 0 or y + h <= 0:
            raise TrackerError(f"box {(x, y, w, h)} lies outside the {fw}x{fh} frame")
    return (x, y, w, h)


def _short_repr(value, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit // 2]}...{text[-limit // 2 :]}"


class Tracker(abc.ABC):
    """Single-target tracker: ``init(frame, box)`` once, then ``update(frame)`` per frame.

    Subclasses implement :meth:`_init` and :meth:`_update`; the public methods validate
    input and enforce the call order.
    """

    name: str = "tracker"

    def __init__(self) -> None:
        self._initialised = False

    @property
    def initialised(self) -> bool:
        return self._initialised

    def init(self, frame: np.ndarray, box) -> None:
        """Start tracking the target at ``box`` (x, y, w, h) in ``frame`` (HxWx3 RGB uint8)."""
        frame = check_frame(frame)
        box = check_box(box, frame.shape)
        self._initialised = False
        self._init(frame, box)
        self._initialised = True

    def update(self, frame: np.ndarray) -> TrackResult:
        """Locate the target in the next frame."""
        if not self._initialised:
            raise TrackerError("update() called before init()")
        return self._update(check_frame(frame))

    def redetect(self, frame: np.ndarray, search_scale: float) -> TrackResult:
        """Look for a lost target in a region ``search_scale`` times the usual search region and
        continue from there. Optional: trackers that implement it register the ``redetect``
        capability (:class:`cfvgg_ros.core.registry.TrackerInfo`); the others raise TrackerError."""
        raise TrackerError(f"tracker {self.name!r} does not implement redetect()")

    @abc.abstractmethod
    def _init(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> None: ...

    @abc.abstractmethod
    def _update(self, frame: np.ndarray) -> TrackResult: ...
