"""Generative sample space model (ECO Sec. 3.2): merge/replace invariants."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.fourier import cfft2
from cfvgg_ros.trackers.eco.sample_space import SampleSpace

SHAPES = [(2, 5, 3), (1, 3, 2)]


def _sample(rng, scale=1.0):
    return [cfft2(scale * rng.standard_normal((s[0], s[1], 2 * s[2] - 1)).astype(np.float32)) for s in SHAPES]


def _check_matrices(space):
    n = space.num_training_samples
    stored = [[s[i] for s in space.samples] for i in range(n)]
    for i in range(n):
        for j in range(n):
            g = SampleSpace.inner(stored[i], stored[j])
            assert space.gram[i, j] == pytest.approx(g, rel=1e-4, abs=1e-3)
            if i != j:
                d = SampleSpace.inner(stored[i], stored[i]) + SampleSpace.inner(stored[j], stored[j]) - 2 * g
                assert space.distance[i, j] == pytest.approx(max(d, 0.0), rel=1e-3, abs=1e-2)
            else:
                assert np.isinf(space.distance[i, i])


def test_fill_then_merge_keeps_invariants():
    rng = np.random.default_rng(0)
    space = SampleSpace(SHAPES, num_samples=5, learning_rate=0.1)
    for k in range(25):
        space.update(_sample(rng, scale=1.0 + 0.1 * k))
        assert space.prior_weights.sum() == pytest.approx(1.0)
        assert np.all(space.prior_weights[: space.num_training_samples] > 0)
        _check_matrices(space)
    assert space.num_training_samples == 5


def test_merge_with_new_sample_is_prior_weighted_mean():
    rng = np.random.default_rng(1)
    space = SampleSpace(SHAPES, num_samples=2, learning_rate=0.2)
    a, b = _sample(rng), _sample(rng, scale=5.0)
    space.update(a)
    space.update(b)
    priors = space.prior_weights.copy()
    near_a = [x + 0.01 for x in a]  # much closer to a than a is to b
    merged_id, new_id = space.update(near_a)
    assert (merged_id, new_id) == (0, -1)
    w1, w2 = priors[0] * (1 - 0.2), 0.2
    for stored, x, y in zip(space.samples, a, near_a, strict=True):
        np.testing.assert_allclose(stored[0], (w1 * x + w2 * y) / (w1 + w2), rtol=1e-5, atol=1e-6)
    assert space.prior_weights[0] == pytest.approx((w1 + w2) / (w1 + w2 + priors[1] * 0.8))
    _check_matrices(space)


def test_two_closest_existing_samples_merge_and_new_takes_slot():
    rng = np.random.default_rng(2)
    space = SampleSpace(SHAPES, num_samples=3, learning_rate=0.1)
    a = _sample(rng)
    space.update(a)
    space.update([x + 0.001 for x in a])  # nearly identical to a
    space.update(_sample(rng, scale=3.0))
    far = _sample(rng, scale=30.0)
    merged_id, new_id = space.update(far)
    assert {merged_id, new_id} == {0, 1}
    for stored, x in zip(space.samples, far, strict=True):
        np.testing.assert_allclose(stored[new_id], x)
    assert space.prior_weights[new_id] == pytest.approx(
        0.1 / space.prior_weights.sum() * space.prior_weights.sum()
    )
    _check_matrices(space)


def test_lowest_prior_is_replaced_when_below_minimum():
    rng = np.random.default_rng(3)
    space = SampleSpace(SHAPES, num_samples=3, learning_rate=0.1)
    for _ in range(3):
        space.update(_sample(rng))
    space.prior_weights[:] = [0.6, 0.4 - 1e-9, 1e-9]  # slot 2 decayed below the minimum weight
    new = _sample(rng, scale=2.0)
    merged_id, new_id = space.update(new)
    assert (merged_id, new_id) == (-1, 2)
    assert space.prior_weights[2] == pytest.approx(0.1)
    assert space.prior_weights.sum() == pytest.approx(1.0)
    for stored, x in zip(space.samples, new, strict=True):
        np.testing.assert_allclose(stored[2], x)
    _check_matrices(space)


def test_bad_input():
    space = SampleSpace(SHAPES, num_samples=3, learning_rate=0.1)
    with pytest.raises(ValueError):
        space.update([np.zeros((2, 5, 3), np.complex64)])
    with pytest.raises(ValueError):
        SampleSpace(SHAPES, num_samples=3, learning_rate=1.5)
