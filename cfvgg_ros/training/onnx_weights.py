"""The CF-VGG student's weights in and out of a contract ONNX model: :func:`student_from_onnx`
reads them from a model of either exporter (:func:`cfvgg_ros.training.export.student_to_onnx`:
``student.convK.weight``; :func:`cfvgg_ros.models.simplenn_onnx.simplenn_to_onnx`, e.g. the
converted paper ``CF_VGGM``: ``convK_W``), :func:`onnx_with_student_weights` writes them back
into a copy of the model (graph and contract unchanged). Used by online adaptation (§IV-B) and
by fine-tuning a shipped student (``student.init: onnx``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import torch

from cfvgg_ros.models.contract import INPUT_NAME, ModelError, validate_model
from cfvgg_ros.models.store import verify_model_file

from .student import CONV_KERNELS, CFVGGStudent

__all__ = ["onnx_with_student_weights", "student_from_onnx"]

_CONV_NAMES = ("conv1", "conv2", "conv3", "conv4", "conv5")


def _as_model_proto(model):
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, bytes | bytearray):
        try:
            return onnx.load_from_string(bytes(model))
        except Exception as exc:  # noqa: BLE001 - protobuf raises DecodeError and others
            raise ModelError(f"cannot parse the ONNX bytes: {type(exc).__name__}: {exc}") from exc
    path = Path(model)
    verify_model_file(path)  # missing, empty, or a recorded name with another sha256: ModelError
    try:
        return onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001
        raise ModelError(f"cannot read ONNX model {path}: {type(exc).__name__}: {exc}") from exc


def _student_initializers(model) -> tuple[str, list[tuple[str, str]]]:
    """Names of the mean initializer and of the (weight, bias) initializers of the five student
    convolutions, found by walking the graph: the first ``Sub`` of the input, then the Conv nodes
    in order, skipping the 1x1 band convolutions of a decomposed LRN (``simplenn_to_onnx``)."""
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    mean_name = None
    convs = []
    for node in model.graph.node:
        if node.op_type == "Sub" and mean_name is None and node.input[0] == INPUT_NAME:
            mean_name = node.input[1] if node.input[1] in inits else None
        if node.op_type != "Conv" or len(node.input) < 3:
            continue
        weight, bias = node.input[1], node.input[2]
        if weight not in inits or bias not in inits:
            raise ModelError(f"Conv node {node.name!r}: weights are not initializers (not a plain CF-VGG graph)")
        dims = tuple(inits[weight].dims)
        if len(dims) == 4 and dims[2:] == (1, 1) and dims[0] == dims[1]:
            continue  # LRN band (sum of squares over neighbouring channels)
        convs.append((weight, bias))
    if mean_name is None:
        raise ModelError("no mean-subtraction initializer (Sub of the input) in the model graph")
    if len(convs) != len(_CONV_NAMES):
        raise ModelError(f"expected the 5 convolutions of CF-VGG, found {len(convs)} in the graph")
    shapes = [tuple(numpy_helper.to_array(inits[w]).shape) for w, _ in convs]
    kernels = tuple(s[2] for s in shapes)
    if kernels != CONV_KERNELS:
        raise ModelError(f"convolution kernels {kernels} are not CF-VGG's {CONV_KERNELS}")
    return mean_name, convs


def student_from_onnx(model) -> CFVGGStudent:
    """A :class:`CFVGGStudent` holding the weights of a contract ONNX model (``ModelProto``,
    serialized bytes or a path) of the CF-VGG layout, from either exporter. Raises
    :class:`~cfvgg_ros.models.contract.ModelError` for other graphs."""
    from onnx import numpy_helper

    model = _as_model_proto(model)
    validate_model(model)
    mean_name, convs = _student_initializers(model)
    inits = {i.name: i for i in model.graph.initializer}
    weights = [numpy_helper.to_array(inits[w]).astype(np.float32) for w, _ in convs]
    biases = [numpy_helper.to_array(inits[b]).astype(np.float32).reshape(-1) for _, b in convs]
    mean = numpy_helper.to_array(inits[mean_name]).astype(np.float32).reshape(-1)
    if mean.size != 3:
        raise ModelError(f"the mean initializer {mean_name!r} has {mean.size} values, expected 3")
    channels = [w.shape[0] for w in weights]
    student = CFVGGStudent(channels=channels, mean_rgb=mean.tolist())
    modules = [getattr(student, name) for name in _CONV_NAMES]
    with torch.no_grad():
        for module, w, b in zip(modules, weights, biases, strict=True):
            if tuple(w.shape) != tuple(module.weight.shape):
                raise ModelError(f"filters {w.shape} do not fit CF-VGG's {tuple(module.weight.shape)}")
            module.weight.copy_(torch.from_numpy(w))
            module.bias.copy_(torch.from_numpy(b))
    return student.eval()


def onnx_with_student_weights(model, student: CFVGGStudent, provenance: dict[str, str] | None = None):
    """A copy of contract ONNX ``model`` whose student initializers hold ``student``'s weights
    (graph and contract unchanged); ``provenance`` entries are added to the metadata's
    provenance. Returns the validated ``onnx.ModelProto``."""
    from onnx import numpy_helper

    model = copy.deepcopy(_as_model_proto(model))
    _, convs = _student_initializers(model)
    values = {}
    for (w_name, b_name), name in zip(convs, _CONV_NAMES, strict=True):
        module = getattr(student, name)
        values[w_name] = module.weight.detach().cpu().numpy().astype(np.float32)
        values[b_name] = module.bias.detach().cpu().numpy().astype(np.float32)
    for init in model.graph.initializer:
        if init.name in values:
            new = values[init.name]
            if tuple(init.dims) != new.shape:
                raise ModelError(f"{init.name}: the student's {new.shape} differs from the model's {tuple(init.dims)}")
            init.CopyFrom(numpy_helper.from_array(new, init.name))
    if provenance:
        for prop in model.metadata_props:
            if prop.key == "provenance":
                merged = json.loads(prop.value)
                merged.update({str(k): str(v) for k, v in provenance.items()})
                prop.value = json.dumps(merged)
    validate_model(model)
    return model
