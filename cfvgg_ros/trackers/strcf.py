"""STRCF: spatial-temporal regularised correlation filters (Li et al., "Learning
Spatial-Temporal Regularized Correlation Filters for Visual Tracking", CVPR 2018), solved by
ADMM in the Fourier domain, with hand-crafted features (``strcf``: fHOG + grey + colour) or
CF-VGG features (``fdeepstrcf``: CF-VGG ``low``/``high`` + fHOG + grey, the fDeepSTRCF of
the CF-VGG paper).

Model (per feature block, T = number of cells, f_{t-1} the previous frame's filter; STRCF
objective with the data term averaged over the cells, which is what the released code solves):

    E(f) = 1/(2T) ||sum_d f_d * x_d - y||^2 + 1/2 sum_d ||w . f_d||^2 + mu/2 ||f - f_{t-1}||^2

where ``(f * x)[n] = sum_m f[m] x[m + n]`` (circular correlation; the response to a sample z
is ``sum_d conj(F_d) Z_d`` in the Fourier domain) and w is the spatial regularisation
window. STRCF's ADMM splits f = g with the scaled dual h and penalty gamma:

- f-step: per frequency, (x x^H + T(gamma + mu) I) F = x conj(Y) + T(gamma G - H
  + mu F_{t-1}), solved in closed form with the Sherman-Morrison formula;
- g-step: g = (gamma f + h) / (w^2 + gamma), element-wise in the spatial domain;
- h-step: H <- H + gamma (F - G); gamma <- min(rho gamma, gamma_max).

The temporal term replaces the linear model interpolation of other CF trackers: the filter
learnt on the current frame alone, tied to the previous filter, is the model.
Real-input FFTs (``scipy.fft``, one worker, complex64) are used throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult
from cfvgg_ros.features.vocabulary import parse_feature
from cfvgg_ros.trackers.cf_common import (
    cnn_map_to_grid,
    config_from,
    cosine_window,
    gaussian_label,
    irfft2,
    minmax_normalise,
    refine_peak,
    rfft2,
    sample_patch,
    wrap_offset,
)

FEATURE_CELLS = {"hog": 4, "grey": 4, "colour": 4, "cnn:low": 4, "cnn:mid": 8, "cnn:high": 16}
"""Nominal cell size (sample pixels per feature cell) of each feature of the package's vocabulary
(:mod:`cfvgg_ros.features.vocabulary`); features sharing a cell
size are concatenated into one block (as STRCF/ECO do)."""

BlockFeatureFn = Callable[[np.ndarray, Sequence[int]], list[np.ndarray]]
"""Maps patches (N, S, S, 3) uint8 RGB and one odd grid size per block to the blocks' feature
maps, each (N, g_b, g_b, D_b) float32."""


def rfft2_batch(features: np.ndarray) -> np.ndarray:
    """``rfft2`` over the spatial axes (1, 2) of an (N, H, W, D) batch (one worker)."""
    return sfft.rfft2(features, axes=(1, 2), workers=1)


def is_grey(frame: np.ndarray) -> bool:
    """True when all three channels are equal (a grey-level video stored as RGB)."""
    return bool(np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 0], frame[..., 2]))


# ------------------------------------------------------------------------- ADMM solver
def solve_filter_step(
    xf: np.ndarray,
    yf: np.ndarray,
    gf: np.ndarray,
    hf: np.ndarray,
    f_prev_f: np.ndarray,
    gamma: float,
    mu: float,
    num_cells: int,
) -> np.ndarray:
    """ADMM f-subproblem of STRCF in closed form: per frequency solves
    (x x^H + T(gamma + mu) I) F = x conj(Y) + T(gamma G - H + mu F_prev) by Sherman-Morrison,
    F = (b - x (x^H b) / (T(gamma + mu) + x^H x)) / (T(gamma + mu)).

    ``xf, gf, hf, f_prev_f``: (..., D) spectra; ``yf``: (...) label spectrum; T = ``num_cells``.
    """
    c = num_cells * (gamma + mu)
    if c <= 0:
        raise ValueError(f"gamma + mu must be positive, got gamma={gamma}, mu={mu}")
    b = xf * np.conj(yf)[..., None] + num_cells * (gamma * gf - hf + mu * f_prev_f)
    xb = np.sum(np.conj(xf) * b, axis=-1)
    sxx = np.sum((xf * np.conj(xf)).real, axis=-1)
    return (b - xf * (xb / (c + sxx))[..., None]) / c


def solve_aux_step(f: np.ndarray, h: np.ndarray, reg_window_sq: np.ndarray, gamma: float) -> np.ndarray:
    """ADMM g-subproblem: argmin_g 1/2 ||w . g||^2 + gamma/2 ||f - g + h/gamma||^2,
    i.e. g = (gamma f + h) / (w^2 + gamma), element-wise (spatial domain, (H, W, D) arrays)."""
    return (gamma * f + h) / (reg_window_sq + gamma)[..., None]


def strcf_train(
    xf: np.ndarray,
    yf: np.ndarray,
    reg_window: np.ndarray,
    f_prev_f: np.ndarray | None,
    mu: float,
    iterations: int = 2,
    gamma_init: float = 1.0,
    gamma_max: float = 0.1,
    gamma_step: float = 10.0,
) -> np.ndarray:
    """Train one STRCF block by its ADMM iterations. ``xf``: (H, W//2+1, D) half spectrum
    of the windowed sample (``rfft2``), ``yf``: (H, W//2+1) label spectrum, ``reg_window``:
    (H, W) spatial weights w, ``f_prev_f``: the previous filter's spectrum (None: zeros).
    Returns the filter spectrum F (the f-variable of the last iteration, as the released code).
    """
    if xf.ndim != 3:
        raise ValueError(f"xf must be (H, W//2+1, D), got shape {xf.shape}")
    shape = reg_window.shape
    if yf.shape != xf.shape[:2] or shape[0] != xf.shape[0] or shape[1] // 2 + 1 != xf.shape[1]:
        raise ValueError(f"inconsistent shapes: xf {xf.shape}, yf {yf.shape}, reg_window {shape}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    num_cells = shape[0] * shape[1]
    if f_prev_f is None:
        f_prev_f = np.zeros_like(xf)
    reg_sq = np.square(reg_window.astype(np.float64)).astype(np.float32)
    gf = np.zeros_like(xf)
    hf = np.zeros_like(xf)
    h_sp = np.zeros(shape + (xf.shape[2],), dtype=np.float32)
    gamma = float(gamma_init)
    ff = gf
    for _ in range(iterations):
        ff = solve_filter_step(xf, yf, gf, hf, f_prev_f, gamma, mu, num_cells)
        f_sp = irfft2(ff, shape)
        g_sp = solve_aux_step(f_sp, h_sp, reg_sq, gamma).astype(np.float32)
        gf = rfft2(g_sp)
        hf = hf + gamma * (ff - gf)
        h_sp = h_sp + gamma * (f_sp - g_sp)
        gamma = min(gamma_step * gamma, gamma_max)
    return ff.astype(np.complex64)


def spatial_reg_window(
    grid: int, target_cells_hw: tuple[int, int], reg_min: float, reg_max: float
) -> np.ndarray:
    """STRCF's binary regularisation window: ``reg_max`` everywhere except ``reg_min`` on the
    ``target_cells_hw`` cells centred on the grid centre ((grid - 1) / 2 for odd grids)."""
    win = np.full((grid, grid), reg_max, dtype=np.float32)
    centre = (grid + 1) // 2 + (grid + 1) % 2 - 1  # MATLAB floor((sz+1)/2) + mod(sz+1, 2), 0-based
    sizes = [int(min(max(size, 1), grid)) for size in target_cells_hw]
    starts = [max(centre - size // 2, 0) for size in sizes]
    win[starts[0] : starts[0] + sizes[0], starts[1] : starts[1] + sizes[1]] = reg_min
    return win


def fourier_resize(spec: np.ndarray, shape_in: tuple[int, int], shape_out: tuple[int, int]) -> np.ndarray:
    """Band-limited interpolation of a response: zero-pad (or crop) the half spectrum over the
    first two axes of an ``shape_in`` real signal to ``shape_out`` (ECO/STRCF's ``resizeDFT2``),
    scaled so spatial values are preserved. Sizes should be odd (no Nyquist terms)."""
    if tuple(shape_in) == tuple(shape_out):
        return spec
    hi, wi = shape_in
    ho, wo = shape_out
    out = np.zeros((ho, wo // 2 + 1) + spec.shape[2:], dtype=spec.dtype)
    cols = min(wi // 2 + 1, wo // 2 + 1)
    pos = min((hi + 1) // 2, (ho + 1) // 2)
    neg = min(hi // 2, ho // 2)
    out[:pos, :cols] = spec[:pos, :cols]
    if neg:
        out[ho - neg :, :cols] = spec[hi - neg :, :cols]
    return out * (float(ho * wo) / float(hi * wi))


# ---------------------------------------------------------------------------- features
def _grey_cells(patch: np.ndarray, cell: int) -> np.ndarray:
    """Grey level (MATLAB rgb2gray weights, /255 - 0.5) averaged per cell (STRCF's
    ``get_colorspace('gray')``)."""
    gray = patch[..., 0] * 0.2989 + patch[..., 1] * 0.5870 + patch[..., 2] * 0.1140
    h, w = (patch.shape[0] // cell) * cell, (patch.shape[1] // cell) * cell
    cells = gray[:h, :w].reshape(h // cell, cell, w // cell, cell).mean(axis=(1, 3))
    return (cells / 255.0 - 0.5).astype(np.float32)[:, :, None]


class STRCFFeatures:
    """Feature blocks for STRCF from feature names (see :data:`FEATURE_CELLS`).

    Hand-crafted features are used raw (fHOG, grey, colour at cell 4) and CNN maps are aligned
    to the block grid and min-max normalised per channel, as STRCF's ``extract_features`` does.
    ``model``: the CNN's contract ONNX path or serialized bytes (None or "" = the default model).
    """

    def __init__(self, names: Sequence[str], model: str | bytes | None = None) -> None:
        names = tuple(names)
        unknown = [n for n in names if n not in FEATURE_CELLS]
        if not names or unknown or len(set(names)) != len(names):
            raise ValueError(f"features must be distinct names among {sorted(FEATURE_CELLS)}, got {names}")
        self.names = names
        self.block_cells = tuple(sorted({FEATURE_CELLS[n] for n in names}))
        self._blocks = [[n for n in names if FEATURE_CELLS[n] == c] for c in self.block_cells]
        levels = tuple(parse_feature(n).level for n in names if parse_feature(n).is_cnn)
        self._network = None
        if levels:
            from cfvgg_ros.features.cnn import CNNFeatures

            self._network = CNNFeatures(model if model else None, outputs=levels)
        self._fhog = None
        if "hog" in names:
            from cfvgg_ros.features.fhog import fhog

            self._fhog = fhog
        self._colour = None
        if "colour" in names:
            from cfvgg_ros.features.colour import colour_features

            self._colour = colour_features

    def _handcrafted(self, name: str, patch: np.ndarray, grid: int, cell: float) -> np.ndarray:
        c = int(round(cell))
        if name == "hog":
            fmap = self._fhog(patch, cell_size=c)
        elif name == "grey":
            fmap = _grey_cells(patch.astype(np.float32), c)
        else:
            fmap = self._colour(patch, cell_size=c)
        fmap = np.asarray(fmap, dtype=np.float32)
        if fmap.shape[:2] != (grid, grid):
            raise TrackerError(f"feature {name!r} gave a {fmap.shape[:2]} map, expected {(grid, grid)}")
        return fmap

    def __call__(self, patches: np.ndarray, grids: Sequence[int]) -> list[np.ndarray]:
        if len(grids) != len(self.block_cells):
            raise ValueError(f"need {len(self.block_cells)} grid sizes, got {len(grids)}")
        side = patches.shape[1]
        cnn = None
        if self._network is not None:
            cnn = self._network(patches)
        blocks = []
        for names, grid in zip(self._blocks, grids, strict=True):
            cell = side / float(grid)
            per_feature = []
            for name in names:
                feature = parse_feature(name)
                if feature.is_cnn:
                    level = feature.level
                    net = self._network
                    stride, offset = net.strides[level], net.offsets[level]
                    maps = [
                        minmax_normalise(cnn_map_to_grid(m, stride, offset, (grid, grid), (cell, cell)))
                        for m in cnn[level]
                    ]
                    per_feature.append(np.stack(maps))
                else:
                    per_feature.append(np.stack([self._handcrafted(name, p, grid, cell) for p in patches]))
            blocks.append(np.concatenate(per_feature, axis=3) if len(per_feature) > 1 else per_feature[0])
        return blocks


# ----------------------------------------------------------------------------- tracker
@dataclass(frozen=True)
class STRCFConfig:
    """STRCF settings; defaults are the released hand-crafted STRCF (``run_STRCF.m``).

    - ``features``: names from :data:`FEATURE_CELLS`, grouped into blocks by cell size.
    - sample: ``search_area_scale`` x the target, square, area clamped to
      [``min_image_sample_size``, ``max_image_sample_size``] by one initial rescaling.
    - spatial regularisation: ``reg_window_max`` outside, ``reg_window_min`` on the target
      (``floor(target / downsample)`` cells, downsample per block cell from
      ``reg_window_downsample`` = ((cell, ratio), ...); a missing cell uses the cell itself).
    - learning: label sigma = sqrt(target cells) x ``output_sigma_factor``; temporal weight mu
      = ``temporal_regularization`` (0 on the first frame); ADMM ``admm_iterations`` with
      penalty gamma from ``init_penalty`` growing by ``penalty_scale_step`` up to
      ``max_penalty`` (the released run files use 1 / 10 / 0.1, so gamma is 1 then 0.1).
    - detection: ``number_of_scales`` samples ``scale_step`` apart; the best response peak,
      refined by ``newton_iterations`` Newton steps on its Fourier series, gives position and scale.
    - ``online_adaptation`` (needs a ``cnn:*`` feature and torch): fine-tune the CF-VGG student
      on the first frame with the background-aware loss of the CF-VGG paper's Sec. IV-B
      (``adaptation_iterations`` SGD steps of ``adaptation_samples`` positive + negative samples
      over the search area) and extract the CNN features with the adapted weights.
    """

    features: tuple[str, ...] = ("grey", "hog", "colour")
    model_path: str | None = None
    search_area_scale: float = 5.0
    min_image_sample_size: float = 150.0**2
    max_image_sample_size: float = 200.0**2
    reg_window_max: float = 1e5
    reg_window_min: float = 1e-3
    reg_window_downsample: tuple[tuple[int, float], ...] = ((4, 4.0), (16, 14.0))
    output_sigma_factor: float = 1.0 / 16.0
    temporal_regularization: float = 15.0
    admm_iterations: int = 2
    init_penalty: float = 1.0
    max_penalty: float = 0.1
    penalty_scale_step: float = 10.0
    number_of_scales: int = 5
    scale_step: float = 1.01
    newton_iterations: int = 5
    online_adaptation: bool = False
    adaptation_iterations: int = 8
    adaptation_samples: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        for name in self.features:
            parse_feature(name)
        if self.online_adaptation and not any(parse_feature(n).is_cnn for n in self.features):
            raise ValueError(f"online_adaptation adapts the CNN model: no cnn:* feature in {self.features}")
        if self.adaptation_iterations < 0 or self.adaptation_samples < 1:
            raise ValueError(
                f"adaptation_iterations must be >= 0 and adaptation_samples >= 1, got "
                f"{self.adaptation_iterations} and {self.adaptation_samples}"
            )
        object.__setattr__(self, "reg_window_downsample", tuple(tuple(p) for p in self.reg_window_downsample))
        for name in ("search_area_scale", "min_image_sample_size", "max_image_sample_size", "reg_window_max",
                     "reg_window_min", "output_sigma_factor", "init_penalty", "max_penalty",
                     "penalty_scale_step", "scale_step"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.min_image_sample_size > self.max_image_sample_size:
            raise ValueError("min_image_sample_size must not exceed max_image_sample_size")
        if self.temporal_regularization < 0:
            raise ValueError(f"temporal_regularization must be >= 0, got {self.temporal_regularization}")
        if self.admm_iterations < 1 or self.number_of_scales < 1 or self.newton_iterations < 0:
            raise ValueError("admm_iterations and number_of_scales must be >= 1, newton_iterations >= 0")

    def reg_downsample(self, cell: float) -> float:
        return float(dict(self.reg_window_downsample).get(int(cell), cell))


FDEEPSTRCF_DEFAULTS = {
    "features": ("grey", "hog", "cnn:low", "cnn:high"),
    "search_area_scale": 4.5,
    "min_image_sample_size": 200.0**2,
    "max_image_sample_size": 250.0**2,
    "number_of_scales": 3,
    "scale_step": 1.02,
}
"""fDeepSTRCF overrides, from the CF-VGG authors' ``fDeepSTRCF/run_DeepSTRCF.m`` (search area
4.5, samples 200^2-250^2, 3 scales 1.02 apart, CNN block regularised at ratio 14); features
CF-VGG ``low`` (pooled to cell 4) + ``high`` + fHOG + grey."""


def _odd(n: float) -> int:
    n = max(3, int(round(n)))
    return n if n % 2 else n + 1


class STRCFTracker(Tracker):
    """STRCF / fDeepSTRCF tracker (translation + multi-scale search).

    With ``config.online_adaptation`` every :meth:`init` adapts the CNN model to the new target
    (the features are rebuilt from the adapted ONNX bytes); :attr:`adaptation_timing` then holds
    that first-frame cost."""

    name = "strcf"

    def __init__(
        self,
        config: STRCFConfig | None = None,
        feature_fn: BlockFeatureFn | None = None,
        block_cells: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.config = config or STRCFConfig()
        if (feature_fn is None) != (block_cells is None):
            raise ValueError("feature_fn and block_cells must be given together")
        self._custom_features = feature_fn is not None
        if self._custom_features and self.config.online_adaptation:
            raise ValueError("online_adaptation adapts the CF-VGG model; it cannot adapt a custom feature_fn")
        self.adaptation_timing = None
        self._feature_fn = feature_fn
        self._block_cells = tuple(block_cells) if block_cells is not None else None
        self._stacks: dict[tuple[str, ...], STRCFFeatures] = {}

    def _select_features(self, frame: np.ndarray, box) -> None:
        """Build (once per feature set, or at every init with online adaptation) the configured
        features; like STRCF, colour features are left out for grey-level videos."""
        if self._custom_features:
            return
        cfg = self.config
        names = tuple(n for n in cfg.features if not (n == "colour" and is_grey(frame)))
        if not names:
            raise TrackerError(f"no usable features for a grey-level video in {cfg.features}")
        if cfg.online_adaptation:
            from cfvgg_ros.features.adaptation import adapt_model

            adapted = adapt_model(
                cfg.model_path or None,
                frame,
                box,
                search_area_scale=cfg.search_area_scale,
                iterations=cfg.adaptation_iterations,
                samples=cfg.adaptation_samples,
            )
            self._stacks.clear()  # the previous target's adapted model is of no further use
            self._stacks[names] = STRCFFeatures(names, adapted.model_bytes)
            self.adaptation_timing = adapted.timing
        elif names not in self._stacks:
            self._stacks[names] = STRCFFeatures(names, cfg.model_path)
        stack = self._stacks[names]
        self._feature_fn, self._block_cells = stack, stack.block_cells

    def _extract(self, frame: np.ndarray, scales: Sequence[float]) -> tuple[list[np.ndarray], list]:
        patches, centres, regions = [], [], []
        for s in scales:
            region = max(1, round(self._sample_px * self._scale_factor * s))
            side = (self._sample_px, self._sample_px)
            patch, centre = sample_patch(frame, self._pos, (region, region), side)
            patches.append(patch)
            centres.append(centre)
            regions.append(region)
        blocks = self._feature_fn(np.stack(patches), self._grids)
        spectra = []
        for b, (feat, grid) in enumerate(zip(blocks, self._grids, strict=True)):
            feat = np.asarray(feat, dtype=np.float32)
            if feat.ndim != 4 or feat.shape[1:3] != (grid, grid):
                raise TrackerError(
                    f"block {b} features have shape {feat.shape}, expected (N, {grid}, {grid}, D)"
                )
            spectra.append(rfft2_batch(feat * self._windows[b][None, :, :, None]))
        return spectra, list(zip(centres, regions, strict=True))

    def _init(self, frame: np.ndarray, box) -> None:
        cfg = self.config
        self._select_features(frame, box)
        x, y, w, h = box
        self._pos = (y + (h - 1) / 2.0, x + (w - 1) / 2.0)
        target = np.array([h, w], dtype=np.float64)
        search_area = float(np.prod(target * cfg.search_area_scale))
        if search_area > cfg.max_image_sample_size:
            self._scale_factor = math.sqrt(search_area / cfg.max_image_sample_size)
        elif search_area < cfg.min_image_sample_size:
            self._scale_factor = math.sqrt(search_area / cfg.min_image_sample_size)
        else:
            self._scale_factor = 1.0
        self._base_target = target / self._scale_factor
        sample = math.sqrt(float(np.prod(self._base_target * cfg.search_area_scale)))
        cells = self._block_cells
        fine = _odd(sample / cells[0])
        self._sample_px = fine * int(round(cells[0]))
        self._grids = [fine] + [_odd(self._sample_px / c) for c in cells[1:]]
        self._output_grid = max(self._grids)
        self._windows = [cosine_window(g, g) for g in self._grids]
        self._yf, self._reg = [], []
        for grid, nominal in zip(self._grids, cells, strict=True):
            cell = self._sample_px / grid
            target_cells = np.maximum(np.floor(self._base_target / cell), 1.0)
            sigma = math.sqrt(float(np.prod(target_cells))) * cfg.output_sigma_factor
            self._yf.append(rfft2(gaussian_label(grid, grid, sigma)))
            ratio = cfg.reg_downsample(nominal) * (cell / nominal)  # same target margin on this grid
            reg_cells = np.floor(self._base_target / ratio).astype(int)
            self._reg.append(
                spatial_reg_window(grid, tuple(reg_cells), cfg.reg_window_min, cfg.reg_window_max)
            )
        n = cfg.number_of_scales
        self._scale_factors = cfg.scale_step ** (np.arange(n) - (n - 1) // 2).astype(np.float64)
        step = cfg.scale_step
        self._min_scale = step ** math.ceil(math.log(5.0 / self._sample_px) / math.log(step))
        fh, fw = frame.shape[:2]
        self._max_scale = step ** math.floor(
            math.log(min(fh / self._base_target[0], fw / self._base_target[1])) / math.log(step)
        )
        self._filters = [None] * len(self._grids)
        self._train(frame, first=True)

    def _train(self, frame: np.ndarray, first: bool) -> None:
        cfg = self.config
        spectra, _ = self._extract(frame, [1.0])
        mu = 0.0 if first else cfg.temporal_regularization
        for b, xf in enumerate(spectra):
            self._filters[b] = strcf_train(
                xf[0], self._yf[b], self._reg[b], self._filters[b], mu, cfg.admm_iterations,
                cfg.init_penalty, cfg.max_penalty, cfg.penalty_scale_step,
            )

    def _update(self, frame: np.ndarray) -> TrackResult:
        cfg = self.config
        spectra, samples = self._extract(frame, self._scale_factors)
        out = (self._output_grid, self._output_grid)
        scores_f = None
        for b, zf in enumerate(spectra):
            resp = np.sum(np.conj(self._filters[b])[None] * zf, axis=3)
            grid = self._grids[b]
            resp = np.moveaxis(fourier_resize(np.moveaxis(resp, 0, -1), (grid, grid), out), -1, 0)
            scores_f = resp if scores_f is None else scores_f + resp
        responses = np.stack([irfft2(s, out) for s in scores_f])
        sind, py, px = np.unravel_index(int(np.argmax(responses)), responses.shape)
        fy, fx, peak = refine_peak(scores_f[sind], out, (float(py), float(px)), cfg.newton_iterations)
        dy, dx = wrap_offset(fy, out[0]), wrap_offset(fx, out[1])
        centre, region = samples[sind]
        step = region / out[0]
        fh, fw = frame.shape[:2]
        self._pos = (
            min(max(centre[0] + dy * step, 0.0), fh - 1.0),
            min(max(centre[1] + dx * step, 0.0), fw - 1.0),
        )
        self._scale_factor = float(
            np.clip(self._scale_factor * self._scale_factors[sind], self._min_scale, self._max_scale)
        )
        self._train(frame, first=False)
        th, tw = self._base_target * self._scale_factor
        box = (self._pos[1] - (tw - 1) / 2.0, self._pos[0] - (th - 1) / 2.0, tw, th)
        return TrackResult(box=tuple(float(v) for v in box), score=float(peak))



def create_strcf(feature_fn: BlockFeatureFn | None = None, block_cells: Sequence[int] | None = None,
                 **params) -> STRCFTracker:
    """Hand-crafted STRCF (grey + fHOG + colour, ``run_STRCF.m`` settings); keywords:
    :class:`STRCFConfig` fields."""
    return STRCFTracker(config_from(params, STRCFConfig(), "STRCF"), feature_fn, block_cells)


def create_fdeepstrcf(feature_fn: BlockFeatureFn | None = None, block_cells: Sequence[int] | None = None,
                      **params) -> STRCFTracker:
    """fDeepSTRCF: STRCF on CF-VGG ``low`` + ``high`` + fHOG + grey with the CF-VGG authors'
    fDeepSTRCF settings (:data:`FDEEPSTRCF_DEFAULTS`); keywords: :class:`STRCFConfig` fields."""
    return STRCFTracker(config_from(params, STRCFConfig(**FDEEPSTRCF_DEFAULTS), "STRCF"), feature_fn, block_cells)


__all__ = [
    "FDEEPSTRCF_DEFAULTS",
    "FEATURE_CELLS",
    "STRCFConfig",
    "STRCFFeatures",
    "STRCFTracker",
    "create_fdeepstrcf",
    "create_strcf",
    "fourier_resize",
    "solve_aux_step",
    "solve_filter_step",
    "spatial_reg_window",
    "strcf_train",
]
