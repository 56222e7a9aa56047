"""``cfvgg-convert``: MatConvNet SimpleNN ``.mat`` -> contract ONNX feature model
(:func:`cfvgg_ros.models.convert.convert_file`: converted, then verified against the numpy
reference forward pass before the file is written).

Exit codes: 0 converted and verified, 2 bad input (missing / corrupt / unsupported .mat,
bad arguments), 3 the ONNX outputs disagree with the reference.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cfvgg_ros.models.contract import OUTPUT_NAMES, ModelError
from cfvgg_ros.models.convert import DEFAULT_TOLERANCE, DEFAULT_VERIFY_SIZE, VerificationError, convert_file
from cfvgg_ros.models.simplenn_onnx import LRN_MODES

__all__ = ["main"]

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
