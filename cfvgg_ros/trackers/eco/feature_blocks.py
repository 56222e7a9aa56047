"""Feature-map plumbing of the ECO engine: image patch sampling, the feature blocks (fHOG, colour,
grey, CNN layers), average-pool downsampling, Lp normalisation and cosine windows.

As in ECO's ``init_features`` / ``get_cnn_layers``, a patch of ``sample_size`` pixels is fed to
the CNN, and the filter's support (the Fourier period) is the extent of the deepest CNN layer,
centred in the patch: every CNN map is cropped to the ``support / stride`` cells at its centre and
the hand-crafted blocks are computed on the central ``support``-sized crop of the patch, so that
all blocks tile the same region (:class:`SampleLayout`). Every block reports its geometry in that
support: ``h x w`` cells with spacing ``stride`` pixels and cell ``(0, 0)`` centred at ``offset``
(continuous pixel coordinates, support corner = 0); the interpolation operator uses it to align
the blocks, including the CNN's receptive-field offsets, which ECO ignores.
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
        crop = frame[y0:y1, x0:x1]  # a view: OpenCV reads it in place (a copy of a large region costs)
        pad = (y0 - top, top + ph - y1, x0 - left, left + pw - x1)
        if any(pad):
            crop = cv2.copyMakeBorder(crop, pad[0], pad[1], pad[2], pad[3], cv2.BORDER_REPLICATE)
    if (ph, pw) != (oh, ow):
        factor = int(min(ph / oh, pw / ow))
        if factor >= 2:  # integer-factor area averaging (OpenCV's fast path) before the fractional rest
            crop = cv2.resize(crop, (pw // factor, ph // factor), interpolation=cv2.INTER_AREA)
        # the remaining factor is below 2: bilinear interpolation aliases little there
        crop = cv2.resize(crop, (ow, oh), interpolation=cv2.INTER_LINEAR)
    center = (top + ph / 2.0, left + pw / 2.0)
    return np.ascontiguousarray(crop), center, (ph / oh, pw / ow)


@dataclass
class BlockGeometry:
    """Cells of one block in the support region: size (h, w), spacing and centre of cell 0
    (continuous pixels, support corner = 0) per axis in ``offset_yx``."""

    size: tuple[int, int]
    stride: float
    offset_yx: tuple[float, float]

    @property
    def offset(self) -> float:
        """The centre of cell 0 where it is the same on both axes."""
        if abs(self.offset_yx[0] - self.offset_yx[1]) > 1e-9:
            raise ValueError(f"cell offsets differ between the axes: {self.offset_yx}")
        return float(self.offset_yx[0])


@dataclass(frozen=True)
class SampleLayout:
    """How a ``sample_size`` patch maps onto the filter's support (ECO ``init_features``).

    With a CNN, the support is ``stride x cells`` of the deepest layer (the Fourier period
    ``img_support_sz``), centred in the patch; every CNN map is cropped to its centre
    ``support / stride`` cells (``crops`` index the map) and the hand-crafted blocks are computed
    on the central ``support``-sized crop of the patch (``crops`` index the patch). Without a CNN
    the support is the patch. ``crops`` are ``(y0, x0, h, w)`` per block, ``blocks`` the
    geometries in support coordinates.
    """

    sample_size: tuple[int, int]
    support_size: tuple[int, int]
    crops: tuple[tuple[int, int, int, int], ...]
    blocks: tuple[BlockGeometry, ...]


def _matlab_round(x: float) -> int:
    """Round half away from zero (MATLAB's ``round``, used by ECO's size rules)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


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
        self._sources: dict[str, object] = {}
        self._layouts: dict[tuple[int, int], SampleLayout] = {}
        self._funcs = {}
        dims = []
        for cfg in self.configs:
            if cfg.kind == "cnn":
                net = self._cnn_for(cfg)
                if cfg.layer not in net.outputs:
                    raise FeatureError(f"the CNN does not provide layer {cfg.layer!r}")
                dims.append(int(net.channels[cfg.layer]))
            elif cfg.kind == "hog":
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

    @staticmethod
    def _cnn_key(cfg: FeatureConfig) -> str:
        """The network a CNN feature reads: its model path, "" for the default model."""
        return str(cfg.model_path) if cfg.model_path else ""

    def _cnn_for(self, cfg: FeatureConfig):
        key = self._cnn_key(cfg)
        if key not in self._cnn:
            try:
                from cfvgg_ros.features.cnn import CNNFeatures
            except ImportError as exc:
                raise FeatureError(f"CNN features unavailable: {exc}") from exc
            layers = tuple(
                dict.fromkeys(
                    c.layer
                    for c in self.configs
                    if c.kind == "cnn" and self._cnn_key(c) == key
                )
            )
            try:
                self._cnn[key] = CNNFeatures(cfg.model_path, outputs=layers)
            except (OSError, RuntimeError, ValueError) as exc:  # ModelError is a RuntimeError
                raise FeatureError(
                    f"cannot load the CNN feature model ({cfg.model_path or 'default'}): {exc}"
                ) from exc
        return self._cnn[key]

    def cnn_sources(self) -> dict[str, object]:
        """The model each CNN was built from (path or bytes), keyed like the loaded networks."""
        return {key: self._sources.get(key, net.model_path) for key, net in self._cnn.items()}

    def set_cnn_model(self, key: str, model) -> None:
        """Replace the network ``key`` (see :meth:`cnn_sources`) by ``model`` (path or serialized
        ONNX bytes, e.g. an adapted student) with the same outputs; the original source is kept."""
        if key not in self._cnn:
            raise KeyError(f"no CNN {key!r}; loaded: {sorted(self._cnn)}")
        from cfvgg_ros.features.cnn import CNNFeatures

        old = self._cnn[key]
        self._sources.setdefault(key, old.model_path)
        try:
            net = CNNFeatures(model, outputs=old.outputs)
        except (OSError, RuntimeError, ValueError) as exc:
            raise FeatureError(f"cannot load the replacement CNN model: {exc}") from exc
        if net.strides != old.strides or net.channels != old.channels or net.offsets != old.offsets:
            raise FeatureError("the replacement CNN model has a different geometry or channel count")
        self._cnn[key] = net

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

    def _deepest_cnn(self) -> FeatureConfig | None:
        """The CNN block with the largest network stride (ECO's last output layer)."""
        cnn = [c for c in self.configs if c.kind == "cnn"]
        if not cnn:
            return None
        return max(cnn, key=lambda c: (self._cnn_for(c).strides[c.layer], c.downsample))

    def layout(self, sample_sz_hw) -> SampleLayout:
        """The :class:`SampleLayout` of a ``sample_sz_hw`` patch (cached per size)."""
        h, w = (int(v) for v in sample_sz_hw)
        if h <= 0 or w <= 0:
            raise ValueError(f"sample size must be positive, got {tuple(sample_sz_hw)}")
        if (h, w) not in self._layouts:
            self._layouts[(h, w)] = self._compute_layout((h, w))
        return self._layouts[(h, w)]

    def _compute_layout(self, sample_hw) -> SampleLayout:
        deepest = self._deepest_cnn()
        support = list(sample_hw)
        if deepest is not None:
            net = self._cnn_for(deepest)
            top_stride = int(net.strides[deepest.layer])
            cnn_sizes = {
                id(c): self._cnn_for(c).output_size(sample_hw)[c.layer] for c in self.configs if c.kind == "cnn"
            }
            top = cnn_sizes[id(deepest)]
            for axis in range(2):
                n = int(top[axis])
                # ECO: drop an even number of deepest cells when they cover more than the sample
                shrink = max(2 * math.ceil((top_stride * n - sample_hw[axis]) / (2 * top_stride)), 0)
                cells = n - shrink

                def fits(k, axis=axis):
                    return all(
                        _matlab_round(top_stride * k / self._cnn_for(c).strides[c.layer])
                        <= cnn_sizes[id(c)][axis]
                        for c in self.configs
                        if c.kind == "cnn"
                    )

                while cells > 1 and not fits(cells):
                    cells -= 2
                if cells < 1 or not fits(cells):
                    raise ValueError(f"a {tuple(sample_hw)} sample gives no {deepest.layer} cells")
                support[axis] = top_stride * cells
        crops, blocks = [], []
        for cfg in self.configs:
            crop, offset, stride, size = [], [], None, []
            for axis in range(2):
                if cfg.kind == "cnn":
                    net = self._cnn_for(cfg)
                    stride = float(net.strides[cfg.layer])
                    total = int(net.output_size(sample_hw)[cfg.layer][axis])
                    out = _matlab_round(support[axis] / stride) if deepest is not None else total
                    start = (total - out) // 2
                    # centre of cell `start` (pixel centres + 0.5 = continuous), in support coordinates
                    off = float(net.offsets[cfg.layer]) + 0.5 + stride * start
                else:
                    stride = float(cfg.cell_size)
                    start = (sample_hw[axis] - support[axis]) // 2  # crop of the patch
                    out = support[axis]
                    off = start + stride / 2.0
                    total = out // cfg.cell_size
                off -= (sample_hw[axis] - support[axis]) / 2.0
                cells = out if cfg.kind == "cnn" else total
                f = cfg.downsample
                if f > 1:
                    cells //= f
                    off += stride * (f - 1) / 2.0
                crop.append((start, out))
                offset.append(off)
                size.append(int(cells))
            crops.append((crop[0][0], crop[1][0], crop[0][1], crop[1][1]))
            blocks.append(
                BlockGeometry(
                    size=(size[0], size[1]), stride=stride * cfg.downsample, offset_yx=(offset[0], offset[1])
                )
            )
        return SampleLayout(
            sample_size=(int(sample_hw[0]), int(sample_hw[1])),
            support_size=(int(support[0]), int(support[1])),
            crops=tuple(crops),
            blocks=tuple(blocks),
        )

    def geometry(self, sample_sz_hw) -> list[BlockGeometry]:
        """Geometry of every block for a patch of ``sample_sz_hw`` pixels (support coordinates)."""
        return list(self.layout(sample_sz_hw).blocks)

    def choose_sample_size(self, desired_hw) -> tuple[int, int]:
        """ECO's ``'odd_cells'`` sample size near ``desired_hw``.

        With a CNN (``input_size_mode = 'adaptive'``): grow the patch pixel by pixel until the
        deepest layer has the next odd cell count above the one of ``desired_hw``. Without: the odd
        multiple of the largest cell size nearest ``desired_hw``, plus the 0 .. cell-1 pixels giving
        the most odd feature-map sides over all blocks.
        """
        minimum = self.min_sample_size()
        deepest = self._deepest_cnn()
        out = []
        if deepest is not None:
            net = self._cnn_for(deepest)
            for axis in range(2):
                size = max(_matlab_round(float(desired_hw[axis])), minimum)
                orig = net.output_size((size, size))[deepest.layer][0] / deepest.downsample
                target = orig + 1 + orig % 2
                while net.output_size((size, size))[deepest.layer][0] < target:
                    size += 1
                out.append(size)
            return out[0], out[1]
        cells = [c.cell_size * c.downsample for c in self.configs]
        step = max(cells)
        base = [
            (1 + 2 * _matlab_round(float(d) / (2 * step))) * step for d in (desired_hw[0], desired_hw[1])
        ]
        best_odd, best_p = -1, 0
        for p in range(step):
            odd = sum(((b + p) // c) % 2 for b in base for c in cells)
            if odd > best_odd:
                best_odd, best_p = odd, p
        out = [max(b + best_p, minimum) for b in base]
        return out[0], out[1]

    def extract(self, patch: np.ndarray) -> list[np.ndarray]:
        """Feature maps (h, w, D) float32 of an RGB uint8 ``patch``, one per block, normalised."""
        return self.extract_many([patch])[0]

    @property
    def hand_crafted_blocks(self) -> list[int]:
        """Indices of the blocks that are not CNN maps (fHOG, colour, grey)."""
        return [i for i, cfg in enumerate(self.configs) if cfg.kind != "cnn"]

    def extract_many(self, patches, hand_crafted_only: bool = False) -> list[list[np.ndarray]]:
        """:meth:`extract` for several same-sized patches. The CNN runs patch by patch: on one
        core onnxruntime gains nothing from a batch, and a batch's large ``low`` maps fall out of
        cache (5 scales of a 252-pixel patch: ~6.5 ms one by one, ~8.8 ms batched).
        ``hand_crafted_only``: the CNN does not run and its blocks are ``None``."""
        out = []
        for patch in patches:
            cnn_maps = {}
            if self._cnn and not hand_crafted_only:
                with self.profiler.stage("cnn"):
                    for key, net in self._cnn.items():
                        cnn_maps[key] = net(patch)
            out.append(self._assemble(patch, cnn_maps, self.layout(patch.shape[:2]), hand_crafted_only))
        return out

    def _assemble(self, patch: np.ndarray, cnn_maps, layout: SampleLayout,
                  hand_crafted_only: bool = False) -> list[np.ndarray | None]:
        out = []
        grey = None
        support_patch = None
        for cfg, (y0, x0, ch, cw) in zip(self.configs, layout.crops, strict=True):
            if cfg.kind == "cnn" and hand_crafted_only:
                out.append(None)
                continue
            with self.profiler.stage("cnn" if cfg.kind == "cnn" else "hog_colour"):
                if cfg.kind == "cnn":
                    x = cnn_maps[self._cnn_key(cfg)][cfg.layer][
                        y0 : y0 + ch, x0 : x0 + cw
                    ]
                    out.append(self._finish(x, cfg))
                    continue
                if support_patch is None:
                    full = (ch, cw) == tuple(patch.shape[:2])
                    support_patch = patch if full else np.ascontiguousarray(patch[y0 : y0 + ch, x0 : x0 + cw])
                patch_c = support_patch
                if cfg.kind == "hog":
                    x = self._funcs["fhog"](patch_c, cell_size=cfg.cell_size)
                elif cfg.kind == "colour":
                    x = self._funcs["colour"](patch_c, cell_size=cfg.cell_size)
                else:
                    if grey is None:
                        grey = patch_c.astype(np.float32).mean(axis=2) / 255.0 - 0.5
                    c = cfg.cell_size
                    h, w = grey.shape[0] // c, grey.shape[1] // c
                    x = grey[: h * c, : w * c].reshape(h, c, w, c).mean(axis=(1, 3))[:, :, None]
                out.append(self._finish(x, cfg))
        return out

    def _finish(self, x: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
        """Average-pool by ``cfg.downsample`` and normalise (ECO ``extract_features``)."""
        power, by_size, by_dim = self.normalize
        x = np.array(average_pool(np.asarray(x, dtype=np.float32), cfg.downsample), dtype=np.float32)
        return normalize_features(x, power, by_size, by_dim)


def rotation(angle: float) -> np.ndarray:
    """2x2 matrix taking patch axes ``(dy, dx)`` to image axes for a patch rotated by ``angle``
    radians (counter-clockwise on the screen, y down)."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def _block_start(corner: float, want: float, size: int, factor: int) -> int:
    """First row (column) of the area-averaging blocks: on the grid of ``corner`` (rounded),
    at or before ``want``, inside ``[0, size - factor]`` (on the grid while that allows)."""
    grid = int(round(corner))
    start = grid - int(math.ceil((grid - want) / factor)) * factor
    if start < 0:
        start += int(math.ceil(-start / factor)) * factor
    return min(start, size - factor)


def sample_warped_patch(frame: np.ndarray, center_yx, patch_sz_hw, output_sz_hw, angle: float = 0.0):
    """The region of ``patch_sz_hw`` pixels centred at ``center_yx`` (continuous coordinates, as
    :func:`sample_patch`), turned by ``angle`` radians about its centre: the patch's axes are the
    image axes rotated by ``angle`` (:func:`rotation`), so a target turned by the same angle appears
    upright in it. A reduction by a whole factor >= 2 area-averages first (OpenCV's fast path: the
    region's axis-aligned bounding box, its part inside the frame, cut to a multiple of the factor);
    one bilinear warp then turns, scales by the remaining factor (below 2) and crops, borders
    replicated. Unlike :func:`sample_patch` the region is not rounded to whole pixels.

    Returns ``(patch, center_yx, scale_yx)`` with the centre exactly ``center_yx``."""
    import cv2

    oh, ow = (int(v) for v in output_sz_hw)
    ph, pw = max(float(patch_sz_hw[0]), 2.0), max(float(patch_sz_hw[1]), 2.0)
    sy, sx = ph / oh, pw / ow
    rot = rotation(angle)
    cy, cx = float(center_yx[0]) - 0.5, float(center_yx[1]) - 0.5  # pixel-centre coordinates
    fh, fw = frame.shape[:2]
    source, origin, factor = frame, (0.0, 0.0), max(1, min(int(min(sy, sx)), fh, fw))
    if factor >= 2:
        half_y = (abs(rot[0, 0]) * ph + abs(rot[0, 1]) * pw) / 2.0 + factor  # + the interpolation's reach
        half_x = (abs(rot[1, 0]) * ph + abs(rot[1, 1]) * pw) / 2.0 + factor
        # blocks on the grid of the region's own corner: an unturned region on whole pixels whose
        # size is a whole multiple of the output's is then area-averaged only, as the crop sampler does
        y0 = _block_start(cy + 0.5 - ph / 2.0, cy - half_y, fh, factor)
        x0 = _block_start(cx + 0.5 - pw / 2.0, cx - half_x, fw, factor)
        y1 = min(max(int(math.ceil(cy + half_y)) + 1, y0 + factor), fh)
        x1 = min(max(int(math.ceil(cx + half_x)) + 1, x0 + factor), fw)
        rows, cols = (y1 - y0) // factor, (x1 - x0) // factor
        region = frame[y0 : y0 + rows * factor, x0 : x0 + cols * factor]
        source = cv2.resize(region, (cols, rows), interpolation=cv2.INTER_AREA)
        origin = (y0 + (factor - 1) / 2.0, x0 + (factor - 1) / 2.0)  # reduced pixel 0's centre in the frame
    # output pixel (r, c) samples the frame at (cy, cx) + rot @ ((r - (oh-1)/2) sy, (c - (ow-1)/2) sx),
    # in the source's pixel-centre coordinates (x, y) <- (c, r)
    a = np.array([[rot[1, 1] * sx, rot[1, 0] * sy], [rot[0, 1] * sx, rot[0, 0] * sy]]) / factor
    t = np.array([cx - origin[1], cy - origin[0]]) / factor - a @ np.array([(ow - 1) / 2.0, (oh - 1) / 2.0])
    warp = np.hstack([a, t[:, None]])
    patch = cv2.warpAffine(source, warp, (ow, oh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(patch), (float(center_yx[0]), float(center_yx[1])), (sy, sx)
