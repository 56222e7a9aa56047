"""Preconditioned conjugate gradient."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.optimizer import conjugate_gradient


def _spd(n, seed):
    rng = np.random.default_rng(seed)
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n), rng.standard_normal(n)


@pytest.mark.parametrize("use_fr", [False, True])
@pytest.mark.parametrize("precond", [False, True])
def test_cg_solves_spd_system(use_fr, precond):
    a, b = _spd(30, 0)
    diag = np.diag(a)
    x, state, res = conjugate_gradient(
        lambda v: [a @ v[0]],
        [b],
        [np.zeros(30)],
        max_iter=60,
        use_fr=use_fr,
        precond=(lambda r: [r[0] / diag]) if precond else None,
    )
    np.testing.assert_allclose(x[0], np.linalg.solve(a, b), rtol=1e-8, atol=1e-10)
    assert res[0] > res[-1]
    assert state is not None and state.rho > 0


def test_cg_state_continues_optimisation():
    a, b = _spd(40, 1)
    x1, state, _ = conjugate_gradient(lambda v: [a @ v[0]], [b], [np.zeros(40)], max_iter=5)
    x2, _, _ = conjugate_gradient(lambda v: [a @ v[0]], [b], x1, max_iter=5, state=state)
    x_ref = np.linalg.solve(a, b)
    assert np.linalg.norm(x2[0] - x_ref) < np.linalg.norm(x1[0] - x_ref)


def test_cg_zero_rhs_and_bad_args():
    a, _ = _spd(5, 2)
    x, _, _ = conjugate_gradient(lambda v: [a @ v[0]], [np.zeros(5)], [np.zeros(5)], max_iter=5)
    np.testing.assert_array_equal(x[0], 0)
    with pytest.raises(ValueError):
        conjugate_gradient(lambda v: v, [np.zeros(2)], [np.zeros(2)], max_iter=-1)
