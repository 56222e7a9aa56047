"""MatConvNet SimpleNN networks: read ``.mat`` files and run an independent numpy forward pass.

A SimpleNN ``.mat`` holds ``net.layers`` (a cell array of structs with a ``type`` field) and
the input normalisation in ``net.meta.normalization`` (or, in older files,
``net.normalization``). The layer types used by VGG-M style networks are supported with
MatConvNet's exact semantics (``vl_nnconv``, ``vl_nnrelu``, ``vl_nnnormalize``,
``vl_nnpool``); arrays keep MATLAB's index order, i.e. images are H x W x C (row = y) and
conv filters are H x W x Cin x Cout.

The numpy forward pass (:func:`forward`) is written in float64 with plain sliding windows
and ``einsum`` so that it serves as an independent reference for the ONNX conversion in
:mod:`cfvgg_ros.models.contract`.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .contract import ModelError

__all__ = [
    "ConvLayer",
    "LRNLayer",
    "PoolLayer",
    "ReLULayer",
    "SimpleNN",
    "UnsupportedLayer",
    "default_taps",
    "forward",
    "load_simplenn",
]


@dataclass(frozen=True)
class ConvLayer:
    """``vl_nnconv``: y(i,j,d) = b(d) + sum_{u,v,c} f(u,v,c,d) x(S_y i + D_y u - P_t, S_x j + D_x v - P_l, c).

    ``weights`` is (kh, kw, cin_per_group, cout); inputs with ``groups * cin_per_group``
    channels are split into ``groups`` filter groups, as MatConvNet does.
    """

    name: str
    weights: np.ndarray
    bias: np.ndarray
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]  # top, bottom, left, right
    dilate: tuple[int, int] = (1, 1)

    @property
    def kernel(self) -> tuple[int, int]:
        return int(self.weights.shape[0]), int(self.weights.shape[1])

    @property
    def out_channels(self) -> int:
        return int(self.weights.shape[3])


@dataclass(frozen=True)
class ReLULayer:
    """``vl_nnrelu``: y = max(x, 0) + leak * min(x, 0)."""

    name: str
    leak: float = 0.0


@dataclass(frozen=True)
class LRNLayer:
    """``vl_nnnormalize`` with PARAM = [N kappa alpha beta] (Krizhevsky et al. 2012, Eq. 3):

    y(i,j,k) = x(i,j,k) / (kappa + alpha * sum_{q in G(k)} x(i,j,q)^2)^beta,
    G(k) = [k - floor((N-1)/2), k + ceil((N-1)/2)] clipped to the valid channels.
    Note that alpha is *not* divided by N (unlike Caffe and ONNX LRN).
    """

    name: str
    size: int
    kappa: float
    alpha: float
    beta: float


@dataclass(frozen=True)
class PoolLayer:
    """``vl_nnpool``: max or average over a (ph, pw) window; padding never contributes (max
    pads with -inf, average divides by the number of in-image samples). Output size is
    floor((H + P_t + P_b - ph) / S_y) + 1."""

    name: str
    method: str  # "max" or "avg"
    pool: tuple[int, int]
    stride: tuple[int, int]
    pad: tuple[int, int, int, int]


@dataclass(frozen=True)
class UnsupportedLayer:
    """A layer type this importer does not translate (e.g. ``softmax``); fine after the last tap."""

    name: str
    type: str


Layer = ConvLayer | ReLULayer | LRNLayer | PoolLayer | UnsupportedLayer


@dataclass
class SimpleNN:
    """A parsed SimpleNN network: its layers, per-channel RGB mean and provenance."""

    layers: list[Layer]
    mean_rgb: np.ndarray  # (3,) float64, subtracted from the 0-255 RGB input
    source: str = ""
    sha1: str = ""
    mean_description: str = ""
    meta: dict = field(default_factory=dict)

    def index(self, name: str) -> int:
        """Position of the layer called ``name``."""
        for i, layer in enumerate(self.layers):
            if layer.name == name:
                return i
        raise ModelError(f"no layer named {name!r}; layers: {[layer.name for layer in self.layers]}")


# ----------------------------------------------------------------------------- .mat reading


def _unwrap(value):
    """Strip the 1x1 object/cell wrappers scipy.io.loadmat puts around MATLAB values."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _field(struct, name: str):
    """Field ``name`` of a loadmat struct (record) or None when absent/empty."""
    struct = _unwrap(struct)
    if isinstance(struct, np.ndarray) and struct.dtype.names is not None:
        if struct.size != 1:
            raise ModelError(f"expected a single struct, got a struct array of shape {struct.shape}")
        struct = struct.flat[0]
    names = getattr(getattr(struct, "dtype", None), "names", None)
    if not names or name not in names:
        return None
    value = _unwrap(struct[name])
    if isinstance(value, np.ndarray) and value.size == 0:
        return None
    return value


