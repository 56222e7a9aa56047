"""First-frame online adaptation for the trackers (cfvgg_ros.features.adaptation, paper Sec. IV-B)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from cfvgg_ros.features.adaptation import AdaptationTiming, adapt_model
from cfvgg_ros.features.cnn import CNNFeatures, ModelError

FAST = {"iterations": 2, "samples": 8}


@pytest.fixture(scope="module")
def first_frame():
    from cfvgg_ros.datasets.synthetic import make_sequence

    seq = make_sequence("translation", num_frames=2, width=320, height=240)
    return seq.frame(0), np.asarray(seq.boxes[0], float)


@pytest.fixture(scope="module")
def student_onnx(random_student_onnx):
    """A randomly initialised CF-VGG student in the ONNX contract (test/conftest.py)."""
    return random_student_onnx


def test_adapted_bytes_run_in_the_onnxruntime_path(student_onnx, first_frame):
    frame, box = first_frame
    adapted = adapt_model(student_onnx, frame, box, search_area_scale=4.0, **FAST)
    assert isinstance(adapted.model_bytes, bytes)
    timing = adapted.timing
    assert isinstance(timing, AdaptationTiming) and (timing.iterations, timing.samples) == (2, 8)
    assert timing.total >= timing.fine_tune > 0 and timing.load >= 0
    before = CNNFeatures(student_onnx, outputs=("low", "high"))
    after = CNNFeatures(adapted.model_bytes, outputs=("low", "high"))
    assert after.contract.channels == before.contract.channels
    assert after.contract.strides == before.contract.strides
    patch = frame[80:208, 80:208]
    old, new = before(patch), after(patch)
    for name in ("low", "high"):
        assert new[name].shape == old[name].shape and np.isfinite(new[name]).all()
    assert not np.allclose(new["high"], old["high"])  # the weights did change


def test_deterministic_and_path_or_bytes(student_onnx, first_frame):
    frame, box = first_frame
    a = adapt_model(student_onnx, frame, box, search_area_scale=2.5, seed=3, **FAST).model_bytes
    b = adapt_model(student_onnx.read_bytes(), frame, box, search_area_scale=2.5, seed=3, **FAST).model_bytes
    patch = frame[60:188, 100:228]
    fa, fb = CNNFeatures(a, outputs="mid")(patch), CNNFeatures(b, outputs="mid")(patch)
    np.testing.assert_array_equal(fa["mid"], fb["mid"])


def test_zero_iterations_keep_the_weights(student_onnx, first_frame):
    frame, box = first_frame
    data = adapt_model(student_onnx, frame, box, search_area_scale=4.0, iterations=0, samples=1).model_bytes
    patch = frame[:96, :96]
    np.testing.assert_allclose(
        CNNFeatures(data, outputs="low")(patch)["low"],
        CNNFeatures(student_onnx, outputs="low")(patch)["low"],
        rtol=1e-6,
        atol=1e-6,
    )


def test_bad_arguments(student_onnx, first_frame, tmp_path):
    frame, box = first_frame
    with pytest.raises(ValueError, match="search_area_scale"):
        adapt_model(student_onnx, frame, box, search_area_scale=1.0, **FAST)
    with pytest.raises(ModelError, match="not found"):
        adapt_model(tmp_path / "absent.onnx", frame, box, search_area_scale=4.0, **FAST)
    with pytest.raises(TypeError, match="model must be"):
        adapt_model(3.5, frame, box, search_area_scale=4.0, **FAST)
    with pytest.raises(ValueError, match="frame"):
        adapt_model(student_onnx, frame.astype(np.float32), box, search_area_scale=4.0, **FAST)
    with pytest.raises(ValueError, match="box"):
        adapt_model(student_onnx, frame, (10, 10, 0, 5), search_area_scale=4.0, **FAST)


def test_missing_torch_is_a_clear_error(monkeypatch, tmp_path, first_frame):
    frame, box = first_frame
    path = tmp_path / "model.onnx"
    path.write_bytes(b"unused")

    # no torch: importing it fails, and the training modules must be imported afresh
    monkeypatch.setitem(sys.modules, "torch", None)
    for name in [m for m in sys.modules if m == "cfvgg_ros.training" or m.startswith("cfvgg_ros.training.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(ImportError, match="online_adaptation needs PyTorch"):
        adapt_model(path, frame, box, search_area_scale=4.0, **FAST)


def test_tracking_core_does_not_import_torch():
    code = (
        "import sys; import cfvgg_ros.trackers.kcf, cfvgg_ros.trackers.strcf, cfvgg_ros.features.cnn, "
        "cfvgg_ros.features.adaptation; assert 'torch' not in sys.modules, 'torch was imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
