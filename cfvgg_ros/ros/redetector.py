"""Template re-detection for a lost target: normalised cross-correlation, pure numpy / OpenCV.

At every init the node keeps the grey init patch as a template. While LOST (and after the
tracker's own model had ``redetect_after`` frames to recover) it searches a window
``search_scale`` times the box around the last confident box with ``cv2.matchTemplate``
(``TM_CCOEFF_NORMED``) and, when the peak reaches ``redetect_min_ncc``, re-initialises the
tracker on the last confident box's size centred on the match (:meth:`TemplateRedetector.relocate`).

Templates whose longer side exceeds ``max_side`` pixels are downscaled to it, and the search
window with them, which bounds the cost on one core. Nothing here imports ROS.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from cfvgg_ros.ros.geometry import box_center

Box = tuple[float, float, float, float]


class TemplateRedetector:
    """Finds the init template again near the last confident box (normalised cross-correlation).

    ``frame`` is HxWx3 RGB uint8 and ``box`` the init box ``(x, y, w, h)``. The template is the
    grey patch under the box (rounded to whole pixels, clipped to the frame), scaled by
    ``scale = min(1, max_side / max(w, h))``.
    """

    def __init__(self, frame: np.ndarray, box, max_side: int = 48) -> None:
        x, y, w, h = box
        self.size = (float(w), float(h))
        self.scale = min(1.0, max_side / max(w, h))
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        x0, y0 = int(round(x)), int(round(y))
        x1, y1 = max(int(round(x + w)), x0 + 1), max(int(round(y + h)), y0 + 1)
        patch = grey[max(y0, 0):y1, max(x0, 0):x1]
        self.template = self._resize(patch)

    def _resize(self, image: np.ndarray) -> np.ndarray:
        if self.scale >= 1.0:
            return image.astype(np.float32)
        size = (max(1, round(image.shape[1] * self.scale)), max(1, round(image.shape[0] * self.scale)))
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA).astype(np.float32)

    def search(self, frame: np.ndarray, around, search_scale: float) -> tuple[Box, float]:
        """Best match (box of the template's size, NCC peak) in a window ``search_scale`` times
        the box around ``around``'s centre, clipped to the frame; ``(around, -1)`` when the window
        cannot hold the template or the template is flat (no texture to correlate)."""
        fh, fw = frame.shape[:2]
        cx, cy = box_center(around)
        w, h = self.size
        half_w, half_h = 0.5 * search_scale * w, 0.5 * search_scale * h
        x0, y0 = max(int(cx - half_w), 0), max(int(cy - half_h), 0)
        x1, y1 = min(int(math.ceil(cx + half_w)), fw), min(int(math.ceil(cy + half_h)), fh)
        if x1 <= x0 or y1 <= y0:
            return tuple(around), -1.0
        window = self._resize(cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY))
        th, tw = self.template.shape
        if window.shape[0] < th or window.shape[1] < tw or self.template.std() < 1e-3:
            return tuple(around), -1.0
        response = cv2.matchTemplate(window, self.template, cv2.TM_CCOEFF_NORMED)
        _, peak, _, (px, py) = cv2.minMaxLoc(response)
        bx, by = x0 + px / self.scale, y0 + py / self.scale
        return (float(bx), float(by), w, h), float(peak)

    def relocate(self, frame: np.ndarray, last_box, search_scale: float, min_ncc: float) -> tuple[Box, float] | None:
        """Where to re-initialise: ``last_box``'s size (the target may have changed size since the
        init) centred on the best match around ``last_box``, with the NCC peak; None when the peak
        is below ``min_ncc``. The box is not clipped to the frame."""
        box, peak = self.search(frame, last_box, search_scale)
        if peak < min_ncc:
            return None
        cx, cy = box_center(box)
        _, _, w, h = last_box
        return (cx - w / 2.0, cy - h / 2.0, w, h), peak
