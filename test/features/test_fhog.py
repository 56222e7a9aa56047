"""fHOG (Felzenszwalb 2010 / Dollar toolbox ``fhog``): shapes, hand-reasoned cases,
symmetries and agreement with a slow loop-based reference written here."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cfvgg_ros.features.fhog import NUM_FHOG_CHANNELS, TEXTURE_WEIGHT, fhog

SENS = slice(0, 18)
INSENS = slice(18, 27)
TEXT = slice(27, 31)


def _random_float_image(shape, seed):
    return np.random.default_rng(seed).uniform(0.0, 255.0, shape).astype(np.float32)


def reference_fhog(img, cell=4, n_orients=9, clip=0.2):
    """Straightforward loops over pixels and cells, following the toolbox's definition."""
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 2:
        img = img[:, :, None]
    h, w, nch = img.shape
    hb, wb = h // cell, w // cell
    nbins = 2 * n_orients
    hist = np.zeros((hb, wb, nbins))
    for y in range(hb * cell):
        for x in range(wb * cell):
            best = (-1.0, 0.0, 0.0)
            for c in range(nch):
                if x == 0:
                    gx = img[y, 1, c] - img[y, 0, c]
                elif x == w - 1:
                    gx = img[y, w - 1, c] - img[y, w - 2, c]
                else:
                    gx = (img[y, x + 1, c] - img[y, x - 1, c]) / 2
                if y == 0:
                    gy = img[1, x, c] - img[0, x, c]
                elif y == h - 1:
                    gy = img[h - 1, x, c] - img[h - 2, x, c]
                else:
                    gy = (img[y + 1, x, c] - img[y - 1, x, c]) / 2
                if gx * gx + gy * gy > best[0]:
                    best = (gx * gx + gy * gy, gx, gy)
            m = math.sqrt(best[0])
            theta = math.atan2(best[2], best[1]) % (2 * math.pi)
            o = int(math.floor(theta / (2 * math.pi) * nbins + 0.5)) % nbins
            yb = (y + 0.5) / cell - 0.5
            xb = (x + 0.5) / cell - 0.5
            for i in range(hb):
                for j in range(wb):
                    wy = max(0.0, 1 - abs(yb - i))
                    wx = max(0.0, 1 - abs(xb - j))
                    hist[i, j, o] += m * wy * wx / cell**2
    for i in range(hb):
        for j in range(wb):
            f = (8 / 7) ** ((i == 0) + (i == hb - 1) + (j == 0) + (j == wb - 1))
            hist[i, j] *= f
    unsigned = hist[:, :, :n_orients] + hist[:, :, n_orients:]
    energy = (unsigned**2).sum(axis=2)
    eps = 1e-4 / 4 / cell**4
    block = np.zeros((hb - 1, wb - 1))
    for i in range(hb - 1):
        for j in range(wb - 1):
            block[i, j] = 1 / math.sqrt(energy[i : i + 2, j : j + 2].sum() + eps)

    def norm_at(i, j):
        return block[min(max(i, 0), hb - 2), min(max(j, 0), wb - 2)]

    out = np.zeros((hb, wb, 3 * n_orients + 4))
    for i in range(hb):
        for j in range(wb):
            norms = [norm_at(i, j), norm_at(i - 1, j), norm_at(i, j - 1), norm_at(i - 1, j - 1)]
            for o in range(nbins):
                out[i, j, o] = 0.5 * sum(min(hist[i, j, o] * n, clip) for n in norms)
            for o in range(n_orients):
                out[i, j, nbins + o] = 0.5 * sum(min(unsigned[i, j, o] * n, clip) for n in norms)
            for b, n in enumerate(norms):
                out[i, j, 3 * n_orients + b] = TEXTURE_WEIGHT * sum(min(hist[i, j, o] * n, clip) for o in range(nbins))
    return out


