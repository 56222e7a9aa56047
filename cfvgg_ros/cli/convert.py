"""``cfvgg-convert``: MatConvNet SimpleNN ``.mat`` -> contract ONNX feature model.

Converts conv / relu / lrn / pool layers up to the ``high`` tap (see
:func:`cfvgg_ros.models.matconvnet.default_taps` for how ``low``/``mid``/``high`` are
located), stamps the contract metadata, then checks the ONNX outputs against the
independent float64 numpy forward pass on a random image before writing the file.

Exit codes: 0 converted and verified, 2 bad input (missing / corrupt / unsupported .mat,
bad arguments), 3 the ONNX outputs disagree with the reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cfvgg_ros.models.onnx_contract import LRN_MODES, OUTPUT_NAMES, FeatureContract, ModelError

__all__ = ["ConversionResult", "VerificationError", "convert_file", "main", "verify_conversion"]

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
    from cfvgg_ros.features.cnn import make_session
    from cfvgg_ros.models.matconvnet import forward

    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 255.0, size=(2, size, size + 8, 3)).astype(np.float32)
    reference = forward(net, image.astype(np.float64), taps)
    session = make_session(model_bytes)
    try:
        outputs = session.run(
            list(OUTPUT_NAMES), {"image": np.ascontiguousarray(image.transpose(0, 3, 1, 2))}
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
    from cfvgg_ros.models.onnx_contract import simplenn_to_onnx

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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfvgg-convert",
        description="Convert a MatConvNet SimpleNN .mat (e.g. CF_VGGM.mat, imagenet-vgg-m.mat) into the "
        "cfvgg_ros ONNX feature contract (input 'image' Nx3xHxW RGB 0-255; outputs low/mid/high at strides "
        "2/8/16), verified against a numpy reference.",
    )
    parser.add_argument("mat", type=Path, help="MatConvNet SimpleNN .mat file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    parser.add_argument(
        "--architecture", help="architecture name stored in the metadata (default: file stem)"
    )
    for tap, default in (("low", "1st LRN"), ("mid", "2nd LRN"), ("high", "ReLU after the 5th conv")):
        parser.add_argument(
            f"--{tap}", metavar="LAYER", help=f"layer name for the {tap!r} output (default: {default})"
        )
    parser.add_argument("--teacher", help="provenance: teacher network")
    parser.add_argument("--data", help="provenance: training data")
    parser.add_argument("--epochs", help="provenance: training epochs")
    parser.add_argument(
        "--lrn",
        choices=LRN_MODES,
        default="fast",
        help="LRN as elementary ops ('fast', default, ~10x faster in onnxruntime) or the ONNX LRN operator",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip the numpy reference check")
    parser.add_argument(
        "--verify-size",
        type=int,
        default=DEFAULT_VERIFY_SIZE,
        help=f"side of the random check image (default {DEFAULT_VERIFY_SIZE})",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=DEFAULT_TOLERANCE,
        help=f"max error relative to the output scale (default {DEFAULT_TOLERANCE})",
    )
    return parser


def main(argv=None) -> int:
    """Console entry point; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.verify_size < 1 or not args.tolerance > 0:
        parser.error("--verify-size must be >= 1 and --tolerance > 0")
    taps = None
    named = {tap: getattr(args, tap) for tap in OUTPUT_NAMES if getattr(args, tap)}
    if named:
        from cfvgg_ros.models.matconvnet import default_taps, load_simplenn

        try:
            taps = {**default_taps(load_simplenn(args.mat)), **named} if len(named) < 3 else named
        except ModelError as exc:
            print(f"cfvgg-convert: error: {exc}", file=sys.stderr)
            return 2
    provenance = {
        k: v for k, v in (("teacher", args.teacher), ("data", args.data), ("epochs", args.epochs)) if v
    }
    try:
        result = convert_file(
            args.mat,
            args.output,
            architecture=args.architecture,
            taps=taps,
            provenance=provenance,
            verify=not args.no_verify,
            verify_size=args.verify_size,
            tolerance=args.tolerance,
            lrn=args.lrn,
        )
    except VerificationError as exc:
        print(f"cfvgg-convert: verification failed: {exc}", file=sys.stderr)
        return 3
    except ModelError as exc:
        print(f"cfvgg-convert: error: {exc}", file=sys.stderr)
        return 2
    c = result.contract
    print(f"wrote {result.path} ({c.architecture}): {c.provenance.get('source', '')}")
    for name in OUTPUT_NAMES:
        check = f", max rel. error {result.relative_errors[name]:.2e}" if result.relative_errors else ""
        print(
            f"  {name:4s}: {c.channels[name]:4d} channels, stride {c.strides[name]:2d}, receptive field "
            f"{c.rf_sizes[name]} px centred at {c.rf_offsets[name]:g} + stride*i{check}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
