"""Export a trained student to the project's contract ONNX model (``cfvgg_ros.models.contract``):
input ``image`` N x 3 x H x W float32 RGB 0-255 (N, H, W dynamic), outputs ``low`` / ``mid`` /
``high``, opset 17, ``metadata_props`` with architecture, strides, receptive fields, geometry and
provenance (teacher, data, epochs, loss weights, commit). The 1x1 adapters of the fidelity loss
are dropped (paper §IV-C)."""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import torch
from torch import nn

from cfvgg_ros.models.contract import (
    INPUT_NAME,
    IR_VERSION,
    OPSET,
    OUTPUT_NAMES,
    FeatureContract,
    contract_from_geometry,
    stamp_contract,
    validate_model,
)

from .student import ARCHITECTURE, CFVGGStudent, student_geometry


class _ContractOutputs(nn.Module):
    """The student with its outputs as the (low, mid, high) tuple ONNX export needs."""

    def __init__(self, student: CFVGGStudent):
        super().__init__()
        self.student = student

    def forward(self, image: torch.Tensor):
        out = self.student(image)
        return tuple(out[name] for name in OUTPUT_NAMES)


def git_commit(repo: Path | None = None) -> str:
    """The source checkout's commit (``-dirty`` when modified), or "unknown"."""
    repo = repo or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def student_from_checkpoint(checkpoint: dict) -> CFVGGStudent:
    """Rebuild the student of a training checkpoint (adapters dropped)."""
    if "student" not in checkpoint or "student_channels" not in checkpoint:
        raise ValueError("the checkpoint holds no student (not written by cfvgg_ros.training.train)")
    student = CFVGGStudent(channels=checkpoint["student_channels"])
    student.load_state_dict(checkpoint["student"])
    return student.eval()


def provenance_of(checkpoint: dict) -> dict[str, str]:
    """Provenance metadata: teacher, training data, epochs, loss weights, commit."""
    config = checkpoint.get("config", {})
    loss, optim = config.get("loss", {}), config.get("optim", {})
    return {
        "producer": "cfvgg_ros.training (offline distillation, Wang et al. TIP 2020 Sec. IV-A)",
        "teacher": str(checkpoint.get("teacher", config.get("teacher", {}).get("kind", "unknown"))),
        "data": json.dumps(
            {"split": config.get("data", {}).get("split"), "sequences": checkpoint.get("data", [])}
        ),
        "epochs": f"{checkpoint.get('epoch', '?')} of {optim.get('epochs', '?')}",
        "iterations": str(checkpoint.get("global_step", "?")),
        "loss_weights": json.dumps(
            {
                "fidelity_weight": loss.get("fidelity_weight"),
                "tracking_weight": loss.get("tracking_weight", 1.0),
                "fidelity_normalize": loss.get("fidelity_normalize", False),
                "fidelity_levels": loss.get("fidelity_levels"),
                "tracking_levels": loss.get("tracking_levels"),
                "dcf_lambda": loss.get("dcf_lambda"),
                "dcf_lambda_relative": loss.get("dcf_lambda_relative", False),
                "weight_decay": optim.get("weight_decay"),
            }
        ),
        "seed": str(config.get("seed", "?")),
        "commit": git_commit(),
    }


def _export(student: CFVGGStudent, dummy: torch.Tensor, target, dynamic: dict, opset: int) -> None:
    torch.onnx.export(
        _ContractOutputs(student),
        (dummy,),
        target,
        input_names=[INPUT_NAME],
        output_names=list(OUTPUT_NAMES),
        dynamic_axes=dynamic,
        opset_version=opset,
        dynamo=False,
        do_constant_folding=True,
    )


def student_to_onnx(student: CFVGGStudent, provenance: dict[str, str], opset: int = OPSET):
    """``student`` as a contract ``onnx.ModelProto`` built in memory; returns (model, contract)."""
    import io

    import onnx

    student = student.eval().cpu()
    dummy = torch.zeros(1, 3, 128, 128)
    dynamic = {INPUT_NAME: {0: "N", 2: "H", 3: "W"}}
    dynamic.update({name: {0: "N", 2: f"{name}_h", 3: f"{name}_w"} for name in OUTPUT_NAMES})
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # tracer / TorchScript-exporter deprecation notices
        warnings.simplefilter("ignore")
        _export(student, dummy, buffer, dynamic, opset)
    model = onnx.load_from_string(buffer.getvalue())
    model.ir_version = min(model.ir_version, IR_VERSION)
    model.producer_name = "cfvgg_ros.cfvgg-export"
    contract = contract_from_geometry(
        ARCHITECTURE,
        student_geometry(),
        student.level_channels,
        student.mean_rgb.view(3).tolist(),
        "RGB 0-255 minus the ImageNet per-channel mean inside the graph",
        provenance,
    )
    stamp_contract(model, contract)
    validate_model(model)
    return model, contract


def export_student(
    student: CFVGGStudent, out_path, provenance: dict[str, str], opset: int = OPSET
) -> FeatureContract:
    """Write ``student`` as a contract ONNX model to ``out_path``; returns the validated contract."""
    import onnx

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    model, contract = student_to_onnx(student, provenance, opset)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    onnx.save(model, str(tmp))
    tmp.replace(out_path)
    return contract


def export_checkpoint(checkpoint_path, out_path, opset: int = OPSET) -> FeatureContract:
    """Checkpoint (``last.pt`` of a training run) -> contract ONNX model at ``out_path``."""
    from .train import load_checkpoint

    checkpoint = load_checkpoint(checkpoint_path)
    return export_student(student_from_checkpoint(checkpoint), out_path, provenance_of(checkpoint), opset)


def verify_export(student, onnx_path, size: tuple[int, int] = (131, 157), tolerance: float = 1e-4) -> dict:
    """Max |onnx - torch| / max(1, max |torch|) per output on a random batch of 2 RGB images."""
    import numpy as np
    import torch

    from cfvgg_ros.models.contract import INPUT_NAME
    from cfvgg_ros.models.runtime import make_session

    rng = np.random.default_rng(0)
    image = rng.uniform(0, 255, size=(2, 3, *size)).astype(np.float32)
    session = make_session(onnx_path)
    names = [o.name for o in session.get_outputs()]
    outputs = dict(zip(names, session.run(None, {INPUT_NAME: image}), strict=True))
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
