"""``cfvgg-export``: training checkpoint -> contract ONNX feature model (adapters dropped).

    cfvgg-export --checkpoint results/training/cfvgg/last.pt --output models/cfvgg_distilled.onnx

Optionally checks onnxruntime against the torch student on a random image (``--verify``).
Prints the model's sha256. Models are checked against the sums in ``SHA256SUMS`` beside the
shipped model when loaded, so replacing a shipped model (``--output models/cfvgg_student.onnx``)
needs ``--record-sha256`` (updates the ``SHA256SUMS`` in the output's folder) and the new sum in
the model card ``models/README.md``; until then loading it fails with both sums named.
Exit codes: 0 written, 2 bad input, 3 the ONNX outputs disagree with torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cfvgg-export", description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True, help="training checkpoint (last.pt)")
    parser.add_argument("--output", required=True, help="ONNX file to write")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    parser.add_argument("--verify", action="store_true", help="compare onnxruntime with torch (tol 1e-4)")
    parser.add_argument(
        "--record-sha256",
        action="store_true",
        help="record the model's sha256 in the SHA256SUMS file of the output's folder (needed to ship it "
        "as models/<name>; also update the sha256 row of the model card)",
    )
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
    from cfvgg_ros.models.store import SHA256SUMS_NAME, file_sha256, read_sha256sums, record_sha256

    output = Path(args.output)
    sums_path = output.parent / SHA256SUMS_NAME
    if args.record_sha256:
        sha, sums_path = record_sha256(output)
        print(f"cfvgg-export: sha256 {sha} recorded in {sums_path} (put it in the model card too)")
        return 0
    sha = file_sha256(output)
    print(f"cfvgg-export: sha256 {sha}")
    try:
        recorded = read_sha256sums(sums_path).get(output.name) if sums_path.is_file() else None
    except ModelError:
        recorded = None
    if recorded is not None and recorded != sha:
        print(
            f"cfvgg-export: {sums_path} records {recorded} for {output.name}: loading this file fails its "
            "integrity check until you record the new sum (--record-sha256) or rename it",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
