"""MatConvNet SimpleNN -> contract ONNX graph builder (conv / relu / lrn / pool up to the taps),
with the contract metadata of :mod:`cfvgg_ros.models.contract` stamped on the result.

``onnx`` is imported inside the builder, so importing this module costs numpy only.
"""

from __future__ import annotations

import json

import numpy as np

from .contract import (
    INPUT_NAME,
    IR_VERSION,
    OPSET,
    OUTPUT_NAMES,
    LayerGeometry,
    ModelError,
    contract_from_geometry,
    stamp_contract,
)
from .matconvnet import ConvLayer, LRNLayer, PoolLayer, ReLULayer, default_taps

__all__ = ["LRN_MODES", "simplenn_to_onnx"]


def _square(name: str, what: str, values) -> int:
    if len(set(values)) != 1:
        raise ModelError(
            f"layer {name!r}: {what} {tuple(values)} differs along y and x; the contract needs "
            "square geometry"
        )
    return int(values[0])


def _layer_geometry(layer) -> LayerGeometry:
    if isinstance(layer, ConvLayer):
        kernel, dilation = (
            _square(layer.name, "kernel", layer.kernel),
            _square(layer.name, "dilate", layer.dilate),
        )
    else:
        kernel, dilation = _square(layer.name, "pool", layer.pool), 1
    t, b, l, r = layer.pad
    return LayerGeometry(
        kernel=kernel,
        stride=_square(layer.name, "stride", layer.stride),
        pad_before=_square(layer.name, "pad top/left", (t, l)),
        pad_after=_square(layer.name, "pad bottom/right", (b, r)),
        dilation=dilation,
    )


LRN_MODES = ("fast", "onnx")


def _lrn_decomposed(layer, x: str, out: str, channels: int):
    """``vl_nnnormalize`` from elementary ops: the scaled window sum kappa + alpha * sum_{G(k)} x^2
    is one 1x1 convolution of x^2 with the band matrix alpha * [q in G(k)] and bias kappa; then
    y = x / base^beta, with base^0.75 = sqrt(base) * sqrt(sqrt(base)) (and base^0.5, base^1)
    avoiding the slow Pow. onnxruntime's LRN kernel is ~10x slower (it dominates a CF_VGGM pass)
    and takes odd N only."""
    from onnx import helper, numpy_helper

    before, after = (layer.size - 1) // 2, layer.size - 1 - (layer.size - 1) // 2
    k, q = np.meshgrid(np.arange(channels), np.arange(channels), indexing="ij")
    band = ((q >= k - before) & (q <= k + after)).astype(np.float64) * layer.alpha
    p = layer.name
    inits = [
        numpy_helper.from_array(band.astype(np.float32).reshape(channels, channels, 1, 1), f"{p}_band"),
        numpy_helper.from_array(np.full(channels, layer.kappa, np.float32), f"{p}_kappa"),
    ]
    nodes = [
        helper.make_node("Mul", [x, x], [f"{p}_sq"], name=f"{p}_square"),
        helper.make_node(
            "Conv",
            [f"{p}_sq", f"{p}_band", f"{p}_kappa"],
            [f"{p}_base"],
            name=f"{p}_window_sum",
            kernel_shape=[1, 1],
        ),
    ]
    if layer.beta == 1.0:
        denom = f"{p}_base"
    elif layer.beta == 0.5:
        denom = f"{p}_denom"
        nodes.append(helper.make_node("Sqrt", [f"{p}_base"], [denom], name=f"{p}_sqrt"))
    elif layer.beta == 0.75:
        denom = f"{p}_denom"
        nodes += [
            helper.make_node("Sqrt", [f"{p}_base"], [f"{p}_root2"], name=f"{p}_sqrt"),
            helper.make_node("Sqrt", [f"{p}_root2"], [f"{p}_root4"], name=f"{p}_sqrt_sqrt"),
            helper.make_node("Mul", [f"{p}_root2", f"{p}_root4"], [denom], name=f"{p}_power"),
        ]
    else:
        denom = f"{p}_denom"
        inits.append(numpy_helper.from_array(np.array(layer.beta, np.float32), f"{p}_beta"))
        nodes.append(helper.make_node("Pow", [f"{p}_base", f"{p}_beta"], [denom], name=f"{p}_power"))
    nodes.append(helper.make_node("Div", [x, denom], [out], name=f"{p}_divide"))
    return nodes, inits


