"""fhog_batch (the scale filter's one-call fHOG of its scale samples) equals per-image fhog."""

import numpy as np
import pytest

from cfvgg_ros.features.fhog import fhog, fhog_batch


@pytest.mark.parametrize("shape,dtype", [((5, 24, 20, 3), np.uint8), ((3, 13, 9, 1), np.float32)])
def test_fhog_batch_equals_stacked_fhog(shape, dtype):
    rng = np.random.default_rng(3)
    images = (rng.uniform(0, 255, shape)).astype(dtype)
    images[1] = images[1, :1]  # a flat image (no gradients) in the batch
    batch = fhog_batch(images, cell_size=4)
    single = np.stack([fhog(im, cell_size=4) for im in images])
    assert batch.shape == single.shape and batch.dtype == np.float32
    np.testing.assert_array_equal(batch, single)


def test_fhog_batch_rejects_bad_input():
    with pytest.raises(ValueError, match="NxHxWxC"):
        fhog_batch(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="smaller than one"):
        fhog_batch(np.zeros((2, 3, 8, 3), np.uint8))
    with pytest.raises(ValueError, match="non-finite"):
        fhog_batch(np.full((1, 8, 8, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="cell_size"):
        fhog_batch(np.zeros((1, 8, 8, 3), np.uint8), cell_size=0)
