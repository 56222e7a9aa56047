"""Spatial regularisation operator and the training normal equations (ECO Eq. 5, 7)."""

import numpy as np
import pytest
from scipy.signal import convolve2d

from cfvgg_ros.trackers.eco.fourier import cfft2, full_spectrum
from cfvgg_ros.trackers.eco.normal_equations import FilterSystem, JointSystem, SpectrumLayout, filter_inner
from cfvgg_ros.trackers.eco.optimizer import conjugate_gradient
from cfvgg_ros.trackers.eco.regularization import RegularizationOperator, reg_window_filter


def _herm(rng, c, n):
    return cfft2(rng.standard_normal((c, n, n)).astype(np.float32))


def test_reg_kernel_reproduces_window_minimum_and_is_small():
    k = reg_window_filter((101, 101), (30, 20), reg_window_min=1e-4, reg_window_edge=1e-2)
    assert k.shape[0] % 2 == 1 and k.shape[1] % 2 == 1 and k.shape[0] <= 15
    # window = kernel's Fourier series on the support (pixel centres i + 1/2), centred at T/2
    sy = np.arange(101) + 0.5
    ky = np.arange(k.shape[0]) - k.shape[0] // 2
    kx = np.arange(k.shape[1]) - k.shape[1] // 2
    w = np.real(
        np.exp(2j * np.pi * ky[None, :] * sy[:, None] / 101)
        @ k
        @ np.exp(2j * np.pi * kx[:, None] * sy[None, :] / 101)
    )
    assert w.min() == pytest.approx(1e-4, rel=1e-3)
    assert abs(np.unravel_index(np.argmin(w), w.shape)[0] - 50) <= 1


def test_reg_operator_is_wh_w():
    rng = np.random.default_rng(0)
    k = reg_window_filter((80, 80), (20, 30))
    op = RegularizationOperator(k)
    a = _herm(rng, 2, 11)
    explicit = convolve2d(convolve2d(full_spectrum(a[1]), k, "full"), k[::-1, ::-1], "valid")
    np.testing.assert_allclose(op(a)[1], explicit[:, 5:], atol=1e-5)
    with pytest.raises(ValueError):
        RegularizationOperator(np.ones((2, 3)))


@pytest.mark.parametrize(
    "support,target,shape",
    [((80, 80), (20, 30), (3, 11, 11)), ((252, 252), (30, 80), (2, 61, 61)), ((40, 40), (30, 30), (2, 3, 5))],
)
def test_reg_accumulate_two_pass_equals_operator(support, target, shape):
    """The CG hot path (W applied twice on half spectra, accumulating) equals W^H W of __call__."""
    rng = np.random.default_rng(1)
    op = RegularizationOperator(reg_window_filter(support, target))
    a = cfft2(rng.standard_normal(shape).astype(np.float32))
    base = (rng.standard_normal(a.shape) + 1j * rng.standard_normal(a.shape)).astype(np.complex64)
    out = base.copy()
    assert op.accumulate(a, out) is out
    expected = base + op(a)
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6 * np.abs(expected).max())
    with pytest.raises(ValueError):
        op.accumulate(a, out[:, :-1])
    with pytest.raises(ValueError):
        op.accumulate(a.astype(np.complex128), out)


def test_filter_and_joint_systems_are_symmetric_positive():
    rng = np.random.default_rng(1)
    reg = RegularizationOperator(reg_window_filter((60, 60), (20, 20)))
    layout = SpectrumLayout([(11, 6), (5, 3)])
    yf = [np.ones((11, 6), np.complex64), np.ones((5, 3), np.complex64)]
    system = FilterSystem(layout, reg, yf)
    z = [np.stack([_herm(rng, 3, 11) for _ in range(4)]), np.stack([_herm(rng, 2, 5) for _ in range(4)])]
    system.set_samples(z, [0.4, 0.3, 0.2, 0.1])
    u = [_herm(rng, 3, 11), _herm(rng, 2, 5)]
    v = [_herm(rng, 3, 11), _herm(rng, 2, 5)]
    assert filter_inner(u, system.apply(v)) == pytest.approx(filter_inner(system.apply(u), v), rel=1e-4)
    assert filter_inner(u, system.apply(u)) > 0
    x = [_herm(rng, 5, 11), _herm(rng, 4, 5)]
    joint = JointSystem(layout, reg, yf, x, 1e-3)
    joint.linearise(
        u, [rng.standard_normal((5, 3)).astype(np.float32), rng.standard_normal((4, 2)).astype(np.float32)]
    )
    u2 = u + [rng.standard_normal((5, 3)), rng.standard_normal((4, 2))]
    v2 = v + [rng.standard_normal((5, 3)), rng.standard_normal((4, 2))]
    assert joint.inner(u2, joint.apply(v2)) == pytest.approx(joint.inner(joint.apply(u2), v2), rel=1e-4)


