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


def verify_export(student, onnx_path, size: tuple[int, int] = (131, 157), tolerance: float = 1e-4) -> dict:
    """Max |onnx - torch| / max(1, max |torch|) per output on a random batch of 2 RGB images."""
    import numpy as np
    import onnxruntime as ort
    import torch

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(2, 3, *size)).astype(np.float32)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {"image": image}), strict=True))
    with torch.no_grad():
        reference = student(torch.from_numpy(image))
    errors = {}
    for name, ref in reference.items():
        ref = ref.numpy()
        errors[name] = float(np.abs(outputs[name] - ref).max() / max(1.0, float(np.abs(ref).max())))
    bad = {k: v for k, v in errors.items() if not v <= tolerance}
    if bad:
        raise ValueError(f"ONNX outputs differ from torch beyond {tolerance}: {bad}")
    return errors


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from cfvgg_ros.models.onnx_contract import ModelError
    from cfvgg_ros.training.export import export_student, provenance_of, student_from_checkpoint
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
