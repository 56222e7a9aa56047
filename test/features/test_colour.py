"""Table-free colour feature: hand-computed memberships of uniform cells, cell layout and
input checks."""

from __future__ import annotations

import numpy as np
import pytest

from cfvgg_ros.features.colour import COLOUR_CHANNEL_NAMES, NUM_COLOUR_CHANNELS, colour_features

IDX = {name: i for i, name in enumerate(COLOUR_CHANNEL_NAMES)}


def _uniform(rgb, shape=(8, 8)):
    return np.broadcast_to(np.array(rgb, np.uint8), (*shape, 3)).copy()


def _expected(**weights):
    vec = np.zeros(NUM_COLOUR_CHANNELS, np.float32)
    for name, value in weights.items():
        vec[IDX[name]] = value
    return vec


@pytest.mark.parametrize(
    ("rgb", "weights"),
    [
        ((255, 0, 0), {"red": 1.0}),
        ((255, 255, 0), {"yellow": 1.0}),
        ((0, 200, 0), {"green": 1.0}),
        ((0, 255, 255), {"cyan": 1.0}),
        ((0, 0, 255), {"blue": 1.0}),
        ((255, 0, 255), {"magenta": 1.0}),
        ((0, 0, 0), {"black": 1.0}),
        ((85, 85, 85), {"dark_grey": 1.0}),
        ((170, 170, 170), {"light_grey": 1.0}),
        ((255, 255, 255), {"white": 1.0}),
        # grey level 128 / 85 = 1.50588: 0.49412 dark grey, 0.50588 light grey
        ((128, 128, 128), {"dark_grey": 1 - 43 / 85, "light_grey": 43 / 85}),
        # orange: chroma 255, hue (G - B) / C = 128 / 255 of the way from red to yellow
        ((255, 128, 0), {"red": 127 / 255, "yellow": 128 / 255}),
        # rose: hue (G - B) / C = -128 / 255 wraps to 6 - 0.50196, between magenta and red
        ((255, 0, 128), {"magenta": 128 / 255, "red": 127 / 255}),
        # greyish blue: chroma 30 -> colourfulness 30 / 76.5; hue (R - G) / C + 4 = 3.6667;
        # grey level 113.33 / 85 = 1.3333
        (
            (100, 110, 130),
            {
                "cyan": (30 / 76.5) / 3,
                "blue": (30 / 76.5) * 2 / 3,
                "dark_grey": (1 - 30 / 76.5) * 2 / 3,
                "light_grey": (1 - 30 / 76.5) / 3,
            },
        ),
    ],
)
def test_uniform_cells_have_hand_computed_memberships(rgb, weights):
    feat = colour_features(_uniform(rgb))
    assert feat.shape == (2, 2, NUM_COLOUR_CHANNELS) and feat.dtype == np.float32
    for cell in feat.reshape(-1, NUM_COLOUR_CHANNELS):
        np.testing.assert_allclose(cell, _expected(**weights), atol=1e-5)


def test_cells_average_their_pixels():
    img = np.zeros((4, 8, 3), np.uint8)
    img[:, :2] = (255, 0, 0)  # left half of cell 0 red
    img[:, 2:4] = (0, 0, 255)  # right half of cell 0 blue
    img[0, 4:8] = (255, 255, 255)  # one row of cell 1 white, the rest black
    feat = colour_features(img, cell_size=4)
    np.testing.assert_allclose(feat[0, 0], _expected(red=0.5, blue=0.5), atol=1e-6)
    np.testing.assert_allclose(feat[0, 1], _expected(white=0.25, black=0.75), atol=1e-6)


def test_layout_matches_fhog_cells_and_ignores_the_remainder():
    img = np.random.default_rng(0).integers(0, 256, (10, 13, 3)).astype(np.uint8)
    feat = colour_features(img, cell_size=4)
    assert feat.shape == (2, 3, NUM_COLOUR_CHANNELS)
    changed = img.copy()
    changed[8:, :] = 255 - changed[8:, :]
    changed[:, 12:] = 0
    np.testing.assert_array_equal(colour_features(changed, cell_size=4), feat)
    assert colour_features(img, cell_size=3).shape == (3, 4, NUM_COLOUR_CHANNELS)


def test_memberships_are_a_distribution_and_float_input_matches_uint8():
    img = np.random.default_rng(1).integers(0, 256, (32, 40, 3)).astype(np.uint8)
    feat = colour_features(img)
    assert (feat >= 0).all() and (feat <= 1 + 1e-6).all()
    np.testing.assert_allclose(feat.sum(axis=2), 1.0, atol=1e-5)
    np.testing.assert_allclose(colour_features(img.astype(np.float64)), feat, atol=1e-6)


def test_grey_pixels_use_only_grey_channels():
    grey = np.random.default_rng(2).integers(0, 256, (16, 16)).astype(np.uint8)
    feat = colour_features(np.repeat(grey[:, :, None], 3, axis=2))
    assert not feat[:, :, :6].any()
    np.testing.assert_allclose(feat[:, :, 6:].sum(axis=2), 1.0, atol=1e-5)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((8, 8), np.uint8),
        np.zeros((8, 8, 4), np.uint8),
        np.zeros((3, 8, 3), np.uint8),
        np.full((8, 8, 3), np.nan),
        np.array([[["a", "b", "c"]] * 8] * 8),
    ],
)
def test_rejects_bad_images(bad):
    with pytest.raises(ValueError):
        colour_features(bad)


def test_rejects_bad_parameters():
    img = _uniform((1, 2, 3))
    with pytest.raises(ValueError):
        colour_features(img, cell_size=0)
    with pytest.raises(ValueError):
        colour_features(img, chroma_full=0.0)
