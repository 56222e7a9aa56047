"""Test-suite settings: one thread per math library (set before numpy loads), so tests are
deterministic and do not oversubscribe the 2-core CI machine."""

import os

import pytest

from cfvgg_ros.threads import THREAD_ENV_VARS

for _var in THREAD_ENV_VARS:
    os.environ.setdefault(_var, "1")


@pytest.fixture(scope="session")
def random_student_onnx(tmp_path_factory):
    """A randomly initialised (seed 0) CF-VGG student exported to the ONNX model contract, as a
    file; skips when torch is not installed."""
    torch = pytest.importorskip("torch", reason="torch is needed to build a student ONNX model")
    import onnx

    from cfvgg_ros.training.export import student_to_onnx
    from cfvgg_ros.training.student import CFVGGStudent

    torch.manual_seed(0)
    model, _ = student_to_onnx(CFVGGStudent(), {"source": "test"})
    path = tmp_path_factory.mktemp("student") / "student.onnx"
    onnx.save(model, str(path))
    return path
