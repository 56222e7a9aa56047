"""ECO's CNN sample layout (``init_features``: odd deepest-layer cells, support = its extent,
centred crops of every map and of the hand-crafted patch) and fECO's online adaptation option."""

import numpy as np
import pytest

from cfvgg_ros.datasets.synthetic import make_sequence
from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
from cfvgg_ros.trackers.eco.feature_blocks import FeatureExtractor
from cfvgg_ros.trackers.eco.tracker import ECOTracker


@pytest.fixture(scope="module")
def student_onnx(random_student_onnx):
    """An untrained CF-VGG student in the ONNX contract (test/conftest.py), as a str path."""
    return str(random_student_onnx)


def _feco_features(model_path):
    return (
        FeatureConfig("cnn:low", compressed_dim=3, downsample=2, model_path=model_path),
        FeatureConfig("cnn:high", compressed_dim=12, model_path=model_path),
        FeatureConfig("hog", compressed_dim=10, cell_size=4),
    )


def _check_layout(ext: FeatureExtractor, desired: float):
    size = ext.choose_sample_size((desired, desired))
    layout = ext.layout(size)
    net = next(iter(ext._cnn.values()))
    high = net.output_size(size)["high"]
    # ECO 'odd_cells' with a CNN: the deepest layer gets the next odd cell count above the desired size's
    orig = net.output_size((round(desired), round(desired)))["high"][0]
    assert high[0] % 2 == 1 and high[0] > orig
    assert net.output_size((size[0] - 1, size[1] - 1))["high"][0] < high[0]  # smallest such patch
    support = layout.support_size
    assert support[0] == 16 * layout.blocks[1].size[0] and support[0] <= size[0]
    low, hi, hog = layout.blocks
    assert low.size[0] * 4 == support[0] and hog.size[0] * 4 == support[0]  # all blocks tile the support
    assert (low.stride, hi.stride, hog.stride) == (4.0, 16.0, 4.0)
    for g in layout.blocks:  # every block is centred on the support within half a coarse cell
        for axis in range(2):
            centre = g.offset_yx[axis] + g.stride * (g.size[axis] - 1) / 2.0
            assert abs(centre - support[axis] / 2.0) <= g.stride / 2.0 + 1e-9
    maps = ext.extract(np.random.default_rng(0).integers(0, 255, (size[0], size[1], 3), dtype=np.uint8))
    assert [m.shape[:2] for m in maps] == [g.size for g in layout.blocks]
    for m in maps:  # ECO normalisation: mean squared value per cell and channel is one
        assert np.mean(m.astype(np.float64) ** 2) == pytest.approx(1.0, rel=1e-3)


def test_cnn_layout_follows_eco_init_features(student_onnx):
    ext = FeatureExtractor(_feco_features(student_onnx))
    for desired in (180.0, 231.0, 262.0):
        _check_layout(ext, desired)


@pytest.mark.shared
def test_cnn_layout_with_the_paper_student():
    from cfvgg_ros.models.store import ModelError, paper_student_path

    try:
        path = str(paper_student_path())
    except (ModelError, OSError) as exc:
        pytest.skip(f"the paper's CF_VGGM is not available: {exc}")
    _check_layout(FeatureExtractor(_feco_features(path)), 225.0)


def test_proportional_cnn_layout_has_per_axis_offsets(student_onnx):
    ext = FeatureExtractor(_feco_features(student_onnx))
    size = ext.choose_sample_size((150.0, 260.0))
    layout = ext.layout(size)
    assert layout.support_size[0] < layout.support_size[1]
    assert [m.shape[:2] for m in ext.extract(np.zeros(size + (3,), np.uint8))] == [
        g.size for g in layout.blocks
    ]
    for g in layout.blocks:
        for axis in range(2):
            centre = g.offset_yx[axis] + g.stride * (g.size[axis] - 1) / 2.0
            assert abs(centre - layout.support_size[axis] / 2.0) <= g.stride / 2.0 + 1e-9


def test_handcrafted_sample_size_is_ecos_odd_cells_rule():
    ext = FeatureExtractor(
        [FeatureConfig("grey", compressed_dim=1, cell_size=6), FeatureConfig("grey", compressed_dim=1)]
    )
    # (1 + 2 round(150 / 12)) * 6 = 162, +2 pixels makes both 27 (cell 6) and 41 (cell 4) odd
    assert ext.choose_sample_size((150.0, 150.0)) == (164, 164)
    layout = ext.layout((164, 164))
    assert layout.support_size == (164, 164) and layout.crops[0] == (0, 0, 164, 164)


