"""Expert fusion: the lead expert's box while all agree, the surest expert's when they disagree
(confidence relative to each expert's own running mean), a persistent loser started again on the
winner's box."""

import cv2
import numpy as np
import pytest

from cfvgg_ros.core import TrackerError, TrackResult, create_tracker, register_tracker
from cfvgg_ros.core.contract import Tracker
from cfvgg_ros.trackers.fusion import ExpertFusion, appearance, box_overlap


class Scripted(Tracker):
    """Replays ``script`` [(box, score), ...], one per update; records its init boxes."""

    scripts: dict = {}

    def __init__(self, key: str) -> None:
        super().__init__()
        self.script = list(self.scripts[key])
        self.inits = []

    def _init(self, frame, box):
        self.inits.append(tuple(box))

    def _update(self, frame):
        step = self.script.pop(0)
        if step is None:
            raise TrackerError("scripted failure")
        return TrackResult(*step)


register_tracker("scripted-a", lambda: Scripted("a"))
register_tracker("scripted-b", lambda: Scripted("b"))
FRAME = np.zeros((100, 200, 3), dtype=np.uint8)
HERE, THERE = (10.0, 10.0, 20.0, 20.0), (150.0, 60.0, 20.0, 20.0)
NEAR = (12.0, 11.0, 20.0, 20.0)  # IoU with HERE 0.71


def test_box_overlap_by_hand():
    assert box_overlap(HERE, HERE) == 1.0
    assert box_overlap(HERE, THERE) == 0.0
    # 18 x 19 intersection of two 400 px boxes: 342 / 458
    assert box_overlap(HERE, NEAR) == pytest.approx(342 / 458)
    assert box_overlap((0, 0, 0, 5), (0, 0, 0, 5)) == 0.0


def _fusion(a, b, **params):
    Scripted.scripts = {"a": a, "b": b}
    fusion = ExpertFusion(experts="scripted-a+scripted-b", **{"judge": "confidence", **params})
    fusion.init(FRAME, HERE)
    return fusion


def test_agreeing_experts_report_the_lead_box_and_its_relative_confidence():
    fusion = _fusion([(HERE, 0.4), (HERE, 0.2)], [(NEAR, 0.9), (NEAR, 0.9)])
    first = fusion.update(FRAME)
    assert first.box == HERE and first.score == 1.0  # no history yet
    second = fusion.update(FRAME)
    assert second.box == HERE and second.score == pytest.approx(0.5)  # 0.2 / mean 0.4


def test_disagreement_reports_the_surer_expert_and_restarts_a_persistent_loser():
    # a's score halves while it drifts away; b keeps its usual score: b wins every disagreeing frame
    a = [(HERE, 0.4)] + [(THERE, 0.2)] * 4
    b = [(HERE, 0.8)] + [(NEAR, 0.8)] * 4
    fusion = _fusion(a, b, correct_after=3)
    lead_a, expert_b = fusion.experts
    assert fusion.update(FRAME).box == HERE
    reported = [fusion.update(FRAME) for _ in range(4)]
    assert [r.box for r in reported] == [NEAR] * 4
    assert reported[0].score == pytest.approx(1.0)  # 0.8 / 0.8
    # a lost three disagreeing frames in a row to b: started again on b's box, once
    assert lead_a.inits == [HERE, NEAR] and expert_b.inits == [HERE] and fusion.corrections == 1
    assert fusion.streaks[0] == 1 and fusion.means == [0.4, 0.8]  # counting again; means from trusted frames


def test_a_single_lost_frame_restarts_nothing():
    a = [(HERE, 0.4), (THERE, 0.1), (HERE, 0.4), (THERE, 0.1), (HERE, 0.4)]
    b = [(HERE, 0.8)] * 5
    fusion = _fusion(a, b, correct_after=2)
    boxes = [fusion.update(FRAME).box for _ in range(5)]
    assert boxes == [HERE] * 5 and fusion.corrections == 0 and fusion.experts[0].inits == [HERE]


