"""ECO tracker (Danelljan et al., CVPR 2017) on the numpy engine of this package, implementing
:class:`cfvgg_ros.core.contract.Tracker`. :func:`create_feco` builds the paper's fECO (CF-VGG
``low``/``high`` + fHOG), :func:`create_eco_hc` ECO-HC (fHOG + colour).

Per frame: sample features around the previous position (one or several scales), project them
with ``P``, interpolate to the continuous domain, score with the filter, locate the maximum
(grid + Newton; with ``colour_merge`` on the filter's score merged with a colour model's,
:mod:`.colour_model`), update scale (fDSST filter or multi-scale search), add the detection sample to
the generative sample space and, every ``train_gap + 1`` frames, run a few CG iterations.

With ``profile=True`` (or ``$CFVGG_PROFILE=1``) every stage of ``update`` is timed and
:meth:`ECOTracker.profile_report` returns the per-stage breakdown (:mod:`.profiling`).
"""

from __future__ import annotations

import math
import time

import numpy as np

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult

from .colour_model import ColourModel, box_sums, is_grey
from .config import ECOConfig
from .detection import find_peak
from .feature_blocks import FeatureExtractor, cosine_window, rotation, sample_patch, sample_warped_patch
from .fourier import cfft2, frequencies, half_spectrum_shape, sample_fs, shift_sample, symmetrize_filter
from .interpolation import interpolation_fourier
from .normal_equations import (
    FilterSystem,
    JointSystem,
    SpectrumLayout,
    filter_inner,
    filter_preconditioner,
    joint_preconditioner,
)
from .optimizer import conjugate_gradient
from .profiling import StageProfiler, format_profile_table, profiling_requested
from .projection import pca_projection, project_spatial
from .regularization import RegularizationOperator, reg_window_filter
from .sample_space import SampleSpace

#: (height, width) steps of the boxes :meth:`ECOTracker._fit_box` scores, the unchanged box first
#: (argmax keeps it on ties): aspect only, or aspect and size
_ASPECT_STEPS = np.array([[0.0, 0.0], [1.0, -1.0], [-1.0, 1.0]])
_SHAPE_STEPS = np.array([[0.0, 0.0]] + [[a, b] for a in (-1.0, 0.0, 1.0) for b in (-1.0, 0.0, 1.0) if a or b])


def _divide(vec, diag):
    return [v / d for v, d in zip(vec, diag, strict=True)]


