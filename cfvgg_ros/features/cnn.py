"""Deep CNN features for fECO: a contract ONNX model run by onnxruntime on one thread.

The model follows :mod:`cfvgg_ros.models.contract` (input ``image`` N x 3 x H x W RGB
0-255; outputs ``low`` / ``mid`` / ``high`` at strides 2 / 8 / 16). :class:`CNNFeatures`
hides the layout: it takes HxWx3 (or NxHxWx3) RGB patches and returns HWC feature maps. The
model is a file path or serialized ONNX bytes (e.g. a student adapted online on the first frame,
paper Sec. IV-B, see :mod:`cfvgg_ros.features.adaptation`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from cfvgg_ros.models.contract import INPUT_NAME, OUTPUT_NAMES, FeatureContract, ModelError, contract_from_session
from cfvgg_ros.models.runtime import make_session, pruned_model
from cfvgg_ros.models.store import ModelDigest, default_model_path, verify_model_file

__all__ = ["CNNFeatures", "ModelError"]


def _describe_bytes(data: bytes) -> str:
    return f"<ONNX bytes: {len(data)} B, sha1 {hashlib.sha1(data).hexdigest()[:12]}>"


class CNNFeatures:
    """Extract contract CNN features from RGB patches with onnxruntime on one thread.

    ``model`` is a path (str / PathLike; None = :func:`default_model_path`) or serialized ONNX
    bytes (bytes / bytearray / memoryview). ``outputs`` selects among ``"low"`` (stride 2),
    ``"mid"`` (stride 8) and ``"high"`` (stride 16). Loading validates the contract metadata and
    probes the model at two input sizes to check the channel counts and strides; any failure
    raises :class:`ModelError`. A file is first checked against the sums recorded in
    ``models/SHA256SUMS`` (:func:`cfvgg_ros.models.store.verify_model_file`). ``model_path`` is the
    file (None for bytes); ``sha256`` its sum (of the bytes for bytes), ``digest`` the file's check
    result (whether a sum was recorded for it); ``source`` names the model in messages either way.
    """

    def __init__(self, model=None, outputs=("low", "high")):
        outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
        unknown = [o for o in outputs if o not in OUTPUT_NAMES]
        if not outputs or unknown or len(set(outputs)) != len(outputs):
            raise ValueError(f"outputs must be distinct names among {OUTPUT_NAMES}, got {outputs}")
        self.outputs = outputs
        if isinstance(model, (bytes, bytearray, memoryview)):
            data = bytes(model)
            if not data:
                raise ModelError("CNN feature model bytes are empty")
            self.model_path: Path | None = None
            self.digest: ModelDigest | None = None
            self.sha256: str | None = hashlib.sha256(data).hexdigest()
            self.source = _describe_bytes(data)
            loadable: Path | bytes = data
        elif model is None or isinstance(model, (str, os.PathLike)):
            self.model_path = Path(model) if model is not None else default_model_path()
            # the integrity check (models/SHA256SUMS): missing, empty, or a recorded name with another sum
            self.digest = verify_model_file(self.model_path)
            self.sha256 = self.digest.sha256
            self.source = str(self.model_path)
            loadable = self.model_path
        else:
            raise TypeError(
                f"model must be a path, serialized ONNX bytes or None, got {type(model).__name__}"
            )
        session = make_session(loadable)
        try:
            self.contract: FeatureContract = contract_from_session(session)
        except ModelError as exc:
            raise ModelError(f"{self.source} violates the feature-model contract: {exc}") from exc
        if set(outputs) != set(OUTPUT_NAMES):
            pruned = pruned_model(loadable, outputs)
            if pruned is not None:
                session = make_session(pruned)
        self._session = session
        self._sizes: dict[tuple[int, int], dict[str, tuple[int, int]]] = {}
        self._min_size = self._smallest_input()
        self._probe()

    # ------------------------------------------------------------------ description

    @property
    def architecture(self) -> str:
        return self.contract.architecture

    @property
    def strides(self) -> dict[str, int]:
        """Stride (input pixels per feature cell) of each selected output."""
        return {name: self.contract.strides[name] for name in self.outputs}

    @property
    def channels(self) -> dict[str, int]:
        """Channel count of each selected output."""
        return {name: self.contract.channels[name] for name in self.outputs}

    @property
    def offsets(self) -> dict[str, float]:
        """Input pixel (y and x, 0-based centres) at which cell (0, 0) of each output is centred;
        cell (i, j) is centred at ``offset + stride * (i, j)``."""
        return {name: self.contract.rf_offsets[name] for name in self.outputs}

    @property
    def receptive_fields(self) -> dict[str, int]:
        """Receptive-field size (pixels, square) of each selected output."""
        return {name: self.contract.rf_sizes[name] for name in self.outputs}

    @property
    def min_input_size(self) -> int:
        """Smallest patch side giving at least one cell in every selected output."""
        return self._min_size

    def output_size(self, input_hw) -> dict[str, tuple[int, int]]:
        """(h, w) of every selected output for an ``input_hw`` = (H, W) patch."""
        h, w = (int(v) for v in input_hw)
        if h <= 0 or w <= 0:
            raise ValueError(f"input size must be positive, got {tuple(input_hw)}")
        if all(name in self.contract.geometry for name in self.outputs):
            return {name: self.contract.output_size(name, (h, w)) for name in self.outputs}
        if (h, w) not in self._sizes:  # no geometry metadata: measure once per size
            if min(h, w) < self._min_size:
                return {name: (0, 0) for name in self.outputs}
            maps = self._run(np.zeros((1, 3, h, w), np.float32))
            self._sizes[(h, w)] = {name: tuple(m.shape[2:]) for name, m in maps.items()}
        return dict(self._sizes[(h, w)])

    # ------------------------------------------------------------------ extraction

    def __call__(self, patches) -> dict[str, np.ndarray]:
        """Features of RGB 0-255 ``patches``: (H,W,3) -> {name: (h,w,C)}, or (N,H,W,3) ->
        {name: (N,h,w,C)}, float32."""
        x = np.asarray(patches)
        if x.dtype.kind not in "uif" or x.dtype == np.float16:
            raise ValueError(f"patches must be uint8 or float32 RGB values, got dtype {x.dtype}")
        single = x.ndim == 3
        if single:
            x = x[None]
        if x.ndim != 4 or x.shape[3] != 3 or x.shape[0] == 0:
            raise ValueError(f"patches must be HxWx3 or NxHxWx3 (N >= 1) RGB, got shape {np.shape(patches)}")
        if min(x.shape[1:3]) < self._min_size:
            raise ValueError(
                f"patch {x.shape[1]}x{x.shape[2]} is smaller than the model's minimum input "
                f"{self._min_size}x{self._min_size}"
            )
        if x.dtype.kind == "f" and not np.isfinite(x).all():
            raise ValueError("patches contain NaN or infinite values")
        blob = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)
        maps = self._run(blob)
        return {
            name: np.ascontiguousarray(m.transpose(0, 2, 3, 1)[0] if single else m.transpose(0, 2, 3, 1))
            for name, m in maps.items()
        }

    def _run(self, blob: np.ndarray) -> dict[str, np.ndarray]:
        try:
            maps = self._session.run(list(self.outputs), {INPUT_NAME: blob})
        except Exception as exc:  # noqa: BLE001 - onnxruntime's own exception types
            raise ModelError(
                f"onnxruntime failed on a {blob.shape} input: {type(exc).__name__}: {exc}"
            ) from exc
        return dict(zip(self.outputs, maps, strict=True))

    # ------------------------------------------------------------------ validation

    def _smallest_input(self) -> int:
        geometry = self.contract.geometry
        if not all(name in geometry for name in self.outputs):
            return max(self.contract.rf_sizes[name] for name in self.outputs)
        size = 1
        while any(min(self.contract.output_size(n, (size, size))) < 1 for n in self.outputs):
            size += 1
        return size

    def _probe(self) -> None:
        """Run two blank inputs 16 px apart and check channels, sizes and strides."""
        base = max(self._min_size, 32)
        shapes = {}
        for side in (base, base + 16):
            maps = self._run(np.zeros((1, 3, side, side + 16), np.float32))
            shapes[side] = {name: m.shape for name, m in maps.items()}
            for name, shape in shapes[side].items():
                if len(shape) != 4 or shape[1] != self.contract.channels[name]:
                    raise ModelError(
                        f"{self.source}: output {name!r} has shape {shape}, expected "
                        f"N x {self.contract.channels[name]} x h x w"
                    )
                if name in self.contract.geometry:
                    expected = self.contract.output_size(name, (side, side + 16))
                    if tuple(shape[2:]) != expected:
                        raise ModelError(
                            f"{self.source}: output {name!r} is {tuple(shape[2:])} for a "
                            f"{side}x{side + 16} input; its geometry metadata predicts {expected}"
                        )
        for name in self.outputs:
            grown = shapes[base + 16][name][2] - shapes[base][name][2]
            if grown * self.contract.strides[name] != 16:
                raise ModelError(
                    f"{self.source}: output {name!r} grows by {grown} cells per 16 input pixels, "
                    f"inconsistent with its stride {self.contract.strides[name]}"
                )
