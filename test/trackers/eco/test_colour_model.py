"""The Staple-style colour model beside the filter: histograms, likelihood, windowed response,
and its merge into the peak search (hand-computed values)."""

import numpy as np
import pytest

from cfvgg_ros.trackers.eco.colour_model import ColourModel, is_grey
from cfvgg_ros.trackers.eco.detection import _parabola_offset, find_peak
from cfvgg_ros.trackers.eco.fourier import cfft2


def _scene(size=60, target=(20, 20), centre=(30, 30), fg=(200, 30, 30), bg=(30, 30, 200)):
    patch = np.empty((size, size, 3), dtype=np.uint8)
    patch[:] = bg
    y0, x0 = centre[0] - target[0] // 2, centre[1] - target[1] // 2
    patch[y0:y0 + target[0], x0:x0 + target[1]] = fg
    return patch


def test_bin_index_packs_the_quantised_channels():
    model = ColourModel(bins=32)
    patch = np.array([[[0, 0, 0], [255, 255, 255], [8, 16, 24]]], dtype=np.uint8)
    # 32 levels: value >> 3; bin = (r * 32 + g) * 32 + b
    assert model.bin_index(patch).tolist() == [[0, 32**3 - 1, (1 * 32 + 2) * 32 + 3]]
    grey = ColourModel(bins=16, grey=True)
    assert grey.bin_index(patch).tolist() == [[0, 15, 0]]


def test_is_grey():
    frame = np.repeat(np.arange(12, dtype=np.uint8).reshape(3, 4, 1), 3, axis=2)
    assert is_grey(frame)
    frame[1, 2, 1] += 1
    assert not is_grey(frame)


def test_first_update_learns_target_and_ring_colours():
    model = ColourModel(bins=32)
    model.update(_scene(), (30.0, 30.0), (20.0, 20.0))
    red, blue = model.bin_index(np.array([[[200, 30, 30], [30, 30, 200]]], dtype=np.uint8))[0]
    # the shrunk target box (16 x 16) is all red; the ring (40 x 40 minus 20 x 20) all blue
    assert model.fg[red] == pytest.approx(1.0) and model.bg[blue] == pytest.approx(1.0)
    like = model.likelihood(_scene())
    assert like[30, 30] == pytest.approx(1.0) and like[0, 0] == pytest.approx(0.0)


def test_update_blends_with_the_learning_rate():
    model = ColourModel(bins=32, learning_rate=0.25)
    model.update(_scene(), (30.0, 30.0), (20.0, 20.0))
    model.update(_scene(fg=(30, 200, 30)), (30.0, 30.0), (20.0, 20.0))
    red, green = model.bin_index(np.array([[[200, 30, 30], [30, 200, 30]]], dtype=np.uint8))[0]
    assert model.fg[red] == pytest.approx(0.75) and model.fg[green] == pytest.approx(0.25)
    # likelihood of red: 0.75 / (0.75 + 0) = 1; an unseen colour scores 0
    assert model.likelihood(np.array([[[200, 30, 30], [0, 0, 0]]], dtype=np.uint8)).tolist() == [[1.0, 0.0]]


def test_response_peaks_at_the_target_displacement_on_the_wrapped_grid():
    model = ColourModel(bins=32)
    model.update(_scene(), (30.0, 30.0), (20.0, 20.0))
    # the target moved 8 px down, 12 px left; grid of 15 cells over a 60 px support: 4 px a cell
    moved = _scene(centre=(38, 18))
    resp = model.response(moved, (20.0, 20.0), (15, 15), (60.0, 60.0))
    iy, ix = np.unravel_index(np.argmax(resp), resp.shape)
    assert (iy, ix) == (2, 15 - 3)  # +2 cells, and -3 cells wrapped to index 12
    assert resp[iy, ix] == pytest.approx(1.0)
    # a window half on the target: 20 x 10 red pixels of 20 x 20
    half = model.response(moved, (20.0, 20.0), (60, 60), (60.0, 60.0))[8, 60 - 2]  # 10 px right of it
    assert half == pytest.approx(0.5)


def test_parabola_offset():
    # samples of -(x - 0.3)^2 at -1, 0, 1
    assert _parabola_offset(-1.69, -0.09, -0.49) == pytest.approx(0.3)
    assert _parabola_offset(1.0, 0.0, 1.0) == 0.0  # not a maximum: no offset


