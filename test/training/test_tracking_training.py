"""The correlation tracking loss (Eqs. 6-8) trains: a scale-invariant DCF, and SGD on the tracking
loss alone lowers it on a few synthetic template/search pairs."""

from __future__ import annotations

import pytest
import torch

from cfvgg_ros.datasets.synthetic import make_sequence
from cfvgg_ros.training.config import config_from_dict
from cfvgg_ros.training.losses import dcf_response, fidelity_loss, gaussian_labels, tracking_loss
from cfvgg_ros.training.pairs import PairDataset
from cfvgg_ros.training.student import CFVGGStudent
from cfvgg_ros.training.train import make_labels


def test_relative_regulariser_makes_the_response_scale_invariant():
    torch.manual_seed(0)
    x = torch.rand(2, 4, 12, 12, dtype=torch.float64)
    z = torch.roll(x, shifts=(1, 2), dims=(2, 3)) + 0.1 * torch.rand_like(x)
    y = gaussian_labels((12, 12), torch.tensor([[6.0, 6.0]] * 2), torch.tensor([1.0] * 2), torch.float64)
    reference = dcf_response(x, z, y, 1e-2, relative=True)
    for scale in (1e-3, 1e3):
        torch.testing.assert_close(dcf_response(scale * x, scale * z, y, 1e-2, relative=True), reference)
    # a fixed lambda is not: shrinking the features makes the response vanish (loss -> ||g||^2)
    faint = dcf_response(1e-5 * x, 1e-5 * z, y, 1e-4)
    assert float(faint.abs().max()) < 0.05 * float(reference.abs().max())


def test_several_search_patches_per_template_match_single_pairs():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 8, 10, dtype=torch.float64)
    z = torch.randn(6, 3, 8, 10, dtype=torch.float64)
    y = gaussian_labels((8, 10), torch.tensor([[4.0, 5.0], [3.0, 4.0]]), torch.tensor([1.0, 1.5]), torch.float64)
    grouped = dcf_response(x, z, y, 0.1, relative=True)
    for m in range(6):
        n = m // 3
        single = dcf_response(x[n : n + 1], z[m : m + 1], y[n : n + 1], 0.1, relative=True)
        torch.testing.assert_close(grouped[m : m + 1], single)
    with pytest.raises(ValueError, match="evenly"):
        dcf_response(x, z[:5], y, 0.1)


def test_tracking_loss_alone_decreases_on_synthetic_pairs():
    """30 SGD steps (paper momentum / weight decay, lr 1e-2, sum reduction, relative DCF) on the
    student alone with the multi-level tracking loss lower it clearly on a fixed batch."""
    config = config_from_dict(
        {
            "data": {"sequences": ["synthetic/translation"], "patch_size": 64, "samples_per_epoch": 4},
            "loss": {"fidelity_levels": []},
        }
    )
    sequence = make_sequence("translation", num_frames=12, width=320, height=240)
    dataset = PairDataset([sequence], config.data.pair_settings(), seed=0)
    items = [dataset[i] for i in range(4)]
    batch = {k: torch.stack([item[k] for item in items]) for k in items[0]}
    torch.manual_seed(0)
    student = CFVGGStudent()
    optimizer = torch.optim.SGD(
        student.parameters(),
        lr=config.optim.lr_start,
        momentum=config.optim.momentum,
        weight_decay=config.optim.weight_decay,
    )

    def loss_of():
        fx, fz = student(batch["template"]), student(batch["search"])
        grids = {lv: tuple(fx[lv].shape[-2:]) for lv in config.loss.tracking_levels}
        x_labels = make_labels(batch["template_centre"], batch["template_size"], grids, config)
        z_labels = make_labels(batch["search_centre"], batch["search_size"], grids, config)
        return tracking_loss(
            fx, fz, x_labels, z_labels, config.loss.dcf_lambda, config.loss.cosine_window,
            config.loss.reduction, config.loss.dcf_lambda_relative,
        )

    losses = []
    for _ in range(30):
        total, terms = loss_of()
        optimizer.zero_grad()
        total.backward()
        if config.optim.grad_clip:
            torch.nn.utils.clip_grad_norm_(student.parameters(), config.optim.grad_clip)
        optimizer.step()
        losses.append(float(total.detach()))
    with torch.no_grad():
        final, _ = loss_of()
    assert float(final) < 0.6 * losses[0]


def test_normalised_fidelity_is_a_relative_error_per_level():
    teacher_x = {"low": torch.full((2, 3, 2, 2), 2.0), "high": torch.full((2, 1, 1, 1), 100.0)}
    teacher_z = {"low": torch.zeros(2, 3, 2, 2), "high": torch.full((2, 1, 1, 1), 100.0)}
    zeros = {k: torch.zeros_like(v) for k, v in teacher_x.items()}
    total, terms = fidelity_loss(zeros, zeros, teacher_x, teacher_z, normalize=True)
    # an all-zero student scores 1 on every level, whatever the teacher's scale
    assert float(terms["low"]) == pytest.approx(1.0) and float(terms["high"]) == pytest.approx(1.0)
    assert float(total) == pytest.approx(2.0)
    half = {k: 0.5 * v for k, v in teacher_x.items()}
    _, terms = fidelity_loss(half, {"low": zeros["low"], "high": 0.5 * teacher_z["high"]}, teacher_x, teacher_z,
                             normalize=True)
    assert float(terms["low"]) == pytest.approx(0.25) and float(terms["high"]) == pytest.approx(0.25)


def test_config_checks_grad_clip_and_resume_keeps_legacy_loss_settings():
    from cfvgg_ros.training.config import ConfigError
    from cfvgg_ros.training.train import _with_legacy_loss_keys

    with pytest.raises(ConfigError, match="grad_clip"):
        config_from_dict({"optim": {"grad_clip": 0}})
    assert config_from_dict({"optim": {"grad_clip": None}}).optim.grad_clip is None
    legacy = config_from_dict(_with_legacy_loss_keys({"loss": {"fidelity_weight": 1e-5}}))
    assert not legacy.loss.dcf_lambda_relative and not legacy.loss.fidelity_normalize
    assert config_from_dict({}).loss.dcf_lambda_relative and config_from_dict({}).loss.fidelity_normalize
