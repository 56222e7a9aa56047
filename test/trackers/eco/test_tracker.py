"""Whole-tracker runs on synthetic sequences (fHOG engine) and the factory / config contract."""

import numpy as np
import pytest

from cfvgg_ros.core.contract import TrackerError, TrackResult
from cfvgg_ros.core.registry import create_tracker, register_tracker
from cfvgg_ros.datasets.synthetic import make_sequence
from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
from cfvgg_ros.trackers.eco.tracker import ECOTracker, create_eco_hc, create_feco

HOG = (FeatureConfig("hog", compressed_dim=10, cell_size=4),)


def _iou(a, b):
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    ih = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = iw * ih
    return inter / (aw * ah + bw * bh - inter)


def _run(tracker, seq):
    tracker.init(seq.frame(0), seq.boxes[0])
    ious, scores = [], []
    for i in range(1, len(seq)):
        result = tracker.update(seq.frame(i))
        assert isinstance(result, TrackResult)
        ious.append(_iou(result.box, seq.boxes[i]))
        scores.append(result.score)
    return np.array(ious), np.array(scores)


@pytest.mark.parametrize(
    "preset,use_scale_filter",
    [("translation", False), ("scale", True), ("scale", False), ("occlusion", True)],
)
def test_tracks_synthetic_sequences(preset, use_scale_filter):
    seq = make_sequence(preset, num_frames=40, width=320, height=240)
    tracker = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=use_scale_filter))
    ious, scores = _run(tracker, seq)
    assert ious.min() > 0.6, f"{preset}: IoU dropped to {ious.min():.2f} at frame {ious.argmin() + 1}"
    assert np.all(np.isfinite(scores)) and np.median(scores) > 0.1


def test_scale_estimate_follows_scale_change():
    seq = make_sequence("scale", num_frames=25, width=320, height=240)
    tracker = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False))
    tracker.init(seq.frame(0), seq.boxes[0])
    widths = [tracker.update(seq.frame(i)).box[2] for i in range(1, len(seq))]
    peak = int(np.argmax(seq.boxes[1:, 2]))
    true_log = np.log(seq.boxes[peak + 1, 2] / seq.boxes[0, 2])
    est_log = np.log(widths[peak] / seq.boxes[0, 2])
    assert true_log > 0.3
    assert est_log > 0.5 * true_log


@pytest.mark.parametrize("overrides", [{"use_projection_matrix": False}, {"update_projection_matrix": False}])
def test_projection_variants_track(overrides):
    seq = make_sequence("translation", num_frames=8, width=240, height=180)
    tracker = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False, **overrides))
    ious, _ = _run(tracker, seq)
    assert ious.min() > 0.6


def test_same_frame_gives_same_box():
    seq = make_sequence("translation", num_frames=2, width=240, height=180)
    tracker = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False))
    frame = seq.frame(0)
    tracker.init(frame, seq.boxes[0])
    box = tracker.update(frame).box
    np.testing.assert_allclose(box, seq.boxes[0], atol=0.5)


def test_contract_errors_and_overrides():
    with pytest.raises(TypeError, match="unknown ECO parameter"):
        ECOConfig.feco(not_a_parameter=1)
    with pytest.raises(ValueError):
        FeatureConfig("sift", compressed_dim=3)
    with pytest.raises(ValueError):
        ECOConfig.feco(features=(FeatureConfig("grey", compressed_dim=2),)).__class__(
            features=(FeatureConfig("grey", compressed_dim=1),), learning_rate=2.0
        )
    tracker = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False), train_gap=2)
    assert tracker.config.train_gap == 2
    with pytest.raises(TrackerError):
        tracker.update(np.zeros((50, 50, 3), np.uint8))
    with pytest.raises(TrackerError):
        tracker.init(np.zeros((50, 50, 3), np.uint8), (10, 10, 0, 5))


def test_model_path_override_sets_every_cnn_feature():
    config = ECOConfig.feco(model_path="/models/student.onnx", learning_rate=0.02)
    cnn = [f for f in config.features if f.kind == "cnn"]
    assert len(cnn) == 2 and all(f.model_path == "/models/student.onnx" for f in cnn)
    assert all(f.model_path is None for f in config.features if f.kind != "cnn")
    assert config.learning_rate == 0.02
    assert all(f.model_path is None for f in ECOConfig.feco().features)
    with pytest.raises(TypeError, match="needs a cnn feature"):
        ECOConfig.eco_hc(model_path="/models/student.onnx")


def test_registry_factory_with_grey_features(monkeypatch):
    from cfvgg_ros.core import registry

    # registered for this test only: tests that list every registered tracker must not see it
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "_INFO", dict(registry._INFO))
    register_tracker(
        "eco-test-grey",
        lambda **kw: ECOTracker(
            ECOConfig.feco(features=(FeatureConfig("grey", compressed_dim=1, cell_size=4),), **kw)
        ),
    )
    tracker = create_tracker("eco-test-grey", use_scale_filter=False)
    seq = make_sequence("translation", num_frames=8, width=240, height=180)
    ious, _ = _run(tracker, seq)
    assert ious.min() > 0.5


def _cnn_model_or_skip():
    from cfvgg_ros.models.store import ModelError, default_model_path

    try:
        return str(default_model_path())
    except (ModelError, OSError) as exc:
        pytest.skip(f"no CNN feature model available: {exc}")


@pytest.mark.shared
def test_feco_factory_runs_with_cnn():
    _cnn_model_or_skip()
    tracker = create_feco(use_scale_filter=False)
    seq = make_sequence("translation", num_frames=10, width=320, height=240)
    ious, _ = _run(tracker, seq)
    assert ious.min() > 0.6


def test_eco_hc_factory():
    try:
        import cfvgg_ros.features.colour  # noqa: F401
    except ImportError:
        pytest.skip("cfvgg_ros.features.colour is not available yet")
    tracker = create_eco_hc(use_scale_filter=False)
    seq = make_sequence("translation", num_frames=10, width=320, height=240)
    ious, _ = _run(tracker, seq)
    assert ious.min() > 0.6
