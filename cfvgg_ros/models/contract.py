"""The ONNX feature-model contract shared by the shipped model, training and the ROS node.

A contract model has one input ``image``: N x 3 x H x W float32, RGB in 0-255 (N, H, W
dynamic; any mean subtraction happens inside the graph), and three outputs, N x C x h x w
float32:

* ``low``  - the conv1 block after LRN, stride 2;
* ``mid``  - the conv2 block after LRN, stride 8;
* ``high`` - conv5 after ReLU, stride 16.

Its ``metadata_props`` describe the outputs: ``cfvgg.contract`` (= :data:`CONTRACT_ID`),
``architecture`` (a name), and JSON ``strides`` ({"low": 2, "mid": 8, "high": 16}),
``channels``, ``receptive_field`` ({output: {"offset", "size"}}), ``input_normalization``
(layout, colour, range, ``mean_rgb``, description), ``provenance`` (teacher, data, epochs,
source, ...) and optionally ``geometry``. Cell (i, j) of output ``o`` is centred at input
pixel ``offset[o] + stride[o] * (i, j)`` (0-based pixel centres, (y, x) order) and sees a
``size[o]`` x ``size[o]`` window. ``geometry`` lists (kernel, stride, pad_before,
pad_after, dilation) of every conv/pool layer leading to each output, which gives exact
output sizes (floor rule, as in MatConvNet, PyTorch and ONNX).

Trained models: export with input ``image`` and outputs ``low``/``mid``/``high`` (dynamic
N, H, W), then ``stamp_contract(model, contract_from_geometry(...))`` and check with
:func:`validate_model`.

``onnx`` is only imported by the functions that build or check ``ModelProto`` objects, so
the runtime path (:func:`contract_from_session`) needs onnxruntime alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

__all__ = [
    "CONTRACT_ID",
    "CONTRACT_STRIDES",
    "INPUT_NAME",
    "IR_VERSION",
    "OPSET",
    "OUTPUT_NAMES",
    "FeatureContract",
    "LayerGeometry",
    "ModelError",
    "contract_from_geometry",
    "contract_from_session",
    "output_length",
    "receptive_field",
    "stamp_contract",
    "validate_model",
]

CONTRACT_ID = "cfvgg-features/1"
INPUT_NAME = "image"
OUTPUT_NAMES = ("low", "mid", "high")
CONTRACT_STRIDES = {"low": 2, "mid": 8, "high": 16}
OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; read by every onnxruntime >= 1.13

_KEYS = (
    "cfvgg.contract",
    "architecture",
    "strides",
    "channels",
    "receptive_field",
    "geometry",
    "input_normalization",
    "provenance",
)


class ModelError(RuntimeError):
    """A feature model is missing, unreadable, or does not satisfy the contract."""


@dataclass(frozen=True)
class LayerGeometry:
    """Spatial geometry of one conv or pool layer (the same along y and x)."""

    kernel: int
    stride: int
    pad_before: int
    pad_after: int
    dilation: int = 1

    @property
    def extent(self) -> int:
        """Input span of one window: dilation * (kernel - 1) + 1."""
        return self.dilation * (self.kernel - 1) + 1

    def as_list(self) -> list[int]:
        return [self.kernel, self.stride, self.pad_before, self.pad_after, self.dilation]


def receptive_field(layers: list[LayerGeometry]) -> tuple[int, float, int]:
    """(stride, offset, size) of a chain of layers: cumulative stride ("jump"), centre of the
    first cell's receptive field in input pixels, and receptive-field size, by the usual
    recursion  size += (extent - 1) * jump;  offset += ((extent - 1) / 2 - pad_before) * jump;
    jump *= stride."""
    jump, offset, size = 1, 0.0, 1
    for layer in layers:
        size += (layer.extent - 1) * jump
        offset += ((layer.extent - 1) / 2 - layer.pad_before) * jump
        jump *= layer.stride
    return jump, offset, size


def output_length(layers: list[LayerGeometry], length: int) -> int:
    """Output cells along one axis for ``length`` input pixels (0 when the input is too small):
    n <- floor((n + pad_before + pad_after - extent) / stride) + 1 per layer."""
    n = int(length)
    for layer in layers:
        span = n + layer.pad_before + layer.pad_after - layer.extent
        if span < 0:
            return 0
        n = span // layer.stride + 1
    return n


@dataclass(frozen=True)
class FeatureContract:
    """The contract metadata of a feature model (see the module docstring)."""

    architecture: str
    strides: dict[str, int]
    channels: dict[str, int]
    rf_offsets: dict[str, float]
    rf_sizes: dict[str, int]
    mean_rgb: tuple[float, float, float]
    normalization: str
    provenance: dict[str, str]
    geometry: dict[str, list[LayerGeometry]] = field(default_factory=dict)

    def output_size(self, name: str, input_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of output ``name`` for an ``input_hw`` image (needs ``geometry``)."""
        if name not in self.geometry:
            raise ModelError(f"the model metadata has no geometry for output {name!r}")
        return tuple(output_length(self.geometry[name], int(v)) for v in input_hw)

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` entries, as strings."""
        props = {
            "cfvgg.contract": CONTRACT_ID,
            "architecture": self.architecture,
            "strides": json.dumps(self.strides),
            "channels": json.dumps(self.channels),
            "receptive_field": json.dumps(
                {k: {"offset": self.rf_offsets[k], "size": self.rf_sizes[k]} for k in self.rf_offsets}
            ),
            "input_normalization": json.dumps(
                {
                    "layout": "NCHW",
                    "color": "RGB",
                    "range": [0, 255],
                    "dtype": "float32",
                    "mean_rgb": [float(v) for v in self.mean_rgb],
                    "description": self.normalization,
                }
            ),
            "provenance": json.dumps(self.provenance),
        }
        if self.geometry:
            props["geometry"] = json.dumps({k: [g.as_list() for g in v] for k, v in self.geometry.items()})
        return props

    @classmethod
    def from_props(cls, props: dict[str, str]) -> FeatureContract:
        """Parse ``metadata_props``; raises :class:`ModelError` when keys are missing or malformed."""
        if props.get("cfvgg.contract") != CONTRACT_ID:
            raise ModelError(
                f"model metadata 'cfvgg.contract' is {props.get('cfvgg.contract')!r}, "
                f"expected {CONTRACT_ID!r} "
                "(convert MatConvNet nets with cfvgg-convert, stamp trained ones with stamp_contract)"
            )
        missing = [k for k in _KEYS if k not in props and k != "geometry"]
        if missing:
            raise ModelError(f"model metadata lacks {missing}")
        try:
            strides = {k: int(v) for k, v in json.loads(props["strides"]).items()}
            channels = {k: int(v) for k, v in json.loads(props["channels"]).items()}
            rf = json.loads(props["receptive_field"])
            offsets = {k: float(v["offset"]) for k, v in rf.items()}
            sizes = {k: int(v["size"]) for k, v in rf.items()}
            norm = json.loads(props["input_normalization"])
            mean = tuple(float(v) for v in norm["mean_rgb"])
            provenance = {str(k): str(v) for k, v in json.loads(props["provenance"]).items()}
            geometry = {
                k: [LayerGeometry(*(int(x) for x in g)) for g in v]
                for k, v in json.loads(props.get("geometry", "{}")).items()
            }
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ModelError(f"malformed contract metadata: {type(exc).__name__}: {exc}") from exc
        if len(mean) != 3:
            raise ModelError(f"input_normalization.mean_rgb must have 3 values, got {mean}")
        contract = cls(
            architecture=props["architecture"],
            strides=strides,
            channels=channels,
            rf_offsets=offsets,
            rf_sizes=sizes,
            mean_rgb=mean,
            normalization=str(norm.get("description", "")),
            provenance=provenance,
            geometry=geometry,
        )
        contract.check()
        return contract

    def check(self) -> None:
        """Check the metadata against the contract (names, strides, positive channels, geometry)."""
        for what, table in (
            ("strides", self.strides),
            ("channels", self.channels),
            ("receptive_field", self.rf_offsets),
        ):
            missing = [k for k in OUTPUT_NAMES if k not in table]
            if missing:
                raise ModelError(f"metadata {what} lacks outputs {missing}")
        if {k: self.strides[k] for k in OUTPUT_NAMES} != CONTRACT_STRIDES:
            raise ModelError(f"output strides {self.strides} differ from the contract's {CONTRACT_STRIDES}")
        bad = {k: v for k, v in self.channels.items() if v <= 0}
        if bad:
            raise ModelError(f"channel counts must be positive, got {bad}")
        for name, layers in self.geometry.items():
            stride, offset, size = receptive_field(layers)
            if stride != self.strides.get(name):
                raise ModelError(
                    f"geometry of {name!r} gives stride {stride}, metadata says {self.strides.get(name)}"
                )
            if not math.isclose(offset, self.rf_offsets[name]) or size != self.rf_sizes[name]:
                raise ModelError(f"geometry of {name!r} disagrees with its receptive_field metadata")


def contract_from_geometry(
    architecture: str,
    geometry: dict[str, list[LayerGeometry]],
    channels: dict[str, int],
    mean_rgb,
    normalization: str,
    provenance: dict[str, str],
) -> FeatureContract:
    """Build (and check) a contract from per-output layer geometry, e.g. for a trained student:
    strides and receptive fields are derived with :func:`receptive_field`."""
    rf = {name: receptive_field(layers) for name, layers in geometry.items()}
    contract = FeatureContract(
        architecture=architecture,
        strides={k: v[0] for k, v in rf.items()},
        channels={k: int(v) for k, v in channels.items()},
        rf_offsets={k: v[1] for k, v in rf.items()},
        rf_sizes={k: v[2] for k, v in rf.items()},
        mean_rgb=tuple(float(v) for v in mean_rgb),
        normalization=normalization,
        provenance={str(k): str(v) for k, v in provenance.items()},
        geometry={k: list(v) for k, v in geometry.items()},
    )
    contract.check()
    return contract


# ----------------------------------------------------------------------------- checking


def _check_io(
    inputs: list[tuple[str, str, list]], outputs: list[tuple[str, str, list]], contract: FeatureContract
) -> None:
    """Check graph inputs/outputs given as (name, element type, shape) with ints for static dims."""
    if len(inputs) != 1 or inputs[0][0] != INPUT_NAME:
        raise ModelError(
            f"model must have exactly one input named {INPUT_NAME!r}, has {[i[0] for i in inputs]}"
        )
    _, dtype, shape = inputs[0]
    if dtype != "float" or len(shape) != 4 or (isinstance(shape[1], int) and shape[1] != 3):
        raise ModelError(f"input {INPUT_NAME!r} must be float32 N x 3 x H x W, got {dtype} {shape}")
    static_hw = [d for d in shape[2:] if isinstance(d, int)]
    if static_hw:
        raise ModelError(f"input {INPUT_NAME!r} must have dynamic H and W, got shape {shape}")
    by_name = {name: (dtype, shape) for name, dtype, shape in outputs}
    missing = [name for name in OUTPUT_NAMES if name not in by_name]
    if missing:
        raise ModelError(f"model lacks outputs {missing}; it has {list(by_name)}")
    for name in OUTPUT_NAMES:
        dtype, shape = by_name[name]
        if dtype != "float" or len(shape) != 4:
            raise ModelError(f"output {name!r} must be float32 N x C x h x w, got {dtype} {shape}")
        if isinstance(shape[1], int) and shape[1] != contract.channels[name]:
            raise ModelError(
                f"output {name!r} has {shape[1]} channels, metadata says {contract.channels[name]}"
            )


def _proto_value_info(value_info) -> tuple[str, str, list]:
    import onnx

    tensor = value_info.type.tensor_type
    dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type).name if tensor.elem_type else "?"
    dtype = "float" if dtype == "float32" else dtype
    shape = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]
    return value_info.name, dtype, shape


def validate_model(model) -> FeatureContract:
    """Check an ``onnx.ModelProto`` (or a path to one) against the contract; returns its metadata."""
    import onnx

    if not isinstance(model, onnx.ModelProto):
        try:
            model = onnx.load(str(model))
        except Exception as exc:  # noqa: BLE001 - onnx raises protobuf DecodeError, OSError, ...
            raise ModelError(f"cannot read ONNX model {model}: {type(exc).__name__}: {exc}") from exc
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"invalid ONNX model: {exc}") from exc
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets.get("", opsets.get("ai.onnx", 0)) < 13:
        raise ModelError(f"model opset {opsets} is older than 13")
    contract = FeatureContract.from_props({p.key: p.value for p in model.metadata_props})
    initializers = {i.name for i in model.graph.initializer}
    inputs = [_proto_value_info(v) for v in model.graph.input if v.name not in initializers]
    _check_io(inputs, [_proto_value_info(v) for v in model.graph.output], contract)
    return contract


def contract_from_session(session) -> FeatureContract:
    """Read and check the contract of a loaded ``onnxruntime.InferenceSession``."""

    def describe(arg):
        dtype = arg.type[len("tensor(") : -1] if arg.type.startswith("tensor(") else arg.type
        return arg.name, dtype, [d if isinstance(d, int) else str(d) for d in (arg.shape or [])]

    contract = FeatureContract.from_props(dict(session.get_modelmeta().custom_metadata_map))
    _check_io(
        [describe(a) for a in session.get_inputs()], [describe(a) for a in session.get_outputs()], contract
    )
    return contract


def stamp_contract(model, contract: FeatureContract):
    """Write ``contract`` into ``model.metadata_props`` (replacing earlier contract keys).
    Returns the model."""
    contract.check()
    props = contract.to_props()
    kept = [(p.key, p.value) for p in model.metadata_props if p.key not in _KEYS]
    del model.metadata_props[:]
    for key, value in kept + sorted(props.items()):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    return model
