"""The ECO engine's departures from the paper (off in feco / eco-hc, on in cfvgg): confidence-gated
update, bounded scale change, constant-velocity prediction with a competing unpredicted search,
a minimum search side for small targets."""

import cv2
import numpy as np
import pytest

from cfvgg_ros.core.registry import tracker_info
from cfvgg_ros.trackers import CFVGG_LOST_THRESHOLD
from cfvgg_ros.trackers.eco.config import CFVGG_OVERRIDES, ECOConfig, FeatureConfig
from cfvgg_ros.trackers.eco.tracker import ECOTracker, create_cfvgg

HOG = (FeatureConfig("hog", compressed_dim=10, cell_size=4),)


def _texture(height=240, width=320, seed=0):
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _moving(frames=12, step=(0, 6), size=32):
    """A textured scene shifted by ``step`` = (dy, dx) pixels per frame (the target moves with it)."""
    scene = _texture()
    box0 = np.array([140.0, 100.0, size, size])  # x, y, w, h
    out = []
    for i in range(frames):
        dy, dx = step[0] * i, step[1] * i
        out.append((np.roll(scene, (dy, dx), axis=(0, 1)), box0 + [dx, dy, 0, 0]))
    return out


def _tracker(**overrides):
    return ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False, **overrides))


def test_paper_configuration_has_every_departure_off():
    cfg = ECOConfig.feco()
    assert (cfg.update_gate, cfg.max_scale_change, cfg.motion_prediction, cfg.motion_hypotheses,
            cfg.min_search_side, cfg.redetect_candidates, cfg.response_consistency) == (
                0.0, 0.0, 0.0, False, 0.0, 0, 0.0)
    assert ECOConfig.cfvgg().response_consistency == 0.0
    cfvgg = ECOConfig.cfvgg()
    for key, value in CFVGG_OVERRIDES.items():
        assert getattr(cfvgg, key) == value
    assert cfvgg.features == cfg.features and cfvgg.init_CG_iter == cfg.init_CG_iter  # fECO's features, first training
    assert ECOConfig.cfvgg(search_area_scale=4.5).search_area_scale == 4.5  # overrides still apply


def test_cfvgg_is_registered_with_its_metadata():
    info = tracker_info("cfvgg")
    # its own LOST threshold (measured on the train split: its wider search lowers the peaks)
    assert info.cnn_model and info.lost_threshold == CFVGG_LOST_THRESHOLD < tracker_info("feco").lost_threshold
    assert create_cfvgg().config == ECOConfig.cfvgg()


@pytest.mark.parametrize("bad", [{"update_gate": 1.0}, {"update_gate": -0.1}, {"gate_rate": 0.0},
                                 {"max_scale_change": 0.9}, {"motion_prediction": 1.5},
                                 {"response_consistency": -0.1}, {"response_consistency": float("nan")},
                                 {"scale_gain": 0.4}, {"scale_gain": 2.5}, {"scale_gain": float("nan")}])
def test_bad_values_are_rejected(bad):
    with pytest.raises(ValueError):
        ECOConfig.feco(**bad)


def test_velocity_is_the_last_displacement_and_prediction_keeps_up():
    frames = _moving(frames=10, step=(0, 6))
    tracker = _tracker(motion_prediction=1.0)
    tracker.init(frames[0][0], frames[0][1])
    for frame, box in frames[1:]:
        result = tracker.update(frame)
        assert abs(result.box[0] - box[0]) < 1.5 and abs(result.box[1] - box[1]) < 1.5
    # pos is (y, x): the scene moves 6 px a frame to the right
    np.testing.assert_allclose(tracker.velocity, [0.0, 6.0], atol=0.5)


def test_velocity_is_capped_at_one_target_size():
    frames = _moving(frames=2, step=(0, 40), size=32)  # 40 px a frame: more than the 32 px target
    tracker = _tracker(motion_prediction=1.0)
    tracker.init(frames[0][0], frames[0][1])
    result = tracker.update(frames[1][0])
    assert abs(result.box[0] - frames[1][1][0]) < 2.0  # found 40 px away
    side = float(np.sqrt(np.prod(tracker.base_target_sz * tracker.current_scale)))
    assert np.linalg.norm(tracker.velocity) == pytest.approx(side)  # the prediction moves one size at most
    assert tracker.velocity[1] > 0.99 * side  # in the direction of the motion


def test_unpredicted_hypothesis_wins_when_the_target_stops():
    moving = _moving(frames=6, step=(0, 6))
    stopped = [moving[-1]] * 3  # the target stops dead after moving 6 px a frame
    for hypotheses in (False, True):
        tracker = _tracker(motion_prediction=1.0, motion_hypotheses=hypotheses)
        tracker.init(moving[0][0], moving[0][1])
        for frame, _ in moving[1:]:
            tracker.update(frame)
        result = tracker.update(stopped[0][0])
        error = abs(result.box[0] - stopped[0][1][0])
        if hypotheses:
            assert error < 1.0  # the search from the unpredicted position sees the target centred
        else:
            assert error < 4.0  # still found, 6 px off-centre in the window


def test_min_search_side_widens_the_context_of_small_targets_only():
    frame = _texture()
    small, large = (150.0, 100.0, 16.0, 16.0), (100.0, 60.0, 90.0, 90.0)
    tracker = _tracker(min_search_side=200.0, max_search_area_scale=10.0)
    tracker.init(frame, small)
    assert tracker.search_area_scale == pytest.approx(10.0)  # 200 / 16 = 12.5, capped at 10
    tracker.init(frame, large)
    assert tracker.search_area_scale == pytest.approx(4.5)  # 90 * 4.5 > 200: the run file's scale
    tracker = _tracker(min_search_side=200.0)
    tracker.init(frame, (150.0, 100.0, 32.0, 32.0))
    assert tracker.search_area_scale == pytest.approx(200.0 / 32.0)


