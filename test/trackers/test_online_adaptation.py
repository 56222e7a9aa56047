"""fKCF / fDeepSTRCF with first-frame online adaptation (paper Sec. IV-B): the adapted model runs
in the trackers' onnxruntime feature path."""

from __future__ import annotations

import numpy as np
import pytest
from test_kcf import run_tracker

from cfvgg_ros.core.registry import create_tracker
from cfvgg_ros.datasets.synthetic import make_sequence
from cfvgg_ros.features.adaptation import AdaptationTiming
from cfvgg_ros.trackers.kcf import KCFConfig, create_fkcf
from cfvgg_ros.trackers.strcf import STRCFConfig, create_fdeepstrcf

FAST = {"online_adaptation": True, "adaptation_iterations": 2, "adaptation_samples": 8}


@pytest.fixture(scope="module")
def model_path(request):
    """The CF-VGG model (shipped or converted paper CF_VGGM) when available, else a randomly
    initialised student exported to the ONNX contract."""
    pytest.importorskip("torch", reason="online adaptation needs torch (not installed)")
    try:
        from cfvgg_ros.models.store import default_model_path

        return str(default_model_path())
    except Exception:  # noqa: BLE001 - no CF-VGG model here: fall back to a random student
        return str(request.getfixturevalue("random_student_onnx"))


@pytest.fixture(scope="module")
def translation():
    seq = make_sequence("translation", num_frames=25, width=320, height=240)
    return [seq.frame(i) for i in range(len(seq))], np.asarray(seq.boxes, float)


@pytest.mark.parametrize("factory", [create_fkcf, create_fdeepstrcf], ids=["fkcf", "fdeepstrcf"])
def test_adapted_trackers_track_the_synthetic_translation(factory, model_path, translation):
    frames, boxes = translation
    tracker = factory(model_path=model_path, **FAST)
    assert tracker.adaptation_timing is None
    ious = run_tracker(tracker, frames, boxes)
    assert min(ious) > 0.6
    timing = tracker.adaptation_timing
    assert isinstance(timing, AdaptationTiming) and timing.iterations == 2 and timing.total > 0


@pytest.mark.parametrize("factory", [create_fkcf, create_fdeepstrcf], ids=["fkcf", "fdeepstrcf"])
def test_reinit_adapts_again_and_matches_a_fresh_tracker(factory, model_path, translation):
    frames, boxes = translation
    used = factory(model_path=model_path, **FAST)
    used.init(frames[5], boxes[5])
    first = used.adaptation_timing
    used.update(frames[6])
    used.init(frames[0], boxes[0])
    assert used.adaptation_timing is not first
    fresh = factory(model_path=model_path, **FAST)
    fresh.init(frames[0], boxes[0])
    for frame in frames[1:4]:
        a, b = used.update(frame), fresh.update(frame)
        np.testing.assert_allclose(a.box, b.box, atol=1e-4)


def test_adaptation_options_through_the_registry():
    tracker = create_tracker("fkcf", online_adaptation=True, adaptation_iterations=3, adaptation_samples=4)
    assert tracker.config.online_adaptation and tracker.config.adaptation_iterations == 3
    deep = create_tracker("fdeepstrcf", online_adaptation=True)
    assert deep.config.online_adaptation and deep.config.adaptation_samples == 32
    assert not create_tracker("fkcf").config.online_adaptation


def test_invalid_adaptation_settings():
    with pytest.raises(ValueError, match="cnn:<level>"):
        KCFConfig(feature="hog", online_adaptation=True)
    with pytest.raises(ValueError, match=r"no cnn:\* feature"):
        STRCFConfig(features=("grey", "hog"), online_adaptation=True)
    for config in (KCFConfig, STRCFConfig):
        with pytest.raises(ValueError, match="adaptation_iterations"):
            config(adaptation_iterations=-1)
        with pytest.raises(ValueError, match="adaptation_samples"):
            config(adaptation_samples=0)
    with pytest.raises(ValueError, match="custom feature_fn"):
        create_fkcf(feature_fn=lambda patch: patch, online_adaptation=True)
    with pytest.raises(ValueError, match="custom feature_fn"):
        create_fdeepstrcf(feature_fn=lambda p, g: [], block_cells=(4,), online_adaptation=True)
