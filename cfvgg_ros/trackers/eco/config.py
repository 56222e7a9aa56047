"""Parameters of the ECO engine: one dataclass per tracker, defaults from the released run files.

:meth:`ECOConfig.feco` is the paper's fECO run file (CF-VGG ``low``/``high`` + fHOG), and
:meth:`ECOConfig.eco_hc` the ECO-HC run file (fHOG + colour). Field names follow ECO's MATLAB
``params`` names in snake case so that the run files can be compared line by line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cfvgg_ros.features.vocabulary import parse_feature

from .scale_filter import ScaleFilterConfig


@dataclass(frozen=True)
class FeatureConfig:
    """One feature block of the filter.

    ``feature``: a name of the package's feature vocabulary
    (:mod:`cfvgg_ros.features.vocabulary`): ``"hog"`` (31-channel fHOG), ``"colour"``,
    ``"grey"`` (cell-averaged intensity) or ``"cnn:low"`` / ``"cnn:mid"`` / ``"cnn:high"`` (one
    output level of the CNN at ``model_path``; None = :func:`cfvgg_ros.models.store.default_model_path`).
    ``cell_size`` applies to the hand-crafted kinds, ``downsample`` is an extra average pooling
    (ECO's ``downsample_factor``), ``compressed_dim`` the projected dimension (ECO Eq. 6).
    ``kind`` (``"cnn"`` or the hand-crafted name) and ``layer`` (the CNN level, ``""`` otherwise)
    are derived from ``feature``.
    """

    feature: str
    compressed_dim: int
    cell_size: int = 4
    downsample: int = 1
    model_path: str | None = None
    kind: str = dataclasses.field(init=False, repr=False, compare=False)
    layer: str = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = parse_feature(self.feature)
        object.__setattr__(self, "kind", parsed.kind)
        object.__setattr__(self, "layer", parsed.level)
        if int(self.compressed_dim) < 1 or int(self.cell_size) < 1 or int(self.downsample) < 1:
            raise ValueError(f"compressed_dim, cell_size and downsample must be >= 1 in {self}")

    @property
    def name(self) -> str:
        return self.feature


def _as_feature(value) -> FeatureConfig:
    if isinstance(value, FeatureConfig):
        return value
    if isinstance(value, dict):
        return FeatureConfig(**value)
    raise TypeError(f"features must be FeatureConfig objects or dicts, got {type(value).__name__}")


FECO_FEATURES = (
    FeatureConfig("cnn:low", compressed_dim=3, downsample=2),
    FeatureConfig("cnn:high", compressed_dim=12),
    FeatureConfig("hog", compressed_dim=10, cell_size=4),
)
ECO_HC_FEATURES = (
    FeatureConfig("hog", compressed_dim=10, cell_size=6),
    FeatureConfig("colour", compressed_dim=3, cell_size=4),
)


@dataclass(frozen=True)
class ECOConfig:
    """All ECO parameters (defaults: the fECO run file). Units: pixels, frames, ratios."""

    features: tuple[FeatureConfig, ...] = FECO_FEATURES
    # search region (ECO Sec. 4 / run file)
    search_area_shape: str = "square"
    search_area_scale: float = 4.5
    min_image_sample_size: float = 200.0**2
    max_image_sample_size: float = 300.0**2
    # feature normalisation: x * (numel_size^size * dim^dim / sum |x|^p)^(1/p)
    normalize_power: float = 2.0
    normalize_size: bool = True
    normalize_dim: bool = True
    # label function (Gaussian, C-COT Eq. 9)
    output_sigma_factor: float = 1.0 / 12.0
    # continuous interpolation (C-COT Eq. 3, bicubic kernel)
    interpolation_bicubic_a: float = -0.75
    interpolation_centering: bool = True
    interpolation_windowing: bool = False
    # spatial regularisation (SRDCF window, C-COT Eq. 4)
    use_reg_window: bool = True
    reg_window_min: float = 1e-4
    reg_window_edge: float = 10e-3
    reg_window_power: float = 2.0
    reg_sparsity_threshold: float = 0.05
    # factorized convolution (ECO Sec. 3.1). update_projection_matrix is ECO's switch for learning P
    # jointly with the filter (Gauss-Newton, first frame); afterwards P stays fixed as in ECO, because
    # the sample space stores projected samples.
    use_projection_matrix: bool = True
    update_projection_matrix: bool = True
    proj_init_method: str = "pca"
    projection_reg: float = 5e-8
    init_GN_iter: int = 10
    init_CG_iter: int = 200
    # generative sample space model (ECO Sec. 3.2)
    nSamples: int = 50
    learning_rate: float = 0.011
    sample_merge_type: str = "merge"
    distance_matrix_update_type: str = "exact"
    sample_replace_strategy: str = "lowest_prior"
    # sparse model update (ECO Sec. 3.3)
    train_gap: int = 5
    skip_after_frame: int = 1  # fECO run file (ECO / ECO-HC: 10)
    use_detection_sample: bool = True
    # conjugate gradient
    CG_iter: int = 5
    CG_use_FR: bool = False
    CG_standard_alpha: bool = True
    CG_forgetting_rate: float = 75.0
    precond_data_param: float = 0.3
    precond_reg_param: float = 0.015
    precond_proj_param: float = 35.0
    # detection
    refinement_iterations: int = 1
    newton_iterations: int = 5
    clamp_position: bool = False
    # scale: fDSST filter, or multi-scale search when use_scale_filter is False
    use_scale_filter: bool = True
    number_of_scales: int = 7
    scale_step: float = 1.01
    scale_filter_config: ScaleFilterConfig | None = None  # None: ScaleFilterConfig(); a dict of its fields
    # beyond the paper (all off in the run files): confidence-gated model update -- a frame whose
    # response peak is below update_gate x the running mean of accepted peaks (rate gate_rate) adds
    # no sample and does not train; scale change per frame bounded to [1/max_scale_change,
    # max_scale_change] (0: unbounded)
    update_gate: float = 0.0
    gate_rate: float = 0.1
    max_scale_change: float = 0.0
    # the scale filter's estimated change raised to scale_gain (1: as estimated; > 1 undoes part of
    # fDSST's pull towards no change, which makes a steadily growing target's box lag behind)
    scale_gain: float = 1.0
    # constant-velocity prediction (not in ECO): the search is centred at pos + motion_prediction x
    # the last frame's displacement (0: off), the displacement capped at one target size
    motion_prediction: float = 0.0
    # with motion_prediction: also search from the unpredicted position and keep the higher peak
    motion_hypotheses: bool = False
    # a search region of at least this many pixels a side in the image for small targets (the
    # search-area scale grows up to max_search_area_scale; 0: off)
    min_search_side: float = 0.0
    max_search_area_scale: float = 10.0
    # colour model beside the filter (Staple; not in ECO): per-pixel foreground likelihood from
    # colour histograms (colour_bins levels a channel, learning rate colour_learning_rate), averaged
    # over a target-sized window, merged into the detection score with weight colour_merge (0: off);
    # colour_refine_merged: place the peak on the merged map (else Newton on the filter's score);
    # colour_merge_max > colour_merge: the weight rises linearly to it as the filter's peak falls
    # from its running mean (rate gate_rate) to 0 (0: a fixed weight)
    colour_merge: float = 0.0
    colour_merge_max: float = 0.0
    colour_refine_merged: bool = False
    colour_bins: int = 32
    colour_learning_rate: float = 0.04
    # colour_contrast_ref > 0: the colour weight scaled by min(1, c / colour_contrast_ref), c the running
    # mean of the target box's mean likelihood minus its ring's (how well the colours tell them apart)
    colour_contrast_ref: float = 0.0
    # the box's shape from the colour model (not in Staple or ECO): every frame the boxes
    # colour_box_step^(a, b) x the reported box (a, b in -1, 0, 1) are scored by their colour
    # support, sum(likelihood - colour_box_threshold) over the box (colour_model.box_support); the
    # best one's aspect part moves the reported box's aspect ratio by colour_box_rate of the step
    # (within aspect_limit x the template's, per axis; the filter keeps its template) and its
    # size part moves the tracker's scale by colour_scale_rate of it (0: off, each). Threshold 0:
    # midway between the mean likelihood in the box and in a ring one mean side wide around it;
    # a frame whose box is not colour_box_contrast more likely than the ring is left alone
    colour_box_rate: float = 0.0
    colour_scale_rate: float = 0.0
    colour_box_step: float = 1.1
    colour_box_threshold: float = 0.5
    colour_box_contrast: float = 0.0
    # an aspect-ratio filter (not in ECO): scale_filter.AspectFilter, fDSST's 1-D filter over
    # samples 1/f as high and f as wide (aspect_filter_config: its ScaleFilterConfig, or a dict of
    # fields; None: the scale filter's defaults) moves the reported box's aspect ratio each frame
    # and learns at the new one; the colour model then uses the box's shape too. aspect_every: the
    # filter runs (tracks and learns) every aspect_every-th frame only (its cost spread). aspect_limit
    # bounds the box's change from the first box per axis (for this and colour_box_rate)
    aspect_filter: bool = False
    aspect_every: int = 1
    aspect_filter_config: ScaleFilterConfig | None = None
    aspect_limit: float = 2.0
    # the scale filter (use_scale_filter) runs (tracks and learns) every scale_every-th frame only,
    # on the frames (frame_index + 1) % scale_every == 0: with scale_every = aspect_every = 2 the two
    # 1-D filters take turns, one of them a frame (not in ECO: a cost split)
    scale_every: int = 1
    # the scale and aspect filters learn from the samples their detection cut (at the scale and shape
    # before the frame's estimate) instead of cutting them again (not in fDSST or ECO: a cost cut)
    reuse_scale_samples: bool = False
    # rotation-aware sampling (not in ECO): on a frame whose filter peak falls below
    # rotation_trigger x the running mean of peaks (rate gate_rate), the search is repeated with
    # the sample turned by +-rotation_step degrees; a peak rotation_margin above the unturned one
    # (and, with rotation_reach > 0, within that many target sizes of it) turns all later samples
    # (the filter then sees the turned target upright; the scale filter samples the region turned
    # upright), up to +-max_rotation degrees (180 or more: any angle, wrapped; step 0: off). The
    # box reported for a turned target: "ellipse" (the axis-aligned box of the ellipse inscribed
    # in the turned box), "rectangle" (of the turned box) or "upright" (the unturned box).
    # Defaults: the best measured on the train split (README, "rotating camera").
    # rotation_searches: turned searches on a triggered frame: 2 (both signs) or 1 (one sign a
    # frame: the last sign that won, the other after a loss; half the worst-frame cost).
    # rotation_preselect: the hand-crafted blocks alone (fHOG / colour: no CNN) score the turned
    # samples first (both, or rotation_searches=1's one), and only the better one, if it beats the
    # unturned sample's hand-crafted score, gets the full search: at most one full turned search a
    # frame
    # rotation_preselect_margin: the better turned sample's hand-crafted score must beat the
    # unturned one's by this fraction. rotation_defers_training: a frame that ran a full turned
    # search does not train the filter (the next frame does, whatever it runs): the two costs add
    # up in one frame only when two frames in a row search turned samples
    rotation_step: float = 0.0
    rotation_searches: int = 2
    rotation_preselect: bool = False
    rotation_preselect_margin: float = 0.0
    rotation_defers_training: bool = False
    rotation_trigger: float = 0.9
    max_rotation: float = 180.0
    rotation_margin: float = 0.1
    rotation_reach: float = 0.0
    rotation_box: str = "ellipse"
    # how samples are cut from the frame: "crop" (ECO's: the region cropped, borders replicated,
    # area-averaged by the exact ratio, then resized; every tracker's sampler) or "warp" (a
    # reduction by a whole factor, OpenCV's fast area path, on the region's part inside the frame,
    # then one bilinear warp to the sample: the same warp turns samples when rotation_step > 0)
    patch_sampler: str = "crop"
    # response consistency (ARCF, Huang et al., ICCV 2019; not in ECO): training also minimises
    # response_consistency x ||z_k f - z_k f_prev||^2, the change of the response on the newest
    # sample z_k from the one the filter before this training gave it (ARCF's previous response map
    # shifted onto the new position); relative to the sample weights, which sum to 1 (0: off)
    response_consistency: float = 0.0
    # re-detection from the tracker's own filter (not in ECO): after redetect_after consecutive
    # frames scoring below redetect_threshold, redetect_candidates extra searches per frame centred
    # on a ring of redetect_radius target sizes around the last confident position (8 directions,
    # taken in turn, so the extra cost per frame stays bounded); a candidate whose peak beats the
    # regular search wins (0 candidates: off; Tracker.redetect searches all 8 at once)
    redetect_threshold: float = 0.15
    redetect_after: int = 3
    redetect_candidates: int = 0
    redetect_radius: float = 2.0
    # CF-VGG's background-aware online adaptation of the CNN at the first frame (paper Eq. 9-11):
    # cfvgg_ros.training.adapt.adapt_student (needs torch); its time counts in the init stage
    online_adaptation: bool = False
    adaptation_iterations: int = 8
    adaptation_samples: int = 32
    # instrumentation: per-stage wall times (ECOTracker.profile_report); None = $CFVGG_PROFILE
    profile: bool | None = None

    def __post_init__(self) -> None:
        feats = tuple(_as_feature(f) for f in self.features)
        if not feats:
            raise ValueError("ECOConfig needs at least one feature")
        object.__setattr__(self, "features", feats)
        for name in ("scale_filter_config", "aspect_filter_config"):
            if isinstance(getattr(self, name), dict):
                object.__setattr__(self, name, ScaleFilterConfig(**getattr(self, name)))
        if self.search_area_shape not in ("square", "proportional"):
            raise ValueError(
                f"search_area_shape must be 'square' or 'proportional', got {self.search_area_shape!r}"
            )
        if self.sample_merge_type.lower() not in ("merge", "replace"):
            raise ValueError(
                f"sample_merge_type must be 'merge' or 'replace', got {self.sample_merge_type!r}"
            )
        if self.distance_matrix_update_type.lower() != "exact":
            raise ValueError("only the 'exact' distance matrix update is implemented")
        if self.sample_replace_strategy.lower() != "lowest_prior":
            raise ValueError("only the 'lowest_prior' sample replace strategy is implemented")
        if self.proj_init_method.lower() != "pca":
            raise ValueError("only the 'pca' projection initialisation is implemented")
        if not 0.0 < self.learning_rate < 1.0:
            raise ValueError(f"learning_rate must lie in (0, 1), got {self.learning_rate}")
        if self.nSamples < 1 or self.number_of_scales < 1 or self.CG_iter < 0 or self.train_gap < 0:
            raise ValueError("nSamples and number_of_scales must be >= 1, CG_iter and train_gap >= 0")
        if self.min_image_sample_size <= 0 or self.max_image_sample_size < self.min_image_sample_size:
            raise ValueError("need 0 < min_image_sample_size <= max_image_sample_size")
        if self.adaptation_iterations < 1 or self.adaptation_samples < 1:
            raise ValueError("adaptation_iterations and adaptation_samples must be >= 1")
        if self.online_adaptation and not any(f.kind == "cnn" for f in feats):
            raise ValueError("online_adaptation needs a cnn feature")
        if not 0.0 <= self.update_gate < 1.0 or not 0.0 < self.gate_rate <= 1.0:
            raise ValueError("need 0 <= update_gate < 1 and 0 < gate_rate <= 1")
        if self.redetect_after < 1 or not 0 <= self.redetect_candidates <= 8 or not self.redetect_radius > 0:
            raise ValueError("need redetect_after >= 1, 0 <= redetect_candidates <= 8 and redetect_radius > 0")
        if not 0.0 <= self.motion_prediction <= 1.0:
            raise ValueError(f"motion_prediction must lie in [0, 1], got {self.motion_prediction}")
        if self.max_scale_change != 0.0 and not self.max_scale_change > 1.0:
            raise ValueError(f"max_scale_change must be 0 (off) or > 1, got {self.max_scale_change}")
        if not 0.0 <= self.colour_merge < 1.0 or not 0.0 < self.colour_learning_rate <= 1.0:
            raise ValueError("need 0 <= colour_merge < 1 and 0 < colour_learning_rate <= 1")
        if self.aspect_every < 1 or self.scale_every < 1:
            raise ValueError(f"aspect_every and scale_every must be >= 1, got {self.aspect_every}, {self.scale_every}")
        if not (0.0 <= self.colour_box_rate <= 1.0 and 0.0 <= self.colour_scale_rate <= 1.0):
            raise ValueError("colour_box_rate and colour_scale_rate must lie in [0, 1]")
        if not (self.colour_box_step > 1.0 and self.aspect_limit >= 1.0 and 0.0 <= self.colour_box_threshold < 1.0):
            raise ValueError("need colour_box_step > 1, aspect_limit >= 1 and 0 <= colour_box_threshold < 1")
        if (self.colour_box_rate or self.colour_scale_rate) and self.colour_merge <= 0.0:
            raise ValueError("colour_box_rate and colour_scale_rate need the colour model (colour_merge > 0)")
        if not 0.5 <= self.scale_gain <= 2.0:
            raise ValueError(f"scale_gain must lie in [0.5, 2], got {self.scale_gain}")
        if not self.colour_contrast_ref >= 0.0:
            raise ValueError(f"colour_contrast_ref must be >= 0 (0: off), got {self.colour_contrast_ref}")
        if not (self.colour_merge_max == 0.0 or self.colour_merge <= self.colour_merge_max < 1.0):
            raise ValueError("colour_merge_max must be 0 (off) or in [colour_merge, 1)")
        if self.rotation_step < 0.0 or not 0.0 < self.rotation_trigger <= 1.0 or self.max_rotation < 0.0:
            raise ValueError("need rotation_step >= 0, 0 < rotation_trigger <= 1 and max_rotation >= 0")
        if self.patch_sampler not in ("crop", "warp"):
            raise ValueError(f"patch_sampler must be crop or warp, got {self.patch_sampler!r}")
        if self.rotation_searches not in (1, 2):
            raise ValueError(f"rotation_searches must be 1 or 2, got {self.rotation_searches!r}")
        if self.rotation_box not in ("rectangle", "ellipse", "upright"):
            raise ValueError(f"rotation_box must be rectangle, ellipse or upright, got {self.rotation_box!r}")
        if not self.rotation_reach >= 0.0:
            raise ValueError(f"rotation_reach must be >= 0, got {self.rotation_reach}")
        if not self.rotation_preselect_margin >= 0.0:
            raise ValueError(f"rotation_preselect_margin must be >= 0, got {self.rotation_preselect_margin}")
        if not self.rotation_margin >= 0.0:
            raise ValueError(f"rotation_margin must be >= 0, got {self.rotation_margin}")
        if not self.response_consistency >= 0.0:
            raise ValueError(f"response_consistency must be >= 0, got {self.response_consistency}")
        if self.colour_bins not in (8, 16, 32, 64, 128, 256):
            raise ValueError(f"colour_bins must be 8, 16, 32, 64, 128 or 256, got {self.colour_bins}")
        if self.scale_step <= 1.0:
            raise ValueError(f"scale_step must be > 1, got {self.scale_step}")

    @classmethod
    def feco(cls, **overrides) -> ECOConfig:
        """The fECO run file (paper's released parameters), with ``overrides``."""
        return cls.with_overrides(cls(), **overrides)

    @classmethod
    def eco_hc(cls, **overrides) -> ECOConfig:
        """ECO-HC's run file (fHOG cell 6 -> 10 dims, colour cell 4 -> 3 dims), with ``overrides``."""
        base = cls(
            features=ECO_HC_FEATURES,
            search_area_scale=4.0,
            min_image_sample_size=150.0**2,
            max_image_sample_size=200.0**2,
            output_sigma_factor=1.0 / 16.0,
            projection_reg=1e-7,
            init_CG_iter=150,
            nSamples=30,
            learning_rate=0.009,
            CG_forgetting_rate=50.0,
            skip_after_frame=10,
            precond_data_param=0.75,
            precond_reg_param=0.25,
            precond_proj_param=40.0,
        )
        return cls.with_overrides(base, **overrides)

    @classmethod
    def cfvgg(cls, **overrides) -> ECOConfig:
        """The package's default tracker: fECO's features and solver with departures from the paper
        chosen on the train split (``benchmarks/lever_study.py``; README, "Beyond the paper"): a
        per-frame work budget for 30 Hz 720p on one core, a minimum search side, a colour model
        merged into the detection score, an aspect-ratio filter and a gain on the scale filter's
        estimate (:data:`CFVGG_OVERRIDES`).
        ``overrides`` as for :meth:`feco`."""
        base = cls.feco(**CFVGG_OVERRIDES)
        return cls.with_overrides(base, **overrides)

    @staticmethod
    def with_overrides(config: ECOConfig, **overrides) -> ECOConfig:
        """``config`` with fields replaced; unknown names raise TypeError listing the valid ones.
        ``model_path`` (not a field) sets the ONNX model of every CNN feature at once."""
        model_path = overrides.pop("model_path", None)
        valid = {f.name for f in dataclasses.fields(ECOConfig)}
        unknown = sorted(set(overrides) - valid)
        if unknown:
            raise TypeError(f"unknown ECO parameter(s) {unknown}; valid: {sorted(valid | {'model_path'})}")
        config = dataclasses.replace(config, **overrides)
        if model_path is None:
            return config
        if not any(f.kind == "cnn" for f in config.features):
            raise TypeError("model_path needs a cnn feature; this configuration has none")
        features = tuple(
            dataclasses.replace(f, model_path=str(model_path)) if f.kind == "cnn" else f for f in config.features
        )
        return dataclasses.replace(config, features=features)


#: :meth:`ECOConfig.cfvgg`'s departures from the fECO run file, each measured on the train split
#: (benchmarks/lever_study.py; README, "Beyond the paper"): a per-frame work budget (sample area
#: 160^2..180^2, 30 stored samples, filter trained every 3rd frame with 3 CG iterations: mean
#: <= 10 ms, p99 <= 20 ms per 720p frame on one core) and a search region at least 250 px wide
#: (small targets get a wider search: more room for fast UAV motion), and a colour model beside the
#: filter (Staple's histograms, 16 levels a channel, merged with weight 0.45, the peak placed on the
#: merged score): the target's colours hold where its shape changes; and an aspect-ratio filter
#: (9 samples, run every 2nd frame) that lets the box follow a target changing its shape; samples
#: cut by the warp sampler (a whole-factor area reduction, then one bilinear warp: the worst
#: sequence's frame 0.9 ms cheaper, train split flat); the scale filter's estimate raised to the power
#: 1.3 (fDSST's estimate is pulled towards no change, so a steadily growing or shrinking target's box
#: lags behind it: train split +0.43 over 15 conditions, four of eight sequences up).
CFVGG_OVERRIDES = {
    "min_image_sample_size": 160.0**2,
    "max_image_sample_size": 180.0**2,
    "nSamples": 30,
    "train_gap": 2,
    "CG_iter": 3,
    "min_search_side": 250.0,
    "colour_merge": 0.45,
    "colour_bins": 16,
    "colour_refine_merged": True,
    "aspect_filter": True,
    "aspect_every": 2,
    "aspect_filter_config": ScaleFilterConfig(number_of_scales=9),
    "patch_sampler": "warp",
    "scale_gain": 1.3,
}
