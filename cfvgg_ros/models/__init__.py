"""CNN feature models: the ONNX contract and the MatConvNet importer.

Submodules load lazily so that importing the package stays cheap:
:mod:`~cfvgg_ros.models.onnx_contract` (contract, metadata, SimpleNN -> ONNX) and
:mod:`~cfvgg_ros.models.matconvnet` (``.mat`` reader, numpy reference forward pass).
"""

from .onnx_contract import (
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
