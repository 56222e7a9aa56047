"""First-frame online adaptation of the CNN feature model for the trackers (paper Sec. IV-B).

The student is fine-tuned on the first frame with the background-aware loss (Eqs. 10-11,
:func:`cfvgg_ros.training.adapt.adapt_student`) and handed back as serialized ONNX bytes, so
the tracker keeps its onnxruntime inference path (:class:`cfvgg_ros.features.cnn.CNNFeatures`
accepts bytes). torch is imported here lazily, only when a tracker asks for adaptation; the
tracking core never imports it otherwise.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import time
from dataclasses import dataclass

__all__ = ["AdaptationTiming", "AdaptedModel", "adapt_model", "torch_available"]


@dataclass(frozen=True)
class AdaptationTiming:
    """First-frame cost of an adaptation, in seconds: ``total`` = ``load`` (importing torch
    and the training code; ~0 once imported) + the adaptation itself, of which ``fine_tune``
    is the SGD iterations (the rest: reading the model, sampling, exporting ONNX)."""

    total: float
    load: float
    fine_tune: float
    iterations: int
    samples: int


@dataclass(frozen=True)
class AdaptedModel:
    """An adapted contract ONNX model (``model_bytes``) and what adapting it cost."""

    model_bytes: bytes
    timing: AdaptationTiming


def torch_available() -> bool:
    """True when PyTorch can be imported (online adaptation needs it)."""
    return importlib.util.find_spec("torch") is not None


def _adapt_module():
    """``cfvgg_ros.training.adapt``, or an ImportError saying that adaptation needs torch."""
    try:
        from cfvgg_ros.training import adapt  # a static import, so the layering contract sees it

        return adapt
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.split(".")[0] == "torch":
            raise ImportError(
                "online_adaptation needs PyTorch (CPU build) for the first-frame fine-tuning "
                "(paper Sec. IV-B), but 'torch' is not installed; install it or set "
                "online_adaptation=False"
            ) from exc
        raise


def adapt_model(
    model,
    frame_rgb,
    box,
    *,
    search_area_scale: float,
    iterations: int = 8,
    samples: int = 32,
    seed: int = 0,
) -> AdaptedModel:
    """Adapt ``model`` (a contract ONNX path or serialized bytes; None = the default model) to
    the target ``box`` (0-based x, y, w, h) in ``frame_rgb`` (H x W x 3 uint8 RGB) with
    ``iterations`` SGD steps of ``samples`` positive + ``samples`` negative samples, on one
    thread. Training patches cover ``search_area_scale`` x sqrt(w h) squares, which should match
    the tracker's search window. Deterministic for a given ``seed``."""
    if not search_area_scale > 1:
        raise ValueError(f"search_area_scale must exceed 1, got {search_area_scale}")
    if isinstance(model, bytearray | memoryview):
        model = bytes(model)
    elif model is None:
        from .cnn import default_model_path

        model = default_model_path()
    elif not isinstance(model, bytes):
        if not isinstance(model, str | os.PathLike):
            raise TypeError(f"model must be a path, ONNX bytes or None, got {type(model).__name__}")
        if not os.path.isfile(model):
            from .cnn import ModelError

            raise ModelError(f"CNN feature model not found: {model}")
    tick = time.perf_counter()
    adapt = _adapt_module()
    load = time.perf_counter() - tick
    settings = adapt.AdaptationSettings(search_area_scale=float(search_area_scale))
    data, stats = adapt.adapt_student(
        model,
        frame_rgb,
        box,
        iterations=int(iterations),
        samples=int(samples),
        settings=settings,
        seed=int(seed),
        threads=1,
        as_bytes=True,
        return_stats=True,
    )
    timing = AdaptationTiming(
        total=time.perf_counter() - tick,
        load=load,
        fine_tune=float(stats.fine_tune_seconds),
        iterations=int(iterations),
        samples=int(samples),
    )
    return AdaptedModel(model_bytes=data, timing=timing)
