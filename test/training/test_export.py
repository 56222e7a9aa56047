"""Checkpoint -> contract ONNX: onnxruntime matches the torch student, metadata satisfies the contract."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

from cfvgg_ros.cli.export import main as export_main
from cfvgg_ros.models.contract import contract_from_session, validate_model
from cfvgg_ros.training.export import export_checkpoint, student_from_checkpoint
from cfvgg_ros.training.student import CFVGGStudent
from cfvgg_ros.training.train import CHECKPOINT_VERSION, save_checkpoint


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    student = CFVGGStudent()
    path = tmp_path / "last.pt"
    save_checkpoint(
        path,
        {
            "version": CHECKPOINT_VERSION,
            "config": {
                "data": {"split": "train"},
                "loss": {"fidelity_weight": 1e-5, "dcf_lambda": 1e-4},
                "optim": {"epochs": 50, "weight_decay": 5e-3},
                "teacher": {"kind": "efficientnet_lite0"},
                "seed": 0,
            },
            "student": student.state_dict(),
            "student_channels": list(student.channels),
            "epoch": 50,
            "global_step": 6250,
            "teacher": "efficientnet-lite0 ImageNet",
            "data": ["UAV123_10fps/boat1"],
        },
    )
    return path, student


def test_exported_onnx_matches_the_torch_student(checkpoint, tmp_path):
    path, student = checkpoint
    onnx_path = tmp_path / "cfvgg.onnx"
    contract = export_checkpoint(path, onnx_path)
    assert contract.strides == {"low": 2, "mid": 8, "high": 16}
    assert contract.channels == {"low": 12, "mid": 32, "high": 64}
    validate_model(onnx_path)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    runtime_contract = contract_from_session(session)
    provenance = runtime_contract.provenance
    assert provenance["teacher"] == "efficientnet-lite0 ImageNet"
    assert json.loads(provenance["data"])["sequences"] == ["UAV123_10fps/boat1"]
    assert json.loads(provenance["loss_weights"])["fidelity_weight"] == 1e-5
    assert "commit" in provenance and provenance["epochs"].startswith("50")
    student.eval()
    rng = np.random.default_rng(0)
    for shape in ((1, 3, 64, 64), (3, 3, 101, 77)):  # dynamic N, H, W
        image = rng.uniform(0, 255, shape).astype(np.float32)
        outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"image": image}), strict=True))
        with torch.no_grad():
            reference = student(torch.from_numpy(image))
        for name, ref in reference.items():
            ref = ref.numpy()
            assert outputs[name].shape == ref.shape
            assert np.abs(outputs[name] - ref).max() <= 1e-4 * max(1.0, np.abs(ref).max()), name


def test_cli_export_with_verification(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    out = tmp_path / "models" / "student.onnx"
    assert export_main(["--checkpoint", str(path), "--output", str(out), "--verify"]) == 0
    assert out.is_file() and "relative errors" in capsys.readouterr().out
    assert export_main(["--checkpoint", str(tmp_path / "none.pt"), "--output", str(out)]) == 2


def test_student_from_checkpoint_refuses_foreign_files():
    with pytest.raises(ValueError, match="no student"):
        student_from_checkpoint({"model": {}})


def test_cli_export_records_the_sha256_for_shipping(checkpoint, tmp_path, capsys, monkeypatch):
    """Re-exporting over a model whose sum is recorded: loading fails (both sums named) until
    ``--record-sha256`` updates SHA256SUMS."""
    from cfvgg_ros.features.cnn import CNNFeatures
    from cfvgg_ros.models import store
    from cfvgg_ros.models.contract import ModelError

    path, _ = checkpoint
    share = tmp_path / "share"
    out = share / "models" / "cfvgg_student.onnx"
    out.parent.mkdir(parents=True)
    (out.parent / "SHA256SUMS").write_text(f"{'0' * 64}  cfvgg_student.onnx\n")
    monkeypatch.setattr(store.paths, "share_dir", lambda: share)
    assert export_main(["--checkpoint", str(path), "--output", str(out)]) == 0
    captured = capsys.readouterr()
    sha = store.file_sha256(out)
    assert f"sha256 {sha}" in captured.out and "--record-sha256" in captured.err
    with pytest.raises(ModelError, match=f"sha256 {sha}, but .* records {'0' * 64}"):
        CNNFeatures(out)
    assert export_main(["--checkpoint", str(path), "--output", str(out), "--record-sha256"]) == 0
    assert store.read_sha256sums(out.parent / "SHA256SUMS") == {"cfvgg_student.onnx": sha}
    assert CNNFeatures(out).digest.recorded