class ECOTracker(Tracker):
    """ECO with continuous convolution operators, factorized projection, a generative sample
    space and sparse CG updates. ``config`` (default: fECO) is an :class:`ECOConfig`; keyword
    ``overrides`` replace its fields."""

    name = "eco"
    adaptation_seconds: float = 0.0

    def __init__(self, config: ECOConfig | None = None, **overrides):
        super().__init__()
        cfg = ECOConfig.with_overrides(config if config is not None else ECOConfig.feco(), **overrides)
        self.config = cfg
        self.profiler = StageProfiler(profiling_requested(cfg.profile))
        self.extractor = FeatureExtractor(
            cfg.features, cfg.normalize_power, cfg.normalize_size, cfg.normalize_dim, profiler=self.profiler
        )
        self._scale_filter_cls = None
        if cfg.use_scale_filter:
            try:
                from .scale_filter import ScaleFilter
            except ImportError as exc:
                raise TrackerError(f"use_scale_filter=True needs cfvgg_ros.trackers.eco.scale_filter: {exc}") from exc
            self._scale_filter_cls = ScaleFilter

    # ------------------------------------------------------------------ set-up
    def _setup(self, frame_hw, target_sz) -> None:
        cfg = self.config
        th, tw = target_sz
        sas = cfg.search_area_scale
        if cfg.min_search_side > 0:
            sas = min(max(sas, cfg.min_search_side / math.sqrt(th * tw)), max(sas, cfg.max_search_area_scale))
        self.search_area_scale = sas
        # the response peak falls about with the searched area relative to the target's: scale the
        # reported score back to the configured search area, so one LOST threshold fits every size
        self.score_scale = (sas / cfg.search_area_scale) ** 2
        search_area = th * tw * sas * sas
        if search_area > cfg.max_image_sample_size:
            scale = math.sqrt(search_area / cfg.max_image_sample_size)
        elif search_area < cfg.min_image_sample_size:
            scale = math.sqrt(search_area / cfg.min_image_sample_size)
        else:
            scale = 1.0
        self.current_scale = scale
        self.base_target_sz = np.array([th / scale, tw / scale])
        if cfg.search_area_shape == "square":
            side = math.sqrt(float(np.prod(self.base_target_sz))) * sas
            desired = (side, side)
        else:
            desired = tuple(self.base_target_sz * sas)
        self.img_sample_sz = np.array(self.extractor.choose_sample_size(desired), dtype=np.int64)
        layout = self.extractor.layout(tuple(self.img_sample_sz))
        # the Fourier period: the deepest CNN layer's extent (ECO img_support_sz), else the patch
        self.img_support_sz = np.array(layout.support_size, dtype=np.float64)
        geos = list(layout.blocks)
        for cfgf, g in zip(cfg.features, geos, strict=True):
            if min(g.size) < 1:
                raise TrackerError(f"{cfgf.name}: no feature cells for a {tuple(self.img_sample_sz)} sample")
        self.feature_sizes = [g.size for g in geos]
        half_shapes = [half_spectrum_shape(g.size) for g in geos]
        self.layout = SpectrumLayout(half_shapes)
        self.grid = self.layout.grid_size
        self.ky, self.kx, self.interp, self.windows, self.yf = [], [], [], [], []
        sig = (
            math.sqrt(float(np.prod(np.maximum(np.floor(self.base_target_sz), 1.0))))
            * cfg.output_sigma_factor
        )
        sig_frac = sig / self.img_support_sz  # label sigma as a fraction of the period (y, x)
        for g, hs in zip(geos, half_shapes, strict=True):
            ky, kx = frequencies(hs)
            self.ky.append(ky.astype(np.float64))
            self.kx.append(kx.astype(np.float64))
            # with centring, cells sit at their true centres: correct for a map whose centre is off
            # the support's centre (CNN receptive-field offsets, trailing cells dropped by pooling)
            offs = [0.0, 0.0]
            for axis in range(2):
                t_size = self.img_support_sz[axis]
                centre = g.offset_yx[axis] + g.stride * (g.size[axis] - 1) / 2.0
                if cfg.interpolation_centering:
                    offs[axis] = (centre - t_size / 2.0) / t_size
            iy = interpolation_fourier(
                g.size[0], ky, cfg.interpolation_bicubic_a, cfg.interpolation_centering, offs[0]
            )
            ix = interpolation_fourier(
                g.size[1], kx, cfg.interpolation_bicubic_a, cfg.interpolation_centering, offs[1]
            )
            self.interp.append((iy[:, None] * ix[None, :]).astype(np.complex64))
            self.windows.append(cosine_window(*g.size))
            yfy = math.sqrt(2 * math.pi) * sig_frac[0] * np.exp(-2 * (math.pi * sig_frac[0] * ky) ** 2)
            yfx = math.sqrt(2 * math.pi) * sig_frac[1] * np.exp(-2 * (math.pi * sig_frac[1] * kx) ** 2)
            self.yf.append((yfy[:, None] * yfx[None, :]).astype(np.complex64))
        if cfg.use_reg_window:
            kernel = reg_window_filter(
                self.img_support_sz,
                self.base_target_sz,
                cfg.reg_window_min,
                cfg.reg_window_edge,
                cfg.reg_window_power,
                cfg.reg_sparsity_threshold,
            )
        else:
            kernel = np.array([[cfg.reg_window_min]])
        self.reg = RegularizationOperator(kernel)
        n = cfg.number_of_scales if not cfg.use_scale_filter else 1
        self.scale_factors = cfg.scale_step ** (np.arange(n) - (n - 1) / 2.0)
        # ECO clamps the scale to powers of the step of whichever scale estimator runs
        step = cfg.scale_step
        if self._scale_filter_cls is not None:
            from .scale_filter import ScaleFilterConfig

            step = (cfg.scale_filter_config or ScaleFilterConfig()).scale_step
        self.min_scale_factor = step ** math.ceil(math.log(max(5.0 / self.img_support_sz)) / math.log(step))
        self.max_scale_factor = step ** math.floor(
            math.log(min(frame_hw[0] / self.base_target_sz[0], frame_hw[1] / self.base_target_sz[1]))
            / math.log(step)
        )
        self.compressed_dims = [
            min(f.compressed_dim, d) if cfg.use_projection_matrix else d
            for f, d in zip(cfg.features, self.extractor.dims, strict=True)
        ]

    # ------------------------------------------------------------------ features
    def _samples(self, frame, pos, scales, raw=None, patches_out=None):
        """Windowed feature maps of patches at ``pos`` for every scale in ``scales``; a list
        ``raw`` receives copies of the first scale's maps before windowing (ECO's ``xl``), a list
        ``patches_out`` the image patches."""
        patches, centres, pscales = [], [], []
        with self.profiler.stage("patch"):
            for s in scales:
                patch, centre, pscale = self._cut(frame, pos, self.img_sample_sz * s, self.img_sample_sz)
                patches.append(patch)
                centres.append(np.array(centre))
                pscales.append(np.array(pscale))
        feats = self.extractor.extract_many(patches)
        if patches_out is not None:
            patches_out.extend(patches)
        if raw is not None:
            raw.extend(m.copy() for m in feats[0])
        with self.profiler.stage("projection_fft"):
            for maps in feats:
                for m, w, size in zip(maps, self.windows, self.feature_sizes, strict=True):
                    if m.shape[:2] != tuple(size):
                        raise TrackerError(f"feature map {m.shape[:2]} differs from the expected {size}")
                    m *= w
        return feats, centres, pscales

    def _project_transform(self, maps):
        """Projected, interpolated Fourier coefficients (C, Ny, Nx1) of one sample's maps (a
        ``None`` map, a block not extracted, stays ``None``)."""
        return [
            None if m is None else cfft2(project_spatial(m, p)) * itp
            for m, p, itp in zip(maps, self.projection, self.interp, strict=True)
        ]

    def _cut(self, frame, pos, patch_sz, output_sz):
        """One image patch (``patch_sampler``; turned by the current angle when it is not 0)."""
        if self.angle or self.config.patch_sampler == "warp":
            return sample_warped_patch(frame, pos, patch_sz, output_sz, self.angle)
        return sample_patch(frame, pos, patch_sz, output_sz)

    def _pixel_centre(self) -> tuple[float, float]:
        """Target centre in 0-based pixel-centre coordinates (the scale filter's convention; this
        tracker's ``pos`` puts pixel ``i`` on ``[i, i + 1)``)."""
        return (float(self.pos[0] - 0.5), float(self.pos[1] - 0.5))

    def _scale_view(self, frame) -> tuple[np.ndarray, tuple[float, float]]:
        """The image and target centre the scale filter samples: the frame itself, or, while the
        samples are turned (``rotation_step``), the region around the target turned upright (its
        largest scale sample plus a margin, at the frame's resolution), so the scale filter keeps
        seeing the target as it learnt it."""
        if not self.angle:
            return frame, self._pixel_centre()
        reach = float(np.max(self.scale_filter.scale_factors)) if self.scale_filter is not None else 1.0
        h, w = (int(math.ceil(float(v) * reach)) + 4 for v in self.target_sz)
        view, _, _ = sample_warped_patch(frame, self.pos, (h, w), (h, w), self.angle)
        return view, ((h - 1) / 2.0, (w - 1) / 2.0)

    def _shape(self):
        """The box's shape relative to the first box's, per axis, where the aspect filter and the
        colour model sample the target (``aspect_filter``; else 1: the first box's shape). The
        scale filter keeps the first box's shape: fed the box's, the two filters pulled each other
        (train 7 cond. 65.5 against 65.9)."""
        return self.box_shape if self.config.aspect_filter else 1.0

    def _shaped_size(self) -> tuple[float, float]:
        """The target's size at scale 1 in the box's shape (:meth:`_shape`)."""
        return tuple(float(v) for v in self.base_target_sz * self._shape())

    def _to_patch_axes(self, offset) -> np.ndarray:
        """An image-axes offset ``(dy, dx)`` in the sample's (turned) axes."""
        return rotation(self.angle).T @ np.asarray(offset, dtype=np.float64) if self.angle else np.asarray(offset)

    def _shift_to(self, zf, pos, centre, pscale):
        frac = self._to_patch_axes(np.asarray(pos) - centre) / (self.img_support_sz * pscale)
        if not np.any(frac):
            return zf
        return [shift_sample(z, frac, ky, kx) for z, ky, kx in zip(zf, self.ky, self.kx, strict=True)]

    # ------------------------------------------------------------------ tracker API
    def profile_report(self) -> dict | None:
        """Per-stage wall times of the ``update`` calls so far (see
        :meth:`cfvgg_ros.trackers.eco.profiling.StageProfiler.report`, plus ``"table"``, a printable
        text table), or None when profiling is off (``profile=False`` and no ``$CFVGG_PROFILE``)."""
        if not self.profiler.enabled:
            return None
        report = self.profiler.report()
        report["table"] = format_profile_table({self.name: report})
        return report

    def _init(self, frame, box) -> None:
        start = time.perf_counter()
        self.adaptation_seconds = 0.0
        try:
            if self.config.online_adaptation:
                self._adapt_cnn(frame, box)
            self._init_tracker(frame, box)
        finally:  # stage tallies count update() frames only
            self.profiler.reset()
            self.profiler.add_init(time.perf_counter() - start, adaptation=self.adaptation_seconds)

    def _adapt_cnn(self, frame, box) -> None:
        """CF-VGG's background-aware online adaptation (paper Sec. IV-B, Eqs. 9-11) of every CNN,
        always from its original model, on the first frame; the time is kept in
        ``adaptation_seconds``."""
        cfg = self.config
        start = time.perf_counter()
        from cfvgg_ros.features.adaptation import adapt_model  # imports torch only when called

        for key, source in self.extractor.cnn_sources().items():
            try:
                adapted = adapt_model(
                    source,
                    frame,
                    box,
                    search_area_scale=cfg.search_area_scale,
                    iterations=cfg.adaptation_iterations,
                    samples=cfg.adaptation_samples,
                )
            except ImportError as exc:
                raise TrackerError(f"online_adaptation needs torch (cfvgg_ros.training.adapt): {exc}") from exc
            self.extractor.set_cnn_model(key, adapted.model_bytes)
        self.adaptation_seconds = time.perf_counter() - start

    def _init_tracker(self, frame, box) -> None:
        cfg = self.config
        x, y, w, h = box
        self.pos = np.array([y + h / 2.0, x + w / 2.0])
        self.angle = 0.0  # radians the samples are turned by (rotation_step)
        self._setup(frame.shape[:2], (h, w))
        raw_maps, patches = [], []
        feats, centres, pscales = self._samples(
            frame, self.pos, [self.current_scale], raw=raw_maps, patches_out=patches
        )
        self.target_sz = self.base_target_sz * self.current_scale
        self._peak_mean = None  # running mean of the filter's grid peaks (colour_merge_max)
        self._found_mean = None  # running mean of the frames' peaks (rotation_trigger)
        self._turn_sign = 1.0  # the turn searched first (rotation_searches)
        self._searched_turn = False  # this frame ran a full turned search (rotation_defers_training)
        self._deferred = False  # the last due training was put off by a frame (at most one)
        self.box_shape = np.ones(2)  # reported box / first box's shape, per axis (aspect_filter, colour_box_rate)
        self.colour = None
        self._colour_contrast = None  # running mean of the box's likelihood minus its ring's (colour_contrast_ref)
        if cfg.colour_merge > 0.0:
            self.colour = ColourModel(cfg.colour_bins, cfg.colour_learning_rate, grey=is_grey(frame))
            self._learn_colour(patches[0], centres[0], pscales[0])
        maps = feats[0]
        if cfg.use_projection_matrix:  # ECO init_projection_matrix: PCA of the un-windowed maps
            self.projection = [
                pca_projection(m, c) for m, c in zip(raw_maps, self.compressed_dims, strict=True)
            ]
        else:
            self.projection = [np.eye(m.shape[2], dtype=np.float32) for m in maps]
        del raw_maps
        xf = [
            cfft2(np.ascontiguousarray(m.transpose(2, 0, 1))) * itp
            for m, itp in zip(maps, self.interp, strict=True)
        ]
        xf = self._shift_to(xf, self.pos, centres[0], pscales[0])
        self.hf = [
            np.zeros((c,) + itp.shape, dtype=np.complex64)
            for c, itp in zip(self.compressed_dims, self.interp, strict=True)
        ]
        # ECO keeps the energy of the first sample as projected before the Gauss-Newton steps
        self.sample_energy = [
            (np.abs(np.tensordot(p.T.astype(np.complex64), x_, axes=(1, 0))) ** 2).astype(np.float32)
            for p, x_ in zip(self.projection, xf, strict=True)
        ]
        if cfg.use_projection_matrix and cfg.update_projection_matrix:
            self._train_joint(xf)
        zf = [
            np.tensordot(p.T.astype(np.complex64), x_, axes=(1, 0))
            for p, x_ in zip(self.projection, xf, strict=True)
        ]
        self.sample_space = SampleSpace(
            [z.shape for z in zf], cfg.nSamples, cfg.learning_rate, cfg.sample_merge_type
        )
        self.sample_space.update(zf)
        self.filter_system = FilterSystem(self.layout, self.reg, self.yf)
        self.cg_state = None
        if not (cfg.use_projection_matrix and cfg.update_projection_matrix):
            self._train_filter(cfg.init_CG_iter, fresh=True)
        self.frame_index = 0
        self.frames_since_last_train = 0
        self.accepted_peak = None  # running mean of the response peaks of updated frames (update_gate)
        self.velocity = np.zeros(2)  # last frame's displacement (motion_prediction)
        self.low_streak = 0  # consecutive frames below redetect_threshold
        self.confident_pos = self.pos.copy()  # position of the last frame at or above it
        self._ring_next = 0  # next ring direction of the spread re-detection
        self._ring_radius = None  # radius (target sizes) of the ring search requested by redetect()
        self.target_sz = self.base_target_sz * self.current_scale
        self.scale_filter = None
        if self._scale_filter_cls is not None:
            self.scale_filter = self._scale_filter_cls(cfg.scale_filter_config)
            self.scale_filter.init(
                frame, self._pixel_centre(), tuple(self.base_target_sz), self.current_scale
            )
        self.aspect_filter = None
        if cfg.aspect_filter:
            from .scale_filter import AspectFilter

            self.aspect_filter = AspectFilter(cfg.aspect_filter_config)
            self.aspect_filter.init(frame, self._pixel_centre(), self._shaped_size(), self.current_scale)

    def _train_joint(self, xf) -> None:
        """First-frame Gauss-Newton on filter and projection (ECO Sec. 3.1)."""
        cfg = self.config
        system = JointSystem(self.layout, self.reg, self.yf, xf, cfg.projection_reg)
        diag = joint_preconditioner(
            self.sample_energy,
            self.reg.energy,
            self.yf,
            [x_.shape[0] for x_ in xf],
            cfg.precond_data_param,
            cfg.precond_reg_param,
            cfg.precond_proj_param,
            cfg.projection_reg,
        )
        cg_iter = math.ceil(cfg.init_CG_iter / max(cfg.init_GN_iter, 1))
        for _ in range(cfg.init_GN_iter):
            system.linearise(self.hf, self.projection)
            x0 = list(self.hf) + [np.zeros_like(p) for p in self.projection]
            sol, _, _ = conjugate_gradient(
                system.apply,
                system.rhs(),
                x0,
                inner=system.inner,
                precond=lambda r: _divide(r, diag),
                max_iter=cg_iter,
                use_fr=True,
            )
            nb = len(xf)
            self.hf = [symmetrize_filter(f.astype(np.complex64)) for f in sol[:nb]]
            self.projection = [
                (p + d).astype(np.float32) for p, d in zip(self.projection, sol[nb:], strict=True)
            ]

    def _train_filter(self, iterations: int, fresh: bool = False, newest=None) -> None:
        """CG on the filter for the current sample space (ECO Sec. 3.3); with
        ``response_consistency``, the newest sample ``newest`` anchors the response (ARCF)."""
        cfg = self.config
        n = self.sample_space.num_training_samples
        z = [s[:n] for s in self.sample_space.samples]
        self.filter_system.set_samples(z, self.sample_space.prior_weights[:n])
        diag = filter_preconditioner(
            self.sample_energy, self.reg.energy, cfg.precond_data_param, cfg.precond_reg_param
        )
        if newest is not None and cfg.response_consistency > 0.0:
            self.filter_system.set_anchor(newest, self.hf, cfg.response_consistency)
            # the term's diagonal (weight x |z|^2) joins the preconditioner, as the samples' energy does
            diag = [d + cfg.response_consistency * (z.real**2 + z.imag**2) for d, z in zip(diag, newest, strict=True)]
        forget = (1.0 - cfg.learning_rate) ** cfg.CG_forgetting_rate
        hf, state, _ = conjugate_gradient(
            self.filter_system.apply,
            self.filter_system.rhs(),
            self.hf,
            inner=filter_inner,
            precond=lambda r: _divide(r, diag),
            max_iter=iterations,
            use_fr=cfg.CG_use_FR,
            state=None if fresh else self.cg_state,
            forget_factor=forget,
        )
        self.hf = [symmetrize_filter(f.astype(np.complex64)) for f in hf]
        self.cg_state = state

    def _update(self, frame) -> TrackResult:
        self.profiler.frame_begin()
        try:
            return self._track_frame(frame)
        finally:
            self.profiler.frame_end()

    def _track_frame(self, frame) -> TrackResult:
        cfg = self.config
        prof = self.profiler
        self.frame_index += 1
        self._searched_turn = False
        peak = None
        previous_pos = self.pos.copy()
        starts = [self.pos]
        if cfg.motion_prediction:
            predicted = self.pos + cfg.motion_prediction * self.velocity
            # with motion_hypotheses, the unpredicted position competes when the prediction moved
            # the search by more than a tenth of the target (a stop or turn then costs nothing)
            side = float(np.sqrt(np.prod(self.base_target_sz * self.current_scale)))
            moved = float(np.linalg.norm(predicted - self.pos)) > 0.1 * side
            starts = [predicted, self.pos] if cfg.motion_hypotheses and moved else [predicted]
        starts += self._ring_starts()
        best = None
        for start in starts:
            self.pos = np.array(start, dtype=np.float64)
            found = self._locate(frame)
            if best is None or found[0].value > best[0].value:
                best = found
        best_angle = self.angle
        if cfg.rotation_step > 0.0 and self._found_mean is not None and best[0].value < (
            cfg.rotation_trigger * self._found_mean
        ):
            origin, upright = best[4], self.angle
            unturned_pos = np.array(best[4], dtype=np.float64)
            side = float(np.sqrt(np.prod(self.base_target_sz * best[5])))
            limit = math.radians(cfg.max_rotation)
            signs = (1.0, -1.0) if cfg.rotation_searches == 2 else (self._turn_sign,)
            if cfg.rotation_preselect:
                signs = self._preselect_turn(frame, best, upright, signs)
            self._searched_turn = bool(signs)
            turn_won = False
            for sign in signs:
                turned = upright + sign * math.radians(cfg.rotation_step)
                if cfg.max_rotation >= 180.0:  # any angle: a target may loop, more than once
                    turned = math.remainder(turned, 2.0 * math.pi)
                elif abs(turned) > limit + 1e-9:
                    continue
                self.pos, self.angle = np.array(origin, dtype=np.float64), turned
                found = self._locate(frame)
                if cfg.rotation_reach and float(np.linalg.norm(found[4] - unturned_pos)) > cfg.rotation_reach * side:
                    continue  # a turned peak elsewhere: more often a distractor than the target
                if found[0].value > best[0].value * (1.0 + cfg.rotation_margin):
                    best, best_angle, turn_won, self._turn_sign = found, turned, True, sign
            if cfg.rotation_searches == 1 and not turn_won:
                self._turn_sign = -self._turn_sign  # the other way on the next triggered frame
        self.angle = best_angle
        peak, centres, pscales, z_blocks, self.pos, self.current_scale, patches = best
        if cfg.rotation_step > 0.0:
            value, rate = float(peak.value), cfg.gate_rate
            self._found_mean = value if self._found_mean is None else (1 - rate) * self._found_mean + rate * value
        if float(peak.value) >= cfg.redetect_threshold:
            self.low_streak, self.confident_pos = 0, self.pos.copy()
        else:
            self.low_streak += 1
        if cfg.clamp_position:
            self.pos = np.clip(self.pos, 0, np.array(frame.shape[:2], dtype=np.float64))
        if cfg.motion_prediction:
            step = self.pos - previous_pos
            limit = float(np.sqrt(np.prod(self.base_target_sz * self.current_scale)))
            norm = float(np.linalg.norm(step))
            self.velocity = step if norm <= limit else step * (limit / norm)
        scale_due = self.scale_filter is not None and (self.frame_index + 1) % cfg.scale_every == 0
        if scale_due:
            with prof.stage("scale_filter"):
                view, centre = self._scale_view(frame)
                factor, _ = self.scale_filter.track(view, centre, tuple(self.base_target_sz), self.current_scale)
            if cfg.scale_gain != 1.0:
                factor = factor**cfg.scale_gain
            if cfg.max_scale_change:
                factor = min(max(factor, 1.0 / cfg.max_scale_change), cfg.max_scale_change)
            self.current_scale = float(
                np.clip(self.current_scale * factor, self.min_scale_factor, self.max_scale_factor)
            )
        aspect_due = self.aspect_filter is not None and self.frame_index % cfg.aspect_every == 0
        if aspect_due:
            with prof.stage("scale_filter"):
                view, centre = self._scale_view(frame)
                factor, _ = self.aspect_filter.track(view, centre, self._shaped_size(), self.current_scale)
            limit = math.log(cfg.aspect_limit)
            shape = np.log(self.box_shape) + math.log(factor) * np.array([-1.0, 1.0])
            self.box_shape = np.exp(np.clip(shape, -limit, limit))
        if self.colour is not None:
            with prof.stage("detection"):
                s = peak.scale_index
                if cfg.colour_box_rate or cfg.colour_scale_rate:
                    self._fit_box(patches[s], centres[s], pscales[s])
                self.target_sz = self.base_target_sz * self.current_scale
                self._learn_colour(patches[s], centres[s], pscales[s])
        if not self._accept_update(float(peak.value)):
            self.target_sz = self.base_target_sz * self.current_scale
            return self._result(peak)
        # model update with the detection sample (shifted to the new position) or a new sample
        if cfg.use_detection_sample:
            s = peak.scale_index
            with prof.stage("projection_fft"):
                train = self._shift_to([z[s] for z in z_blocks], self.pos, centres[s], pscales[s])
        else:
            feats, centres, pscales = self._samples(frame, self.pos, [self.current_scale])
            with prof.stage("projection_fft"):
                train = self._shift_to(self._project_transform(feats[0]), self.pos, centres[0], pscales[0])
        with prof.stage("sample_space"):
            train = [np.ascontiguousarray(t, dtype=np.complex64) for t in train]
            self.sample_space.update(train)
        # ECO counts frames from 1 (the first frame is 1): train while frame < skip_after_frame
        due = self.frame_index + 1 < cfg.skip_after_frame or self.frames_since_last_train >= cfg.train_gap
        if due and cfg.rotation_defers_training and self._searched_turn and not self._deferred:
            due = False  # this frame ran a full turned search: the next one trains, whatever it runs
            self._deferred = True
        if due:
            self._deferred = False
            with prof.stage("training"):
                lr = cfg.learning_rate  # ECO updates the preconditioner's energy on training frames only
                for e, t in zip(self.sample_energy, train, strict=True):
                    e *= 1 - lr
                    e += lr * (t.real**2 + t.imag**2)
                self._train_filter(cfg.CG_iter, newest=train)
            self.frames_since_last_train = 0
        else:
            self.frames_since_last_train += 1
        if scale_due:
            with prof.stage("scale_filter"):
                view, centre = self._scale_view(frame)
                size, reuse = tuple(self.base_target_sz), cfg.reuse_scale_samples
                self.scale_filter.update(view, centre, size, self.current_scale, reuse_detection=reuse)
        if aspect_due:
            with prof.stage("scale_filter"):
                view, centre = self._scale_view(frame)
                size, reuse = self._shaped_size(), cfg.reuse_scale_samples
                self.aspect_filter.update(view, centre, size, self.current_scale, reuse_detection=reuse)
        self.target_sz = self.base_target_sz * self.current_scale
        return self._result(peak)

    def redetect(self, frame, search_scale: float) -> TrackResult:
        """One update whose search also covers ``REDETECT_PER_CALL`` positions of a ring of 8,
        ``search_scale / 2`` target sizes around the last confident position (taken in turn, so
        successive calls sweep the whole ring at a bounded cost per frame; the best peak wins).
        The host calls it instead of :meth:`update` while the target is lost."""
        if not self.initialised:
            raise TrackerError("redetect() called before init()")
        self._ring_radius = max(float(search_scale) / 2.0, 0.5)
        try:
            return self.update(frame)
        finally:
            self._ring_radius = None

    #: ring positions :meth:`redetect` searches per call, beside the regular search
    REDETECT_PER_CALL = 2
    _RING = [(math.cos(a), math.sin(a)) for a in np.arange(8) * (math.pi / 4)]

    def _ring_starts(self) -> list:
        """Search centres of the re-detection ring for this frame (none while tracking well)."""
        cfg = self.config
        if self._ring_radius is not None:
            radius, count = self._ring_radius, max(cfg.redetect_candidates, self.REDETECT_PER_CALL)
        elif cfg.redetect_candidates and self.low_streak >= cfg.redetect_after:
            radius, count = cfg.redetect_radius, cfg.redetect_candidates
        else:
            return []
        picks = [(self._ring_next + k) % 8 for k in range(count)]
        self._ring_next = (self._ring_next + count) % 8
        side = float(np.sqrt(np.prod(self.base_target_sz * self.current_scale)))
        return [self.confident_pos + radius * side * np.array(self._RING[k]) for k in picks]

    def _preselect_turn(self, frame, best, upright: float, signs) -> tuple[float, ...]:
        """``rotation_preselect``: the turn signs worth a full search: of ``signs``, the one whose
        turned sample (same centre and scale as the best unturned one) the hand-crafted blocks
        alone score highest, if that beats their score of the unturned sample; else none (all of
        ``signs`` when there are no hand-crafted blocks)."""
        blocks = self.extractor.hand_crafted_blocks
        if not blocks:
            return signs
        prof = self.profiler
        peak, centres, pscales, z_blocks = best[0], best[1], best[2], best[3]
        s = peak.scale_index

        def top(z) -> float:
            with prof.stage("detection"):
                return float(sample_fs(self.layout.scores(self.hf, z, blocks), self.grid).max())

        unturned = top([None if z is None else z[s : s + 1] for z in z_blocks])
        scored = []
        for sign in signs:
            angle = upright + sign * math.radians(self.config.rotation_step)
            with prof.stage("patch"):
                patch, _, _ = sample_warped_patch(frame, centres[s], self.img_sample_sz * pscales[s],
                                                  self.img_sample_sz, angle)
            maps = self.extractor.extract_many([patch], hand_crafted_only=True)[0]
            with prof.stage("projection_fft"):
                for d in blocks:
                    maps[d] *= self.windows[d]
                z = [None if t is None else t[None] for t in self._project_transform(maps)]
            scored.append((top(z), sign))
        value, sign = max(scored)
        return (sign,) if value > unturned * (1.0 + self.config.rotation_preselect_margin) else ()

    def _locate(self, frame):
        """Detection from the current ``pos`` and scale (ECO's refinement loop): returns the peak,
        the sample centres and scales, the projected samples, and the new position and scale."""
        cfg = self.config
        prof = self.profiler
        pos, current_scale = self.pos, self.current_scale
        for _ in range(max(cfg.refinement_iterations, 1)):
            scales = current_scale * self.scale_factors
            patches = []
            feats, centres, pscales = self._samples(frame, pos, scales, patches_out=patches)
            with prof.stage("projection_fft"):
                zs = [self._project_transform(m) for m in feats]
                z_blocks = [np.stack([z[d] for z in zs]) for d in range(len(self.hf))]
            with prof.stage("detection"):
                scores = self.layout.scores(self.hf, z_blocks)
                prior, weight = None, 0.0
                if self.colour is not None:  # the colour score on the same grid, per scale
                    weight = self._colour_weight
                    shape = self._shape()
                    prior = np.stack([
                        self.colour.response(p, self.base_target_sz * shape * sc / ps, self.grid, self.img_support_sz)
                        for p, ps, sc in zip(patches, pscales, scales, strict=True)
                    ])
                peak = find_peak(
                    scores, self.grid, cfg.newton_iterations, prior, weight, cfg.colour_refine_merged
                )
            s = peak.scale_index
            disp = (
                np.array(
                    [
                        peak.y * self.img_support_sz[0] / self.grid[0],
                        peak.x * self.img_support_sz[1] / self.grid[1],
                    ]
                )
                * pscales[s]
            )
            if self.angle:  # the sample's axes are turned: back to image axes
                disp = rotation(self.angle) @ disp
            new_pos = centres[s] + disp
            if not np.all(np.isfinite(new_pos)):
                raise TrackerError("tracker diverged: non-finite position")
            pos = new_pos
            if len(scales) > 1:
                current_scale = float(
                    np.clip(current_scale * self.scale_factors[s], self.min_scale_factor, self.max_scale_factor)
                )
            if np.linalg.norm(disp) < 1e-3:
                break
        return peak, centres, pscales, z_blocks, pos, current_scale, patches

    def _colour_weight(self, top: float) -> float:
        """The colour model's merge weight for a frame whose filter score peaks at ``top`` on the
        grid: ``colour_merge``, rising to ``colour_merge_max`` as ``top`` falls below the running
        mean of earlier peaks (which this call updates); with ``colour_contrast_ref``, times
        ``min(1, contrast / colour_contrast_ref)`` (the colour model's running box-minus-ring contrast)."""
        cfg = self.config
        trust = 1.0
        if cfg.colour_contrast_ref > 0.0 and self._colour_contrast is not None:
            trust = min(max(self._colour_contrast / cfg.colour_contrast_ref, 0.0), 1.0)
        if cfg.colour_merge_max <= cfg.colour_merge:
            return cfg.colour_merge * trust
        mean = self._peak_mean if self._peak_mean is not None else top
        self._peak_mean = (1.0 - cfg.gate_rate) * mean + cfg.gate_rate * top
        drop = min(max(1.0 - top / mean, 0.0), 1.0) if mean > 0.0 else 0.0
        return (cfg.colour_merge + (cfg.colour_merge_max - cfg.colour_merge) * drop) * trust

    def _in_patch(self, patch, centre, pscale) -> np.ndarray:
        """The target's position in ``patch`` (patch pixels), cut at ``centre`` with ``pscale``
        image pixels per patch pixel (turned with the samples)."""
        return self._to_patch_axes(self.pos - centre) / pscale + np.array(patch.shape[:2]) / 2.0

    def _learn_colour(self, patch, centre, pscale) -> None:
        """Update the colour model from ``patch`` (sampled at ``centre`` with ``pscale`` image
        pixels per patch pixel) with the target at the current position and size."""
        rel = self._in_patch(patch, centre, pscale)
        size = self.target_sz * self._shape() / pscale
        self.colour.update(patch, rel, size)
        if self.config.colour_contrast_ref > 0.0:
            contrast = self.colour.contrast(patch, rel, size)
            previous = self._colour_contrast
            rate = self.config.colour_learning_rate
            self._colour_contrast = contrast if previous is None else (1.0 - rate) * previous + rate * contrast

    def _fit_box(self, patch, centre, pscale) -> None:
        """Move the reported box's aspect ratio (``colour_box_rate``) and the tracker's scale
        (``colour_scale_rate``) towards the best-supported of the boxes one ``colour_box_step`` away
        in height and/or width (their colour support, :func:`colour_model.box_sums`); ties keep the box."""
        cfg = self.config
        steps = _SHAPE_STEPS if cfg.colour_scale_rate else _ASPECT_STEPS
        rel = self._in_patch(patch, centre, pscale)
        size = self.base_target_sz * self.current_scale * self.box_shape / pscale
        log_step = math.log(cfg.colour_box_step)
        ring = size + float(np.mean(size))  # the box grown by its mean side: the ring's outer edge
        sums, areas = box_sums(self.colour.likelihood(patch), rel,
                               np.vstack([size * np.exp(steps * log_step), ring]))
        inside = sums[0] / max(areas[0], 1e-9)
        outside = (sums[-1] - sums[0]) / max(areas[-1] - areas[0], 1e-9)
        if inside - outside < cfg.colour_box_contrast:
            return  # the colours do not tell the target from its surroundings here
        threshold = cfg.colour_box_threshold or (inside + outside) / 2.0
        support = sums[:-1] - threshold * areas[:-1]
        a, b = steps[int(np.argmax(support))] * log_step
        aspect, uniform = (a - b) / 2.0, (a + b) / 2.0
        limit = math.log(cfg.aspect_limit)
        shape = np.log(self.box_shape) + cfg.colour_box_rate * np.array([aspect, -aspect])
        self.box_shape = np.exp(np.clip(shape, -limit, limit))
        if uniform and cfg.colour_scale_rate:
            self.current_scale = float(np.clip(self.current_scale * math.exp(cfg.colour_scale_rate * uniform),
                                               self.min_scale_factor, self.max_scale_factor))

    def _result(self, peak) -> TrackResult:
        h, w = self.target_sz * self.box_shape
        if self.angle and self.config.rotation_box != "upright":
            # the target is turned: report the axis-aligned box around the turned rectangle, or
            # around the ellipse inscribed in it (a rounder outline; less growth at small angles)
            c, s = abs(math.cos(self.angle)), abs(math.sin(self.angle))
            if self.config.rotation_box == "rectangle":
                h, w = h * c + w * s, h * s + w * c
            else:
                h, w = math.hypot(h * c, w * s), math.hypot(h * s, w * c)
        box = (float(self.pos[1] - w / 2.0), float(self.pos[0] - h / 2.0), float(w), float(h))
        return TrackResult(box=box, score=float(peak.value) * self.score_scale)

    def _accept_update(self, value: float) -> bool:
        """Confidence gate (``update_gate``; always True when off): update the model only on
        frames whose peak is at least ``update_gate`` x the running mean of accepted peaks."""
        cfg = self.config
        if cfg.update_gate <= 0.0:
            return True
        if self.accepted_peak is not None and not value >= cfg.update_gate * self.accepted_peak:
            return False
        rate = cfg.gate_rate
        self.accepted_peak = value if self.accepted_peak is None else (1 - rate) * self.accepted_peak + rate * value
        return True


def create_feco(**overrides) -> ECOTracker:
    """fECO: the paper's run file (CF-VGG low/high + fHOG, fDSST scale filter), with ``overrides``."""
    return ECOTracker(ECOConfig.feco(**overrides))


def create_cfvgg(**overrides) -> ECOTracker:
    """The package's default tracker (:meth:`ECOConfig.cfvgg`), with ``overrides``."""
    return ECOTracker(ECOConfig.cfvgg(**overrides))


def create_eco_hc(**overrides) -> ECOTracker:
    """ECO-HC: fHOG (cell 6) + colour (cell 4), with ``overrides``."""
    return ECOTracker(ECOConfig.eco_hc(**overrides))
