"""Peer trackers from OpenCV behind the project's :class:`~cfvgg_ros.core.contract.Tracker` contract.

* ``OpenCVTracker.csrt`` -- CSR-DCF (Lukezic et al., CVPR 2017), ``cv2.TrackerCSRT``;
* ``OpenCVTracker.kcf`` -- KCF (Henriques et al., TPAMI 2015), ``cv2.TrackerKCF``;
* ``OpenCVTracker.mosse`` -- MOSSE (Bolme et al., CVPR 2010), ``cv2.legacy.TrackerMOSSE``;
* ``NanoTracker`` -- NanoTrack v2 (a light Siamese tracker), ``cv2.TrackerNano`` with ONNX models.

Frames arrive as RGB and are converted to BGR for OpenCV. Box conversion: CSRT, KCF and
Nano take integer rectangles, so the box *corners* are rounded to the nearest pixel
(``x0 = round(x)``, ``x1 = round(x + w)``, width ``x1 - x0``, at least 1), which keeps the
box extent within half a pixel; MOSSE (legacy API) takes the float box as is. Before init the
box is clipped to the frame (OpenCV rejects rectangles reaching outside it). OpenCV's output
rectangles are returned as floats unchanged.

Scores: CSRT, KCF and MOSSE expose no confidence, so the score is 1.0 when OpenCV reports the
target found and 0.0 when its ``update`` returns False (the last box is then kept). Nano reports
``getTrackingScore()`` (its classification score, 0..1).

Thread count (``cv2.setNumThreads``) is the caller's business; the benchmark runner sets 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult
from cfvgg_ros.paths import shared_models_root

NANO_BACKBONE_NAME = "nanotrack_backbone_sim_v2.onnx"
NANO_HEAD_NAME = "nanotrack_head_sim_v2.onnx"
NANO_MODEL_SUBDIR = ("peers", "nanotrack")


def _round_half_up(value: float) -> int:
    return int(math.floor(value + 0.5))


def box_to_int_rect(box, frame_shape) -> tuple[int, int, int, int]:
    """``(x, y, w, h)`` float box -> OpenCV integer rect, corners rounded to the nearest pixel
    and clipped to the frame; width/height at least 1. Raises TrackerError when nothing is left."""
    x, y, w, h = (float(v) for v in box)
    fh, fw = frame_shape[:2]
    x0, y0 = _round_half_up(x), _round_half_up(y)
    x1, y1 = max(_round_half_up(x + w), x0 + 1), max(_round_half_up(y + h), y0 + 1)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, fw), min(y1, fh)
    if x1 <= x0 or y1 <= y0:
        raise TrackerError(f"box {box} has no pixels inside the {fw}x{fh} frame")
    return (x0, y0, x1 - x0, y1 - y0)


def box_to_float_rect(box, frame_shape) -> tuple[float, float, float, float]:
    """``(x, y, w, h)`` float box clipped to the frame (for OpenCV's legacy float-rect API)."""
    x, y, w, h = (float(v) for v in box)
    fh, fw = frame_shape[:2]
    x0, y0 = max(x, 0.0), max(y, 0.0)
    x1, y1 = min(x + w, float(fw)), min(y + h, float(fh))
    if x1 - x0 < 1.0 or y1 - y0 < 1.0:
        raise TrackerError(f"box {box} has less than one pixel inside the {fw}x{fh} frame")
    return (x0, y0, x1 - x0, y1 - y0)


def _apply_params(params_obj, params: dict, kind: str):
    """Set OpenCV ``*_Params`` attributes from ``params``; unknown names raise TrackerError."""
    valid = sorted(name for name in dir(params_obj) if not name.startswith("_"))
    for key, value in params.items():
        if key not in valid:
            raise TrackerError(f"unknown {kind} parameter {key!r}; valid: {', '.join(valid)}")
        try:
            setattr(params_obj, key, value)
        except (TypeError, ValueError, cv2.error) as exc:
            raise TrackerError(f"bad value for {kind} parameter {key!r}: {value!r} ({exc})") from exc
    return params_obj


class OpenCVTracker(Tracker):
    """An OpenCV tracker (CSRT, KCF or MOSSE) behind the project contract.

    Build it with :meth:`csrt`, :meth:`kcf` or :meth:`mosse`; keyword parameters are OpenCV's
    ``TrackerCSRT_Params`` / ``TrackerKCF_Params`` fields (MOSSE has none). A fresh OpenCV
    object is created on every ``init``.
    """

    name = "opencv"

    def __init__(self, kind: str, factory: Callable[[], object], float_rect: bool = False,
                 params: dict | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.params = dict(params or {})
        self._factory = factory
        self._float_rect = float_rect
        self._cv_tracker = None
        self._last_box: tuple[float, float, float, float] | None = None

    # -- factories ------------------------------------------------------------------------
    @classmethod
    def csrt(cls, **params) -> OpenCVTracker:
        """CSRT (CSR-DCF) with ``cv2.TrackerCSRT_Params`` fields as keyword parameters."""
        cv_params = _apply_params(cv2.TrackerCSRT_Params(), params, "CSRT")
        return cls("csrt", lambda: cv2.TrackerCSRT_create(cv_params), params=params)

    @classmethod
    def kcf(cls, **params) -> OpenCVTracker:
        """KCF with ``cv2.TrackerKCF_Params`` fields as keyword parameters."""
        cv_params = _apply_params(cv2.TrackerKCF_Params(), params, "KCF")
        return cls("kcf", lambda: cv2.TrackerKCF_create(cv_params), params=params)

    @classmethod
    def mosse(cls, **params) -> OpenCVTracker:
        """MOSSE (``cv2.legacy.TrackerMOSSE``); it takes no parameters."""
        if params:
            raise TrackerError(f"MOSSE takes no parameters, got {sorted(params)}")
        return cls("mosse", cv2.legacy.TrackerMOSSE_create, float_rect=True)

    # -- contract -------------------------------------------------------------------------
    def _init(self, frame: np.ndarray, box: tuple[float, float, float, float]) -> None:
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        rect = (box_to_float_rect(box, frame.shape) if self._float_rect
                else box_to_int_rect(box, frame.shape))
        tracker = self._factory()
        try:
            ok = tracker.init(bgr, rect)
        except cv2.error as exc:
            raise TrackerError(f"OpenCV {self.kind} init failed for box {rect}: {exc}") from exc
        if ok is False:  # the legacy API returns a bool, the new one None
            raise TrackerError(f"OpenCV {self.kind} init failed for box {rect}")
        self._cv_tracker = tracker
        self._last_box = tuple(float(v) for v in rect)

    def _update(self, frame: np.ndarray) -> TrackResult:
        bgr = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
        try:
            found, rect = self._cv_tracker.update(bgr)
        except cv2.error as exc:
            raise TrackerError(f"OpenCV {self.kind} update failed: {exc}") from exc
        if found:
            self._last_box = tuple(float(v) for v in rect)
        return TrackResult(self._last_box, self._score(bool(found)))

    def _score(self, found: bool) -> float:
        return 1.0 if found else 0.0


def default_nano_models() -> tuple[Path, Path]:
    """Default NanoTrack v2 ONNX paths under ``shared_models_root()/peers/nanotrack``."""
    root = shared_models_root()
    if root is None:
        raise FileNotFoundError(
            "NanoTrack models not given and no shared models folder found "
            "(set $CFVGG_SHARED or pass backbone=... and head=...)"
        )
    folder = root.joinpath(*NANO_MODEL_SUBDIR)
    return folder / NANO_BACKBONE_NAME, folder / NANO_HEAD_NAME


class NanoTracker(OpenCVTracker):
    """NanoTrack v2 via ``cv2.TrackerNano``: ``backbone`` and ``head`` ONNX files default to
    ``shared_models_root()/peers/nanotrack/nanotrack_{backbone,head}_sim_v2.onnx``.
    Raises FileNotFoundError naming the path when a model file is missing."""

    def __init__(self, backbone: str | Path | None = None, head: str | Path | None = None) -> None:
        if backbone is None or head is None:
            default_backbone, default_head = default_nano_models()
            backbone = default_backbone if backbone is None else backbone
            head = default_head if head is None else head
        backbone, head = Path(backbone), Path(head)
        for label, path in (("backbone", backbone), ("head", head)):
            if not path.is_file():
                raise FileNotFoundError(f"NanoTrack {label} model not found: {path}")
        cv_params = cv2.TrackerNano_Params()
        cv_params.backbone = str(backbone)
        cv_params.neckhead = str(head)

        def factory():
            try:
                return cv2.TrackerNano_create(cv_params)
            except cv2.error as exc:
                raise TrackerError(f"cannot load NanoTrack models {backbone}, {head}: {exc}") from exc

        super().__init__("nano", factory, params={"backbone": str(backbone), "head": str(head)})
        factory()  # fail at construction, not at the first init, when the models do not load

    def _score(self, found: bool) -> float:
        return float(self._cv_tracker.getTrackingScore()) if found else 0.0
