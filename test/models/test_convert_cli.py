"""The ``cfvgg-convert`` console script (cfvgg_ros.cli.convert)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from cfvgg_ros.cli import convert
from cfvgg_ros.models.contract import CONTRACT_STRIDES, validate_model
from cfvgg_ros.models.convert import convert_file
from cfvgg_ros.paths import shared_models_root


def _synthetic_helpers():
    """The MatConvNet .mat writer of test_matconvnet.py, loaded by path (no package needed)."""
    spec = importlib.util.spec_from_file_location(
        "_mcn_synthetic", Path(__file__).with_name("test_matconvnet.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def synthetic_mat(tmp_path_factory):
    helpers = _synthetic_helpers()
    path = tmp_path_factory.mktemp("mat") / "imagenet-vgg-m-tiny.mat"
    return helpers.write_simplenn(path, helpers.vggm_layers(seed=11), np.full((8, 8, 3), 100.0))


def test_converts_and_stamps_provenance(synthetic_mat, tmp_path, capsys):
    out = tmp_path / "sub" / "vggm.onnx"
    code = convert.main(
        [
            str(synthetic_mat),
            "-o",
            str(out),
            "--architecture",
            "VGG-M-tiny",
            "--teacher",
            "none",
            "--data",
            "noise",
            "--epochs",
            "0",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "max rel. error" in printed
    contract = validate_model(onnx.load(str(out)))
    assert contract.architecture == "VGG-M-tiny"
    assert contract.strides == CONTRACT_STRIDES
    assert contract.provenance["teacher"] == "none" and contract.provenance["epochs"] == "0"
    assert contract.provenance["source"].startswith("converted from imagenet-vgg-m-tiny.mat sha1 ")
    assert json.loads(contract.provenance["taps"]) == {"low": "norm1", "mid": "norm2", "high": "relu5"}


def test_named_taps_override_the_type_order_rule(synthetic_mat, tmp_path):
    out = tmp_path / "taps.onnx"
    assert convert.main([str(synthetic_mat), "-o", str(out), "--mid", "relu2", "--no-verify"]) == 0
    taps = json.loads(validate_model(str(out)).provenance["taps"])
    assert taps == {"low": "norm1", "mid": "relu2", "high": "relu5"}
    assert convert.main([str(synthetic_mat), "-o", str(out), "--high", "nonexistent"]) == 2


def test_missing_and_corrupt_mat_exit_2_without_traceback(tmp_path, capsys):
    out = tmp_path / "x.onnx"
    assert convert.main([str(tmp_path / "absent.mat"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Traceback" not in err
    corrupt = tmp_path / "corrupt.mat"
    corrupt.write_bytes(b"MATLAB 5.0 MAT-file, truncated" + bytes(range(256)))
    assert convert.main([str(corrupt), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "corrupt.mat" in err and "Traceback" not in err
    assert not out.exists()


def test_console_process_exit_code(tmp_path):
    corrupt = tmp_path / "garbage.mat"
    corrupt.write_text("definitely not MATLAB")
    proc = subprocess.run(
        [sys.executable, "-m", "cfvgg_ros.cli.convert", str(corrupt), "-o", str(tmp_path / "o.onnx")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "garbage.mat" in proc.stderr and "Traceback" not in proc.stderr


def test_failed_verification_exits_3_and_writes_nothing(synthetic_mat, tmp_path, capsys):
    out = tmp_path / "strict.onnx"
    assert convert.main([str(synthetic_mat), "-o", str(out), "--tolerance", "1e-300"]) == 3
    assert "verification failed" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.shared
def test_converts_the_paper_student(tmp_path):
    root = shared_models_root()
    mat = root / "paper" / "CF_VGGM.mat" if root is not None else None
    if mat is None or not mat.is_file():
        pytest.skip("shared/models/paper/CF_VGGM.mat is absent (set CFVGG_SHARED to the shared folder)")
    result = convert_file(mat, tmp_path / "cf_vggm.onnx", architecture="CF_VGGM")
    assert max(result.relative_errors.values()) < 1e-4
    assert result.contract.channels == {"low": 12, "mid": 32, "high": 64}
    assert (
        result.contract.rf_sizes["high"] > result.contract.rf_sizes["mid"] > result.contract.rf_sizes["low"]
    )


def test_native_onnx_lrn_option(synthetic_mat, tmp_path):
    out = tmp_path / "native.onnx"
    assert convert.main([str(synthetic_mat), "-o", str(out), "--lrn", "onnx"]) == 0
    assert "LRN" in {node.op_type for node in onnx.load(str(out)).graph.node}
    assert "lrn=onnx" in validate_model(str(out)).provenance["conversion"]


def test_written_model_is_world_readable(synthetic_mat, tmp_path):
    out = tmp_path / "readable.onnx"
    assert convert.main([str(synthetic_mat), "-o", str(out), "--no-verify"]) == 0
    assert out.stat().st_mode & 0o444 == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["readable.onnx"]  # no temporary left behind
