"""Background-aware online adaptation of the CF-VGG student (paper §IV-B, Eqs. 9-11).

On the first frame the student is fine-tuned for a few iterations (paper: 8) with

    L_online = sum_l ( ||r_l^+ - g_l||^2 + ||r_l^-||^2 ) + gamma ||Theta||^2      (Eqs. 10, 11)

where the DCF of every level l is learned in closed form (Eq. 2) on the template x (the
target-centred patch), r^+ are its responses to positive search samples z^+ (the target,
randomly flipped, shifted, blurred and re-lit) and r^- its responses to negative samples z^-
(background crops that do not contain the target, label zero). The idea follows CACF's
context term (Eq. 9), applied to the features instead of the filter. There is no fidelity
loss online. gamma ||Theta||^2 is SGD's weight decay (gamma = weight_decay / 2).

The adapted weights are written back into a copy of the source ONNX model (same graph, same
contract metadata, provenance extended), so the tracker keeps its onnxruntime inference path.
The student can be read from a contract ONNX model of either exporter
(:func:`cfvgg_ros.training.export.student_to_onnx`: ``student.convK.weight``;
:func:`cfvgg_ros.models.simplenn_onnx.simplenn_to_onnx`, e.g. the converted paper ``CF_VGGM``:
``convK_W``) by :func:`student_from_onnx`, or from a training checkpoint.

This is the only tracker-side module that imports torch; trackers import it lazily when
``online_adaptation`` is on.
"""

from __future__ import annotations

import copy
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from .losses import cosine_window, dcf_response, labels_on_grids
from .onnx_weights import _as_model_proto, onnx_with_student_weights, student_from_onnx
from .pairs import box_centre, crop_square
from .student import LEVELS, CFVGGStudent

__all__ = [
    "AdaptationSettings",
    "AdaptationStats",
    "adapt_student",
    "adaptation_metrics",
    "adaptation_samples",
    "background_aware_loss",
    "onnx_with_student_weights",
    "student_from_onnx",
]

@dataclass(frozen=True)
class AdaptationSettings:
    """Sampling and optimisation of the online adaptation.

    Geometry: square patches of side ``search_area_scale * sqrt(w * h)`` resized to
    ``patch_size``. Per iteration: ``samples`` positives and ``negatives`` (None: as many as
    positives) background samples. Positives: centre shifted by up to ``shift_jitter`` target
    sizes, mirrored with probability ``flip_probability``, Gaussian blur with sigma uniform in
    [0, ``max_blur_sigma``] patch pixels, illumination ``gain`` uniform in 1 +- ``illumination``
    and offset uniform in +- ``brightness`` (0-255). Optimiser: SGD with ``lr``, ``momentum``,
    ``weight_decay`` (gamma of Eq. 11, times 2) and global-norm ``grad_clip``. Loss: Eq. 10 on
    ``levels`` with the relative DCF regulariser ``dcf_lambda`` and Gaussian labels of sigma
    ``label_sigma_factor`` target sizes per stride (at least ``min_label_sigma`` cells), as in
    offline training.

    ``lr`` was chosen on the train split only: CF_VGGM adapted on frame 0 of each of the 8
    train sequences, scored on 4 later frames (positives' Eq. 10 loss + negatives' energy,
    summed over levels; 8 + 8 samples a frame): no adaptation 6.35 + 1.91, lr 1e-4 6.10 + 1.74,
    1e-3 6.37 + 1.60, 3e-3 6.12 + 1.59, 1e-2 6.03 + 1.71, 3e-2 6.49 + 2.25."""

    patch_size: int = 128
    search_area_scale: float = 4.0
    negatives: int | None = None
    shift_jitter: float = 0.25
    flip_probability: float = 0.5
    max_blur_sigma: float = 1.5
    illumination: float = 0.3
    brightness: float = 20.0
    lr: float = 3e-3
    momentum: float = 0.9
    weight_decay: float = 5e-3
    grad_clip: float | None = 10.0
    levels: tuple[str, ...] = LEVELS
    dcf_lambda: float = 1e-2
    label_sigma_factor: float = 0.1
    min_label_sigma: float = 0.5
    cosine_window: bool = True

    def __post_init__(self) -> None:
        if self.patch_size < 32:
            raise ValueError(f"patch_size must be >= 32 pixels, got {self.patch_size}")
        if self.search_area_scale <= 1:
            raise ValueError(f"search_area_scale must exceed 1, got {self.search_area_scale}")
        if self.negatives is not None and self.negatives < 0:
            raise ValueError(f"negatives must be >= 0, got {self.negatives}")
        if not 0 <= self.flip_probability <= 1 or not 0 <= self.illumination < 1:
            raise ValueError("flip_probability must lie in [0, 1] and illumination in [0, 1)")
        if min(self.shift_jitter, self.max_blur_sigma, self.brightness) < 0:
            raise ValueError("shift_jitter, max_blur_sigma and brightness must be >= 0")
        if self.lr <= 0 or self.momentum < 0 or self.weight_decay < 0 or self.dcf_lambda <= 0:
            raise ValueError("lr and dcf_lambda must be > 0, momentum and weight_decay >= 0")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError(f"grad_clip must be positive or None, got {self.grad_clip}")
        bad = [lv for lv in self.levels if lv not in LEVELS]
        if not self.levels or bad:
            raise ValueError(f"levels must be a non-empty subset of {LEVELS}, got {self.levels}")