@pytest.mark.parametrize(
    ("shape", "dtype", "expected"),
    [
        ((64, 48, 3), np.uint8, (16, 12, 31)),
        ((37, 50, 3), np.float32, (9, 12, 31)),
        ((40, 40), np.uint8, (10, 10, 31)),
        ((33, 21), np.float64, (8, 5, 31)),
    ],
)
def test_shape_and_dtype(shape, dtype, expected):
    img = np.random.default_rng(1).integers(0, 256, shape).astype(dtype)
    feat = fhog(img, cell_size=4)
    assert feat.shape == expected
    assert feat.dtype == np.float32
    assert NUM_FHOG_CHANNELS == 31
    assert np.isfinite(feat).all() and (feat >= 0).all()


def test_other_cell_sizes_and_one_cell_wide_maps():
    img = _random_float_image((30, 45, 3), 2)
    assert fhog(img, cell_size=6).shape == (5, 7, 31)
    thin = fhog(img[:5], cell_size=4)  # a single row of cells
    assert thin.shape == (1, 11, 31) and np.isfinite(thin).all()


def test_constant_image_gives_zero_features():
    for value in (0, 77, 255):
        feat = fhog(np.full((32, 40, 3), value, np.uint8))
        assert not feat.any()


def test_vertical_edge_votes_in_the_horizontal_gradient_bins():
    # dark left half, bright right half: every gradient points along +x (theta = 0),
    # i.e. contrast-sensitive bin 0 and contrast-insensitive bin 0 (channel 18)
    img = np.zeros((32, 32), np.uint8)
    img[:, 16:] = 200
    feat = fhog(img)
    assert feat[:, :, 0].max() > 0.1
    others = np.delete(feat[:, :, :27], [0, 18], axis=2)
    assert not others.any()
    # only pixel columns 15 and 16 have a gradient (central differences); their cell
    # coordinates (x + 0.5) / 4 - 0.5 = 3.375 and 3.625 share their votes between cells 3 and 4
    column_energy = feat[:, :, 0].sum(axis=0)
    assert set(np.flatnonzero(column_energy)) == {3, 4}
    assert column_energy[3] == pytest.approx(column_energy[4])
    # bright-to-dark flips the gradient: theta = pi, sensitive bin 9, insensitive bin 0 again
    flipped = fhog(255 - img)
    assert flipped[:, :, 9].max() > 0.1
    assert not np.delete(flipped[:, :, :27], [9, 18], axis=2).any()
    np.testing.assert_allclose(flipped[:, :, 18], feat[:, :, 18], atol=1e-6)


def test_rotation_by_180_degrees_shifts_sensitive_bins_by_9():
    img = _random_float_image((32, 24, 3), 3)
    feat = fhog(img)
    rot = fhog(img[::-1, ::-1])
    expected = feat[::-1, ::-1]
    np.testing.assert_allclose(rot[:, :, SENS], np.roll(expected[:, :, SENS], 9, axis=2), atol=1e-5)
    np.testing.assert_allclose(rot[:, :, INSENS], expected[:, :, INSENS], atol=1e-5)
    # texture channels follow their blocks: here/above/left/above-left -> above-left/left/above/here
    np.testing.assert_allclose(rot[:, :, TEXT], expected[:, :, TEXT][:, :, ::-1], atol=1e-5)


def test_mirroring_permutes_orientation_bins():
    img = _random_float_image((28, 36, 3), 4)
    feat = fhog(img)
    k = np.arange(18)
    # left-right mirror: theta -> pi - theta, bin k -> 9 - k (mod 18)
    lr = fhog(img[:, ::-1])
    np.testing.assert_allclose(lr[:, :, (9 - k) % 18], feat[:, ::-1, :18], atol=1e-5)
    np.testing.assert_allclose(lr[:, :, 18 + (9 - k[:9]) % 9], feat[:, ::-1, 18:27], atol=1e-5)
    np.testing.assert_allclose(lr[:, :, TEXT], feat[:, ::-1, TEXT][:, :, [2, 3, 0, 1]], atol=1e-5)
    # up-down mirror: theta -> -theta, bin k -> -k (mod 18)
    ud = fhog(img[::-1])
    np.testing.assert_allclose(ud[:, :, (-k) % 18], feat[::-1, :, :18], atol=1e-5)
    np.testing.assert_allclose(ud[:, :, TEXT], feat[::-1, :, TEXT][:, :, [1, 0, 3, 2]], atol=1e-5)


