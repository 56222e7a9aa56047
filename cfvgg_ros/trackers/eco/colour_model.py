"""Per-pixel colour model complementary to the correlation filter (Staple, Bertinetto et al.,
CVPR 2016; not in CF-VGG): foreground and background colour histograms give every pixel of the
search patch a target likelihood ``P = H_fg / (H_fg + H_bg)``; its mean over a target-sized window
at each candidate displacement is a score that ignores the target's shape (rotation,
deformation), which the filter's score cannot. The tracker merges the two scores on the
detection grid, ``(1 - a) * filter + a * colour``.

Histograms are learnt like Staple's: foreground = the target box shrunk by ``inner_padding`` of
its mean side, background = the box grown by that mean side, minus the target box; both
normalised by their pixel counts and updated with a running average.
"""

from __future__ import annotations

import cv2
import numpy as np


def is_grey(frame: np.ndarray) -> bool:
    """True when the three channels of an RGB frame are equal (a grey sequence stored as RGB)."""
    return bool(np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 0], frame[..., 2]))


def _wrapped_offsets(n: int) -> np.ndarray:
    """Grid index -> signed displacement in cells, the detection grid's wrap (``[-n/2, n/2)``)."""
    v = np.arange(n, dtype=np.float64)
    return (v + n / 2.0) % n - n / 2.0


class ColourModel:
    """Foreground/background colour histograms over ``bins`` levels per channel (one channel when
    ``grey``), updated with ``learning_rate``."""

    def __init__(self, bins: int = 32, learning_rate: float = 0.04, grey: bool = False,
                 inner_padding: float = 0.2):
        if bins not in (8, 16, 32, 64, 128, 256):
            raise ValueError(f"bins must be a power of two in [8, 256], got {bins}")
        if not 0.0 < learning_rate <= 1.0:
            raise ValueError(f"learning_rate must lie in (0, 1], got {learning_rate}")
        self.bins = bins
        self.shift = 8 - int(np.log2(bins))
        self.grey = grey
        self.learning_rate = learning_rate
        self.inner_padding = inner_padding
        size = bins if grey else bins**3
        self.fg = np.zeros(size, dtype=np.float64)
        self.bg = np.zeros(size, dtype=np.float64)
        self.initialised = False
        self._table = np.zeros(size, dtype=np.float32)
        self._cached = (None, None)  # (patch, its bin indices): detection and update share a patch

    def bin_index(self, patch: np.ndarray) -> np.ndarray:
        """Histogram bin of every pixel of an HxWx3 uint8 ``patch`` (H, W) int."""
        if self._cached[0] is patch:
            return self._cached[1]
        q = (patch >> self.shift).astype(np.intp)
        idx = q[..., 0] if self.grey else (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]
        self._cached = (patch, idx)
        return idx

    @staticmethod
    def _box(centre_yx, size_hw, shape_hw) -> tuple[int, int, int, int]:
        """Integer rows/columns ``(y0, y1, x0, x1)`` of a box, clipped to the patch."""
        h, w = shape_hw
        y0 = int(round(centre_yx[0] - size_hw[0] / 2.0))
        x0 = int(round(centre_yx[1] - size_hw[1] / 2.0))
        y1 = y0 + max(int(round(size_hw[0])), 1)
        x1 = x0 + max(int(round(size_hw[1])), 1)
        return max(y0, 0), min(max(y1, 0), h), max(x0, 0), min(max(x1, 0), w)

    def update(self, patch: np.ndarray, centre_yx, target_hw) -> None:
        """Learn from ``patch`` with the target of size ``target_hw`` centred at ``centre_yx``
        (patch pixels); the first call sets the histograms, later ones blend them in."""
        idx = self.bin_index(patch)
        th, tw = float(target_hw[0]), float(target_hw[1])
        mean_side = (th + tw) / 2.0
        fy0, fy1, fx0, fx1 = self._box(centre_yx, (max(th - mean_side * self.inner_padding, 1.0),
                                                   max(tw - mean_side * self.inner_padding, 1.0)), idx.shape)
        ty0, ty1, tx0, tx1 = self._box(centre_yx, (th, tw), idx.shape)
        by0, by1, bx0, bx1 = self._box(centre_yx, (th + mean_side, tw + mean_side), idx.shape)
        size = self.fg.size
        fg = np.bincount(idx[fy0:fy1, fx0:fx1].ravel(), minlength=size).astype(np.float64)
        ring = np.bincount(idx[by0:by1, bx0:bx1].ravel(), minlength=size).astype(np.float64)
        ring -= np.bincount(idx[ty0:ty1, tx0:tx1].ravel(), minlength=size)
        if fg.sum() <= 0 or ring.sum() <= 0:
            return  # target box or ring entirely outside the patch: nothing to learn from
        fg /= fg.sum()
        ring /= ring.sum()
        if not self.initialised:
            self.fg, self.bg, self.initialised = fg, ring, True
        else:
            lr = self.learning_rate
            self.fg = (1.0 - lr) * self.fg + lr * fg
            self.bg = (1.0 - lr) * self.bg + lr * ring
        self._table = (self.fg / np.maximum(self.fg + self.bg, 1e-12)).astype(np.float32)

    def contrast(self, patch: np.ndarray, centre_yx, target_hw) -> float:
        """Mean likelihood inside the target box minus the mean over its ring (the box grown by its
        mean side, as :meth:`update`'s background): how well the colours tell the target from its
        surroundings, in [-1, 1]; 0 when either region lies outside the patch."""
        th, tw = float(target_hw[0]), float(target_hw[1])
        grow = (th + tw) / 2.0
        sums, areas = box_sums(self.likelihood(patch), centre_yx, [(th, tw), (th + grow, tw + grow)])
        ring_area = areas[1] - areas[0]
        if areas[0] <= 0.0 or ring_area <= 0.0:
            return 0.0
        return float(sums[0] / areas[0] - (sums[1] - sums[0]) / ring_area)

    def likelihood(self, patch: np.ndarray) -> np.ndarray:
        """Per-pixel target likelihood ``H_fg / (H_fg + H_bg)`` (H, W) float32 (0 where a colour
        was never seen)."""
        return self._table[self.bin_index(patch)]

    def response(self, patch: np.ndarray, target_hw, grid_hw, support_hw) -> np.ndarray:
        """Mean likelihood in a target-sized window centred at every displacement of the detection
        grid ``grid_hw`` (cells of ``support_hw / grid_hw`` patch pixels, wrapped as the filter's
        score: index ``i`` is ``i`` cells, or ``i - G`` past the middle) from the patch centre.
        Windows are clipped to the patch and divided by their full area (outside counts as 0)."""
        like = self.likelihood(patch)
        h, w = like.shape
        integral = cv2.integral(like, sdepth=cv2.CV_64F)  # (h + 1, w + 1), zero first row/column
        gy, gx = int(grid_hw[0]), int(grid_hw[1])
        th, tw = max(float(target_hw[0]), 1.0), max(float(target_hw[1]), 1.0)
        cy = h / 2.0 + _wrapped_offsets(gy) * (float(support_hw[0]) / gy)
        cx = w / 2.0 + _wrapped_offsets(gx) * (float(support_hw[1]) / gx)
        y0 = np.clip(np.round(cy - th / 2.0).astype(np.intp), 0, h)
        y1 = np.clip(np.round(cy + th / 2.0).astype(np.intp), 0, h)
        x0 = np.clip(np.round(cx - tw / 2.0).astype(np.intp), 0, w)
        x1 = np.clip(np.round(cx + tw / 2.0).astype(np.intp), 0, w)
        sums = (integral[y1[:, None], x1[None, :]] - integral[y0[:, None], x1[None, :]]
                - integral[y1[:, None], x0[None, :]] + integral[y0[:, None], x0[None, :]])
        return (sums / (th * tw)).astype(np.float32)