def _bump(n, cy, cx, sigma=1.5):
    yy, xx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    dy = (yy - cy + n / 2) % n - n / 2
    dx = (xx - cx + n / 2) % n - n / 2
    return np.exp(-(dy**2 + dx**2) / (2 * sigma**2))


def test_prior_selects_between_two_filter_peaks():
    n = 17
    score = (1.0 * _bump(n, 3, 3) + 0.9 * _bump(n, 12, 12)).astype(np.float32)
    sf = cfft2(score)[None] / (n * n)
    alone = find_peak(sf, (n, n))
    assert (round(alone.y), round(alone.x)) == (3, 3)
    prior = _bump(n, 12, 12, sigma=3.0)[None].astype(np.float32)
    merged = find_peak(sf, (n, n), prior=prior, prior_weight=0.3)
    assert (round(merged.y), round(merged.x)) == (-5, -5)  # cell 12 of 17 wraps to -5
    assert merged.value == pytest.approx(0.9 / 1.0 * alone.value, rel=0.05)  # the filter's value there
    placed = find_peak(sf, (n, n), prior=prior, prior_weight=0.3, refine_merged=True)
    assert (placed.y, placed.x) == pytest.approx((-5.0, -5.0), abs=0.5)
    # no prior weight: the filter alone
    assert find_peak(sf, (n, n), prior=prior, prior_weight=0.0) == alone


def _red_square_track(**overrides):
    """fHOG-only ECO on a red square moving 5 px a frame over static grey texture: the last
    frame's true x and the tracker's boxes."""
    import cv2

    from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    rng = np.random.default_rng(1)
    grey = cv2.resize(rng.integers(0, 256, (30, 40), dtype=np.uint8), (320, 240), interpolation=cv2.INTER_CUBIC)
    scene = np.repeat(grey[..., None], 3, axis=2)
    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        use_scale_filter=False, **overrides))
    results = []
    for i in range(10):
        frame = scene.copy()
        x = 100 + 5 * i
        frame[100:130, x:x + 30] = (220, 40, 40)
        if i == 0:
            tracker.init(frame, (100.0, 100.0, 30.0, 30.0))
        else:
            results.append(tracker.update(frame))
    return tracker, x, results


def test_colour_model_pulls_the_search_off_a_static_background():
    """The square's textureless inside gives the filter little: it keeps locking onto the static
    texture around it and stays put; with the colour merge the square's colour wins once the two
    disagree, and the tracker is on the square at the end. The reported score stays the filter's."""
    _, x, alone = _red_square_track()
    assert abs(alone[-1].box[0] - 100.0) < 2.0 and x - alone[-1].box[0] > 40.0
    tracker, x, merged = _red_square_track(colour_merge=0.45, colour_refine_merged=True)
    assert tracker.colour is not None and not tracker.colour.grey and tracker.colour.initialised
    assert abs(merged[-1].box[0] - x) < 2.0 and abs(merged[-1].box[1] - 100.0) < 2.0
    assert all(np.isfinite(r.score) and r.score > 0 for r in merged)


def test_colour_settings_are_validated():
    from cfvgg_ros.trackers.eco.config import ECOConfig

    for bad in ({"colour_merge": 1.0}, {"colour_merge": -0.1}, {"colour_learning_rate": 0.0}, {"colour_bins": 24}):
        with pytest.raises(ValueError):
            ECOConfig.feco(**bad)
    with pytest.raises(ValueError):
        ColourModel(bins=20)


def test_colour_weight_rises_as_the_filter_peak_falls():
    from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        colour_merge=0.4, colour_merge_max=0.8, gate_rate=0.5))
    tracker._peak_mean = None
    assert tracker._colour_weight(1.0) == pytest.approx(0.4)  # first frame: its own mean
    # running mean (1 + 1) / 2 = 1 before the update: a peak of 0.5 is half of it
    assert tracker._colour_weight(1.0) == pytest.approx(0.4)
    assert tracker._colour_weight(0.5) == pytest.approx(0.4 + 0.4 * 0.5)
    assert tracker._colour_weight(0.0) == pytest.approx(0.8)  # mean now 0.75: a zero peak, full weight
    fixed = ECOTracker(ECOConfig.feco(colour_merge=0.45))
    assert fixed._colour_weight(0.01) == 0.45
    with pytest.raises(ValueError):
        ECOConfig.feco(colour_merge=0.5, colour_merge_max=0.3)


