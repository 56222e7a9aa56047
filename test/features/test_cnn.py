"""onnxruntime CNN feature extractor (cfvgg_ros.features.cnn)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from cfvgg_ros.features.cnn import CNNFeatures, ModelError
from cfvgg_ros.models import matconvnet as mcn
from cfvgg_ros.models import store
from cfvgg_ros.models.contract import FeatureContract, stamp_contract
from cfvgg_ros.models.simplenn_onnx import simplenn_to_onnx
from cfvgg_ros.paths import shared_models_root


def tiny_vggm(seed=0, channels=(6, 10, 12)) -> mcn.SimpleNN:
    """A small VGG-M shaped SimpleNN built in memory (strides 2 / 8 / 16 at norm1 / norm2 / relu5)."""
    rng = np.random.default_rng(seed)
    c1, c2, c3 = channels

    def conv(name, k, cin, cout, stride, pad):
        w = rng.normal(0, 1 / np.sqrt(k * k * cin), (k, k, cin, cout)).astype(np.float32)
        return mcn.ConvLayer(
            name, w, rng.normal(0, 0.1, cout).astype(np.float32), (stride, stride), (pad,) * 4
        )

    def pool(name):
        return mcn.PoolLayer(name, "max", (3, 3), (2, 2), (0, 1, 0, 1))

    layers = [
        conv("conv1", 7, 3, c1, 2, 0),
        mcn.ReLULayer("relu1"),
        mcn.LRNLayer("norm1", 5, 2.0, 1e-4, 0.75),
        pool("pool1"),
        conv("conv2", 5, c1, c2, 2, 1),
        mcn.ReLULayer("relu2"),
        mcn.LRNLayer("norm2", 5, 2.0, 1e-4, 0.75),
        pool("pool2"),
        conv("conv3", 3, c2, c3, 1, 1),
        mcn.ReLULayer("relu3"),
        conv("conv4", 3, c3, c3, 1, 1),
        mcn.ReLULayer("relu4"),
        conv("conv5", 3, c3, c3, 1, 1),
        mcn.ReLULayer("relu5"),
    ]
    return mcn.SimpleNN(
        layers=layers, mean_rgb=np.array([120.0, 115.0, 100.0]), source="tiny.mat", sha1="0" * 40
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    net = tiny_vggm()
    model, contract = simplenn_to_onnx(net, architecture="tiny-vggm")
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    onnx.save(model, str(path))
    return net, path, contract


def test_shapes_dtypes_and_metadata(tiny):
    net, path, contract = tiny
    features = CNNFeatures(path, outputs=("low", "mid", "high"))
    assert features.architecture == "tiny-vggm"
    assert features.strides == {"low": 2, "mid": 8, "high": 16}
    assert features.channels == {"low": 6, "mid": 10, "high": 12}
    assert features.offsets == contract.rf_offsets and features.receptive_fields == contract.rf_sizes
    patch = np.random.default_rng(1).integers(0, 256, (97, 113, 3), dtype=np.uint8)
    single = features(patch)
    sizes = features.output_size((97, 113))
    for name, fmap in single.items():
        assert fmap.dtype == np.float32 and fmap.flags.c_contiguous
        assert fmap.shape == sizes[name] + (features.channels[name],)
    batch = features(np.stack([patch, patch[::-1]]).astype(np.float32))
    assert batch["high"].shape == (2,) + single["high"].shape
    np.testing.assert_allclose(batch["low"][0], single["low"], rtol=1e-5, atol=1e-5)


def test_matches_numpy_reference(tiny):
    net, path, _ = tiny
    features = CNNFeatures(path, outputs=("low", "mid", "high"))
    patches = np.random.default_rng(2).uniform(0, 255, (2, 64, 80, 3)).astype(np.float32)
    reference = mcn.forward(net, patches.astype(np.float64))
    got = features(patches)
    for name in ("low", "mid", "high"):
        scale = np.abs(reference[name]).max()
        assert np.abs(got[name] - reference[name]).max() < 1e-4 * scale


def test_output_subset_gives_the_same_maps(tiny):
    _, path, _ = tiny
    patch = np.random.default_rng(3).uniform(0, 255, (70, 70, 3)).astype(np.float32)
    full = CNNFeatures(path, outputs=("low", "mid", "high"))(patch)
    for outputs in (("low",), ("mid",), ("low", "high"), "high"):
        part = CNNFeatures(path, outputs=outputs)(patch)
        assert set(part) == ({outputs} if isinstance(outputs, str) else set(outputs))
        for name, fmap in part.items():
            np.testing.assert_allclose(fmap, full[name], rtol=1e-5, atol=1e-6)


def test_output_size_and_minimum_input(tiny):
    _, path, _ = tiny
    features = CNNFeatures(path, outputs=("low", "high"))
    m = features.min_input_size
    assert min(features.output_size((m, m))["high"]) == 1
    assert min(features.output_size((m - 1, m - 1))["high"]) == 0
    assert features(np.zeros((m, m, 3), np.uint8))["high"].shape[:2] == (1, 1)
    with pytest.raises(ValueError, match="smaller than"):
        features(np.zeros((m - 1, m + 10, 3), np.uint8))


@pytest.mark.parametrize(
    "patches, match",
    [
        (np.zeros((64, 64), np.uint8), "HxWx3"),
        (np.zeros((64, 64, 4), np.uint8), "HxWx3"),
        (np.zeros((0, 64, 64, 3), np.uint8), "HxWx3"),
        (np.zeros((64, 64, 3), bool), "dtype"),
        (np.full((64, 64, 3), np.nan, np.float32), "NaN"),
    ],
)
def test_bad_patches(tiny, patches, match):
    with pytest.raises(ValueError, match=match):
        CNNFeatures(tiny[1], outputs=("low",))(patches)


def test_bad_outputs_argument(tiny):
    for outputs in ((), ("low", "low"), ("conv5",)):
        with pytest.raises(ValueError, match="outputs"):
            CNNFeatures(tiny[1], outputs=outputs)


def test_missing_and_corrupt_model(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        CNNFeatures(tmp_path / "absent.onnx")
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07garbage that is not protobuf" * 10)
    with pytest.raises(ModelError, match="corrupt.onnx"):
        CNNFeatures(corrupt)


def test_contract_violations_are_model_errors(tiny, tmp_path):
    _, path, contract = tiny
    model = onnx.load(str(path))
    bare = onnx.ModelProto()
    bare.CopyFrom(model)
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(ModelError, match="cfvgg.contract"):
        CNNFeatures(tmp_path / "bare.onnx")

    lying = onnx.ModelProto()
    lying.CopyFrom(model)
    props = contract.to_props()
    props["channels"] = '{"low": 6, "mid": 10, "high": 99}'
    stamp_contract(lying, FeatureContract.from_props(props))
    onnx.save(lying, str(tmp_path / "lying.onnx"))
    with pytest.raises(ModelError, match="high"):
        CNNFeatures(tmp_path / "lying.onnx")

    props = contract.to_props()
    props["strides"] = '{"low": 4, "mid": 8, "high": 16}'
    with pytest.raises(ModelError, match="strides"):
        FeatureContract.from_props(props)

    renamed = onnx.ModelProto()
    renamed.CopyFrom(model)
    next(o for o in renamed.graph.output if o.name == "mid").name = "middle"
    next(n for n in renamed.graph.node if "mid" in n.output).output[0] = "middle"
    onnx.save(renamed, str(tmp_path / "renamed.onnx"))
    with pytest.raises(ModelError, match="mid"):
        CNNFeatures(tmp_path / "renamed.onnx")


def test_default_model_prefers_the_shipped_model(tiny, tmp_path, monkeypatch):
    share = tmp_path / "share"
    (share / "models").mkdir(parents=True)
    shipped = share / "models" / store.SHIPPED_MODEL_NAME
    shipped.write_bytes(tiny[1].read_bytes())
    monkeypatch.setattr(store.paths, "share_dir", lambda: share)
    assert store.default_model_path() == shipped
    assert CNNFeatures().model_path == shipped


def test_default_model_converts_the_paper_student_into_the_cache(tmp_path, monkeypatch):
    shared_models = tmp_path / "shared_models"
    (shared_models / "paper").mkdir(parents=True)
    mat = shared_models / "paper" / "CF_VGGM.mat"
    monkeypatch.setattr(store.paths, "share_dir", lambda: tmp_path / "empty_share")
    monkeypatch.setattr(store.paths, "shared_models_root", lambda: shared_models)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ModelError) as info:
        store.default_model_path()
    assert store.SHIPPED_MODEL_NAME in str(info.value) and "CF_VGGM.mat" in str(info.value)

    real = shared_models_root()
    if real is not None and (real / "paper" / "CF_VGGM.mat").is_file():
        mat.write_bytes((real / "paper" / "CF_VGGM.mat").read_bytes())
    else:  # write the in-memory tiny net as a SimpleNN .mat
        _save_simplenn(tiny_vggm(), mat)
    cached = store.default_model_path()
    assert cached.parent == tmp_path / "cache" / "cfvgg_ros" and cached.is_file()
    stamp = cached.stat().st_mtime_ns
    assert store.default_model_path() == cached and cached.stat().st_mtime_ns == stamp  # converted once
    features = CNNFeatures(outputs=("low", "high"))
    assert features.architecture == "CF_VGGM"
    assert "teacher" in features.contract.provenance


def _save_simplenn(net: mcn.SimpleNN, path) -> None:
    import scipy.io

    cells = np.empty((1, len(net.layers)), dtype=object)
    for i, layer in enumerate(net.layers):
        entry = {"name": layer.name}
        if isinstance(layer, mcn.ConvLayer):
            weights = np.empty((1, 2), dtype=object)
            weights[0, 0], weights[0, 1] = layer.weights, layer.bias.reshape(-1, 1)
            entry.update(
                type="conv",
                weights=weights,
                stride=np.array([layer.stride], float),
                pad=np.array([layer.pad], float),
            )
        elif isinstance(layer, mcn.ReLULayer):
            entry.update(type="relu")
        elif isinstance(layer, mcn.LRNLayer):
            entry.update(type="lrn", param=np.array([[layer.size, layer.kappa, layer.alpha, layer.beta]]))
        else:
            entry.update(
                type="pool",
                method=layer.method,
                pool=np.array([layer.pool], float),
                stride=np.array([layer.stride], float),
                pad=np.array([layer.pad], float),
            )
        cells[0, i] = entry
    average = np.asarray(net.mean_rgb, float).reshape(1, 1, 3)
    scipy.io.savemat(
        str(path), {"net": {"layers": cells, "meta": {"normalization": {"averageImage": average}}}}
    )


@pytest.mark.shared
def test_paper_student_features(tmp_path):
    root = shared_models_root()
    mat = root / "paper" / "CF_VGGM.mat" if root is not None else None
    if mat is None or not mat.is_file():
        pytest.skip("shared/models/paper/CF_VGGM.mat is absent (set CFVGG_SHARED to the shared folder)")
    from cfvgg_ros.models.convert import convert_file

    path = convert_file(mat, tmp_path / "cf_vggm.onnx", architecture="CF_VGGM").path
    features = CNNFeatures(path, outputs=("low", "mid", "high"))
    assert features.channels == {"low": 12, "mid": 32, "high": 64}
    out = features(np.full((224, 224, 3), 128, np.uint8))
    assert out["low"].shape == (109, 109, 12) and out["mid"].shape == (26, 26, 32)
    assert out["high"].shape == (13, 13, 64)


def test_model_without_geometry_metadata_measures_sizes(tiny, tmp_path):
    _, path, contract = tiny
    model = onnx.load(str(path))
    props = contract.to_props()
    del props["geometry"]
    stamp_contract(model, FeatureContract.from_props(props))
    assert "geometry" not in {p.key for p in model.metadata_props}
    onnx.save(model, str(tmp_path / "nogeometry.onnx"))
    features = CNNFeatures(tmp_path / "nogeometry.onnx", outputs=("low", "high"))
    assert features.min_input_size == contract.rf_sizes["high"]
    sizes = features.output_size((150, 170))
    out = features(np.zeros((150, 170, 3), np.uint8))
    assert sizes == {name: out[name].shape[:2] for name in out}
    assert sizes == {name: contract.output_size(name, (150, 170)) for name in out}


def test_serialized_bytes_give_the_same_features_as_the_path(tiny):
    _, path, _ = tiny
    data = path.read_bytes()
    patch = np.random.default_rng(4).uniform(0, 255, (80, 90, 3)).astype(np.float32)
    from_path = CNNFeatures(path, outputs=("low", "mid", "high"))
    for model in (data, bytearray(data), memoryview(data)):
        from_bytes = CNNFeatures(model, outputs=("low", "mid", "high"))
        assert from_bytes.model_path is None and "ONNX bytes" in from_bytes.source
        assert from_bytes.contract == from_path.contract
        assert from_bytes.min_input_size == from_path.min_input_size
        expected, got = from_path(patch), from_bytes(patch)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name])
    for outputs in (("mid",), ("low", "high")):  # the outputs-subset cut works on bytes too
        part = CNNFeatures(data, outputs=outputs)
        assert part.strides == {name: from_path.strides[name] for name in outputs}
        full = from_path(patch)
        for name, fmap in part(patch).items():
            np.testing.assert_allclose(fmap, full[name], rtol=1e-5, atol=1e-6)


def test_bad_model_bytes_and_types(tiny):
    _, path, contract = tiny
    with pytest.raises(ModelError, match="empty"):
        CNNFeatures(b"")
    with pytest.raises(ModelError, match="model bytes"):
        CNNFeatures(b"\x08\x07garbage that is not protobuf" * 10)
    bare = onnx.load(str(path))
    del bare.metadata_props[:]
    with pytest.raises(ModelError, match="ONNX bytes.*cfvgg.contract"):
        CNNFeatures(bare.SerializeToString())
    with pytest.raises(TypeError, match="model must be"):
        CNNFeatures(12345)