def _integral_at(integral: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``integral`` ((h + 1, w + 1), cv2.integral's layout) read at fractional corners ``(y, x)``,
    bilinearly, clipped to the patch: the sum over ``[0, y) x [0, x)`` with partial pixels counted
    by their covered fraction."""
    h, w = integral.shape[0] - 1, integral.shape[1] - 1
    y = np.clip(y, 0.0, float(h))
    x = np.clip(x, 0.0, float(w))
    y0 = np.minimum(np.floor(y).astype(np.intp), h - 1)
    x0 = np.minimum(np.floor(x).astype(np.intp), w - 1)
    fy, fx = y - y0, x - x0
    top = integral[y0, x0] * (1.0 - fx) + integral[y0, x0 + 1] * fx
    bottom = integral[y0 + 1, x0] * (1.0 - fx) + integral[y0 + 1, x0 + 1] * fx
    return top * (1.0 - fy) + bottom * fy


def box_sums(likelihood: np.ndarray, centre_yx, sizes_hw) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``likelihood`` over boxes of ``sizes_hw`` ((n, 2) height, width) centred at
    ``centre_yx``, fractional edges counted by area, and the boxes' areas inside the patch (the part
    outside counts for nothing in either). ``sums - t * areas`` is a box's colour support at
    threshold ``t``: it grows with the box up to where the target likelihood falls below ``t``,
    tracing the likely target pixels rather than the filter's template."""
    integral = cv2.integral(likelihood.astype(np.float32), sdepth=cv2.CV_64F)
    h, w = likelihood.shape
    sizes = np.asarray(sizes_hw, dtype=np.float64).reshape(-1, 2)
    cy, cx = float(centre_yx[0]), float(centre_yx[1])
    y0, y1 = cy - sizes[:, 0] / 2.0, cy + sizes[:, 0] / 2.0
    x0, x1 = cx - sizes[:, 1] / 2.0, cx + sizes[:, 1] / 2.0
    sums = (_integral_at(integral, y1, x1) - _integral_at(integral, y0, x1)
            - _integral_at(integral, y1, x0) + _integral_at(integral, y0, x0))
    areas = (np.clip(y1, 0, h) - np.clip(y0, 0, h)) * (np.clip(x1, 0, w) - np.clip(x0, 0, w))
    return sums, areas