def test_contrast_is_the_box_mean_likelihood_minus_the_ring_mean():
    model = ColourModel(bins=32)
    scene = _scene()  # a 20 x 20 red target on blue
    model.update(scene, (30.0, 30.0), (20.0, 20.0))
    # likelihood 1 on red, 0 on blue: box mean 1, ring (40 x 40 minus the box) mean 0
    assert model.contrast(scene, (30.0, 30.0), (20.0, 20.0)) == pytest.approx(1.0)
    # a box twice as wide: half red (mean 0.5); its ring (the box grown by 30 px, clipped to the
    # 60 x 60 patch, minus the box) holds no red (mean 0)
    assert model.contrast(scene, (30.0, 30.0), (20.0, 40.0)) == pytest.approx(0.5)
    # the same colours inside and around: no contrast
    flat = np.full((60, 60, 3), 200, dtype=np.uint8)
    mixed = ColourModel(bins=32)
    mixed.update(flat, (30.0, 30.0), (20.0, 20.0))
    assert mixed.contrast(flat, (30.0, 30.0), (20.0, 20.0)) == pytest.approx(0.0)
    # no ring inside the patch: 0
    assert model.contrast(scene, (30.0, 30.0), (60.0, 60.0)) == 0.0


def test_colour_weight_follows_the_colour_contrast():
    from cfvgg_ros.trackers.eco.config import ECOConfig

    tracker = _colour_tracker(colour_contrast_ref=0.4)
    tracker._colour_contrast = None  # before the first colour update: full weight
    assert tracker._colour_weight(1.0) == pytest.approx(0.45)
    tracker._colour_contrast = 0.2
    assert tracker._colour_weight(1.0) == pytest.approx(0.45 * 0.5)
    tracker._colour_contrast = 0.6
    assert tracker._colour_weight(1.0) == pytest.approx(0.45)
    tracker._colour_contrast = -0.1
    assert tracker._colour_weight(1.0) == 0.0
    with pytest.raises(ValueError):
        ECOConfig.feco(colour_merge=0.45, colour_contrast_ref=-0.1)
    # in a run, the running contrast is learnt from the frames (a red target on blue: high)
    frame = np.zeros((120, 160, 3), dtype=np.uint8)
    frame[:] = (30, 30, 200)
    frame[40:80, 60:100] = (200, 30, 30)
    tracker.init(frame, (60.0, 40.0, 40.0, 40.0))
    tracker.update(frame)
    assert 0.5 < tracker._colour_contrast <= 1.0


def _colour_tracker(**overrides):
    from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    return ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                     colour_merge=0.45, **overrides))


def test_box_sums_count_fractional_edges_and_clip_to_the_patch():
    from cfvgg_ros.trackers.eco.colour_model import box_sums

    like = np.zeros((20, 30), dtype=np.float32)
    like[5:15, 10:20] = 1.0  # a 10 x 10 block of certain target pixels
    sums, areas = box_sums(like, (10.0, 15.0), [[10, 10], [12, 12], [11, 10], [6, 4], [10, 40]])
    # the block itself; a box 1 px wider all round holds the same 100; half a row more on each
    # side (11 x 10) covers only background; a 6 x 4 box inside it; a 10 x 40 box clipped to 10 x 30
    assert sums.tolist() == pytest.approx([100.0, 100.0, 100.0, 24.0, 100.0])
    assert areas.tolist() == pytest.approx([100.0, 144.0, 110.0, 24.0, 300.0])
    # a box with fractional edges: 10.5 wide centred 0.25 px right of the block covers x in
    # [10, 20.5) -> the whole block; 9 wide centred there covers [10.75, 19.75): 9 columns
    sums, _ = box_sums(like, (10.0, 15.25), [[10, 10.5], [10, 9]])
    assert sums.tolist() == pytest.approx([100.0, 90.0])
    # the threshold form: support = sums - t * areas peaks at the block's own size
    sizes = [[s, s] for s in (6.0, 8.0, 10.0, 12.0, 14.0)]
    sums, areas = box_sums(like, (10.0, 15.0), sizes)
    assert int(np.argmax(sums - 0.5 * areas)) == 2


