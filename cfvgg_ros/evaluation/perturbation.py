"""Perturbed initial boxes for OTB's spatial robustness evaluation (SRE).

Wu, Lim and Yang, "Object Tracking Benchmark" (TPAMI 2015), §4: besides one-pass evaluation
(OPE, init on the ground truth), SRE starts every sequence from 12 perturbed ground-truth boxes
and averages the scores: 4 centre shifts by 10 % of the target width (left/right) or height
(up/down), 4 corner moves that push one corner outwards by 10 % of the size while the opposite
corner stays (the box grows), and 4 scalings by 0.8, 0.9, 1.1, 1.2 about the box centre. The
arithmetic follows the benchmark's MATLAB toolkit (pixel-inclusive corners, MATLAB rounding,
then clipped to the image). Boxes here are 0-based ``(x, y, w, h)``; the toolkit's are 1-based,
which changes nothing but the clipping bound.

Only the box given to ``init`` changes; scoring still uses the true ground truth (the toolkit
also scores the first frame as the ground truth).
"""

from __future__ import annotations

import math

import numpy as np

SHIFTS = ("left", "right", "up", "down")
CORNERS = ("topLeft", "topRight", "bottomLeft", "bottomRight")
SCALES = {"scale_8": 0.8, "scale_9": 0.9, "scale_11": 1.1, "scale_12": 1.2}
SRE = (*SHIFTS, *CORNERS, *SCALES)
"""OTB's 12 SRE perturbations, in the toolkit's order."""


class PerturbationError(ValueError):
    """Unknown perturbation name, or a box that cannot be perturbed (not finite, no area)."""


def _round(value: float) -> float:
    """MATLAB ``round``: halves away from zero."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def perturb_box(box, name: str, image_size: tuple[int, int]) -> np.ndarray:
    """The initial box of SRE perturbation ``name`` (one of :data:`SRE`) for ground truth ``box``
    ``(x, y, w, h)`` (0-based pixels) in an image of ``image_size = (height, width)``."""
    x, y, w, h = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
    if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
        raise PerturbationError(f"cannot perturb box {box!r}: it needs finite values and a positive size")
    height, width = (int(v) for v in image_size)
    right, bottom = x + w - 1, y + h - 1  # inclusive corner, as the toolkit
    if name in SCALES:
        ratio = SCALES[name]
        cx, cy = x + w / 2, y + h / 2
        sw, sh = ratio * w, ratio * h
        x, y, w, h = _round(cx - sw / 2), _round(cy - sh / 2), _round(sw), _round(sh)
    elif name == "left":
        x -= math.ceil(0.1 * w)
    elif name == "right":
        x += math.ceil(0.1 * w)
    elif name == "up":
        y -= math.ceil(0.1 * h)
    elif name == "down":
        y += math.ceil(0.1 * h)
    elif name in CORNERS:
        if name.startswith("top"):
            y = _round(y - 0.1 * h)
        else:
            bottom = _round(bottom + 0.1 * h)
        if name.endswith("Left"):
            x = _round(x - 0.1 * w)
        else:
            right = _round(right + 0.1 * w)
        w, h = right - x + 1, bottom - y + 1
    else:
        raise PerturbationError(f"unknown init perturbation {name!r}; choose from {', '.join(SRE)}")
    x, y = max(x, 0.0), max(y, 0.0)
    w, h = min(w, width - x), min(h, height - y)
    if w <= 0 or h <= 0:
        raise PerturbationError(f"perturbation {name!r} moves box {box!r} out of the {width}x{height} image")
    return np.array([x, y, w, h], dtype=np.float64)


def parse_perturbations(text: str) -> list[str]:
    """``"sre"`` -> all of :data:`SRE`; otherwise comma-separated names from :data:`SRE`."""
    names = [part.strip() for part in str(text).split(",") if part.strip()]
    if names == ["sre"]:
        return list(SRE)
    unknown = [n for n in names if n not in SRE]
    if unknown or not names:
        raise PerturbationError(f"unknown init perturbation(s) {unknown or text!r}; "
                                f"choose 'sre' or from {', '.join(SRE)}")
    return list(dict.fromkeys(names))
