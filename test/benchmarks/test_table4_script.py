"""benchmarks/table4.py: Table IV on one small synthetic sequence with a freshly exported student
(offline and with online adaptation) and a row whose model was never trained."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from cfvgg_ros.paths import SOURCE_ROOT

REPO = SOURCE_ROOT


def _load_script():
    spec = importlib.util.spec_from_file_location("table4_script", REPO / "benchmarks" / "table4.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _write_otb_sequence(folder: Path, frames: int = 6) -> Path:
    """An OTB-layout folder: a textured square moving 3 px per frame on a noisy background."""
    cv2 = pytest.importorskip("cv2")
    rng = np.random.default_rng(0)
    background = rng.integers(40, 90, (120, 160, 3), dtype=np.uint8)
    patch = rng.integers(120, 255, (24, 24, 3), dtype=np.uint8)
    (folder / "img").mkdir(parents=True)
    boxes = []
    for i in range(frames):
        x, y = 50 + 3 * i, 40 + 2 * i
        frame = background.copy()
        frame[y : y + 24, x : x + 24] = patch
        cv2.imwrite(str(folder / "img" / f"{i + 1:04d}.jpg"), frame[:, :, ::-1])
        boxes.append(f"{x + 1},{y + 1},24,24")  # OTB ground truth is 1-based
    (folder / "groundtruth_rect.txt").write_text("\n".join(boxes) + "\n")
    return folder


@pytest.fixture(scope="module")
def tiny_student_onnx(tmp_path_factory):
    torch = pytest.importorskip("torch")
    from cfvgg_ros.training.export import export_student
    from cfvgg_ros.training.student import CFVGGStudent

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "student.onnx"
    export_student(CFVGGStudent(), path, {"teacher": "none", "data": "test"})
    return path


def test_table4_prints_trained_rows_and_marks_missing_ones(tmp_path, tiny_student_onnx, monkeypatch, capsys):
    import cfvgg_ros.threads

    monkeypatch.setattr(cfvgg_ros.threads, "single_core", lambda core=None: None)  # keep pytest unpinned
    script = _load_script()
    sequence = _write_otb_sequence(tmp_path / "seq" / "Square")
    mapping = tmp_path / "models.yaml"
    mapping.write_text(f"fidelity_multi: {tiny_student_onnx}\ntracking_single: never_trained.onnx\n")
    argv = ["--models", str(mapping), "--rows", "tracking_single,fidelity_multi,online",
            "--sequences", str(sequence), "--results", str(tmp_path / "results"), "--no-progress"]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "not trained" in lines["only tracking loss, single-layer"]
    for title, paper in (("fidelity + multi-layer tracking", "67.9"), ("offline + online fine-tune", "68.2")):
        assert paper in lines[title].split()
        numbers = [float(f) for f in lines[title][len(title):].split()[:3]]
        assert 0.0 <= numbers[0] <= 100.0 and 0.0 <= numbers[1] <= 100.0 and numbers[2] == 1
    assert "ECO (baseline, VGG-M)" in out and "69.4" in out
    assert "+online" in lines["offline + online fine-tune"]
    assert "+online" not in lines["fidelity + multi-layer tracking"]
    (model_dir,) = (tmp_path / "results" / "table4").glob("model-*")
    assert len(list(model_dir.iterdir())) == 2  # offline and online runs of the same model file

    # a second run resumes the stored results and prints the same table
    assert script.main(argv) == 0
    assert capsys.readouterr().out == out


def test_table4_input_errors(tmp_path, capsys):
    script = _load_script()
    with pytest.raises(script.Table4Error, match="unknown Table IV row"):
        script.parse_model_args(["nonsense=model.onnx"])
    with pytest.raises(script.Table4Error, match="ROW=PATH"):
        script.parse_model_args(["cf_vggm"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(script.Table4Error, match="must map"):
        script.read_models_yaml(bad)
    with pytest.raises(script.Table4Error, match="no sequences"):
        script.run_rows({}, [], None, tmp_path)
    models = script.resolve_models({"fidelity_multi": Path("x.onnx")}, None)
    assert models["online"] == Path("x.onnx") and models["cf_vggm"] is None
    outcomes = script.run_rows(models, ["synthetic/translation"], None, tmp_path, rows=script.ROWS[:1])
    assert outcomes[0].status == "not trained"
    assert "not trained" in script.format_table(outcomes, markdown=True)