@dataclass
class AdaptationStats:
    """What an adaptation did: Eq. 10 per iteration (positive and negative parts), the
    first-frame cost in seconds (sampling + fine-tuning + export) and the settings."""

    positive_loss: list[float] = field(default_factory=list)
    negative_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    fine_tune_seconds: float = 0.0
    settings: dict = field(default_factory=dict)


def _load_source(source):
    """(student, ONNX model or None) from an ONNX model / bytes / path or a training checkpoint."""
    import onnx

    if isinstance(source, CFVGGStudent):
        return copy.deepcopy(source), None
    if isinstance(source, dict):
        from .export import student_from_checkpoint

        return student_from_checkpoint(source), None
    if isinstance(source, onnx.ModelProto | bytes | bytearray):
        model = _as_model_proto(source)
        return student_from_onnx(model), model
    path = Path(source)
    if path.suffix in (".pt", ".pth", ".ckpt"):
        from .export import student_from_checkpoint
        from .train import load_checkpoint

        return student_from_checkpoint(load_checkpoint(path)), None
    model = _as_model_proto(path)
    return student_from_onnx(model), model


# ----------------------------------------------------------------------------- samples


def _check_inputs(frame_rgb, box) -> tuple[np.ndarray, np.ndarray]:
    frame = np.asarray(frame_rgb)
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise ValueError(f"frame must be an H x W x 3 uint8 RGB image, got {frame.shape} {frame.dtype}")
    box = np.asarray(box, np.float64).reshape(-1)
    if box.size != 4 or not np.all(np.isfinite(box)) or box[2] < 1 or box[3] < 1:
        raise ValueError(f"box must be a finite (x, y, w, h) with w, h >= 1, got {box.tolist()}")
    return frame, box


def _negative_centre(rng, frame_hw, box, side, tries: int = 200) -> np.ndarray:
    """Centre (x, y) inside the frame of a ``side`` x ``side`` crop that does not intersect the
    target box; when none is found (target large relative to the frame), a centre whose
    target-sized window does not overlap the target."""
    h, w = frame_hw
    x0, y0, bw, bh = box
    best = None
    for _ in range(tries):
        cx, cy = rng.uniform(0, w - 1), rng.uniform(0, h - 1)
        half = side / 2.0
        if cx + half < x0 or cx - half > x0 + bw or cy + half < y0 or cy - half > y0 + bh:
            return np.array([cx, cy])
        if best is None and (
            cx + bw / 2 < x0 or cx - bw / 2 > x0 + bw or cy + bh / 2 < y0 or cy - bh / 2 > y0 + bh
        ):
            best = np.array([cx, cy])
    if best is None:
        raise ValueError(
            f"no background crop avoids the target {box.tolist()} in a {w}x{h} frame; the target "
            "covers too much of the frame for negative samples"
        )
    return best


