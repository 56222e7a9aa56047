"""CNN feature models, one concept per module:

- :mod:`~cfvgg_ros.models.contract` -- the ONNX contract (input, outputs, metadata) and its checks;
- :mod:`~cfvgg_ros.models.runtime` -- the onnxruntime session a model runs in;
- :mod:`~cfvgg_ros.models.store` -- where models live (shipped, cache, converted paper student);
- :mod:`~cfvgg_ros.models.matconvnet` -- the ``.mat`` reader and numpy reference forward pass;
- :mod:`~cfvgg_ros.models.simplenn_onnx` -- SimpleNN -> contract ONNX graph builder;
- :mod:`~cfvgg_ros.models.convert` -- ``.mat`` -> verified ONNX file.

Importing the package loads the contract only (no onnx, onnxruntime or scipy).
"""

from .contract import (
    CONTRACT_ID,
    CONTRACT_STRIDES,
    INPUT_NAME,
    OUTPUT_NAMES,
    FeatureContract,
    LayerGeometry,
    ModelError,
    contract_from_geometry,
    stamp_contract,
    validate_model,
)

__all__ = [
    "CONTRACT_ID",
    "CONTRACT_STRIDES",
    "INPUT_NAME",
    "OUTPUT_NAMES",
    "FeatureContract",
    "LayerGeometry",
    "ModelError",
    "contract_from_geometry",
    "stamp_contract",
    "validate_model",
]