def _string(value, what: str) -> str:
    value = _unwrap(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return "".join(value.ravel().tolist())
    if isinstance(value, str):
        return value
    raise ModelError(f"{what} must be a string, got {value!r}")


def _ints(value, count: int, what: str, default=None) -> tuple[int, ...]:
    """MatConvNet scalar-or-vector option: a scalar is repeated ``count`` times."""
    if value is None:
        if default is None:
            raise ModelError(f"{what} is missing")
        return tuple(default)
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size == 1:
        arr = np.repeat(arr, count)
    if arr.size != count or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
        raise ModelError(f"{what} must be 1 or {count} integers, got {np.asarray(value).ravel().tolist()}")
    return tuple(int(v) for v in arr)


def _conv_weights(layer, name: str):
    weights = _field(layer, "weights")
    if weights is not None:
        cells = (
            [_unwrap(w) for w in np.asarray(weights, dtype=object).ravel()]
            if (isinstance(weights, np.ndarray) and weights.dtype == object)
            else [weights]
        )
        filters = cells[0]
        bias = cells[1] if len(cells) > 1 else None
    else:  # MatConvNet beta releases: separate 'filters' and 'biases' fields
        filters, bias = _field(layer, "filters"), _field(layer, "biases")
    if filters is None or not isinstance(filters, np.ndarray) or filters.dtype.kind not in "fiu":
        raise ModelError(f"conv layer {name!r} has no numeric filters")
    filters = np.asarray(filters, dtype=np.float32)
    if filters.ndim > 4:
        raise ModelError(f"conv layer {name!r}: filters must be HxWxCinxCout, got shape {filters.shape}")
    filters = filters.reshape(filters.shape + (1,) * (4 - filters.ndim))  # MATLAB drops trailing 1s
    cout = filters.shape[3]
    if bias is None or (isinstance(bias, np.ndarray) and bias.size == 0):
        bias = np.zeros(cout, np.float32)
    bias = np.asarray(bias, dtype=np.float32).ravel()
    if bias.size != cout:
        raise ModelError(f"conv layer {name!r}: {bias.size} biases for {cout} filters")
    return filters, bias


def _parse_layer(layer, index: int) -> Layer:
    kind_value = _field(layer, "type")
    if kind_value is None:
        raise ModelError(f"layer {index + 1} has no 'type' field")
    kind = _string(kind_value, f"layer {index + 1} type")
    name_value = _field(layer, "name")
    name = _string(name_value, f"layer {index + 1} name") if name_value is not None else f"layer{index + 1}"
    kind = kind.lower()
    if kind == "conv":
        filters, bias = _conv_weights(layer, name)
        return ConvLayer(
            name=name,
            weights=filters,
            bias=bias,
            stride=_ints(_field(layer, "stride"), 2, f"{name}.stride", (1, 1)),
            pad=_ints(_field(layer, "pad"), 4, f"{name}.pad", (0, 0, 0, 0)),
            dilate=_ints(_field(layer, "dilate"), 2, f"{name}.dilate", (1, 1)),
        )
    if kind == "relu":
        leak = _field(layer, "leak")
        return ReLULayer(name=name, leak=float(np.asarray(leak).ravel()[0]) if leak is not None else 0.0)
    if kind in ("lrn", "normalize"):
        param = _field(layer, "param")
        if param is None or np.asarray(param).size != 4:
            raise ModelError(f"LRN layer {name!r} needs param = [N kappa alpha beta]")
        n, kappa, alpha, beta = (float(v) for v in np.asarray(param, dtype=np.float64).ravel())
        if n < 1 or n != round(n):
            raise ModelError(f"LRN layer {name!r}: window size N={n} must be a positive integer")
        return LRNLayer(name=name, size=int(n), kappa=kappa, alpha=alpha, beta=beta)
    if kind == "pool":
        method_value = _field(layer, "method")
        method = _string(method_value, f"{name}.method").lower() if method_value is not None else "max"
        if method not in ("max", "avg"):
            raise ModelError(f"pool layer {name!r}: unknown method {method!r} (expected 'max' or 'avg')")
        return PoolLayer(
            name=name,
            method=method,
            pool=_ints(_field(layer, "pool"), 2, f"{name}.pool"),
            stride=_ints(_field(layer, "stride"), 2, f"{name}.stride", (1, 1)),
            pad=_ints(_field(layer, "pad"), 4, f"{name}.pad", (0, 0, 0, 0)),
        )
    return UnsupportedLayer(name=name, type=kind)


def _mean_rgb(net) -> tuple[np.ndarray, str]:
    """Per-channel mean from ``meta.normalization.averageImage`` (or ``normalization``)."""
    meta = _field(net, "meta")
    normalization = _field(meta, "normalization") if meta is not None else None
    if normalization is None:
        normalization = _field(net, "normalization")
    average = _field(normalization, "averageImage") if normalization is not None else None
    if average is None:
        return np.zeros(3), "no averageImage in the .mat: no mean subtracted"
    average = np.asarray(average, dtype=np.float64)
    if average.size == 3:
        return average.ravel(), "net.meta.normalization.averageImage (per-channel mean)"
    if average.ndim == 3 and average.shape[2] == 3:
        return average.reshape(-1, 3).mean(axis=0), (
            f"per-channel mean of the {average.shape[0]}x{average.shape[1]}x3 averageImage"
        )
    raise ModelError(f"averageImage must be 1x1x3 or HxWx3, got shape {average.shape}")


def load_simplenn(path) -> SimpleNN:
    """Read a MatConvNet SimpleNN ``.mat`` (top-level variable ``net`` or the fields of
    ``net`` saved with ``save(file, '-struct', 'net')``). Raises :class:`ModelError` for a
    missing, unreadable or malformed file."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"MatConvNet model not found: {path}")
    try:
        data = path.read_bytes()
        mat = scipy.io.loadmat(path, struct_as_record=True, squeeze_me=False)
    except NotImplementedError as exc:  # v7.3 (HDF5) files
        raise ModelError(
            f"{path}: MATLAB v7.3 files are not supported; re-save with save(..., '-v7')"
        ) from exc
    except (ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, MemoryError) as exc:
        raise ModelError(f"{path} is not a readable MATLAB .mat file: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - scipy raises assorted errors on corrupt streams
        raise ModelError(f"{path} is not a readable MATLAB .mat file: {type(exc).__name__}: {exc}") from exc
    net = mat.get("net")
    if net is None and "layers" in mat:
        net = {"layers": mat["layers"], "meta": mat.get("meta"), "normalization": mat.get("normalization")}
        net = _dict_struct(net)
    if net is None:
        raise ModelError(
            f"{path}: no 'net' (or 'layers') variable; found {sorted(k for k in mat if k[0] != '_')}"
        )
    layers_cell = _field(net, "layers")
    if layers_cell is None:
        raise ModelError(f"{path}: net has no 'layers' field (DagNN files must be converted to SimpleNN)")
    cells = (
        np.asarray(layers_cell, dtype=object).ravel()
        if (isinstance(layers_cell, np.ndarray) and layers_cell.dtype == object)
        else [layers_cell]
    )
    layers = [_parse_layer(cell, i) for i, cell in enumerate(cells)]
    mean, description = _mean_rgb(net)
    return SimpleNN(
        layers=layers,
        mean_rgb=mean,
        source=path.name,
        sha1=hashlib.sha1(data).hexdigest(),
        mean_description=description,
    )


def _dict_struct(fields: dict):
    """A loadmat-like record for variables saved with ``-struct``."""
    names = [k for k, v in fields.items() if v is not None]
    record = np.empty((1, 1), dtype=[(k, object) for k in names])
    for k in names:
        record[0, 0][k] = fields[k]
    return record


# ----------------------------------------------------------------------------- taps


TAP_RULE = (
    "low = output of the 1st LRN layer, mid = output of the 2nd LRN layer, high = output of the "
    "ReLU right after the 5th conv layer (or of the 5th conv when no ReLU follows it)"
)


def default_taps(net: SimpleNN) -> dict[str, str]:
    """Layer names feeding the contract outputs, located by type order (see :data:`TAP_RULE`).

    For VGG-M (``imagenet-vgg-m*.mat``) this is norm1 / norm2 / relu5, for the paper's
    CF_VGGM student likewise; the fully connected layers after relu5 are dropped.
    """
    lrn = [layer.name for layer in net.layers if isinstance(layer, LRNLayer)]
    conv_idx = [i for i, layer in enumerate(net.layers) if isinstance(layer, ConvLayer)]
    if len(lrn) < 2 or len(conv_idx) < 5:
        raise ModelError(
            f"cannot locate the taps by type order ({TAP_RULE}): the net has {len(lrn)} LRN and "
            f"{len(conv_idx)} conv layers; name them explicitly"
        )
    i5 = conv_idx[4]
    after = net.layers[i5 + 1] if i5 + 1 < len(net.layers) else None
    high = after.name if isinstance(after, ReLULayer) else net.layers[i5].name
    return {"low": lrn[0], "mid": lrn[1], "high": high}


# ----------------------------------------------------------------------------- numpy forward


def _windows(x: np.ndarray, kh: int, kw: int, sy: int, sx: int, dy: int = 1, dx: int = 1) -> np.ndarray:
    """(N, H, W, C) -> (N, Ho, Wo, C, kh, kw) strided, dilated sliding windows (a view)."""
    ext_h, ext_w = dy * (kh - 1) + 1, dx * (kw - 1) + 1
    if x.shape[1] < ext_h or x.shape[2] < ext_w:
        raise ModelError(
            f"input {x.shape[1]}x{x.shape[2]} (padded) is smaller than the {ext_h}x{ext_w} window"
        )
    view = np.lib.stride_tricks.sliding_window_view(x, (ext_h, ext_w), axis=(1, 2))
    return view[:, ::sy, ::sx, :, ::dy, ::dx]


def _pad(x: np.ndarray, pad: tuple[int, int, int, int], value: float) -> np.ndarray:
    t, b, l, r = pad
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def conv_forward(layer: ConvLayer, x: np.ndarray) -> np.ndarray:
    """MatConvNet convolution (correlation, zero padding, filter groups) in float64."""
    w = layer.weights.astype(np.float64)
    kh, kw, cin_g, cout = w.shape
    cin = x.shape[3]
    if cin % cin_g:
        raise ModelError(f"{layer.name}: {cin} input channels are not a multiple of the filter depth {cin_g}")
    groups = cin // cin_g
    if cout % groups:
        raise ModelError(f"{layer.name}: {cout} filters cannot be split into {groups} groups")
    windows = _windows(_pad(x, layer.pad, 0.0), kh, kw, *layer.stride, *layer.dilate)
    cout_g = cout // groups
    parts = [
        np.einsum(
            "nyxcuv,uvcd->nyxd",
            windows[:, :, :, g * cin_g : (g + 1) * cin_g],
            w[:, :, :, g * cout_g : (g + 1) * cout_g],
            optimize=True,
        )
        for g in range(groups)
    ]
    return np.concatenate(parts, axis=3) + layer.bias.astype(np.float64)


def relu_forward(layer: ReLULayer, x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0) + layer.leak * np.minimum(x, 0.0)


def lrn_forward(layer: LRNLayer, x: np.ndarray) -> np.ndarray:
    """Cross-channel normalisation with the window G(k) of :class:`LRNLayer`, channel by channel."""
    squares = x * x
    channels = x.shape[3]
    before, after = (layer.size - 1) // 2, layer.size - 1 - (layer.size - 1) // 2
    out = np.empty_like(x)
    for k in range(channels):
        lo, hi = max(0, k - before), min(channels, k + after + 1)
        denom = layer.kappa + layer.alpha * squares[..., lo:hi].sum(axis=3)
        out[..., k] = x[..., k] / denom**layer.beta
    return out


def pool_forward(layer: PoolLayer, x: np.ndarray) -> np.ndarray:
    """Max pooling over -inf padding, or average pooling over the in-image samples only."""
    ph, pw = layer.pool
    sy, sx = layer.stride
    if layer.method == "max":
        return _windows(_pad(x, layer.pad, -np.inf), ph, pw, sy, sx).max(axis=(4, 5))
    sums = _windows(_pad(x, layer.pad, 0.0), ph, pw, sy, sx).sum(axis=(4, 5))
    ones = np.ones((1,) + x.shape[1:3] + (1,))
    counts = _windows(_pad(ones, layer.pad, 0.0), ph, pw, sy, sx).sum(axis=(4, 5))
    return sums / counts


def forward(net: SimpleNN, image: np.ndarray, taps: dict[str, str] | None = None) -> dict[str, np.ndarray]:
    """Reference float64 forward pass of ``net`` on RGB 0-255 ``image`` (H,W,3) or (N,H,W,3).

    Returns ``{tap: activation}`` in MatConvNet layout, (N,h,w,C) (or (h,w,C) for a single
    image), for each tap name -> layer name in ``taps`` (default :func:`default_taps`).
    """
    taps = default_taps(net) if taps is None else dict(taps)
    x = np.asarray(image, dtype=np.float64)
    single = x.ndim == 3
    if single:
        x = x[None]
    if x.ndim != 4 or x.shape[3] != 3:
        raise ModelError(f"image must be HxWx3 or NxHxWx3 RGB, got shape {np.shape(image)}")
    wanted = {layer_name: tap for tap, layer_name in taps.items()}
    last = max(net.index(name) for name in wanted)
    x = x - net.mean_rgb.reshape(1, 1, 1, 3)
    outputs: dict[str, np.ndarray] = {}
    for layer in net.layers[: last + 1]:
        if isinstance(layer, ConvLayer):
            x = conv_forward(layer, x)
        elif isinstance(layer, ReLULayer):
            x = relu_forward(layer, x)
        elif isinstance(layer, LRNLayer):
            x = lrn_forward(layer, x)
        elif isinstance(layer, PoolLayer):
            x = pool_forward(layer, x)
        else:
            raise ModelError(
                f"layer {layer.name!r} of type {layer.type!r} is not supported before the last tap"
            )
        if layer.name in wanted:
            outputs[wanted[layer.name]] = x[0] if single else x
    return {tap: outputs[tap] for tap in taps}
