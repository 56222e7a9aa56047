"""Template / search training pairs for the offline distillation (paper §IV-A: a target patch x
and a search patch z from the same video).

A pair is drawn from one sequence: the template is a square patch centred on the annotated
target in frame i, of side ``search_area_scale * sqrt(w * h)`` (the tracker's search area),
resized to ``patch_size``; the search patch comes from a frame j with |i - j| <= ``max_frame_gap``,
centred on the target of frame j shifted by up to ``shift_jitter`` target sizes and scaled by
up to ``exp(+-scale_jitter)``. Optional heavier augmentation of the search patch (beyond the
paper, all off by default; for fine-tuning a student on appearance change the train split shows
too rarely): a turn of up to ``rotation_jitter`` degrees about the patch centre (the target's
position in the patch turned with it), per-channel colour gains ``exp(N(0, colour_jitter))``
times a common brightness gain, a linear motion blur with probability ``blur_probability``, and
both patches grey with probability ``grey_probability``. Each pair is a pure function of (seed, epoch, index), so data
order and content are reproducible and a resumed run sees exactly the data it would have.

Only the **train** split of ``shared/data/splits.json`` (and ``synthetic/<preset>`` sequences)
may be used: :func:`training_sequences` refuses eval-split sequences.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from cfvgg_ros.datasets import DatasetError, Sequence, resolve

MIN_TARGET_SIDE = 2.0  # pixels; smaller (or NaN) annotations are not sampled


@dataclass(frozen=True)
class PairSettings:
    """Geometry and augmentation of the sampled pairs (see the module docstring)."""

    patch_size: int = 224
    search_area_scale: float = 4.0
    max_frame_gap: int = 50
    shift_jitter: float = 0.25
    scale_jitter: float = 0.05
    flip: bool = True
    samples_per_epoch: int = 2000
    rotation_jitter: float = 0.0
    colour_jitter: float = 0.0
    blur_probability: float = 0.0
    grey_probability: float = 0.0

    def __post_init__(self) -> None:
        if self.patch_size < 16:
            raise ValueError(f"patch_size must be >= 16 pixels, got {self.patch_size}")
        if self.search_area_scale <= 1:
            raise ValueError(f"search_area_scale must exceed 1, got {self.search_area_scale}")
        if self.max_frame_gap < 0 or self.shift_jitter < 0 or self.scale_jitter < 0:
            raise ValueError("max_frame_gap, shift_jitter and scale_jitter must be >= 0")
        if self.samples_per_epoch < 1:
            raise ValueError(f"samples_per_epoch must be >= 1, got {self.samples_per_epoch}")
        if not 0 <= self.rotation_jitter <= 180 or not self.colour_jitter >= 0:
            raise ValueError("rotation_jitter must lie in [0, 180] degrees and colour_jitter be >= 0")
        for name in ("blur_probability", "grey_probability"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in [0, 1], got {getattr(self, name)}")


@functools.lru_cache(maxsize=64)
def _load(spec: str, data_root: str | None) -> Sequence:
    return resolve(spec, data_root)


def training_sequences(
    split: str = "train",
    specs: SequenceABC[str] | None = None,
    data_root=None,
    allow_unlisted: bool = False,
) -> list[Sequence]:
    """Load the sequences to train on, refusing anything from the eval split.

    ``specs=None`` takes every sequence of ``split`` (which must be ``"train"``) from
    ``<data_root>/splits.json``. Explicit ``specs`` may name ``synthetic/<preset>`` sequences
    and train-split sequences; a sequence listed in no split needs ``allow_unlisted`` (e.g. a
    user's own ILSVRC-VID or GOT-10k copy); an eval-split sequence is always refused.
    """
    if split != "train":
        raise DatasetError(f"training may only read the 'train' split, not {split!r} (benchmark data)")
    specs = list(specs) if specs else []
    needs_splits = not specs or any(not s.startswith("synthetic/") for s in specs)
    splits = None
    if needs_splits:
        from cfvgg_ros.datasets.splits import load_splits

        splits = load_splits(data_root)
    if not specs:
        specs = list(splits["train"])
    if not specs:
        raise DatasetError("no training sequences given and the train split is empty")
    for spec in specs:
        if spec.startswith("synthetic/"):
            continue
        from cfvgg_ros.datasets.splits import split_of

        which = split_of(spec, data_root)
        if which == "eval":
            raise DatasetError(f"{spec} belongs to the eval split: it must never be used for training")
        if which is None and not allow_unlisted:
            raise DatasetError(
                f"{spec} is in neither split of splits.json; set data.allow_unlisted to train on it"
            )
    root = None if data_root is None else str(data_root)
    return [_load(spec, root) for spec in specs]


def valid_frames(boxes: np.ndarray) -> np.ndarray:
    """Indices of frames whose box is finite with both sides >= ``MIN_TARGET_SIDE``."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    ok = (
        np.all(np.isfinite(boxes), axis=1)
        & (boxes[:, 2] >= MIN_TARGET_SIDE)
        & (boxes[:, 3] >= MIN_TARGET_SIDE)
    )
    return np.flatnonzero(ok)


