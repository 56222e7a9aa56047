"""Configuration fingerprints of stored results: what changes a digest and what does not."""

from __future__ import annotations

import hashlib

import pytest

from cfvgg_ros.evaluation import fingerprint
from cfvgg_ros.evaluation.fingerprint import RESULT_CODE, code_digest, config_fingerprint, file_digest


def test_file_digest_is_sha256_and_follows_the_bytes(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(b"abc")
    assert file_digest(path) == hashlib.sha256(b"abc").hexdigest()
    path.write_bytes(b"abcd")
    assert file_digest(path) == hashlib.sha256(b"abcd").hexdigest()


def _package(root):
    (root / "trackers").mkdir(parents=True)
    (root / "trackers" / "a.py").write_text("X = 1\n")
    (root / "evaluation").mkdir()
    (root / "evaluation" / "runner.py").write_text("R = 1\n")
    (root / "evaluation" / "report.py").write_text("P = 1\n")
    (root / "ros").mkdir()
    (root / "ros" / "node.py").write_text("N = 1\n")
    return root


def test_code_digest_covers_result_code_only(tmp_path):
    root = _package(tmp_path / "pkg")
    base = code_digest(root)
    assert code_digest(root) == base
    (root / "evaluation" / "report.py").write_text("P = 2\n")  # reports: results stay valid
    (root / "ros" / "node.py").write_text("N = 2\n")  # the node: results stay valid
    assert code_digest(root) == base
    (root / "trackers" / "a.py").write_text("X = 2\n")
    changed = code_digest(root)
    assert changed != base
    (root / "trackers" / "a.py").write_text("X = 1\n")
    (root / "evaluation" / "runner.py").write_text("R = 2\n")
    assert code_digest(root) not in (base, changed)
    (root / "trackers" / "b.py").write_text("")  # a new module counts too
    assert code_digest(root) != base
    assert "trackers" in RESULT_CODE and "ros" not in RESULT_CODE


def test_config_fingerprint_follows_params_and_model_bytes(tmp_path):
    model = tmp_path / "student.onnx"
    model.write_bytes(b"weights-1")
    first = config_fingerprint("feco", {"model_path": str(model)})
    assert first == config_fingerprint("feco", {"model_path": str(model)})
    assert first["models"] == {"model_path": hashlib.sha256(b"weights-1").hexdigest()[:16]}
    model.write_bytes(b"weights-2")  # retrained in place: same path, another model
    assert config_fingerprint("feco", {"model_path": str(model)})["digest"] != first["digest"]
    assert config_fingerprint("feco", {"model_path": str(model), "learning_rate": 0.01})["digest"] != \
        config_fingerprint("feco", {"model_path": str(model)})["digest"]
    assert config_fingerprint("cfvgg")["digest"] != config_fingerprint("feco")["digest"]
    assert config_fingerprint("opencv-kcf")["models"] == {}


def test_default_model_is_part_of_a_cnn_trackers_fingerprint(tmp_path, monkeypatch):
    from cfvgg_ros.models import store

    model = tmp_path / "default.onnx"
    model.write_bytes(b"shipped")
    monkeypatch.setattr(store, "default_model_path", lambda: model)
    assert config_fingerprint("cfvgg")["models"] == {"default_model": hashlib.sha256(b"shipped").hexdigest()[:16]}
    before = config_fingerprint("cfvgg")["digest"]
    model.write_bytes(b"retrained")
    assert config_fingerprint("cfvgg")["digest"] != before

    def missing():
        raise store.ModelError("none")

    monkeypatch.setattr(store, "default_model_path", missing)
    assert config_fingerprint("cfvgg")["models"] == {"default_model": "missing"}


def test_code_change_changes_every_fingerprint(monkeypatch):
    before = config_fingerprint("opencv-kcf")["digest"]
    monkeypatch.setattr(fingerprint, "code_digest", lambda: "f" * 64)
    assert config_fingerprint("opencv-kcf")["digest"] != before
    assert config_fingerprint("opencv-kcf")["code"] == "f" * 16


@pytest.mark.parametrize("name", ["feco", "opencv-kcf"])
def test_fingerprint_is_json_plain(name):
    import json

    value = config_fingerprint(name)
    assert json.loads(json.dumps(value)) == value