def simplenn_to_onnx(
    net,
    taps: dict[str, str] | None = None,
    architecture: str | None = None,
    provenance: dict[str, str] | None = None,
    lrn: str = "fast",
):
    """Translate a :class:`~cfvgg_ros.models.matconvnet.SimpleNN` into a contract ONNX model.

    Layers up to the last tap are converted with MatConvNet semantics: conv filters
    (kh, kw, cin, cout) become ONNX (cout, cin, kh, kw) with pads [top, left, bottom, right];
    ``vl_nnnormalize`` [N kappa alpha beta] becomes, with ``lrn="onnx"``, ONNX LRN(size=N,
    alpha=alpha*N, beta, bias=kappa), because ONNX divides alpha by the size and uses the same
    window [c - floor((N-1)/2), c + ceil((N-1)/2)]; with ``lrn="fast"`` (the default, and for
    even N, which onnxruntime's LRN rejects) the same formula from elementary ops (see
    :func:`_lrn_decomposed`); max pooling ignores padding (-inf) and average
    pooling excludes it (count_include_pad=0), as ``vl_nnpool`` does. Returns
    ``(model, contract)``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if lrn not in LRN_MODES:
        raise ModelError(f"lrn must be one of {LRN_MODES}, got {lrn!r}")
    taps = default_taps(net) if taps is None else dict(taps)
    if sorted(taps) != sorted(OUTPUT_NAMES):
        raise ModelError(f"taps must name exactly the outputs {OUTPUT_NAMES}, got {sorted(taps)}")
    tap_index = {tap: net.index(layer_name) for tap, layer_name in taps.items()}
    last = max(tap_index.values())

    nodes, inits = (
        [],
        [numpy_helper.from_array(np.asarray(net.mean_rgb, np.float32).reshape(1, 3, 1, 1), "mean_rgb")],
    )
    nodes.append(helper.make_node("Sub", [INPUT_NAME, "mean_rgb"], ["centred"], name="subtract_mean"))
    current, channels = "centred", 3
    geometry: list[LayerGeometry] = []
    per_tap_geometry: dict[str, list[LayerGeometry]] = {}
    per_tap_channels: dict[str, int] = {}
    tensor_of: dict[int, str] = {}
    for i, layer in enumerate(net.layers[: last + 1]):
        out = f"{layer.name}_out" if layer.name else f"layer{i}_out"
        if isinstance(layer, ConvLayer):
            kh, kw, cin_g, cout = layer.weights.shape
            if channels % cin_g or cout % (channels // cin_g):
                raise ModelError(
                    f"conv {layer.name!r}: filters {layer.weights.shape} do not fit {channels} channels"
                )
            w = numpy_helper.from_array(
                np.ascontiguousarray(layer.weights.transpose(3, 2, 0, 1)), f"{layer.name}_W"
            )
            b = numpy_helper.from_array(layer.bias.astype(np.float32), f"{layer.name}_b")
            inits += [w, b]
            t, bo, le, r = layer.pad
            nodes.append(
                helper.make_node(
                    "Conv",
                    [current, w.name, b.name],
                    [out],
                    name=layer.name,
                    kernel_shape=[kh, kw],
                    strides=list(layer.stride),
                    pads=[t, le, bo, r],
                    dilations=list(layer.dilate),
                    group=channels // cin_g,
                )
            )
            channels = cout
            geometry.append(_layer_geometry(layer))
        elif isinstance(layer, ReLULayer):
            if layer.leak:
                nodes.append(
                    helper.make_node("LeakyRelu", [current], [out], name=layer.name, alpha=layer.leak)
                )
            else:
                nodes.append(helper.make_node("Relu", [current], [out], name=layer.name))
        elif isinstance(layer, LRNLayer) and lrn == "onnx" and layer.size % 2 == 1:
            nodes.append(
                helper.make_node(
                    "LRN",
                    [current],
                    [out],
                    name=layer.name,
                    size=layer.size,
                    alpha=layer.alpha * layer.size,
                    beta=layer.beta,
                    bias=layer.kappa,
                )
            )
        elif isinstance(layer, LRNLayer):
            lrn_nodes, lrn_inits = _lrn_decomposed(layer, current, out, channels)
            nodes += lrn_nodes
            inits += lrn_inits
        elif isinstance(layer, PoolLayer):
            t, bo, le, r = layer.pad
            op = "MaxPool" if layer.method == "max" else "AveragePool"
            extra = {} if op == "MaxPool" else {"count_include_pad": 0}
            nodes.append(
                helper.make_node(
                    op,
                    [current],
                    [out],
                    name=layer.name,
                    kernel_shape=list(layer.pool),
                    strides=list(layer.stride),
                    pads=[t, le, bo, r],
                    **extra,
                )
            )
            geometry.append(_layer_geometry(layer))
        else:
            raise ModelError(
                f"layer {layer.name!r} of type {layer.type!r} cannot be converted (it precedes a tap)"
            )
        current = out
        tensor_of[i] = out
        for tap, index in tap_index.items():
            if index == i:
                per_tap_geometry[tap] = list(geometry)
                per_tap_channels[tap] = channels
    outputs = []
    for tap in OUTPUT_NAMES:
        nodes.append(helper.make_node("Identity", [tensor_of[tap_index[tap]]], [tap], name=f"output_{tap}"))
        outputs.append(
            helper.make_tensor_value_info(
                tap, TensorProto.FLOAT, ["N", per_tap_channels[tap], f"{tap}_h", f"{tap}_w"]
            )
        )
    name = architecture or (net.source.rsplit(".", 1)[0] if net.source else "matconvnet")
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", 3, "H", "W"])],
        outputs,
        initializer=inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cfvgg_ros.cfvgg-convert"
    )
    model.ir_version = IR_VERSION
    mean = [round(float(v), 4) for v in net.mean_rgb]
    prov = {
        "source": f"converted from {net.source} sha1 {net.sha1}",
        "taps": json.dumps(taps),
        "conversion": f"cfvgg_ros simplenn_to_onnx, lrn={lrn}",
    }
    prov.update(provenance or {})
    contract = contract_from_geometry(
        name,
        per_tap_geometry,
        per_tap_channels,
        net.mean_rgb,
        f"RGB 0-255 minus per-channel mean {mean} inside the graph ({net.mean_description})",
        prov,
    )
    stamp_contract(model, contract)
    try:
        onnx.checker.check_model(model, full_check=True)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the converted graph is invalid: {exc}") from exc
    return model, contract