def box_centre(box: np.ndarray) -> np.ndarray:
    """(x, y) centre of a 0-based (x, y, w, h) box (x = first covered column)."""
    x, y, w, h = (float(v) for v in box)
    return np.array([x + (w - 1) / 2.0, y + (h - 1) / 2.0])


def crop_square(
    frame: np.ndarray,
    centre_xy: np.ndarray,
    side: float,
    out_size: int,
    flip: bool = False,
    angle: float = 0.0,
) -> np.ndarray:
    """``out_size`` x ``out_size`` patch of ``frame`` covering a ``side`` x ``side`` square centred on
    ``centre_xy`` (pixel-centre coordinates), bilinear, borders replicated; mirrored when ``flip``;
    the square turned by ``angle`` radians about its centre (patch axes = the frame's axes turned
    by ``angle``; :func:`patch_position` maps frame points into the patch)."""
    if side <= 0:
        raise ValueError(f"crop side must be positive, got {side}")
    scale = side / out_size
    half = (out_size - 1) / 2.0
    sx = -scale if flip else scale
    # frame_xy = centre_xy + R(angle) @ diag(sx, scale) @ (uv - half)
    if angle == 0.0:
        linear = np.array([[sx, 0.0], [0.0, scale]], np.float64)
    else:
        c, s = np.cos(angle), np.sin(angle)
        linear = np.array([[c * sx, -s * scale], [s * sx, c * scale]], np.float64)
    offset = np.asarray(centre_xy, np.float64) - linear @ np.array([half, half])
    matrix = np.concatenate([linear, offset[:, None]], axis=1)
    return cv2.warpAffine(
        frame,
        matrix,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )


def patch_position(
    offset_xy: np.ndarray, side: float, out_size: int, flip: bool = False, angle: float = 0.0
) -> np.ndarray:
    """(y, x) pixel, in :func:`crop_square`'s patch, of the frame point ``offset_xy`` away from the
    patch's centre (the inverse of its map: uv = half + diag(1/sx, 1/scale) @ R(-angle) @ offset)."""
    px = out_size / side
    half = (out_size - 1) / 2.0
    d = np.asarray(offset_xy, np.float64)
    if angle != 0.0:
        c, s = np.cos(angle), np.sin(angle)
        d = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1]])
    return np.array([half + d[1] * px, half + (-(d[0] * px) if flip else d[0] * px)])


def _motion_blur(patch: np.ndarray, length: int, angle: float) -> np.ndarray:
    """``patch`` blurred along a line of ``length`` pixels at ``angle`` radians (camera motion)."""
    kernel = np.zeros((length, length), np.float32)
    mid = (length - 1) / 2.0
    for t in np.linspace(-mid, mid, 2 * length):
        kernel[int(round(mid + t * np.sin(angle))), int(round(mid + t * np.cos(angle)))] = 1.0
    return cv2.filter2D(patch, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)


