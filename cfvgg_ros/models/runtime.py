"""The onnxruntime session a CNN feature model runs in: CPU, one thread, all graph
optimisations; optionally the graph cut down to the outputs a tracker reads."""

from __future__ import annotations

from pathlib import Path

from cfvgg_ros.models.contract import INPUT_NAME, ModelError

__all__ = ["make_session", "pruned_model"]


def make_session(model):
    """An onnxruntime CPU session for ``model`` (a path or serialized bytes): one intra-op and
    one inter-op thread, sequential execution, all graph optimisations."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(
            model if isinstance(model, bytes) else str(model), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        what = "the model bytes" if isinstance(model, bytes) else str(model)
        raise ModelError(f"onnxruntime cannot load {what}: {type(exc).__name__}: {exc}") from exc


def pruned_model(model: Path | bytes, outputs: tuple[str, ...]) -> bytes | None:
    """The model (a path or serialized bytes) cut down to ``outputs`` (onnxruntime evaluates every
    node otherwise), or None when the ``onnx`` package is unavailable."""
    try:
        import onnx
        import onnx.utils
    except ImportError:
        return None
    full = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
    pruned = onnx.utils.Extractor(full).extract_model([INPUT_NAME], list(outputs))
    del pruned.metadata_props[:]
    pruned.metadata_props.extend(full.metadata_props)
    return pruned.SerializeToString()
