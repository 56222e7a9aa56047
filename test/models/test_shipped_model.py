"""The shipped distilled student ``models/cfvgg_student.onnx``: contract, size, architecture
(paper Table II), provenance (train split only), that it is the trackers' default model, and its
integrity check (the sha256 recorded in ``models/SHA256SUMS`` and the model card)."""

import hashlib
import json
import re
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


# ----------------------------------------------------------------------------- integrity (sha256)

SUMS = SHIPPED.parent / "SHA256SUMS"
CARD = SHIPPED.parent / "README.md"


def test_recorded_sha256_matches_the_shipped_file_and_the_model_card():
    """CI catches a model changed without its recorded sum (SHA256SUMS and the model card)."""
    from cfvgg_ros.models.store import read_sha256sums

    actual = _digest(SHIPPED)
    assert read_sha256sums(SUMS) == {SHIPPED_MODEL_NAME: actual}, (
        f"models/SHA256SUMS does not record the shipped model's sha256 {actual}: "
        "cfvgg-export --record-sha256, or (cd models && sha256sum cfvgg_student.onnx > SHA256SUMS)")
    card_sums = re.findall(r"\|\s*sha256\s*\|\s*`([0-9a-f]{64})`", CARD.read_text())
    assert card_sums == [actual], f"the model card's sha256 row must read `{actual}`"


def test_setup_py_installs_the_sums_beside_the_model():
    text = (SHIPPED.parents[1] / "setup.py").read_text()
    assert '"models/SHA256SUMS"' in text


def test_loading_the_shipped_model_checks_its_sum():
    features = CNNFeatures(SHIPPED, outputs=("low",))
    assert features.digest.recorded and features.sha256 == _digest(SHIPPED)
    assert "matches the recorded sum" in features.digest.describe()


@pytest.fixture
def share(tmp_path, monkeypatch):
    """A package share holding the shipped model and its SHA256SUMS."""
    from cfvgg_ros.models import store

    models = tmp_path / "share" / "models"
    models.mkdir(parents=True)
    (models / SHIPPED_MODEL_NAME).write_bytes(SHIPPED.read_bytes())
    (models / "SHA256SUMS").write_bytes(SUMS.read_bytes())
    monkeypatch.setattr(store.paths, "share_dir", lambda: tmp_path / "share")
    return models


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "other model"])
def test_a_changed_shipped_model_fails_with_both_sums(share, damage, tmp_path):
    from cfvgg_ros.models.contract import ModelError

    model = share / SHIPPED_MODEL_NAME
    data = model.read_bytes()
    if damage == "truncated":
        model.write_bytes(data[: len(data) // 2])
    elif damage == "flipped byte":
        model.write_bytes(data[:1000] + bytes([data[1000] ^ 1]) + data[1001:])
    else:  # a valid model of another provenance under the recorded name
        import onnx

        other = onnx.load(str(model))
        other.producer_name = "someone else"
        onnx.save(other, str(model))
    expected, actual = _digest(SHIPPED), _digest(model)
    for load in (lambda: CNNFeatures(), lambda: CNNFeatures(model)):  # default model and explicit path
        with pytest.raises(ModelError) as info:
            load()
        message = str(info.value)
        assert f"sha256 {actual}" in message and f"records {expected}" in message and "integrity" in message


def test_a_user_model_without_a_recorded_sum_is_loaded_and_its_sum_logged(share, tmp_path, caplog):
    import logging

    user = tmp_path / "my_student.onnx"
    user.write_bytes(SHIPPED.read_bytes())
    with caplog.at_level(logging.INFO, logger="cfvgg_ros.models.store"):
        features = CNNFeatures(user, outputs=("low",))
    assert not features.digest.recorded and features.sha256 == _digest(user)
    assert f"no recorded sha256; its sha256 is {_digest(user)}" in caplog.text
    assert "no recorded sum" in features.digest.describe()


def test_missing_empty_and_malformed_files_give_model_errors(share, tmp_path):
    from cfvgg_ros.models.contract import ModelError
    from cfvgg_ros.models.store import verify_model_file

    with pytest.raises(ModelError, match="not found"):
        CNNFeatures(tmp_path / "absent.onnx")
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty"):
        CNNFeatures(empty)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00not a model" * 100)
    with pytest.raises(ModelError, match="garbage.onnx"):
        CNNFeatures(garbage)
    (share / "SHA256SUMS").write_text("not a sum line\n")
    with pytest.raises(ModelError, match="SHA256SUMS:1: not a '<sha256>  <file name>' line"):
        verify_model_file(share / SHIPPED_MODEL_NAME)
