"""Background-aware online adaptation (§IV-B, Eqs. 10-11): ONNX <-> student, the adaptation's
effect on a synthetic first frame, the contract of the adapted model, determinism."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from cfvgg_ros.datasets.synthetic import make_sequence
from cfvgg_ros.models.contract import ModelError, validate_model
from cfvgg_ros.models.matconvnet import load_simplenn
from cfvgg_ros.models.simplenn_onnx import simplenn_to_onnx
from cfvgg_ros.training.adapt import (
    AdaptationSettings,
    adapt_student,
    adaptation_metrics,
    adaptation_samples,
    onnx_with_student_weights,
    student_from_onnx,
)
from cfvgg_ros.training.export import student_to_onnx
from cfvgg_ros.training.student import CFVGGStudent

FAST = AdaptationSettings(patch_size=64)  # small patches keep the tests fast


@pytest.fixture(scope="module")
def first_frame():
    seq = make_sequence("translation", num_frames=2, width=320, height=240)
    return seq.frame(0), np.asarray(seq.boxes[0], float)


@pytest.fixture(scope="module")
def student_model():
    torch.manual_seed(0)
    model, _ = student_to_onnx(CFVGGStudent(), {"source": "test"})
    return model


def _run(model, image: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(["low", "mid", "high"], {"image": image})


def _initializers(model) -> dict[str, np.ndarray]:
    return {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}


def test_student_from_onnx_reads_the_training_exporter(student_model):
    student = student_from_onnx(student_model)
    image = np.random.default_rng(0).uniform(0, 255, (1, 3, 67, 75)).astype(np.float32)
    with torch.no_grad():
        expected = student(torch.from_numpy(image))
    for name, got in zip(("low", "mid", "high"), _run(student_model, image), strict=True):
        np.testing.assert_allclose(got, expected[name].numpy(), rtol=1e-4, atol=1e-4)
    # from serialized bytes too, and writing the weights back reproduces the initializers
    again = onnx_with_student_weights(student_model.SerializeToString(), student_from_onnx(student_model))
    for name, value in _initializers(student_model).items():
        np.testing.assert_array_equal(_initializers(again)[name], value)


@pytest.mark.parametrize("lrn", ["fast", "onnx"])
def test_student_from_onnx_reads_converted_matconvnet_models(tmp_path, vggm_mat_writer, lrn):
    """The converter's names (conv1_W, ..., the decomposed LRN's band convolutions) as for the
    paper's CF_VGGM: a SimpleNN with CF-VGG's channels converted by simplenn_to_onnx."""
    mat = vggm_mat_writer(tmp_path / "cf_vgg.mat", channels=(12, 32, 64, 64, 64), seed=4)
    model, _ = simplenn_to_onnx(load_simplenn(mat), lrn=lrn)
    student = student_from_onnx(model)
    assert student.channels == (12, 32, 64, 64, 64)
    image = np.random.default_rng(1).uniform(0, 255, (2, 3, 64, 80)).astype(np.float32)
    with torch.no_grad():
        expected = student(torch.from_numpy(image))
    for name, got in zip(("low", "mid", "high"), _run(model, image), strict=True):
        np.testing.assert_allclose(got, expected[name].numpy(), rtol=1e-3, atol=1e-3)


def test_student_from_onnx_refuses_other_graphs(tmp_path, vggm_mat_writer, student_model):
    mat = vggm_mat_writer(tmp_path / "other.mat", channels=(4, 4, 4, 4, 4), seed=0)
    model, _ = simplenn_to_onnx(load_simplenn(mat), taps={"low": "norm1", "mid": "norm2", "high": "relu4"})
    with pytest.raises(ModelError, match="5 convolutions"):
        student_from_onnx(model)
    with pytest.raises(ModelError, match="not found"):
        student_from_onnx(tmp_path / "missing.onnx")
    with pytest.raises(ModelError, match="cannot parse"):
        student_from_onnx(b"not a model")


def test_samples_geometry(first_frame):
    frame, box = first_frame
    rng = np.random.default_rng(0)
    settings = AdaptationSettings(patch_size=64, shift_jitter=0.0, flip_probability=0.0, max_blur_sigma=0.0,
                                  illumination=0.0, brightness=0.0)
    batch = adaptation_samples(frame, box, 3, 2, settings, rng)
    assert batch["template"].shape == (1, 3, 64, 64) and batch["search"].shape == (5, 3, 64, 64)
    # without augmentation a positive is the template and its target sits in the middle
    torch.testing.assert_close(batch["search"][0], batch["template"][0])
    torch.testing.assert_close(batch["centres"], torch.full((3, 2), 31.5))
    assert float(batch["size"]) == pytest.approx(16.0)  # patch side = 4 target sizes
    with pytest.raises(ValueError, match="uint8"):
        adaptation_samples(frame.astype(np.float32), box, 1, 1, settings, rng)
    with pytest.raises(ValueError, match="box"):
        adaptation_samples(frame, [0, 0, 0, 5], 1, 1, settings, rng)
    with pytest.raises(ValueError, match="background"):
        adaptation_samples(frame, [0, 0, 320, 240], 1, 1, settings, rng)


def test_adaptation_raises_positive_peaks_and_lowers_negative_energy(first_frame, student_model):
    frame, box = first_frame
    evaluation = adaptation_samples(frame, box, 16, 16, FAST, np.random.default_rng(123))
    before = adaptation_metrics(student_from_onnx(student_model), evaluation, FAST)
    adapted, stats = adapt_student(student_model, frame, box, settings=FAST, seed=0, return_stats=True)
    after = adaptation_metrics(student_from_onnx(adapted), evaluation, FAST)
    assert len(stats.positive_loss) == 8 and stats.seconds > 0
    peak = {k: (before[k]["positive_peak"], after[k]["positive_peak"]) for k in before}
    energy = {k: (before[k]["negative_energy"], after[k]["negative_energy"]) for k in before}
    assert sum(a for _, a in peak.values()) > sum(b for b, _ in peak.values())
    assert sum(a for _, a in energy.values()) < sum(b for b, _ in energy.values())
    assert all(a < b for b, a in energy.values())  # on every level


def test_adapted_model_keeps_the_contract_and_is_deterministic(first_frame, student_model):
    frame, box = first_frame
    settings = AdaptationSettings(patch_size=64)
    first = adapt_student(student_model, frame, box, iterations=2, samples=4, settings=settings, seed=7)
    second = adapt_student(student_model, frame, box, iterations=2, samples=4, settings=settings, seed=7,
                           as_bytes=True)
    other = adapt_student(student_model, frame, box, iterations=2, samples=4, settings=settings, seed=8)
    contract = validate_model(first)
    assert contract.channels == validate_model(student_model).channels
    assert "online_adaptation" in contract.provenance and "source" in contract.provenance
    assert [n.op_type for n in first.graph.node] == [n.op_type for n in student_model.graph.node]
    assert first.SerializeToString() == second
    original, adapted, different = _initializers(student_model), _initializers(first), _initializers(other)
    assert any(not np.array_equal(original[k], adapted[k]) for k in original)
    assert any(not np.array_equal(adapted[k], different[k]) for k in adapted)
    image = np.full((1, 3, 64, 64), 128, np.float32)
    assert all(np.all(np.isfinite(out)) for out in _run(first, image))


def test_adapting_a_checkpoint_exports_a_contract_model(first_frame):
    frame, box = first_frame
    torch.manual_seed(1)
    student = CFVGGStudent()
    checkpoint = {"student": student.state_dict(), "student_channels": list(student.channels)}
    adapted = adapt_student(checkpoint, frame, box, iterations=1, samples=2, settings=FAST)
    validate_model(adapted)
    assert student_from_onnx(adapted).channels == student.channels
    with pytest.raises(ValueError, match="iterations"):
        adapt_student(checkpoint, frame, box, iterations=-1, settings=FAST)


def test_adapted_model_runs_in_the_trackers_feature_extractor(first_frame, student_model, tmp_path):
    from cfvgg_ros.features.cnn import CNNFeatures

    frame, box = first_frame
    adapted = adapt_student(student_model, frame, box, iterations=1, samples=2, settings=FAST, as_bytes=True)
    path = tmp_path / "adapted.onnx"
    path.write_bytes(adapted)
    features = CNNFeatures(path, outputs=("low", "high"))
    maps = features(frame[:96, :96])
    assert maps["low"].shape[-1] == 12 and maps["high"].shape[-1] == 64


def test_student_from_onnx_reads_the_papers_converted_cf_vggm():
    from cfvgg_ros.models.store import PAPER_STUDENT_MAT, paper_student_path
    from cfvgg_ros.paths import shared_models_root
    from cfvgg_ros.training.student import load_simplenn_weights

    root = shared_models_root()
    if root is None or not (root / PAPER_STUDENT_MAT).is_file():
        pytest.skip("the paper's CF_VGGM.mat is not in the shared models folder")
    path = paper_student_path()
    student = student_from_onnx(path)
    reference = load_simplenn_weights(CFVGGStudent(), load_simplenn(root / PAPER_STUDENT_MAT))
    for name, tensor in reference.state_dict().items():
        torch.testing.assert_close(student.state_dict()[name], tensor, msg=name)
