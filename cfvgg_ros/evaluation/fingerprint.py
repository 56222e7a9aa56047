"""What a stored result was computed with, so a resumed run never mixes configurations.

A benchmark result is a function of the tracker's name and parameters, the code that resolves
and runs them (a registered name's defaults live in code, e.g. ``CFVGG_OVERRIDES``), and the
model files it reads. :func:`config_fingerprint` hashes all three; the runner stores the digest
in each result's metadata and re-runs, instead of resuming, a stored result whose digest differs
(or that has none: written before fingerprints existed).

The code part covers the modules a tracker's output depends on (the tracking core, trackers,
features, model runtime, dataset readers, the runner and its perturbations), not reports, ROS or
training, so editing a plot or the node keeps stored results valid.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

#: Parts of ``cfvgg_ros`` whose code decides a tracker's boxes on a sequence.
RESULT_CODE = ("core", "trackers", "features", "models", "datasets", "jit.py", "threads.py",
               "evaluation/runner.py", "evaluation/perturbation.py")
_CHUNK = 1 << 20


def file_digest(path) -> str:
    """SHA-256 hex digest of the file at ``path`` (read each time: no cache to go stale)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def code_digest(package_root: Path | None = None) -> str:
    """SHA-256 over the sources listed in :data:`RESULT_CODE` (relative path + bytes, sorted)."""
    root = Path(package_root) if package_root is not None else Path(__file__).resolve().parents[1]
    files: list[Path] = []
    for part in RESULT_CODE:
        target = root / part
        if target.is_dir():
            files.extend(sorted(target.rglob("*.py")))
        elif target.is_file():
            files.append(target)
    digest = hashlib.sha256()
    for path in sorted(set(files)):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(file_digest(path).encode() + b"\0")
    return digest.hexdigest()


def _model_files(name: str, params: dict) -> dict[str, str]:
    """Model files the configuration reads: parameter values naming existing files, and the
    default CNN model for trackers that take one and were given none."""
    from cfvgg_ros.core.registry import tracker_info

    files = {}
    for key, value in sorted(params.items()):
        if isinstance(value, str) and value and Path(value).is_file():
            files[key] = file_digest(value)
    if tracker_info(name).cnn_model and "model_path" not in params:
        from cfvgg_ros.models.store import ModelError, default_model_path

        try:
            files["default_model"] = file_digest(default_model_path())
        except ModelError:
            files["default_model"] = "missing"
    return files


def config_fingerprint(name: str, params: dict | None = None) -> dict:
    """``{"digest": ..., "code": ..., "models": {...}}`` for tracker ``name`` with ``params``;
    equal digests mean the same name, parameters, result code and model bytes."""
    params = dict(params or {})
    parts = {
        "tracker": name,
        "params": json.dumps(params, sort_keys=True, default=str),
        "code": code_digest(),
        "models": _model_files(name, params),
    }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    return {"digest": digest, "code": parts["code"][:16], "models": {k: v[:16] for k, v in parts["models"].items()}}
