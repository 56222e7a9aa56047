"""Losses of §IV-A against hand-computed values and numerical gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cfvgg_ros.training.losses import (
    cosine_window,
    dcf_response,
    fidelity_loss,
    gaussian_labels,
    offline_loss,
    tracking_loss,
)


def test_gaussian_labels_peak_and_width():
    labels = gaussian_labels((9, 11), torch.tensor([[4.0, 5.0], [2.5, 3.0]]), torch.tensor([1.0, 2.0]))
    assert labels.shape == (2, 9, 11)
    assert labels[0, 4, 5] == pytest.approx(1.0)
    assert labels[0, 4, 6] == pytest.approx(np.exp(-0.5))
    assert labels[1, 2, 3] == pytest.approx(np.exp(-0.5 * 0.25 / 4))
    with pytest.raises(ValueError, match="positive"):
        gaussian_labels((4, 4), torch.zeros(1, 2), torch.zeros(1))


def test_dcf_self_response_approximates_the_label():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 16, 16, dtype=torch.float64)
    y = gaussian_labels((16, 16), torch.tensor([[8.0, 8.0]]), torch.tensor([1.5]), dtype=torch.float64)
    response = dcf_response(x, x, y, reg=1e-6)
    torch.testing.assert_close(response, y, atol=1e-4, rtol=0)


def test_dcf_response_moves_with_the_search_patch():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    y = gaussian_labels((16, 16), torch.tensor([[8.0, 8.0]] * 2), torch.tensor([1.0, 1.0]), dtype=torch.float64)
    z = torch.roll(x, shifts=(2, -3), dims=(2, 3))
    response = dcf_response(x, z, y, reg=1e-6)
    for n in range(2):
        assert divmod(int(response[n].argmax()), 16) == (10, 5)


def test_dcf_matches_a_numpy_evaluation_of_eqs_2_and_3():
    rng = np.random.default_rng(3)
    x, z = rng.normal(size=(1, 2, 5, 6)), rng.normal(size=(1, 2, 5, 6))
    y = rng.uniform(size=(5, 6))
    reg = 0.3
    xh, zh, yh = np.fft.fft2(x), np.fft.fft2(z), np.fft.fft2(y)
    w_hat = np.conj(yh) * xh / ((xh * np.conj(xh)).sum(axis=1, keepdims=True) + reg)  # Eq. 2
    expected = np.real(np.fft.ifft2((np.conj(w_hat) * zh).sum(axis=1)))  # Eq. 3
    got = dcf_response(torch.from_numpy(x), torch.from_numpy(z), torch.from_numpy(y), reg)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-12)


def test_dcf_gradients_pass_gradcheck():
    torch.manual_seed(2)
    x = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    z = torch.randn(1, 2, 3, 4, dtype=torch.float64, requires_grad=True)
    y = gaussian_labels((3, 4), torch.tensor([[1.0, 2.0]]), torch.tensor([1.0]), dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a, b: dcf_response(a, b, y, 0.1), (x, z), fast_mode=True)
    g = gaussian_labels((3, 4), torch.tensor([[1.0, 3.0]]), torch.tensor([1.0]), dtype=torch.float64)

    def loss(a, b):
        return tracking_loss({"low": a}, {"low": b}, {"low": y}, {"low": g}, reg=0.1, window=True)[0]

    assert torch.autograd.gradcheck(loss, (x, z), fast_mode=True)


def test_tracking_loss_sums_levels_and_is_zero_for_a_perfect_response():
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    y = gaussian_labels((8, 8), torch.tensor([[4.0, 4.0]]), torch.tensor([1.0]), dtype=torch.float64)
    total, terms = tracking_loss({"low": x}, {"low": x}, {"low": y}, {"low": y}, reg=1e-9, window=False)
    assert float(total) == pytest.approx(0.0, abs=1e-8)
    # a zero search patch responds with zeros: the loss is ||g||^2 per level
    zero = torch.zeros_like(x)
    total, terms = tracking_loss(
        {"low": x, "high": x},
        {"low": zero, "high": zero},
        {"low": y, "high": y},
        {"low": y, "high": y},
        reg=1e-3,
        window=False,
    )
    assert float(terms["low"]) == pytest.approx(float((y**2).sum()))
    assert float(total) == pytest.approx(2 * float((y**2).sum()))
    _, mean_terms = tracking_loss({"low": x}, {"low": zero}, {"low": y}, {"low": y}, 1e-3, False, "mean")
    assert float(mean_terms["low"]) == pytest.approx(float((y**2).mean()))


def test_cosine_window_is_positive_and_peaks_in_the_middle():
    window = cosine_window((5, 7))
    assert window.shape == (5, 7) and float(window.min()) > 0
    assert float(window[2, 3]) == pytest.approx(1.0)


def test_fidelity_loss_hand_computed():
    s_x = {"low": torch.ones(2, 3, 2, 2), "high": torch.zeros(2, 1, 1, 1)}
    s_z = {"low": torch.zeros(2, 3, 2, 2), "high": torch.full((2, 1, 1, 1), 2.0)}
    t_x = {"low": torch.zeros(2, 3, 2, 2), "high": torch.ones(2, 1, 1, 1)}
    t_z = {"low": torch.zeros(2, 3, 2, 2), "high": torch.zeros(2, 1, 1, 1)}
    total, terms = fidelity_loss(s_x, s_z, t_x, t_z)
    # low: ||1||^2 over 12 elements per sample = 12 (+0); high: 1 + 4 = 5; batch mean
    assert float(terms["low"]) == pytest.approx(12.0)
    assert float(terms["high"]) == pytest.approx(5.0)
    assert float(total) == pytest.approx(17.0)
    total, _ = fidelity_loss(s_x, s_z, t_x, t_z, levels=["high"], reduction="mean")
    assert float(total) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="student"):
        fidelity_loss(s_x, s_z, {"low": torch.zeros(2, 4, 2, 2)}, {"low": torch.zeros(2, 4, 2, 2)})


def test_offline_loss_is_eq4():
    assert float(offline_loss(torch.tensor(2.0), torch.tensor(3e5), 1e-5)) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        offline_loss(torch.tensor(1.0), torch.tensor(1.0), -1.0)
    with pytest.raises(ValueError, match="regulariser"):
        dcf_response(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2), torch.ones(2, 2), 0.0)