def _stretching_target_track(**overrides):
    """fHOG + colour model (fixed scale) on a red rectangle over a blue background that stretches
    from 40 x 40 to 64 wide x 25 high (the same area) over 30 frames: the last true size and the
    tracker's boxes."""
    from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        colour_merge=0.45, colour_refine_merged=True,
                                        use_scale_filter=False, number_of_scales=1, **overrides))
    rng = np.random.default_rng(3)
    results = []
    for i in range(31):
        frame = np.empty((240, 320, 3), dtype=np.uint8)
        frame[:] = (30, 40, 190)
        frame += rng.integers(0, 20, frame.shape, dtype=np.uint8)
        w = 40.0 * 1.6 ** (i / 30)
        h = 1600.0 / w
        y0, x0 = int(round(120 - h / 2)), int(round(160 - w / 2))
        frame[y0:y0 + int(round(h)), x0:x0 + int(round(w))] = (210, 40, 40)
        if i == 0:
            tracker.init(frame, (140.0, 100.0, 40.0, 40.0))
        else:
            results.append(tracker.update(frame))
    return tracker, (h, w), results


def test_colour_box_follows_a_stretching_target_within_its_limit():
    _, (h, w), fixed = _stretching_target_track()
    box = fixed[-1].box
    assert box[2] / box[3] == pytest.approx(1.0, abs=0.05)  # off: the template's square
    tracker, (h, w), fitted = _stretching_target_track(colour_box_rate=0.5, colour_box_step=1.05)
    box = fitted[-1].box
    assert w / h == pytest.approx(2.56, abs=0.02)
    assert box[2] / box[3] > 1.8  # the reported aspect followed (the template stays square)
    assert tracker.base_target_sz[0] == pytest.approx(tracker.base_target_sz[1])
    _, _, limited = _stretching_target_track(colour_box_rate=0.5, colour_box_step=1.05, aspect_limit=1.1)
    box = limited[-1].box
    assert box[2] / box[3] == pytest.approx(1.1**2, rel=0.03)  # 1.1 wider, 1 / 1.1 lower at most


def _wide_target_box_shape(contrast: float) -> tuple[np.ndarray, float]:
    """A red target 60 wide x 40 high on blue, initialised with a 40 x 40 box: the ring one side
    wide around the box (80 x 80 minus 40 x 40) is 1/6 red, so red's likelihood is 1 / (1 + 1/6) =
    6/7 and the mean likelihood 6/7 inside, 1/7 around (contrast 5/7). The box shape and scale
    change after 5 frames with ``colour_box_contrast``."""
    from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
    from cfvgg_ros.trackers.eco.tracker import ECOTracker

    tracker = ECOTracker(ECOConfig.feco(features=(FeatureConfig("hog", compressed_dim=10, cell_size=4),),
                                        colour_merge=0.45, colour_box_rate=1.0, colour_scale_rate=1.0,
                                        colour_box_contrast=contrast, use_scale_filter=False, number_of_scales=1))
    frame = np.empty((240, 320, 3), dtype=np.uint8)
    frame[:] = (30, 40, 190)
    frame[100:140, 130:190] = (210, 40, 40)
    tracker.init(frame, (140.0, 100.0, 40.0, 40.0))
    scale = tracker.current_scale
    for _ in range(5):
        tracker.update(frame)
    return tracker.box_shape, tracker.current_scale / scale


def test_colour_box_leaves_a_box_alone_without_colour_contrast():
    shape, scale = _wide_target_box_shape(0.3)
    assert shape[1] > shape[0] and scale > 1.0  # the box widens towards the target's red sides
    shape, scale = _wide_target_box_shape(0.75)
    assert shape.tolist() == [1.0, 1.0] and scale == 1.0  # contrast 5/7 < 0.75: nothing is fitted


def test_colour_box_settings_are_validated():
    from cfvgg_ros.trackers.eco.config import ECOConfig

    for bad in ({"colour_box_rate": 1.5}, {"colour_scale_rate": -0.1}, {"colour_box_step": 1.0},
                {"aspect_limit": 0.9}, {"colour_box_threshold": 1.0}):
        with pytest.raises(ValueError):
            ECOConfig.cfvgg(**bad)
    with pytest.raises(ValueError, match="colour model"):
        ECOConfig.feco(colour_box_rate=0.5)  # feco has no colour model