def _grey(patch: np.ndarray) -> np.ndarray:
    """Luma (ITU-R BT.601) copied into the three channels."""
    luma = patch.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(luma[..., None], 3, axis=2).astype(patch.dtype)


class PairDataset(torch.utils.data.Dataset):
    """``samples_per_epoch`` random template/search pairs per epoch; item ``index`` of epoch
    ``epoch`` (set with :meth:`set_epoch`) depends only on (seed, epoch, index).

    Items: ``template`` / ``search`` (3 x S x S float32 RGB 0-255), ``template_centre`` /
    ``search_centre`` ((y, x) of the target centre in patch pixels) and ``template_size`` /
    ``search_size`` (the target's sqrt(w * h) in patch pixels)."""

    def __init__(self, sequences: SequenceABC[Sequence], settings: PairSettings, seed: int = 0):
        self.settings, self.seed, self.epoch = settings, int(seed), 0
        self.sequences, self.valid = [], []
        for seq in sequences:
            frames = valid_frames(seq.boxes)
            if len(frames) >= 2:
                self.sequences.append(seq)
                self.valid.append(frames)
        if not self.sequences:
            raise DatasetError("no sequence has two or more frames with a visible target")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.settings.samples_per_epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"pair index {index} out of range 0..{len(self) - 1}")
        s = self.settings
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        k = int(rng.integers(len(self.sequences)))
        seq, frames = self.sequences[k], self.valid[k]
        i = int(frames[rng.integers(len(frames))])
        near = frames[(np.abs(frames - i) <= s.max_frame_gap) & (frames != i)]
        j = int(near[rng.integers(len(near))]) if len(near) else i
        flip = bool(s.flip and rng.random() < 0.5)
        half = (s.patch_size - 1) / 2.0

        box_x = seq.boxes[i]
        size_x = float(np.sqrt(box_x[2] * box_x[3]))
        side_x = s.search_area_scale * size_x
        template = crop_square(seq.frame(i), box_centre(box_x), side_x, s.patch_size, flip)

        box_z = seq.boxes[j]
        size_z = float(np.sqrt(box_z[2] * box_z[3]))
        side_z = s.search_area_scale * size_z * float(np.exp(rng.uniform(-s.scale_jitter, s.scale_jitter)))
        shift = rng.uniform(-s.shift_jitter, s.shift_jitter, size=2) * size_z  # frame pixels, (x, y)
        # the optional augmentations draw after the paper's draws, so their defaults keep every
        # pair of a run without them identical
        angle = np.deg2rad(rng.uniform(-s.rotation_jitter, s.rotation_jitter)) if s.rotation_jitter else 0.0
        search = crop_square(seq.frame(j), box_centre(box_z) + shift, side_z, s.patch_size, flip, angle)
        px = s.patch_size / side_z
        target_z = patch_position(-shift, side_z, s.patch_size, flip, angle)
        if s.colour_jitter:
            gains = np.exp(rng.normal(0.0, s.colour_jitter, size=3) + rng.normal(0.0, s.colour_jitter))
            search = np.clip(search.astype(np.float32) * gains.astype(np.float32), 0, 255).astype(search.dtype)
        if s.blur_probability and rng.random() < s.blur_probability:
            length = int(rng.integers(3, max(4, s.patch_size // 20) + 1))
            search = _motion_blur(search, length, float(rng.uniform(0.0, np.pi)))
        if s.grey_probability and rng.random() < s.grey_probability:
            template, search = _grey(template), _grey(search)

        def tensor(patch: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1))).float()

        return {
            "template": tensor(template),
            "search": tensor(search),
            "template_centre": torch.tensor([half, half], dtype=torch.float32),
            "search_centre": torch.tensor(target_z, dtype=torch.float32),
            "template_size": torch.tensor(size_x * s.patch_size / side_x, dtype=torch.float32),
            "search_size": torch.tensor(size_z * px, dtype=torch.float32),
        }