def test_rotation_by_90_degrees_of_a_ramp():
    # A 90-degree rotation moves angles by 4.5 bins, so it is a bin permutation only for
    # gradients known to lie in one half of a bin. A ramp with its gradient at 5 degrees
    # (bin 0) rotated counter-clockwise has its gradient at 5 - 90 = -85 degrees (bin 14).
    yy, xx = np.mgrid[0:32, 0:40].astype(np.float64)
    phi = math.radians(5.0)
    ramp = (60.0 + 3.0 * (xx * math.cos(phi) + yy * math.sin(phi))).astype(np.float32)
    feat = fhog(ramp)
    assert np.count_nonzero(feat[:, :, :18].sum(axis=(0, 1))) == 1 and feat[:, :, 0].min() > 0
    rot = fhog(np.rot90(ramp))
    turned = np.rot90(feat)  # cell (i, j) of the rotated map is cell (j, W - 1 - i)
    expected = np.zeros_like(turned)
    expected[:, :, 14] = turned[:, :, 0]
    expected[:, :, 18 + 5] = turned[:, :, 18]
    # blocks below-right/above-right/below-left/above-left turn into above-right/above-left/...
    expected[:, :, 27 + np.array([1, 3, 0, 2])] = turned[:, :, TEXT]
    np.testing.assert_allclose(rot, expected, atol=1e-5)


def test_contrast_insensitive_channels_are_the_opposite_pair_sums():
    img = _random_float_image((24, 28, 3), 5)
    # without truncation the normalised channels are linear in the histograms, so the
    # insensitive bin o is exactly the sum of the sensitive bins o and o + 9
    loose = fhog(img, clip=1e6)
    np.testing.assert_allclose(loose[:, :, 18:27], loose[:, :, :9] + loose[:, :, 9:18], rtol=1e-5, atol=1e-6)
    # with truncation at 0.2, min(a + b, c) <= min(a, c) + min(b, c)
    feat = fhog(img)
    assert (feat[:, :, 18:27] <= feat[:, :, :9] + feat[:, :, 9:18] + 1e-6).all()
    assert feat.max() <= 4 * 0.5 * 0.2 + 1e-6


def test_invariant_to_a_global_brightness_offset():
    img = np.random.default_rng(6).integers(0, 200, (30, 34, 3)).astype(np.float32)
    np.testing.assert_array_equal(fhog(img + 40.0), fhog(img))
    grey = img[:, :, 1].astype(np.uint8)
    np.testing.assert_array_equal(fhog(grey + np.uint8(55)), fhog(grey))


@pytest.mark.parametrize(("shape", "seed"), [((16, 20, 3), 7), ((16, 20), 8), ((18, 23, 3), 9)])
def test_matches_slow_reference(shape, seed):
    img = _random_float_image(shape, seed)
    np.testing.assert_allclose(fhog(img), reference_fhog(img), atol=1e-4)


def test_matches_slow_reference_on_uint8_with_cell_5():
    img = np.random.default_rng(10).integers(0, 256, (20, 15, 3)).astype(np.uint8)
    # uint8 gradients often sit exactly on bin boundaries; both round half up there
    img = img.astype(np.float32) + np.random.default_rng(11).uniform(0, 0.01, img.shape).astype(np.float32)
    np.testing.assert_allclose(fhog(img, cell_size=5), reference_fhog(img, cell=5), atol=1e-4)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((3, 3, 3), np.uint8),
        np.zeros((8, 8, 3, 1)),
        np.array([["a"] * 8] * 8),
        np.full((8, 8), np.nan),
    ],
)
def test_rejects_bad_images(bad):
    with pytest.raises(ValueError):
        fhog(bad)


def test_rejects_bad_parameters():
    img = np.zeros((16, 16), np.uint8)
    with pytest.raises(ValueError):
        fhog(img, cell_size=0)
    with pytest.raises(ValueError):
        fhog(img, clip=0.0)