def test_update_gate_skips_the_model_update_on_a_low_peak():
    frames = _moving(frames=8, step=(0, 2))
    tracker = _tracker(update_gate=0.5)
    tracker.init(frames[0][0], frames[0][1])
    for frame, _ in frames[1:]:
        tracker.update(frame)
    merged = tracker.sample_space.num_training_samples
    accepted = tracker.accepted_peak
    noise = np.random.default_rng(1).integers(0, 256, size=frames[0][0].shape, dtype=np.uint8)
    result = tracker.update(noise)  # the target is gone: a low peak
    assert result.score < 0.5 * accepted
    assert tracker.sample_space.num_training_samples == merged and tracker.accepted_peak == accepted


def test_response_consistency_slows_the_filter_change_and_keeps_tracking():
    """ARCF's term: the filter trained with a heavy weight moves less from its first-frame
    solution over the same frames, and the target is still followed."""
    frames = _moving(frames=8, step=(0, 3))

    def drift(weight):
        tracker = _tracker(response_consistency=weight, train_gap=0)
        tracker.init(frames[0][0], frames[0][1])
        first = [f.copy() for f in tracker.hf]
        for frame, box in frames[1:]:
            result = tracker.update(frame)
            assert abs(result.box[0] - box[0]) < 2.0 and abs(result.box[1] - box[1]) < 2.0
        change = sum(float(np.sum(np.abs(a - b) ** 2)) for a, b in zip(tracker.hf, first, strict=True))
        return change / sum(float(np.sum(np.abs(b) ** 2)) for b in first)

    free, anchored = drift(0.0), drift(10.0)
    assert anchored < 0.5 * free


def test_max_scale_change_bounds_the_scale_filter():
    scene = _texture()
    box = (130.0, 90.0, 60.0, 60.0)
    zoomed = cv2.resize(scene, None, fx=1.3, fy=1.3)[36:276, 48:368]  # 30% larger about the centre
    for bound in (0.0, 1.02):
        tracker = ECOTracker(ECOConfig.feco(features=HOG, max_scale_change=bound))
        tracker.init(scene, box)
        before = tracker.current_scale
        tracker.update(zoomed)
        ratio = tracker.current_scale / before
        if bound:
            assert 1 / 1.02 - 1e-9 <= ratio <= 1.02 + 1e-9
        else:
            assert ratio > 1.02  # unbounded, the scale filter follows the zoom further in one frame


def test_redetect_sweeps_the_ring_and_finds_a_target_beyond_the_search_window():
    frames = _moving(frames=2, step=(0, 96), size=32)  # a jump of 3 target sizes in one frame
    plain, ring = _tracker(), _tracker()
    for tracker in (plain, ring):
        tracker.init(frames[0][0], frames[0][1])
    lost = plain.update(frames[1][0])
    true_x = frames[1][1][0]
    assert abs(lost.box[0] - true_x) > 30
    # ring of 8 positions 3 sizes out, REDETECT_PER_CALL of them per call: swept in 4 calls
    calls = 8 // ECOTracker.REDETECT_PER_CALL
    found = [ring.redetect(frames[1][0], search_scale=6.0) for _ in range(calls)]
    hits = [r for r in found if abs(r.box[0] - true_x) < 2.0]
    assert hits and max(r.score for r in hits) > lost.score
    assert ring._ring_radius is None  # back to normal updates


def test_spread_redetection_starts_after_a_low_streak_and_takes_directions_in_turn():
    tracker = _tracker(redetect_candidates=2, redetect_after=2, redetect_threshold=0.15)
    frames = _moving(frames=2, step=(0, 0))
    tracker.init(frames[0][0], frames[0][1])
    assert tracker._ring_starts() == []  # tracking well: no extra search
    tracker.low_streak = 2
    first, second = tracker._ring_starts(), tracker._ring_starts()
    side = float(np.sqrt(np.prod(tracker.base_target_sz * tracker.current_scale)))
    offsets = [p - tracker.confident_pos for p in first + second]
    np.testing.assert_allclose([np.linalg.norm(o) for o in offsets], 2.0 * side)
    assert len({tuple(np.round(o, 6)) for o in offsets}) == 4  # four different directions in turn


def test_score_is_scaled_back_to_the_configured_search_area():
    frames = _moving(frames=2, step=(0, 2), size=16)
    wide, plain = _tracker(min_search_side=250.0), _tracker()
    for tracker in (wide, plain):
        tracker.init(frames[0][0], frames[0][1])
    assert plain.score_scale == 1.0
    ratio = wide.search_area_scale / wide.config.search_area_scale
    assert ratio > 1.0 and wide.score_scale == pytest.approx(ratio**2)
    wide_score, plain_score = wide.update(frames[1][0]).score, plain.update(frames[1][0]).score
    raw = wide_score / wide.score_scale
    # the raw peak of the wide search is far below the plain one; scaled, it is comparable
    assert raw < 0.5 * plain_score and 0.4 < wide_score / plain_score < 2.5


@pytest.mark.parametrize("gain", [1.0, 1.3])
def test_scale_gain_raises_the_scale_filters_estimate_to_its_power(gain):
    frames = _moving(frames=2, step=(0, 0))
    tracker = ECOTracker(ECOConfig.feco(features=HOG, scale_gain=gain))
    tracker.init(frames[0][0], frames[0][1])
    before = tracker.current_scale
    tracker.scale_filter.track = lambda *args, **kwargs: (1.1, 0.9)  # the filter's estimate, fixed
    tracker.update(frames[1][0])
    assert tracker.current_scale / before == pytest.approx(1.1**gain)
