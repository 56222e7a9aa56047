"""CF-VGG student: layout, parameter count, MatConvNet semantics (LRN, asymmetric pooling)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cfvgg_ros.models.contract import output_length, receptive_field
from cfvgg_ros.models.matconvnet import ConvLayer, forward, load_simplenn
from cfvgg_ros.paths import shared_models_root
from cfvgg_ros.training.student import (
    CFVGGStudent,
    DistillationModel,
    FeatureAdapters,
    MatConvNetLRN,
    count_parameters,
    load_simplenn_weights,
    student_geometry,
)


def test_default_student_has_the_cf_vggm_parameter_count():
    # conv1 7*7*3*12+12, conv2 5*5*12*32+32, conv3 3*3*32*64+64, conv4/5 3*3*64*64+64
    expected = (7 * 7 * 3 * 12 + 12) + (5 * 5 * 12 * 32 + 32) + (9 * 32 * 64 + 64) + 2 * (9 * 64 * 64 + 64)
    assert expected == 103_760
    assert count_parameters(CFVGGStudent()) == expected


def test_parameter_count_matches_released_cf_vggm_mat():
    root = shared_models_root()
    path = None if root is None else root / "paper" / "CF_VGGM.mat"
    if path is None or not path.is_file():
        pytest.skip("shared/models/paper/CF_VGGM.mat is not available")
    net = load_simplenn(path)
    mat_params = sum(layer.weights.size + layer.bias.size for layer in net.layers if isinstance(layer, ConvLayer))
    assert count_parameters(CFVGGStudent()) == mat_params
    student = load_simplenn_weights(CFVGGStudent(), net)
    image = np.random.default_rng(1).uniform(0, 255, (45, 52, 3))
    reference = forward(net, image)
    with torch.no_grad():
        out = student(torch.from_numpy(image.astype(np.float32)).permute(2, 0, 1)[None])
    for level, ref in reference.items():
        got = out[level][0].permute(1, 2, 0).numpy()
        assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max())


def test_lrn_uses_matconvnet_alpha_not_divided_by_n():
    x = torch.rand(2, 7, 3, 4, dtype=torch.float64) * 80
    y = MatConvNetLRN(5, 2.0, 1e-4, 0.75)(x)
    expected = torch.empty_like(x)
    for k in range(7):
        lo, hi = max(0, k - 2), min(7, k + 3)
        expected[:, k] = x[:, k] / (2.0 + 1e-4 * (x[:, lo:hi] ** 2).sum(dim=1)) ** 0.75
    torch.testing.assert_close(y, expected, rtol=1e-9, atol=1e-9)
    with pytest.raises(ValueError, match="odd"):
        MatConvNetLRN(4)


def test_student_matches_numpy_matconvnet_reference(tmp_path, vggm_mat_writer):
    net = load_simplenn(vggm_mat_writer(tmp_path / "cfvgg.mat", channels=(12, 32, 64, 64, 64), seed=5))
    student = load_simplenn_weights(CFVGGStudent(), net)
    image = np.random.default_rng(2).uniform(0, 255, (2, 53, 61, 3))
    reference = forward(net, image)
    with torch.no_grad():
        out = student(torch.from_numpy(image.astype(np.float32)).permute(0, 3, 1, 2))
    for level, ref in reference.items():
        got = out[level].permute(0, 2, 3, 1).numpy()
        assert got.shape == ref.shape
        assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), level


@pytest.mark.parametrize("size", [(64, 64), (97, 131)])
def test_output_sizes_and_strides_follow_the_contract_geometry(size):
    student = CFVGGStudent()
    geometry = student_geometry()
    assert {lv: receptive_field(layers)[0] for lv, layers in geometry.items()} == {"low": 2, "mid": 8, "high": 16}
    with torch.no_grad():
        out = student(torch.zeros(1, 3, *size))
    for level, tensor in out.items():
        expected = tuple(output_length(geometry[level], n) for n in size)
        assert tuple(tensor.shape[-2:]) == expected
        assert tensor.shape[1] == student.level_channels[level]


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="5 positive"):
        CFVGGStudent(channels=(12, 32, 64))
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        CFVGGStudent()(torch.zeros(1, 1, 32, 32))


def test_adapters_map_student_channels_to_teacher_channels():
    student = CFVGGStudent()
    adapters = FeatureAdapters(student.level_channels, {"low": 16, "high": 112})
    model = DistillationModel(student, adapters)
    fx, fz, ax, az = model(torch.rand(2, 3, 64, 64) * 255, torch.rand(2, 3, 64, 64) * 255)
    assert set(ax) == {"low", "high"} and ax["low"].shape[1] == 16 and az["high"].shape[1] == 112
    assert ax["low"].shape[-2:] == fx["low"].shape[-2:]
    with pytest.raises(ValueError, match="no level"):
        FeatureAdapters({"low": 12}, {"mid": 40})
