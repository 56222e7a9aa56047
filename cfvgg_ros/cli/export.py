"""``cfvgg-export``: training checkpoint -> contract ONNX feature model (adapters dropped).

    cfvgg-export --checkpoint results/training/cfvgg/last.pt --output models/cfvgg_distilled.onnx

Optionally checks onnxruntime against the torch student on a random image (``--verify``).
Exit codes: 0 written, 2 bad input, 3 the ONNX outputs disagree with torch.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cfvgg-export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (last.pt)")
    parser.add_argument("--output", required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--verify", action="store_true", help="compare onnxruntime with torch (tol 1e-4)")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from cfvgg_ros.models.contract import ModelError
    from cfvgg_ros.training.export import export_student, provenance_of, student_from_checkpoint, verify_export
    from cfvgg_ros.training.train import load_checkpoint

    try:
        checkpoint = load_checkpoint(args.checkpoint)
        student = student_from_checkpoint(checkpoint)
        contract = export_student(student, args.output, provenance_of(checkpoint), args.opset)
    except (FileNotFoundError, ValueError, ModelError, RuntimeError) as exc:
        print(f"cfvgg-export: {exc}", file=sys.stderr)
        return 2
    if args.verify:
        try:
            errors = verify_export(student, args.output)
        except ValueError as exc:
            print(f"cfvgg-export: {exc}", file=sys.stderr)
            return 3
        print(
            "cfvgg-export: onnxruntime vs torch relative errors "
            + ", ".join(f"{k} {v:.2e}" for k, v in errors.items())
        )
    print(f"cfvgg-export: wrote {args.output} ({contract.architecture}, channels {contract.channels})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