def test_filter_training_fits_the_label():
    """Without spatial regularisation a filter trained on one sample reproduces the label."""
    rng = np.random.default_rng(2)
    layout = SpectrumLayout([(9, 5)])
    y = (
        cfft2(
            np.exp(
                -0.5
                * (
                    np.minimum(np.arange(9), 9 - np.arange(9))[:, None] ** 2
                    + np.minimum(np.arange(9), 9 - np.arange(9))[None, :] ** 2
                )
            ).astype(np.float32)
        )
        / 81
    )
    system = FilterSystem(layout, RegularizationOperator(np.array([[1e-4]])), [y])
    z = [_herm(rng, 3, 9)[None] / 81]
    system.set_samples(z, [1.0])
    hf, _, res = conjugate_gradient(
        system.apply, system.rhs(), [np.zeros((3, 9, 5), np.complex64)], inner=filter_inner, max_iter=100
    )
    score = layout.scores(hf, z)[0]
    np.testing.assert_allclose(score, y, atol=2e-3 * np.abs(y).max())


def test_response_consistency_term_is_weight_zh_z_times_the_filter_change():
    """ARCF's term ``g ||z (f - f_prev)||^2``: A gains ``g z^H z``, b gains ``g z^H z f_prev``
    (hand-computed on the full output spectrum); set_samples clears it."""
    rng = np.random.default_rng(4)
    layout = SpectrumLayout([(9, 5), (5, 3)])
    reg = RegularizationOperator(reg_window_filter((60, 60), (20, 20)))
    yf = [_herm(rng, 1, 9)[0], _herm(rng, 1, 5)[0]]
    system = FilterSystem(layout, reg, yf)
    z = [np.stack([_herm(rng, 3, 9) for _ in range(3)]), np.stack([_herm(rng, 2, 5) for _ in range(3)])]
    system.set_samples(z, [0.5, 0.3, 0.2])
    f = [_herm(rng, 3, 9), _herm(rng, 2, 5)]
    f_prev = [_herm(rng, 3, 9), _herm(rng, 2, 5)]
    plain_a, plain_b = system.apply(f), system.rhs()
    newest, g = [z[0][1], z[1][1]], 0.7
    system.set_anchor(newest, f_prev, g)

    def zh_z(h):  # g conj(z_d) * (sum_d' z_d' h_d')[block d's rows], by hand
        total = np.zeros(layout.output_shape, np.complex64)
        for (rs, cs), zz, hh in zip(layout.slices, newest, h, strict=True):
            total[rs, cs] += np.sum(zz * hh, axis=0)
        return [g * np.conj(zz) * total[rs, cs] for (rs, cs), zz in zip(layout.slices, newest, strict=True)]

    for got, base, extra in zip(system.apply(f), plain_a, zh_z(f), strict=True):
        np.testing.assert_allclose(got, base + extra, atol=1e-4 * np.abs(base + extra).max())
    for got, base, extra in zip(system.rhs(), plain_b, zh_z(f_prev), strict=True):
        np.testing.assert_allclose(got, base + extra, atol=1e-4 * np.abs(base + extra).max())
    u = [_herm(rng, 3, 9), _herm(rng, 2, 5)]
    assert filter_inner(u, system.apply(f)) == pytest.approx(filter_inner(system.apply(u), f), rel=1e-4)
    system.set_samples(z, [0.5, 0.3, 0.2])
    for got, base in zip(system.apply(f), plain_a, strict=True):
        np.testing.assert_allclose(got, base, atol=1e-6 * np.abs(base).max())


