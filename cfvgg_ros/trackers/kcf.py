"""KCF: kernelized correlation filter tracker (Henriques et al., "High-Speed Tracking with
Kernelized Correlation Filters", TPAMI 2015) with a Gaussian kernel, on one CF-VGG feature
level (``fkcf``, as in Table V of the CF-VGG paper) or on fHOG (the original KCF).

The building blocks it shares with STRCF (window, label, patch sampling, peak refinement)
are in :mod:`cfvgg_ros.trackers.cf_common`.

All FFTs are real-input (``scipy.fft.rfft2``, one worker) in float32 / complex64.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult
from cfvgg_ros.features.vocabulary import CNN_LEVELS, parse_feature
from cfvgg_ros.trackers.cf_common import (
    cnn_map_to_grid,
    config_from,
    cosine_window,
    gaussian_label,
    half_spectrum_energy,
    irfft2,
    minmax_normalise,
    refine_peak,
    rfft2,
    sample_patch,
    wrap_offset,
)

FeatureFn = Callable[[np.ndarray], np.ndarray]
"""Maps an image patch (S_h, S_w, 3) uint8 RGB to a feature map (S_h/cell, S_w/cell, C) float32."""


# -------------------------------------------------------------------------- KCF maths
def gaussian_correlation(
    xf: np.ndarray, x_sq: float, zf: np.ndarray, z_sq: float, sigma: float, shape: tuple[int, int]
) -> np.ndarray:
    """Gaussian kernel correlation of KCF eq. (31), multi-channel (half spectra in, half
    spectrum out):

        k^{xz} = exp(-(||x||^2 + ||z||^2 - 2 F^{-1}(sum_c xf_c^* . zf_c)) / (sigma^2 N))

    with N = H W C (as in the authors' code); ``x_sq``/``z_sq`` are the squared norms.
    ``k^{xz}[n] = kappa(x, z shifted by -n)``, i.e. ``z[m + n]`` compared with ``x[m]``.
    """
    h, w = shape
    n = h * w * xf.shape[2]
    cross = irfft2(np.sum(np.conj(xf) * zf, axis=2), shape)
    dist = np.maximum(0.0, (x_sq + z_sq - 2.0 * cross) / n)
    k = np.exp(-dist / (sigma * sigma)).astype(np.float32)
    return rfft2(k)


def gaussian_kernel_correlation(x: np.ndarray, z: np.ndarray, sigma: float) -> np.ndarray:
    """Spatial-domain convenience wrapper of :func:`gaussian_correlation` for (H, W, C) maps;
    returns the (H, W) kernel correlation."""
    x = np.asarray(x, dtype=np.float32)
    z = np.asarray(z, dtype=np.float32)
    if x.ndim == 2:
        x, z = x[:, :, None], z[:, :, None]
    if x.shape != z.shape:
        raise ValueError(f"x and z must have the same shape, got {x.shape} and {z.shape}")
    shape = x.shape[:2]
    kf = gaussian_correlation(rfft2(x), float(np.sum(x * x)), rfft2(z), float(np.sum(z * z)), sigma, shape)
    return irfft2(kf, shape)


def kcf_train(kf: np.ndarray, yf: np.ndarray, lam: float) -> np.ndarray:
    """Kernel ridge regression in the dual (KCF eq. (17)): alpha_hat = y_hat / (k_hat^{xx} + lambda)."""
    return yf / (kf + lam)


def kcf_detect(alphaf: np.ndarray, kzf: np.ndarray) -> np.ndarray:
    """Response spectrum of KCF eq. (22): f_hat(z) = k_hat^{xz} . alpha_hat (half spectrum)."""
    return alphaf * kzf


# ---------------------------------------------------------------------- feature makers
def make_hog_features(cell_size: int = 4) -> FeatureFn:
    """fHOG (31 channels) of a patch, unnormalised (as in the original KCF)."""
    from cfvgg_ros.features.fhog import fhog

    def extract(patch: np.ndarray) -> np.ndarray:
        return np.asarray(fhog(patch, cell_size=cell_size), dtype=np.float32)

    return extract


def make_cnn_level_features(level: str, cell_size: int = 4, model: str | bytes | None = None) -> FeatureFn:
    """One CF-VGG level (``low``/``mid``/``high``; native cell = the level's stride) resampled to a
    ``cell_size`` grid over the patch (area pooling for ``low``, bilinear up-sampling for
    ``mid``/``high``, as HCF-style trackers do) and min-max normalised per channel. ``model``: a
    contract ONNX path or serialized bytes (None or "" = the default model)."""
    if level not in CNN_LEVELS:
        raise ValueError(f"level must be one of {CNN_LEVELS}, got {level!r}")
    from cfvgg_ros.features.cnn import CNNFeatures

    network = CNNFeatures(model if model else None, outputs=(level,))
    stride, offset = network.strides[level], network.offsets[level]

    def extract(patch: np.ndarray) -> np.ndarray:
        fmap = np.asarray(network(patch)[level], dtype=np.float32)
        grid_hw = (patch.shape[0] // cell_size, patch.shape[1] // cell_size)
        grid = cnn_map_to_grid(fmap, stride, offset, grid_hw, (float(cell_size), float(cell_size)))
        return minmax_normalise(grid)

    return extract


# ---------------------------------------------------------------------------- tracker
@dataclass(frozen=True)
class KCFConfig:
    """KCF settings (defaults: the KCF paper's Gaussian-kernel HOG settings).

    ``feature``: ``"hog"`` or one CF-VGG level ``"cnn:low"`` / ``"cnn:mid"`` / ``"cnn:high"`` (the
    package's feature vocabulary, :mod:`cfvgg_ros.features.vocabulary`). ``interp_factor`` None picks
    0.02 for HOG (KCF) and 0.01 for CNN features (the deep-feature CF rate of HCF, Ma et al.
    ICCV 2015). The search window is the target enlarged by ``1 + padding``; the image is
    rescaled once so the window area lies in [``min_sample_area``, ``max_sample_area``]
    pixels (KCF itself halves the image for targets above 100 px; this generalises it).
    ``cell_size`` is the grid cell in sample pixels (4, KCF's HOG cell); a CNN level's map
    (native cell = its stride: low 2, mid 8, high 16) is pooled / up-sampled onto that grid as
    HCF does (``cell_size=16`` with ``feature="cnn:high"`` keeps the native grid). ``subpixel``
    refines the peak by Newton steps on the response's Fourier series.

    ``online_adaptation`` (CNN features only) fine-tunes the CF-VGG student on the first frame
    with the background-aware loss of the paper's Sec. IV-B (``adaptation_iterations`` SGD steps
    of ``adaptation_samples`` positive + negative samples, over the search window) and extracts
    features with the adapted weights in the same onnxruntime path; it needs torch.
    """

    feature: str = "cnn:mid"
    model_path: str | None = None
    padding: float = 1.5
    regularization: float = 1e-4
    output_sigma_factor: float = 0.1
    interp_factor: float | None = None
    kernel_sigma: float = 0.5
    cell_size: int = 4
    min_sample_area: float | None = None
    max_sample_area: float | None = None
    subpixel: bool = True
    online_adaptation: bool = False
    adaptation_iterations: int = 8
    adaptation_samples: int = 32

    def __post_init__(self) -> None:
        if parse_feature(self.feature).kind not in ("cnn", "hog"):
            raise ValueError(f"KCF's feature must be 'hog' or 'cnn:<level>', got {self.feature!r}")
        if self.online_adaptation and not self.is_cnn:
            raise ValueError("online_adaptation adapts the CNN model: it needs a feature 'cnn:<level>'")
        if self.adaptation_iterations < 0 or self.adaptation_samples < 1:
            raise ValueError(
                f"adaptation_iterations must be >= 0 and adaptation_samples >= 1, got "
                f"{self.adaptation_iterations} and {self.adaptation_samples}"
            )
        for name in ("padding", "regularization", "output_sigma_factor", "kernel_sigma"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.cell_size < 1:
            raise ValueError(f"cell_size must be >= 1, got {self.cell_size}")
        if self.interp_factor is not None and not 0 < self.interp_factor <= 1:
            raise ValueError(f"interp_factor must be in (0, 1], got {self.interp_factor}")

    @property
    def is_cnn(self) -> bool:
        return parse_feature(self.feature).is_cnn

    @property
    def level(self) -> str:
        """The CNN level of a ``cnn:<level>`` feature ("" for hog)."""
        return parse_feature(self.feature).level

    @property
    def learning_rate(self) -> float:
        if self.interp_factor is not None:
            return self.interp_factor
        return 0.01 if self.is_cnn else 0.02

    @property
    def sample_area_range(self) -> tuple[float, float]:
        default = (150.0**2, 250.0**2) if self.is_cnn else (80.0**2, 160.0**2)
        lo = default[0] if self.min_sample_area is None else float(self.min_sample_area)
        hi = default[1] if self.max_sample_area is None else float(self.max_sample_area)
        if not 0 < lo <= hi:
            raise ValueError(f"need 0 < min_sample_area <= max_sample_area, got {lo}, {hi}")
        return lo, hi


class KCFTracker(Tracker):
    """Gaussian-kernel KCF at a fixed scale (the original KCF has no scale estimation).

    With ``config.online_adaptation`` every :meth:`init` adapts the CNN model to the new target;
    :attr:`adaptation_timing` then holds that first-frame cost."""

    name = "fkcf"

    def __init__(self, config: KCFConfig | None = None, feature_fn: FeatureFn | None = None) -> None:
        super().__init__()
        self.config = config or KCFConfig()
        if feature_fn is not None and self.config.online_adaptation:
            raise ValueError("online_adaptation adapts the CF-VGG model; it cannot adapt a custom feature_fn")
        self._feature_fn = feature_fn
        self.adaptation_timing = None

    def _adapt(self, frame: np.ndarray, box) -> None:
        """Adapt the CNN model on the first frame (paper Sec. IV-B) and rebuild the features."""
        from cfvgg_ros.features.adaptation import adapt_model

        cfg = self.config
        adapted = adapt_model(
            cfg.model_path or None,
            frame,
            box,
            search_area_scale=1.0 + cfg.padding,  # a square of the window's area, side (1 + padding) sqrt(wh)
            iterations=cfg.adaptation_iterations,
            samples=cfg.adaptation_samples,
        )
        self._feature_fn = make_cnn_level_features(cfg.level, cfg.cell_size, adapted.model_bytes)
        self.adaptation_timing = adapted.timing

    def _features(self) -> FeatureFn:
        if self._feature_fn is None:
            cfg = self.config
            if not cfg.is_cnn:
                self._feature_fn = make_hog_features(cfg.cell_size)
            else:
                self._feature_fn = make_cnn_level_features(cfg.level, cfg.cell_size, cfg.model_path)
        return self._feature_fn

    def _extract(self, frame: np.ndarray, center: tuple[float, float]):
        patch, centre = sample_patch(frame, center, self._region_hw, self._patch_hw)
        feat = np.asarray(self._features()(patch), dtype=np.float32)
        if feat.ndim == 2:
            feat = feat[:, :, None]
        if feat.shape[:2] != self._grid:
            raise TrackerError(f"feature map {feat.shape[:2]} does not match the expected grid {self._grid}")
        feat = feat * self._window[:, :, None]
        return rfft2(feat), float(np.sum(feat * feat)), centre

    def _init(self, frame: np.ndarray, box) -> None:
        cfg = self.config
        if cfg.online_adaptation:
            self._adapt(frame, box)
        x, y, w, h = box
        self._target_hw = (h, w)
        self._pos = (y + (h - 1) / 2.0, x + (w - 1) / 2.0)
        window_hw = (h * (1 + cfg.padding), w * (1 + cfg.padding))
        lo, hi = cfg.sample_area_range
        area = window_hw[0] * window_hw[1]
        self._scale = math.sqrt(area / hi) if area > hi else (math.sqrt(area / lo) if area < lo else 1.0)
        cell = cfg.cell_size
        self._grid = (
            max(3, int(window_hw[0] / self._scale) // cell),
            max(3, int(window_hw[1] / self._scale) // cell),
        )
        self._patch_hw = (self._grid[0] * cell, self._grid[1] * cell)
        self._region_hw = (
            max(1, round(self._patch_hw[0] * self._scale)),
            max(1, round(self._patch_hw[1] * self._scale)),
        )
        self._window = cosine_window(*self._grid)
        sigma = math.sqrt(h * w) / self._scale * cfg.output_sigma_factor / cell
        self._yf = rfft2(gaussian_label(*self._grid, sigma))
        xf, x_sq, _ = self._extract(frame, self._pos)
        kf = gaussian_correlation(xf, x_sq, xf, x_sq, cfg.kernel_sigma, self._grid)
        self._model_alphaf = kcf_train(kf, self._yf, cfg.regularization)
        self._model_xf = xf
        self._model_x_sq = x_sq

    def _update(self, frame: np.ndarray) -> TrackResult:
        cfg = self.config
        zf, z_sq, centre = self._extract(frame, self._pos)
        kzf = gaussian_correlation(self._model_xf, self._model_x_sq, zf, z_sq, cfg.kernel_sigma, self._grid)
        resp_f = kcf_detect(self._model_alphaf, kzf)
        response = irfft2(resp_f, self._grid)
        py, px = np.unravel_index(int(np.argmax(response)), response.shape)
        peak = float(response[py, px])
        if cfg.subpixel:
            fy, fx, peak = refine_peak(resp_f, self._grid, (float(py), float(px)))
        else:
            fy, fx = float(py), float(px)
        dy, dx = wrap_offset(fy, self._grid[0]), wrap_offset(fx, self._grid[1])
        step_y = self._region_hw[0] / self._grid[0]
        step_x = self._region_hw[1] / self._grid[1]
        fh, fw = frame.shape[:2]
        self._pos = (
            min(max(centre[0] + dy * step_y, 0.0), fh - 1.0),
            min(max(centre[1] + dx * step_x, 0.0), fw - 1.0),
        )
        # Model update at the new position (KCF eq. (17) + linear interpolation).
        xf, x_sq, _ = self._extract(frame, self._pos)
        kf = gaussian_correlation(xf, x_sq, xf, x_sq, cfg.kernel_sigma, self._grid)
        alphaf = kcf_train(kf, self._yf, cfg.regularization)
        eta = cfg.learning_rate
        self._model_alphaf = (1 - eta) * self._model_alphaf + eta * alphaf
        self._model_xf = (1 - eta) * self._model_xf + eta * xf
        self._model_x_sq = half_spectrum_energy(self._model_xf, self._grid)
        h, w = self._target_hw
        box = (self._pos[1] - (w - 1) / 2.0, self._pos[0] - (h - 1) / 2.0, w, h)
        return TrackResult(box=tuple(float(v) for v in box), score=peak)



def create_fkcf(feature_fn: FeatureFn | None = None, **params) -> KCFTracker:
    """fKCF: Gaussian KCF on one CF-VGG level (``feature="cnn:low"|"cnn:mid"|"cnn:high"``, default
    ``cnn:mid``); ``feature="hog"`` gives the fHOG KCF. Other keywords: :class:`KCFConfig` fields."""
    return KCFTracker(config_from(params, KCFConfig(), "KCF"), feature_fn=feature_fn)


def create_kcf(feature_fn: FeatureFn | None = None, **params) -> KCFTracker:
    """The original KCF (Gaussian kernel on fHOG, cell 4)."""
    return KCFTracker(config_from(params, KCFConfig(feature="hog"), "KCF"), feature_fn=feature_fn)


__all__ = [
    "KCFConfig",
    "KCFTracker",
    "create_fkcf",
    "create_kcf",
    "gaussian_correlation",
    "gaussian_kernel_correlation",
    "kcf_detect",
    "kcf_train",
]