def test_appearance_is_a_normalised_patch():
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    a = appearance(frame, (10, 10, 20, 16))
    assert a.shape == (32 * 32,) and abs(float(a.sum())) < 1e-3 and float(a @ a) == pytest.approx(1.0)
    assert float(a @ appearance(frame, (10, 10, 20, 16))) == pytest.approx(1.0)
    # brightness and contrast do not change it (NCC)
    brighter = np.clip(frame.astype(np.float32) * 0.5 + 40, 0, 255).astype(np.uint8)
    assert float(a @ appearance(brighter, (10, 10, 20, 16))) > 0.99
    assert float(a @ appearance(frame, (50, 30, 20, 16))) < 0.5
    assert not appearance(np.full((60, 80, 3), 7, np.uint8), (10, 10, 20, 16)).any()  # flat: zeros
    assert appearance(frame, (70, 50, 30, 30)).any()  # partly outside: the part inside
    assert float(a @ appearance(frame, (10, 10, 20, 16))) == pytest.approx(1.0)
    for outside in [(100, 10, 20, 20), (-50, -50, 20, 20), (float("nan"), 0, 20, 20), (0, 0, float("inf"), 9)]:
        assert not appearance(frame, outside).any()
    assert appearance(frame, (-1e9, -1e9, 2e9, 2e9)).shape == (1024,)  # a huge box costs one frame


def test_an_expert_that_fails_is_started_again_and_only_all_failing_raises():
    a = [(HERE, 0.4), None, (NEAR, 0.4), None]
    b = [(HERE, 0.8), (NEAR, 0.8), (NEAR, 0.8), None]
    fusion = _fusion(a, b)
    assert fusion.update(FRAME).box == HERE
    assert fusion.update(FRAME).box == NEAR  # a failed: b reported, a started on b's box
    assert fusion.experts[0].inits == [HERE, NEAR] and fusion.corrections == 1
    assert fusion.update(FRAME).box == NEAR  # both again, agreeing
    with pytest.raises(TrackerError, match="every expert failed"):
        fusion.update(FRAME)


def test_the_template_judge_picks_the_box_that_looks_like_the_target():
    """The confident expert drifted onto background; the other holds the textured target."""
    rng = np.random.default_rng(2)
    frame = np.full((100, 200, 3), 90, dtype=np.uint8)
    frame[10:30, 10:30] = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)
    frame[60:80, 150:170] = rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)  # another texture
    a = [(HERE, 0.4), (THERE, 0.4)]  # a: steady score, on the other texture
    b = [(HERE, 0.8), (HERE, 0.2)]  # b: unsure, on the target
    Scripted.scripts = {"a": a, "b": b}
    by_confidence = ExpertFusion(experts="scripted-a+scripted-b", judge="confidence")
    by_confidence.init(frame, HERE)
    by_confidence.update(frame)
    assert by_confidence.update(frame).box == THERE
    Scripted.scripts = {"a": a, "b": b}
    by_template = ExpertFusion(experts="scripted-a+scripted-b", judge="template")
    by_template.init(frame, HERE)
    by_template.update(frame)
    assert by_template.update(frame).box == HERE


@pytest.mark.parametrize("params", [{"experts": "kcf"}, {"experts": "kcf+fusion"}, {"agree_iou": 0.0},
                                    {"rate": 1.5}, {"correct_after": 0}, {"judge": "vote"},
                                    {"template_rate": 2.0}])
def test_bad_settings_are_refused(params):
    with pytest.raises(TrackerError):
        ExpertFusion(**{"experts": "kcf+opencv-kcf", **params})


def test_unknown_expert_is_named():
    with pytest.raises(KeyError, match="no-such-tracker"):
        ExpertFusion(experts="kcf+no-such-tracker")


def test_fusion_of_two_real_trackers_follows_a_moving_target():
    rng = np.random.default_rng(0)
    scene = cv2.resize(rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), (320, 240),
                       interpolation=cv2.INTER_CUBIC)
    fusion = create_tracker("fusion", experts="kcf+opencv-kcf")
    box = np.array([140.0, 100.0, 32.0, 32.0])
    fusion.init(scene, box)
    for i in range(1, 10):
        result = fusion.update(np.roll(scene, 4 * i, axis=1))
        assert box_overlap(result.box, box + [4 * i, 0, 0, 0]) > 0.7
    assert fusion.name == "fusion" and fusion.corrections == 0