def test_online_adaptation_runs_at_init_and_is_profiled(student_onnx):
    pytest.importorskip("torch", reason="online adaptation needs torch")
    config = ECOConfig.feco(
        features=_feco_features(student_onnx),
        use_scale_filter=False,
        online_adaptation=True,
        adaptation_iterations=1,
        adaptation_samples=2,
        profile=True,
        min_image_sample_size=120.0**2,
        max_image_sample_size=150.0**2,
    )
    tracker = ECOTracker(config)
    original = tracker.extractor._cnn[student_onnx]
    seq = make_sequence("translation", num_frames=4, width=240, height=180)
    tracker.init(seq.frame(0), seq.boxes[0])
    adapted = tracker.extractor._cnn[student_onnx]
    assert adapted is not original and adapted.model_path is None  # built from the adapted bytes
    assert tracker.extractor.cnn_sources()[student_onnx] == original.model_path  # re-init adapts the original
    for i in range(1, len(seq)):
        result = tracker.update(seq.frame(i))
        assert np.all(np.isfinite(result.box))
    report = tracker.profile_report()
    assert tracker.adaptation_seconds > 0
    assert 0 < report["adaptation_ms"] <= report["init_ms"]


def test_online_adaptation_needs_a_cnn():
    with pytest.raises(ValueError, match="online_adaptation"):
        ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10),), online_adaptation=True)


def test_hand_crafted_only_extraction_skips_the_cnn_and_keeps_the_rest(student_onnx):
    """rotation_preselect's cheap features: the CNN blocks are None, fHOG is the full extraction's."""
    ext = FeatureExtractor(list(_feco_features(student_onnx)))
    assert ext.hand_crafted_blocks == [2]
    size = ext.choose_sample_size((120.0, 120.0))
    patch = np.random.default_rng(0).integers(0, 256, (size[0], size[1], 3), dtype=np.uint8)
    full = ext.extract_many([patch])[0]
    cheap = ext.extract_many([patch], hand_crafted_only=True)[0]
    assert cheap[0] is None and cheap[1] is None
    np.testing.assert_array_equal(cheap[2], full[2])


def _searches_and_trainings(model_path, seq, preselect: bool):
    """Full searches per update and the updates that trained, trigger always near firing."""
    tracker = ECOTracker(ECOConfig.cfvgg(features=_feco_features(model_path), patch_sampler="warp",
                                         rotation_step=5.0, rotation_trigger=1.0, gate_rate=0.5,
                                         rotation_preselect=preselect, rotation_defers_training=True))
    located, trained = [], []
    locate, train = tracker._locate, tracker._train_filter

    def counted_locate(frame):
        located.append(tracker.frame_index)
        return locate(frame)

    def counted_train(*args, **kwargs):
        trained.append(tracker.frame_index)
        return train(*args, **kwargs)

    tracker._locate, tracker._train_filter = counted_locate, counted_train
    tracker.init(seq.frame(0), tuple(seq.boxes[0]))
    trained.clear()
    for i in range(1, len(seq)):
        tracker.update(seq.frame(i))
    return np.bincount(located, minlength=len(seq))[1:], trained, tracker.config.train_gap


def test_preselection_runs_at_most_one_full_turned_search_and_deferral_is_bounded(student_onnx):
    """On a triggered frame, two full turned searches without preselection; with it, at most
    one (the better of the two cheap scores, if it beats the unturned one). Deferred training: a
    frame with a full turned search does not train, the next one trains whatever it runs, so the
    filter is trained at least every train_gap + 2 frames."""
    seq = make_sequence("rotation", num_frames=14)
    calls = {}
    for preselect in (False, True):
        calls[preselect], trained, gap = _searches_and_trainings(student_onnx, seq, preselect)
        assert np.diff([0] + trained).max() <= gap + 2
    # a triggered frame (peak below its running mean): unturned + two turned searches, or + at most one
    assert set(calls[False]) <= {1, 3} and (calls[False] == 3).sum() >= 5
    assert set(calls[True]) <= {1, 2} and calls[True].sum() < calls[False].sum()