def test_a_heavy_response_consistency_keeps_the_previous_response():
    """With a weight far above the data's, training moves the response on the anchored sample
    little from the previous filter's while the plain system fits the label."""
    rng = np.random.default_rng(5)
    layout = SpectrumLayout([(9, 5)])
    y = [_herm(rng, 1, 9)[0] / 81]
    system = FilterSystem(layout, RegularizationOperator(np.array([[1e-4]])), y)
    z = [_herm(rng, 3, 9)[None] / 81]
    f_prev = [_herm(rng, 3, 9)]
    prev_response = layout.scores(f_prev, z)[0]

    def trained(weight):
        system.set_samples(z, [1.0])
        if weight:
            system.set_anchor([z[0][0]], f_prev, weight)
        hf, _, _ = conjugate_gradient(system.apply, system.rhs(), [np.zeros((3, 9, 5), np.complex64)],
                                      inner=filter_inner, max_iter=100)
        return layout.scores(hf, z)[0]

    free, anchored = trained(0.0), trained(1000.0)
    assert np.abs(free - y[0]).max() < 0.01 * np.abs(y[0]).max()
    # the optimum of |r - y|^2 + g |r - r_prev|^2 is (y + g r_prev) / (1 + g)
    np.testing.assert_allclose(anchored, (y[0] + 1000.0 * prev_response) / 1001.0,
                               atol=0.01 * np.abs(prev_response).max())


def test_gauss_newton_joint_steps_lower_the_objective():
    """ECO Eq. 7: Gauss-Newton steps on (f, P) descend and lower ||sum f . P^T x - y||^2 + ||w f||^2 + lam ||P||^2."""
    from cfvgg_ros.trackers.eco.projection import pca_projection, project_fourier

    rng = np.random.default_rng(3)
    n, d, c = 15, 6, 2
    feats = rng.standard_normal((n, n, d)).astype(np.float32)
    x = [cfft2(np.ascontiguousarray(feats.transpose(2, 0, 1))) / n]
    k = np.minimum(np.arange(n), n - np.arange(n))
    y = [cfft2(np.exp(-0.3 * (k[:, None] ** 2 + k[None, :] ** 2)).astype(np.float32)) / n**2]
    layout = SpectrumLayout([x[0].shape[1:]])
    reg = RegularizationOperator(reg_window_filter((60, 60), (20, 20)))
    lam = 1e-3
    joint = JointSystem(layout, reg, y, x, lam)

    def objective(hf, p):
        z = [project_fourier(x[0], p[0])[None]]
        r = [layout.scores(hf, z)[0] - y[0]]
        return filter_inner(r, r) + filter_inner(hf, [reg(hf[0])]) + lam * float(np.sum(p[0] ** 2))

    hf = [np.zeros((c,) + x[0].shape[1:], np.complex64)]
    p = [pca_projection(feats, c)]
    values = [objective(hf, p)]
    for _ in range(5):
        joint.linearise(hf, p)
        sol, _, _ = conjugate_gradient(
            joint.apply, joint.rhs(), hf + [np.zeros_like(p[0])], inner=joint.inner, max_iter=30, use_fr=True
        )
        # the Gauss-Newton step is a descent direction of the true (bilinear) objective
        t = 1e-2
        small = objective([hf[0] + t * (sol[0] - hf[0])], [p[0] + t * sol[1]])
        assert small < values[-1]
        hf, p = [sol[0].astype(np.complex64)], [(p[0] + sol[1]).astype(np.float32)]
        values.append(objective(hf, p))
    assert values[-1] < 0.1 * values[0], values


def test_scores_of_some_blocks_sum_to_the_scores_of_all():
    """``SpectrumLayout.scores(..., blocks)``: the blocks' own terms, each placed in the centre rows
    / first columns of the output spectrum; the skipped blocks' samples may be None."""
    rng = np.random.default_rng(4)
    layout = SpectrumLayout([(11, 6), (5, 3)])
    hf = [_herm(rng, 3, 11), _herm(rng, 2, 5)]
    z = [np.stack([_herm(rng, 3, 11)]), np.stack([_herm(rng, 2, 5)])]
    both = layout.scores(hf, z)
    first = layout.scores(hf, [z[0], None], [0])
    second = layout.scores(hf, [None, z[1]], [1])
    np.testing.assert_allclose(first + second, both, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(second[0, 3:8, :3], np.sum(hf[1] * z[1][0], axis=0), rtol=1e-5, atol=1e-5)
    assert not np.any(second[0, :3]) and not np.any(second[0, :, 3:])