def adaptation_samples(
    frame_rgb, box, positives: int, negatives: int, settings: AdaptationSettings, rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """One iteration's samples (Fig. 5): ``template`` (1 x 3 x S x S, target-centred),
    ``search`` (P + N x 3 x S x S: P augmented positives, then N background negatives, float
    RGB 0-255), ``centres`` ((y, x) of the target in each positive, patch pixels), ``size``
    (the target's sqrt(w * h) in patch pixels)."""
    frame, box = _check_inputs(frame_rgb, box)
    if positives < 0 or negatives < 0:
        raise ValueError(f"sample counts must be >= 0, got {positives} positives and {negatives} negatives")
    s = settings
    size = float(math.sqrt(box[2] * box[3]))
    side = s.search_area_scale * size
    px = s.patch_size / side
    half = (s.patch_size - 1) / 2.0
    centre = box_centre(box)
    template = crop_square(frame, centre, side, s.patch_size)
    patches, centres = [], []
    for _ in range(positives):
        shift = rng.uniform(-s.shift_jitter, s.shift_jitter, size=2) * size  # frame pixels (x, y)
        flip = bool(rng.random() < s.flip_probability)
        patch = crop_square(frame, centre + shift, side, s.patch_size, flip).astype(np.float32)
        sigma = rng.uniform(0.0, s.max_blur_sigma)
        if sigma > 0.3:
            patch = cv2.GaussianBlur(patch, (0, 0), sigma)
        gain = rng.uniform(1.0 - s.illumination, 1.0 + s.illumination)
        patch = np.clip(patch * gain + rng.uniform(-s.brightness, s.brightness), 0.0, 255.0)
        patches.append(patch)
        dx = shift[0] * px
        centres.append([half - shift[1] * px, half + dx if flip else half - dx])
    for _ in range(negatives):
        where = _negative_centre(rng, frame.shape[:2], box, side)
        patches.append(crop_square(frame, where, side, s.patch_size, bool(rng.random() < 0.5)).astype(np.float32))

    def tensor(batch) -> torch.Tensor:
        if not batch:
            return torch.zeros(0, 3, s.patch_size, s.patch_size)
        return torch.from_numpy(np.ascontiguousarray(np.stack(batch).transpose(0, 3, 1, 2), dtype=np.float32))

    return {
        "template": tensor([template]),
        "search": tensor(patches),
        "centres": torch.tensor(centres, dtype=torch.float32).reshape(-1, 2),
        "size": torch.tensor(size * px, dtype=torch.float32),
    }


# ----------------------------------------------------------------------------- loss and adaptation


def _responses(student: CFVGGStudent, samples: dict[str, torch.Tensor], settings: AdaptationSettings):
    """Per level: (DCF responses of all search samples, their labels; zero for negatives)."""

    s = settings
    positives = samples["centres"].shape[0]
    fx = student(samples["template"])
    fz = student(samples["search"])
    grids = {lv: tuple(fx[lv].shape[-2:]) for lv in s.levels}
    half = (samples["template"].shape[-1] - 1) / 2.0
    size = samples["size"].view(1)
    x_labels = labels_on_grids(torch.tensor([[half, half]]), size, grids, s.label_sigma_factor, s.min_label_sigma)
    z_labels = labels_on_grids(
        samples["centres"], size.expand(positives), grids, s.label_sigma_factor, s.min_label_sigma
    )
    out = {}
    for lv in s.levels:
        x, z = fx[lv], fz[lv]
        if s.cosine_window:
            taper = cosine_window(grids[lv], dtype=x.dtype)
            x, z = x * taper, z * taper
        response = dcf_response(x, z, x_labels[lv], s.dcf_lambda, relative=True)
        negatives = response.shape[0] - positives
        out[lv] = (response, torch.cat([z_labels[lv], z_labels[lv].new_zeros(negatives, *grids[lv])]))
    return out


def background_aware_loss(
    student: CFVGGStudent, samples: dict[str, torch.Tensor], settings: AdaptationSettings
) -> tuple[torch.Tensor, torch.Tensor]:
    """(positive, negative) parts of L'_tracking (Eq. 10) for one batch of
    :func:`adaptation_samples`: sum over levels of the mean over positives of ||r_l^+ - g_l||^2
    and of the mean over negatives of ||r_l^-||^2 (a negative's label is zero); squared norms
    are summed over each response, as in offline training."""
    positives = samples["centres"].shape[0]
    per_sample = sum(
        (response - label).square().flatten(1).sum(dim=1)
        for response, label in _responses(student, samples, settings).values()
    )
    positive = per_sample[:positives].mean() if positives else per_sample.new_zeros(())
    negative = per_sample[positives:].mean() if per_sample.shape[0] > positives else per_sample.new_zeros(())
    return positive, negative


@torch.no_grad()
def adaptation_metrics(
    student: CFVGGStudent, samples: dict[str, torch.Tensor], settings: AdaptationSettings
) -> dict[str, dict[str, float]]:
    """Per level, on fixed samples: ``positive_peak`` (mean response of the positives at their
    target centre cell, the label's peak, ideally 1), ``negative_energy`` (mean ||r^-||^2, the
    negative part of Eq. 10) and ``positive_loss`` (mean ||r^+ - g||^2, its positive part)."""
    positives = samples["centres"].shape[0]
    metrics = {}
    for lv, (response, label) in _responses(student, samples, settings).items():
        pos, neg = response[:positives], response[positives:]
        peak_cells = label[:positives].flatten(1).argmax(dim=1)
        metrics[lv] = {
            "positive_peak": float(pos.flatten(1).gather(1, peak_cells[:, None]).mean()) if positives else 0.0,
            "negative_energy": float(neg.square().flatten(1).sum(1).mean()) if len(neg) else 0.0,
            "positive_loss": float((pos - label[:positives]).square().flatten(1).sum(1).mean()) if positives else 0.0,
        }
    return metrics


def adapt_student(
    onnx_or_checkpoint,
    frame_rgb,
    box,
    iterations: int = 8,
    samples: int = 32,
    *,
    settings: AdaptationSettings | None = None,
    seed: int = 0,
    threads: int | None = 1,
    as_bytes: bool = False,
    return_stats: bool = False,
):
    """Fine-tune the student on the first frame (§IV-B, Eqs. 10-11) and return it as a contract
    ONNX model (``onnx.ModelProto``, or serialized bytes with ``as_bytes`` for
    ``onnxruntime.InferenceSession``); with ``return_stats`` also an :class:`AdaptationStats`.

    ``onnx_or_checkpoint``: a contract ONNX model (``ModelProto``, bytes or ``.onnx`` path; the
    adapted weights replace its initializers, so the graph and contract stay the same), a
    training checkpoint (``.pt`` path or dict; exported with
    :func:`~cfvgg_ros.training.export.student_to_onnx`) or a :class:`CFVGGStudent`.
    ``frame_rgb``: H x W x 3 uint8 RGB; ``box``: 0-based (x, y, w, h) of the target.
    ``iterations`` SGD steps of ``samples`` positives plus ``settings.negatives`` negatives.
    Deterministic for a given ``seed``; torch runs on ``threads`` threads (restored after)."""
    settings = settings or AdaptationSettings()
    if iterations < 0 or samples < 1:
        raise ValueError(f"iterations must be >= 0 and samples >= 1, got {iterations} and {samples}")
    frame, box = _check_inputs(frame_rgb, box)
    tick = time.perf_counter()
    previous_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        student, model = _load_source(onnx_or_checkpoint)
        student.train()
        negatives = samples if settings.negatives is None else settings.negatives
        rng = np.random.default_rng(seed)
        optimizer = torch.optim.SGD(
            student.parameters(), lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay
        )
        stats = AdaptationStats(settings=asdict(settings))
        tune_tick = time.perf_counter()
        for _ in range(iterations):
            batch = adaptation_samples(frame, box, samples, negatives, settings, rng)
            positive, negative = background_aware_loss(student, batch, settings)
            loss = positive + negative
            if not torch.isfinite(loss):
                raise FloatingPointError(f"non-finite online adaptation loss ({positive.item()}, {negative.item()})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(student.parameters(), settings.grad_clip)
            optimizer.step()
            stats.positive_loss.append(float(positive.detach()))
            stats.negative_loss.append(float(negative.detach()))
        stats.fine_tune_seconds = time.perf_counter() - tune_tick
        student.eval()
        provenance = {
            "online_adaptation": json.dumps(
                {
                    "method": "background-aware first-frame fine-tuning, Wang et al. TIP 2020 Sec. IV-B",
                    "iterations": iterations,
                    "positives": samples,
                    "negatives": negatives,
                    "seed": seed,
                    "box": [round(float(v), 2) for v in box],
                }
            )
        }
        if model is not None:
            adapted = onnx_with_student_weights(model, student, provenance)
        else:
            from .export import student_to_onnx

            adapted, _ = student_to_onnx(student, provenance)
    finally:
        torch.set_num_threads(previous_threads)
    stats.seconds = time.perf_counter() - tick
    result = adapted.SerializeToString() if as_bytes else adapted
    return (result, stats) if return_stats else result
