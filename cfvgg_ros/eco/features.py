"""Feature-map plumbing of the ECO engine: image patch sampling, the feature blocks (fHOG, colour,
grey, CNN layers), average-pool downsampling, Lp normalisation and cosine windows.

Every block reports its geometry in the patch: ``h x w`` cells with spacing ``stride`` pixels and
cell ``(0, 0)`` centred at ``offset`` (continuous pixel coordinates, patch corner = 0), which the
interpolation operator uses to align blocks of different resolutions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .config import FeatureConfig
from .profiling import StageProfiler


class FeatureError(RuntimeError):
    """A feature extractor that cannot be built or run (missing module or model)."""


def cosine_window(h: int, w: int) -> np.ndarray:
    """Separable Hann window without its zero end points (ECO: ``hann(N + 2)`` cropped), (h, w, 1) float32."""

    def hann(n):
        t = np.arange(1, n + 1, dtype=np.float64)
        return 0.5 - 0.5 * np.cos(2.0 * np.pi * t / (n + 1))

    return (hann(int(h))[:, None] * hann(int(w))[None, :]).astype(np.float32)[:, :, None]


def average_pool(x: np.ndarray, factor: int) -> np.ndarray:
    """Non-overlapping ``factor x factor`` average pooling of (h, w, D) (trailing cells dropped)."""
    f = int(factor)
    if f == 1:
        return x
    h, w, d = x.shape
    h2, w2 = h // f, w // f
    if h2 == 0 or w2 == 0:
        raise ValueError(f"feature map {h}x{w} is smaller than the pooling factor {f}")
    out = np.zeros((h2, w2, d), dtype=np.float32)
    for i in range(f):
        for j in range(f):
            out += x[i : h2 * f : f, j : w2 * f : f]
    out *= np.float32(1.0 / (f * f))
    return out


def normalize_features(
    x: np.ndarray, power: float = 2.0, by_size: bool = True, by_dim: bool = True
) -> np.ndarray:
    """ECO's feature normalisation: ``x * (n^size * D^dim / sum |x|^p)^(1/p)`` with ``n = h w``,
    so that the mean p-th power per cell (and per channel) is one. (h, w, D) float32 in place."""
    h, w, d = x.shape
    total = (
        float(np.sum(np.abs(x, dtype=np.float32) ** power, dtype=np.float64))
        if power != 2
        else float(np.vdot(x, x).real)
    )
    num = (h * w if by_size else 1) * (d if by_dim else 1)
    x *= np.float32((num / (total + 1e-12)) ** (1.0 / power))
    return x


def sample_patch(frame: np.ndarray, center_yx, patch_sz_hw, output_sz_hw):
    """Crop the region of ``patch_sz_hw`` pixels centred at ``center_yx`` (continuous coordinates,
    pixel ``i`` covers ``[i, i+1)``) with replicated borders and resize it to ``output_sz_hw``.

    Returns ``(patch, actual_center_yx, actual_scale_yx)``: the integer crop's true centre and its
    size over the output size (pixels of frame per patch pixel).
    """
    oh, ow = (int(v) for v in output_sz_hw)
    ph = max(int(round(float(patch_sz_hw[0]))), 2)
    pw = max(int(round(float(patch_sz_hw[1]))), 2)
    top = int(math.floor(float(center_yx[0]) - ph / 2.0 + 0.5))
    left = int(math.floor(float(center_yx[1]) - pw / 2.0 + 0.5))
    fh, fw = frame.shape[:2]
    y0, y1 = max(top, 0), min(top + ph, fh)
    x0, x1 = max(left, 0), min(left + pw, fw)
    import cv2

    if y1 <= y0 or x1 <= x0:  # entirely outside: nearest border pixel row/column replicated
        yy = min(max(top, 0), fh - 1)
        xx = min(max(left, 0), fw - 1)
        crop = np.broadcast_to(frame[yy, xx], (ph, pw, frame.shape[2])).copy()
    else:
        crop = frame[y0:y1, x0:x1]
        pad = (y0 - top, top + ph - y1, x0 - left, left + pw - x1)
        if any(pad):
            crop = cv2.copyMakeBorder(
                np.ascontiguousarray(crop), pad[0], pad[1], pad[2], pad[3], cv2.BORDER_REPLICATE
            )
    if (ph, pw) != (oh, ow):
        factor = int(min(ph / oh, pw / ow))
        if factor >= 2:  # integer-factor area averaging (OpenCV's fast path) before the fractional rest
            crop = cv2.resize(
                np.ascontiguousarray(crop), (pw // factor, ph // factor), interpolation=cv2.INTER_AREA
            )
        # the remaining factor is below 2: bilinear interpolation aliases little there
        crop = cv2.resize(np.ascontiguousarray(crop), (ow, oh), interpolation=cv2.INTER_LINEAR)
    center = (top + ph / 2.0, left + pw / 2.0)
    return np.ascontiguousarray(crop), center, (ph / oh, pw / ow)


@dataclass
class BlockGeometry:
    """Cells of one block in a patch: size (h, w), spacing and centre of cell 0 (pixels)."""

    size: tuple[int, int]
    stride: float
    offset: float


class FeatureExtractor:
    """All feature blocks of a tracker: ``extract(patch) -> [(h, w, D) float32]`` in config order,
    normalised as configured (cosine windows are applied by the caller)."""

    def __init__(
        self,
        features,
        normalize_power: float = 2.0,
        normalize_size: bool = True,
        normalize_dim: bool = True,
        profiler: StageProfiler | None = None,
    ):
        self.profiler = profiler if profiler is not None else StageProfiler(False)
        self.configs: tuple[FeatureConfig, ...] = tuple(features)
        self.normalize = (float(normalize_power), bool(normalize_size), bool(normalize_dim))
        self._cnn: dict[str, object] = {}
        self._funcs = {}
        dims = []
        for cfg in self.configs:
            if cfg.kind == "cnn":
                net = self._cnn_for(cfg)
                if cfg.layer not in net.outputs:
                    raise FeatureError(f"the CNN does not provide layer {cfg.layer!r}")
                dims.append(int(net.channels[cfg.layer]))
            elif cfg.kind == "fhog":
                try:
                    from cfvgg_ros.features.fhog import fhog, fhog_num_channels
                except ImportError as exc:
                    raise FeatureError(f"fHOG features unavailable: {exc}") from exc
                self._funcs["fhog"] = fhog
                dims.append(int(fhog_num_channels()))
            elif cfg.kind == "colour":
                try:
                    from cfvgg_ros.features.colour import colour_features
                except ImportError as exc:
                    raise FeatureError(f"colour features unavailable: {exc}") from exc
                self._funcs["colour"] = colour_features
                probe = colour_features(
                    np.zeros((4 * cfg.cell_size, 4 * cfg.cell_size, 3), np.uint8), cell_size=cfg.cell_size
                )
                dims.append(int(probe.shape[2]))
            else:  # grey
                dims.append(1)
        self.dims = dims
        for cfg, d in zip(self.configs, dims, strict=True):
            if cfg.compressed_dim > d:
                raise ValueError(f"{cfg.name}: compressed_dim {cfg.compressed_dim} exceeds its {d} channels")

    def _cnn_for(self, cfg: FeatureConfig):
        key = str(cfg.model_path) if cfg.model_path else ""
        if key not in self._cnn:
            try:
                from cfvgg_ros.features.cnn import CNNFeatures
            except ImportError as exc:
                raise FeatureError(f"CNN features unavailable: {exc}") from exc
            layers = tuple(
                dict.fromkeys(
                    c.layer
                    for c in self.configs
                    if c.kind == "cnn" and (str(c.model_path) if c.model_path else "") == key
                )
            )
            try:
                self._cnn[key] = CNNFeatures(cfg.model_path, outputs=layers)
            except (OSError, RuntimeError, ValueError) as exc:  # ModelError is a RuntimeError
                raise FeatureError(
                    f"cannot load the CNN feature model ({cfg.model_path or 'default'}): {exc}"
                ) from exc
        return self._cnn[key]

    @property
    def has_cnn(self) -> bool:
        return bool(self._cnn)

    def min_sample_size(self) -> int:
        """Smallest patch side every block accepts."""
        sizes = [8]
        for cfg in self.configs:
            if cfg.kind == "cnn":
                sizes.append(int(self._cnn_for(cfg).min_input_size) + 16 * cfg.downsample)
            else:
                sizes.append(3 * cfg.cell_size * cfg.downsample)
        return max(sizes)

    def geometry(self, sample_sz_hw) -> list[BlockGeometry]:
        """Geometry of every block for a patch of ``sample_sz_hw`` pixels."""
        h, w = (int(v) for v in sample_sz_hw)
        out = []
        for cfg in self.configs:
            if cfg.kind == "cnn":
                net = self._cnn_for(cfg)
                fh, fw = net.output_size((h, w))[cfg.layer]
                stride = float(net.strides[cfg.layer])
                offset = float(net.offsets[cfg.layer]) + 0.5
            else:
                fh, fw = h // cfg.cell_size, w // cfg.cell_size
                stride = float(cfg.cell_size)
                offset = stride / 2.0
            f = cfg.downsample
            if f > 1:
                fh, fw = fh // f, fw // f
                offset += stride * (f - 1) / 2.0
                stride *= f
            out.append(BlockGeometry(size=(int(fh), int(fw)), stride=stride, offset=offset))
        return out

    def choose_sample_size(self, desired_hw) -> tuple[int, int]:
        """Patch size near ``desired_hw`` whose feature maps have as many odd sides as possible
        (ECO's ``'odd_cells'`` size mode); ties go to the closest size."""
        cells = [c.cell_size * c.downsample for c in self.configs if c.kind != "cnn"]
        step = max(cells) if cells else 1  # ECO: multiples of the largest hand-crafted cell
        reach = max(max(cells, default=1), *(16 * c.downsample for c in self.configs if c.kind == "cnn"), 1)
        minimum = self.min_sample_size()
        best = []
        for axis in range(2):
            d = float(desired_hw[axis])
            lo = max(minimum, int(math.floor((d - reach) / step)) * step)
            cands = [
                s
                for s in range(max(lo, step), int(math.ceil((d + reach) / step)) * step + 1, step)
                if s >= minimum
            ]
            if not cands:
                cands = [int(math.ceil(max(minimum, d) / step)) * step]
            scored = []
            for s in cands:
                geo = self.geometry((s, s))
                odd = sum(g.size[axis] % 2 for g in geo)
                scored.append((-odd, abs(s - d), s))
            best.append(min(scored)[2])
        return best[0], best[1]

    def extract(self, patch: np.ndarray) -> list[np.ndarray]:
        """Feature maps (h, w, D) float32 of an RGB uint8 ``patch``, one per block, normalised."""
        return self.extract_many([patch])[0]

    def extract_many(self, patches) -> list[list[np.ndarray]]:
        """:meth:`extract` for several same-sized patches. The CNN runs patch by patch: on one
        core onnxruntime gains nothing from a batch, and a batch's large ``low`` maps fall out of
        cache (5 scales of a 252-pixel patch: ~6.5 ms one by one, ~8.8 ms batched)."""
        out = []
        for patch in patches:
            cnn_maps = {}
            if self._cnn:
                with self.profiler.stage("cnn"):
                    for key, net in self._cnn.items():
                        cnn_maps[key] = net(patch)
            out.append(self._assemble(patch, cnn_maps))
        return out

    def _assemble(self, patch: np.ndarray, cnn_maps) -> list[np.ndarray]:
        out = []
        power, by_size, by_dim = self.normalize
        grey = None
        for cfg in self.configs:
            with self.profiler.stage("cnn" if cfg.kind == "cnn" else "hog_colour"):
                if cfg.kind == "cnn":
                    x = cnn_maps[str(cfg.model_path) if cfg.model_path else ""][cfg.layer]
                elif cfg.kind == "fhog":
                    x = self._funcs["fhog"](patch, cell_size=cfg.cell_size)
                elif cfg.kind == "colour":
                    x = self._funcs["colour"](patch, cell_size=cfg.cell_size)
                else:
                    if grey is None:
                        grey = patch.astype(np.float32).mean(axis=2) / 255.0 - 0.5
                    c = cfg.cell_size
                    h, w = grey.shape[0] // c, grey.shape[1] // c
                    x = grey[: h * c, : w * c].reshape(h, c, w, c).mean(axis=(1, 3))[:, :, None]
                x = np.array(average_pool(np.asarray(x, dtype=np.float32), cfg.downsample), dtype=np.float32)
                out.append(normalize_features(x, power, by_size, by_dim))
        return out
