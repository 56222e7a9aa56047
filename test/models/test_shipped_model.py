"""The shipped distilled student ``models/cfvgg_student.onnx``: contract, size, architecture
(paper Table II), provenance (train split only) and that it is the trackers' default model."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from cfvgg_ros.datasets.splits import load_splits
from cfvgg_ros.features.cnn import CNNFeatures
from cfvgg_ros.models.contract import validate_model
from cfvgg_ros.models.store import SHIPPED_MODEL_NAME, default_model_path
from cfvgg_ros.paths import shared_data_root

SHIPPED = Path(__file__).resolve().parents[2] / "models" / SHIPPED_MODEL_NAME

# Table II / Fig. 3: conv1 7x7 3->12, conv2 5x5 12->32, conv3-5 3x3 ->64 (weights + biases).
CONV_PARAMETERS = (7 * 7 * 3 * 12 + 12) + (5 * 5 * 12 * 32 + 32) + (3 * 3 * 32 * 64 + 64) + 2 * (3 * 3 * 64 * 64 + 64)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shipped_model_is_small_and_follows_the_contract():
    assert SHIPPED.stat().st_size <= 500_000
    contract = validate_model(SHIPPED)
    assert contract.architecture == "cf-vgg"
    assert contract.strides == {"low": 2, "mid": 8, "high": 16}
    assert contract.channels == {"low": 12, "mid": 32, "high": 64}


def test_shipped_model_has_the_papers_architecture():
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(SHIPPED))
    arrays = [numpy_helper.to_array(t) for t in model.graph.initializer]
    weights = [a for a in arrays if a.ndim == 4 and a.shape[0] > 1]  # not the (1, 3, 1, 1) mean
    kernels = sorted(a.shape for a in weights)
    assert kernels == sorted([(12, 3, 7, 7), (32, 12, 5, 5), (64, 32, 3, 3), (64, 64, 3, 3), (64, 64, 3, 3)])
    conv = sum(a.size for a in weights) + sum(a.size for a in arrays if a.ndim == 1 and a.size in (12, 32, 64))
    assert conv == CONV_PARAMETERS == 103_760


def test_shipped_model_was_trained_on_the_train_split_only():
    provenance = validate_model(SHIPPED).provenance
    assert "efficientnet-lite0" in provenance["teacher"]
    assert provenance["epochs"] == "50 of 50"
    assert len(provenance["commit"]) == 40
    data = json.loads(provenance["data"])
    assert data["split"] == "train" and data["sequences"]
    root = shared_data_root()
    if root is None or not (root / "splits.json").is_file():
        pytest.skip("no shared data folder: the sequences cannot be checked against splits.json")
    splits = load_splits(root)
    assert set(data["sequences"]) <= set(splits["train"])
    assert not set(data["sequences"]) & set(splits["eval"])


def test_shipped_model_is_the_default_and_runs():
    path = default_model_path()
    assert path.name == SHIPPED_MODEL_NAME and _digest(path) == _digest(SHIPPED)
    features = CNNFeatures(outputs=("low", "mid", "high"))
    image = np.random.default_rng(0).uniform(0, 255, size=(225, 225, 3)).astype(np.float32)
    maps = features(image)
    for name, channels in (("low", 12), ("mid", 32), ("high", 64)):
        expected = features.contract.output_size(name, (225, 225))
        assert maps[name].shape == (*expected, channels), name
        assert np.isfinite(maps[name]).all() and maps[name].std() > 0
