"""MatConvNet SimpleNN reader, numpy reference pass and ONNX conversion (cfvgg_ros.models)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.io

from cfvgg_ros.models import matconvnet as mcn
from cfvgg_ros.models.contract import (
    CONTRACT_STRIDES,
    OUTPUT_NAMES,
    LayerGeometry,
    ModelError,
    output_length,
    receptive_field,
    validate_model,
)
from cfvgg_ros.models.runtime import make_session
from cfvgg_ros.models.simplenn_onnx import simplenn_to_onnx
from cfvgg_ros.paths import shared_models_root

# ----------------------------------------------------------------------------- synthetic .mat


def _weights(rng, kh, kw, cin, cout):
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0] = rng.normal(0.0, 1.0 / np.sqrt(kh * kw * cin), (kh, kw, cin, cout)).astype(np.float32)
    cell[0, 1] = rng.normal(0.0, 0.1, (cout, 1)).astype(np.float32)
    return cell


def _conv(rng, name, kh, cin, cout, stride, pad):
    return {
        "name": name,
        "type": "conv",
        "weights": _weights(rng, kh, kh, cin, cout),
        "stride": np.array(stride, float),
        "pad": np.array(pad, float),
    }


def _relu(name):
    return {"name": name, "type": "relu"}


def _lrn(name, n=5, beta=0.75):
    return {"name": name, "type": "lrn", "param": np.array([[n, 2.0, 1e-4, beta]])}


def _pool(name, method="max", pad=(0, 0, 0, 0), size=3, stride=2):
    return {
        "name": name,
        "type": "pool",
        "method": method,
        "pool": np.array([[size, size]], float),
        "stride": np.array([[stride, stride]], float),
        "pad": np.array([pad], float),
    }


def vggm_layers(seed=0, c=(8, 16, 24), lrn_size=5, lrn_beta=0.75, pool_method="max", pool1_pad=(0, 0, 0, 0)):
    """A scaled-down VGG-M (imagenet-vgg-m.mat layout): conv1-5 with norm1/norm2, pool5 and fc6-fc8."""
    rng = np.random.default_rng(seed)
    c1, c2, c3 = c
    return [
        _conv(rng, "conv1", 7, 3, c1, [[2, 2]], [[0, 0, 0, 0]]),
        _relu("relu1"),
        _lrn("norm1", lrn_size, lrn_beta),
        _pool("pool1", pool_method, pool1_pad),
        _conv(rng, "conv2", 5, c1, c2, 2, 1),
        _relu("relu2"),
        _lrn("norm2", lrn_size, lrn_beta),
        _pool("pool2"),
        _conv(rng, "conv3", 3, c2, c3, 1, [[1, 1, 1, 1]]),
        _relu("relu3"),
        _conv(rng, "conv4", 3, c3, c3, 1, 1),
        _relu("relu4"),
        _conv(rng, "conv5", 3, c3, c3, 1, 1),
        _relu("relu5"),
        _pool("pool5"),
        _conv(rng, "fc6", 6, c3, 32, 1, 0),
        _relu("relu6"),
        {"name": "drop6", "type": "dropout", "rate": 0.5},
        _conv(rng, "fc8", 1, 32, 10, 1, 0),
        {"name": "prob", "type": "softmax"},
    ]


def write_simplenn(path, layers, average_image, old_normalization=False):
    """Save ``layers`` as a MatConvNet SimpleNN .mat (cell array of structs) with scipy.io.savemat."""
    cells = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    normalization = {"averageImage": np.asarray(average_image, float), "imageSize": np.array([[224, 224, 3]])}
    net = {"layers": cells}
    if old_normalization:
        net["normalization"] = normalization
    else:
        net["meta"] = {"normalization": normalization, "classes": {"name": "synthetic"}}
    scipy.io.savemat(str(path), {"net": net})
    return path


@pytest.fixture
def vggm_mat(tmp_path):
    average = np.stack([np.full((32, 32), v) for v in (120.0, 110.0, 100.0)], axis=2)
    average += np.random.default_rng(1).normal(0, 3, average.shape)
    return write_simplenn(tmp_path / "vgg-m-synthetic.mat", vggm_layers(), average), average


def _rel_err(a, b):
    return float(np.abs(a - b).max()) / max(float(np.abs(b).max()), 1e-12)


def _onnx_outputs(model, image):
    session = make_session(model.SerializeToString())
    blob = np.ascontiguousarray(image.transpose(0, 3, 1, 2), dtype=np.float32)
    outputs = session.run(list(OUTPUT_NAMES), {"image": blob})
    return {n: o.transpose(0, 2, 3, 1) for n, o in zip(OUTPUT_NAMES, outputs, strict=True)}


# ----------------------------------------------------------------------------- reading


def test_reads_vggm_layout(vggm_mat):
    path, average = vggm_mat
    net = mcn.load_simplenn(path)
    types = [type(layer).__name__ for layer in net.layers]
    assert types[:4] == ["ConvLayer", "ReLULayer", "LRNLayer", "PoolLayer"]
    assert isinstance(net.layers[17], mcn.UnsupportedLayer) and net.layers[17].type == "dropout"
    conv1, conv2 = net.layers[0], net.layers[4]
    assert conv1.weights.shape == (7, 7, 3, 8) and conv1.bias.shape == (8,)
    assert conv1.stride == (2, 2) and conv2.stride == (2, 2) and conv2.pad == (1, 1, 1, 1)
    assert net.layers[2] == mcn.LRNLayer("norm1", 5, 2.0, 1e-4, 0.75)
    assert net.layers[3].pool == (3, 3) and net.layers[3].method == "max"
    np.testing.assert_allclose(net.mean_rgb, average.reshape(-1, 3).mean(axis=0))
    assert len(net.sha1) == 40 and net.source == path.name
    assert mcn.default_taps(net) == {"low": "norm1", "mid": "norm2", "high": "relu5"}


def test_old_normalization_location_and_small_mean(tmp_path):
    mean = np.array([[[1.0, 2.0, 3.0]]])
    path = write_simplenn(tmp_path / "old.mat", vggm_layers(), mean, old_normalization=True)
    np.testing.assert_allclose(mcn.load_simplenn(path).mean_rgb, [1.0, 2.0, 3.0])


def test_beta_release_field_names(tmp_path):
    """Old MatConvNet files: 'filters'/'biases' instead of 'weights', type 'normalize'."""
    layers = vggm_layers(seed=9)
    for layer in layers:
        if layer["type"] == "conv":
            filters, biases = layer.pop("weights")[0]
            layer.update(filters=filters, biases=biases)
        elif layer["type"] == "lrn":
            layer["type"] = "normalize"
    old = mcn.load_simplenn(write_simplenn(tmp_path / "old.mat", layers, np.zeros((1, 1, 3))))
    new = mcn.load_simplenn(write_simplenn(tmp_path / "new.mat", vggm_layers(seed=9), np.zeros((1, 1, 3))))
    assert [type(a) for a in old.layers] == [type(b) for b in new.layers]
    image = np.random.default_rng(10).uniform(0, 255, (48, 48, 3))
    for name, value in mcn.forward(old, image).items():
        np.testing.assert_array_equal(value, mcn.forward(new, image)[name])


def test_asymmetric_pad_is_top_bottom_left_right(tmp_path):
    layers = vggm_layers(pool1_pad=(0, 1, 0, 1))
    net = mcn.load_simplenn(write_simplenn(tmp_path / "pad.mat", layers, np.zeros((1, 1, 3))))
    assert net.layers[3].pad == (0, 1, 0, 1)


@pytest.mark.parametrize("content", [b"", b"not a mat file at all", b"MATLAB 5.0 MAT-file" + b"\0" * 200])
def test_corrupt_file_raises_model_error(tmp_path, content):
    path = tmp_path / "bad.mat"
    path.write_bytes(content)
    with pytest.raises(ModelError, match="bad.mat"):
        mcn.load_simplenn(path)


def test_missing_file_and_missing_net(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        mcn.load_simplenn(tmp_path / "absent.mat")
    scipy.io.savemat(str(tmp_path / "other.mat"), {"x": np.ones(3)})
    with pytest.raises(ModelError, match="no 'net'"):
        mcn.load_simplenn(tmp_path / "other.mat")


def test_unsupported_layer_before_tap_is_rejected(tmp_path):
    layers = vggm_layers()
    layers.insert(1, {"name": "bn1", "type": "bnorm"})
    net = mcn.load_simplenn(write_simplenn(tmp_path / "bn.mat", layers, np.zeros((1, 1, 3))))
    with pytest.raises(ModelError, match="bn1"):
        simplenn_to_onnx(net)
    with pytest.raises(ModelError, match="bn1"):
        mcn.forward(net, np.zeros((64, 64, 3)))


# ----------------------------------------------------------------------------- numpy reference vs formulas


def test_conv_forward_matches_direct_sum():
    rng = np.random.default_rng(2)
    layer = mcn.ConvLayer(
        "c",
        rng.normal(size=(3, 2, 2, 4)).astype(np.float32),
        rng.normal(size=4).astype(np.float32),
        stride=(2, 1),
        pad=(1, 0, 2, 1),
    )
    x = rng.normal(size=(1, 7, 6, 2))
    y = mcn.conv_forward(layer, x)
    ho, wo = (7 + 1 + 0 - 3) // 2 + 1, (6 + 2 + 1 - 2) // 1 + 1
    assert y.shape == (1, ho, wo, 4)
    w = layer.weights.astype(np.float64)
    for i, j, d in itertools.product(range(ho), range(wo), range(4)):
        total = float(layer.bias[d])
        for u, v, c in itertools.product(range(3), range(2), range(2)):
            yy, xx = 2 * i + u - 1, j + v - 2  # row = y, filters are H x W x Cin x Cout
            if 0 <= yy < 7 and 0 <= xx < 6:
                total += w[u, v, c, d] * x[0, yy, xx, c]
        assert y[0, i, j, d] == pytest.approx(total)


@pytest.mark.parametrize("size", [1, 2, 4, 5])
def test_lrn_forward_matches_formula(size):
    layer = mcn.LRNLayer("n", size, kappa=2.0, alpha=1e-2, beta=0.75)
    x = np.random.default_rng(3).normal(0, 5, size=(1, 2, 2, 7))
    y = mcn.lrn_forward(layer, x)
    for k in range(7):
        lo, hi = max(0, k - (size - 1) // 2), min(6, k + int(np.ceil((size - 1) / 2)))
        expected = x[..., k] / (2.0 + 1e-2 * (x[..., lo : hi + 1] ** 2).sum(axis=-1)) ** 0.75
        np.testing.assert_allclose(y[..., k], expected)


@pytest.mark.parametrize("method", ["max", "avg"])
def test_pool_forward_ignores_padding(method):
    layer = mcn.PoolLayer("p", method, pool=(3, 3), stride=(2, 2), pad=(0, 1, 1, 1))
    x = -np.abs(np.random.default_rng(4).normal(size=(1, 6, 5, 2))) - 1.0  # all negative: padding would win
    y = mcn.pool_forward(layer, x)
    assert y.shape == (1, (6 + 1 - 3) // 2 + 1, (5 + 2 - 3) // 2 + 1, 2)
    for i, j in itertools.product(range(y.shape[1]), range(y.shape[2])):
        y0, x0 = 2 * i, 2 * j - 1
        window = x[0, max(y0, 0) : y0 + 3, max(x0, 0) : x0 + 3]
        expected = window.max(axis=(0, 1)) if method == "max" else window.mean(axis=(0, 1))
        np.testing.assert_allclose(y[0, i, j], expected)


# ----------------------------------------------------------------------------- ONNX conversion


@pytest.mark.parametrize(
    "lrn, variant",
    [
        ("fast", {}),
        ("fast", {"lrn_size": 4, "pool_method": "avg", "pool1_pad": (0, 1, 0, 1)}),
        ("fast", {"lrn_beta": 0.5}),
        ("fast", {"lrn_beta": 1.0, "lrn_size": 1}),
        ("fast", {"lrn_beta": 0.6, "lrn_size": 2}),
        ("onnx", {}),
        ("onnx", {"lrn_size": 3, "c": (6, 10, 12)}),
        ("onnx", {"lrn_size": 4}),  # even N: onnxruntime's LRN rejects it, elementary ops are used
    ],
)
def test_onnx_matches_numpy_reference(tmp_path, lrn, variant):
    average = np.array([[[123.0, 117.0, 104.0]]])
    net = mcn.load_simplenn(write_simplenn(tmp_path / "v.mat", vggm_layers(seed=5, **variant), average))
    model, contract = simplenn_to_onnx(net, architecture="VGG-M-synthetic", lrn=lrn)
    image = np.random.default_rng(6).uniform(0, 255, (2, 75, 90, 3))
    reference = mcn.forward(net, image)
    got = _onnx_outputs(model, image)
    for name in OUTPUT_NAMES:
        assert got[name].shape == reference[name].shape
        assert _rel_err(got[name], reference[name]) < 1e-4, name
        assert contract.output_size(name, image.shape[1:3]) == reference[name].shape[1:3]
    assert contract.strides == CONTRACT_STRIDES
    channels = variant.get("c", (8, 16, 24))
    assert contract.channels == {"low": channels[0], "mid": channels[1], "high": channels[2]}


def test_converted_model_satisfies_contract(vggm_mat):
    net = mcn.load_simplenn(vggm_mat[0])
    model, contract = simplenn_to_onnx(net, provenance={"teacher": "none", "data": "random", "epochs": "0"})
    assert validate_model(model) == contract
    props = {p.key: p.value for p in model.metadata_props}
    assert props["architecture"] == "vgg-m-synthetic"
    assert net.sha1 in props["provenance"] and '"epochs": "0"' in props["provenance"]
    assert "LRN" not in {n.op_type for n in model.graph.node}  # default: the fast decomposition
    model, _ = simplenn_to_onnx(net, lrn="onnx")
    assert [n.op_type for n in model.graph.node][:5] == ["Sub", "Conv", "Relu", "LRN", "MaxPool"]
    lrn = next(n for n in model.graph.node if n.op_type == "LRN")
    attrs = {a.name: a for a in lrn.attribute}
    assert attrs["size"].i == 5 and attrs["alpha"].f == pytest.approx(5e-4) and attrs["bias"].f == 2.0


def test_receptive_field_geometry_matches_perturbation(vggm_mat):
    """Changing one pixel may only change cells whose receptive field covers it."""
    net = mcn.load_simplenn(vggm_mat[0])
    _, contract = simplenn_to_onnx(net)
    image = np.random.default_rng(7).uniform(0, 255, (70, 70, 3))
    base = mcn.forward(net, image)
    py, px = 37, 29
    bumped = image.copy()
    bumped[py, px] += 50.0
    changed = mcn.forward(net, bumped)
    for name in ("low", "mid"):
        stride, offset, size = contract.strides[name], contract.rf_offsets[name], contract.rf_sizes[name]
        diff = np.abs(changed[name] - base[name]).max(axis=2) > 0
        assert diff.any()
        for i, j in zip(*np.nonzero(diff), strict=True):
            assert abs(offset + stride * i - py) <= (size - 1) / 2
            assert abs(offset + stride * j - px) <= (size - 1) / 2


def test_geometry_helpers():
    layers = [LayerGeometry(7, 2, 0, 0), LayerGeometry(3, 2, 0, 1), LayerGeometry(5, 2, 1, 1)]
    assert receptive_field(layers) == (8, 9.0, 27)
    assert output_length(layers, 224) == 26 and output_length(layers, 6) == 0
    assert LayerGeometry(3, 1, 2, 2, dilation=2).extent == 5


def test_unknown_lrn_mode(vggm_mat):
    with pytest.raises(ModelError, match="lrn"):
        simplenn_to_onnx(mcn.load_simplenn(vggm_mat[0]), lrn="caffe")


def test_taps_need_two_lrn_and_five_convs(tmp_path):
    layers = [layer for layer in vggm_layers() if layer["name"] != "norm2"]
    net = mcn.load_simplenn(write_simplenn(tmp_path / "t.mat", layers, np.zeros((1, 1, 3))))
    with pytest.raises(ModelError, match="name them explicitly"):
        mcn.default_taps(net)
    model, _ = simplenn_to_onnx(net, {"low": "norm1", "mid": "relu2", "high": "relu5"})
    assert {o.name for o in model.graph.output} == set(OUTPUT_NAMES)


# ----------------------------------------------------------------------------- the paper's student


@pytest.mark.shared
def test_paper_cf_vggm_converts_exactly():
    root = shared_models_root()
    path = root / "paper" / "CF_VGGM.mat" if root is not None else None
    if path is None or not path.is_file():
        pytest.skip("shared/models/paper/CF_VGGM.mat is absent (set CFVGG_SHARED to the shared folder)")
    net = mcn.load_simplenn(path)
    assert mcn.default_taps(net) == {"low": "norm1", "mid": "norm2", "high": "relu5"}
    assert net.layers[0].weights.shape == (7, 7, 3, 12) and net.layers[3].pad == (0, 1, 0, 1)
    model, contract = simplenn_to_onnx(net, architecture="CF_VGGM")
    assert contract.channels == {"low": 12, "mid": 32, "high": 64}
    assert contract.strides == CONTRACT_STRIDES
    image = np.random.default_rng(8).uniform(0, 255, (1, 131, 117, 3))
    reference = mcn.forward(net, image)
    got = _onnx_outputs(model, image)
    for name in OUTPUT_NAMES:
        assert _rel_err(got[name], reference[name]) < 1e-4, name
