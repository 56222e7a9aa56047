"""Table-free colour feature: per-cell soft histograms of hue and grey level.

ECO-HC pairs fHOG with the 10-dimensional Colour Names of van de Weijer et al. ("Learning
Color Names for Real-World Applications", TIP 2009), a learned 32768x10 look-up table
(``w2c``) from quantised RGB to colour-name scores. That table is data we do not ship, so
this module provides a feature of the same size and spirit that needs no table.

Each pixel gets a 10-vector of soft memberships that sums to 1:

* **chromatic part** (6 channels: red, yellow, green, cyan, blue, magenta). The HSV hue
  ``H`` in ``[0, 6)`` (hexcone model: 0 red, 1 yellow, 2 green, 3 cyan, 4 blue, 5 magenta)
  is split linearly between its two neighbouring hue centres, circularly. The part's
  total weight is the colourfulness ``w_c = min(1, C / (chroma_full * 255))`` with chroma
  ``C = max(R, G, B) - min(R, G, B)``; greyish pixels therefore count mostly as grey.
* **achromatic part** (4 channels: black, dark grey, light grey, white, centred at grey
  levels 0, 85, 170, 255). The mean ``(R + G + B) / 3`` is split linearly between the two
  nearest centres, with total weight ``1 - w_c``.

The cell feature is the mean of the pixel vectors over each non-overlapping
``cell_size x cell_size`` block, laid out like :func:`cfvgg_ros.features.fhog.fhog`
(top-left aligned, ``H // cell_size`` by ``W // cell_size`` cells), as ECO averages the
per-pixel Colour Names over its cells.
"""

from __future__ import annotations

import numpy as np

from cfvgg_ros.jit import cached_njit

COLOUR_CHANNEL_NAMES = (
    "red",
    "yellow",
    "green",
    "cyan",
    "blue",
    "magenta",
    "black",
    "dark_grey",
    "light_grey",
    "white",
)
NUM_COLOUR_CHANNELS = len(COLOUR_CHANNEL_NAMES)
NUM_HUES = 6
NUM_GREYS = 4
DEFAULT_CHROMA_FULL = 0.3  # chroma (fraction of 255) from which a pixel counts as fully chromatic


@cached_njit
def _colour_cells(img, cell, chroma_full, out):
    """Accumulate the per-pixel memberships of ``img`` (HxWx3 float32, 0-255) into the cell
    means ``out`` (hb, wb, 10)."""
    hb, wb, _ = out.shape
    out[:, :, :] = 0.0
    grey_step = np.float32(255.0 / (NUM_GREYS - 1))
    inv_full = np.float32(1.0 / (chroma_full * 255.0))
    for y in range(hb * cell):
        cy = y // cell
        for x in range(wb * cell):
            cx = x // cell
            r = img[y, x, 0]
            g = img[y, x, 1]
            b = img[y, x, 2]
            hi = max(r, max(g, b))
            lo = min(r, min(g, b))
            chroma = hi - lo
            w_col = min(np.float32(1.0), chroma * inv_full)
            if chroma > 0.0:
                # hexcone hue in [0, 6): 0 red, 1 yellow, 2 green, 3 cyan, 4 blue, 5 magenta
                if hi == r:
                    hue = (g - b) / chroma
                    if hue < 0.0:
                        hue += np.float32(NUM_HUES)
                elif hi == g:
                    hue = (b - r) / chroma + np.float32(2.0)
                else:
                    hue = (r - g) / chroma + np.float32(4.0)
                k0 = int(hue)
                frac = hue - k0
                if k0 >= NUM_HUES:  # rounding at hue ~ 6
                    k0 -= NUM_HUES
                k1 = k0 + 1
                if k1 == NUM_HUES:
                    k1 = 0
                out[cy, cx, k0] += w_col * (np.float32(1.0) - frac)
                out[cy, cx, k1] += w_col * frac
            level = (r + g + b) / np.float32(3.0)
            level = min(max(level, np.float32(0.0)), np.float32(255.0)) / grey_step
            j0 = min(int(level), NUM_GREYS - 2)
            frac = level - j0
            w_grey = np.float32(1.0) - w_col
            out[cy, cx, NUM_HUES + j0] += w_grey * (np.float32(1.0) - frac)
            out[cy, cx, NUM_HUES + j0 + 1] += w_grey * frac
    scale = np.float32(1.0 / (cell * cell))
    for cy in range(hb):
        for cx in range(wb):
            for k in range(out.shape[2]):
                out[cy, cx, k] *= scale
    return out


def colour_features(image_rgb: np.ndarray, cell_size: int = 4, chroma_full: float = DEFAULT_CHROMA_FULL) -> np.ndarray:
    """Per-cell colour memberships of an RGB image (see the module docstring).

    ``image_rgb``: HxWx3 RGB, uint8 or float on the 0-255 scale. Returns
    ``(H // cell_size, W // cell_size, 10)`` float32 whose channels (in the order of
    :data:`COLOUR_CHANNEL_NAMES`) sum to 1 in every cell.
    Raises ValueError for a malformed image or one smaller than a cell.
    """
    image_rgb = np.asarray(image_rgb)
    if image_rgb.ndim != 3 or image_rgb.shape[2] != 3:
        raise ValueError(f"colour_features expects an HxWx3 RGB image, got shape {image_rgb.shape}")
    if not (np.issubdtype(image_rgb.dtype, np.integer) or np.issubdtype(image_rgb.dtype, np.floating)):
        raise ValueError(f"colour_features expects an integer or float image, got dtype {image_rgb.dtype}")
    cell_size = int(cell_size)
    if cell_size < 1:
        raise ValueError(f"cell_size must be >= 1, got {cell_size}")
    if not 0.0 < chroma_full <= 1.0:
        raise ValueError(f"chroma_full must be in (0, 1], got {chroma_full}")
    h, w = image_rgb.shape[:2]
    if h < cell_size or w < cell_size:
        raise ValueError(f"image {h}x{w} is smaller than one {cell_size}x{cell_size} cell")
    img = np.ascontiguousarray(image_rgb, dtype=np.float32)
    if not np.isfinite(img).all():
        raise ValueError("colour_features input contains non-finite values")
    out = np.empty((h // cell_size, w // cell_size, NUM_COLOUR_CHANNELS), dtype=np.float32)
    return _colour_cells(img, cell_size, float(chroma_full), out)
