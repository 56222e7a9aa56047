"""MatConvNet SimpleNN ``.mat`` -> contract ONNX feature model, verified.

Converts conv / relu / lrn / pool layers up to the ``high`` tap (see
:func:`cfvgg_ros.models.matconvnet.default_taps` for how ``low``/``mid``/``high`` are
located) with :func:`cfvgg_ros.models.simplenn_onnx.simplenn_to_onnx`, stamps the contract
metadata, then checks the ONNX outputs against the independent float64 numpy forward pass on a
random image before writing the file (atomically).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfvgg_ros.models.contract import INPUT_NAME, OUTPUT_NAMES, FeatureContract, ModelError

__all__ = ["ConversionResult", "VerificationError", "convert_file", "verify_conversion"]

DEFAULT_TOLERANCE = 1e-4
DEFAULT_VERIFY_SIZE = 160


class VerificationError(ModelError):
    """The converted ONNX model does not reproduce the numpy reference."""


@dataclass
class ConversionResult:
    """What :func:`convert_file` wrote: the path, the contract and the verification errors
    (max |onnx - reference| / max |reference| per output; empty when not verified)."""

    path: Path
    contract: FeatureContract
    relative_errors: dict[str, float]


def verify_conversion(
    net,
    model_bytes: bytes,
    taps: dict[str, str] | None = None,
    size: int = DEFAULT_VERIFY_SIZE,
    seed: int = 0,
) -> dict[str, float]:
    """Relative max error of each ONNX output against :func:`matconvnet.forward` on a random
    ``size`` x ``size + 8`` RGB image (uniform 0-255, batch of 2)."""
    from cfvgg_ros.models.matconvnet import forward
    from cfvgg_ros.models.runtime import make_session

    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 255.0, size=(2, size, size + 8, 3)).astype(np.float32)
    reference = forward(net, image.astype(np.float64), taps)
    session = make_session(model_bytes)
    try:
        outputs = session.run(
            list(OUTPUT_NAMES), {INPUT_NAME: np.ascontiguousarray(image.transpose(0, 3, 1, 2))}
        )
    except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
        raise ModelError(f"onnxruntime failed on the {image.shape} check image: {exc}") from exc
    errors = {}
    for name, out in zip(OUTPUT_NAMES, outputs, strict=True):
        ref = reference[name]
        got = out.transpose(0, 2, 3, 1)
        if got.shape != ref.shape:
            raise VerificationError(f"output {name!r}: ONNX shape {got.shape} != reference shape {ref.shape}")
        scale = max(float(np.abs(ref).max()), 1e-12)
        errors[name] = float(np.abs(got - ref).max()) / scale
    return errors


def convert_file(
    mat_path,
    out_path,
    *,
    architecture: str | None = None,
    taps: dict[str, str] | None = None,
    provenance: dict[str, str] | None = None,
    verify: bool = True,
    verify_size: int = DEFAULT_VERIFY_SIZE,
    tolerance: float = DEFAULT_TOLERANCE,
    lrn: str = "fast",
) -> ConversionResult:
    """Convert ``mat_path`` to ``out_path`` (written atomically, parents created). Raises
    :class:`ModelError` for bad input and :class:`VerificationError` when the check fails
    (nothing is written then)."""
    from cfvgg_ros.models.matconvnet import default_taps, load_simplenn
    from cfvgg_ros.models.simplenn_onnx import simplenn_to_onnx

    net = load_simplenn(mat_path)
    taps = default_taps(net) if taps is None else dict(taps)
    model, contract = simplenn_to_onnx(net, taps, architecture=architecture, provenance=provenance, lrn=lrn)
    data = model.SerializeToString()
    errors: dict[str, float] = {}
    if verify:
        errors = verify_conversion(net, data, taps, size=verify_size)
        bad = {k: v for k, v in errors.items() if not v <= tolerance}
        if bad:
            raise VerificationError(
                f"ONNX outputs differ from the numpy reference by {bad} (tolerance {tolerance})"
            )
    out_path = Path(out_path)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=out_path.name + ".", suffix=".tmp", dir=out_path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, 0o644)  # mkstemp makes 0600 files; a model is meant to be shared
            os.replace(tmp, out_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ModelError(f"cannot write {out_path}: {exc}") from exc
    return ConversionResult(path=out_path, contract=contract, relative_errors=errors)
