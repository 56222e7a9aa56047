"""The node's description of the CNN feature model a tracker loads (startup log, ~/status)."""

from pathlib import Path

from cfvgg_ros.ros.startup import feature_model_of

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "cfvgg_student.onnx"


def test_cnn_trackers_report_the_shipped_model_with_its_provenance():
    for name in ("feco", "fkcf", "fdeepstrcf"):
        text = feature_model_of(name, {})
        assert Path(text.split(" (")[0]).name == "cfvgg_student.onnx"
        assert "cf-vgg" in text and "efficientnet-lite0" in text and "commit 48b3fa6" in text
        assert "sha256 96b58f7df8b5525a)" in text  # recorded in models/SHA256SUMS


def test_explicit_model_path_and_trackers_without_a_cnn(tmp_path):
    assert feature_model_of("feco", {"model_path": str(SHIPPED)}).startswith(f"{SHIPPED} (cf-vgg;")
    assert feature_model_of("eco-hc", {}) == "none"
    assert feature_model_of("opencv-nano", {"backbone": "x.onnx"}) == "none"
    assert feature_model_of("feco", {"features": []}).startswith("per-feature models")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not onnx")
    assert "metadata unreadable" in feature_model_of("fkcf", {"model_path": str(bad)})
