"""GOT-10k loader (Huang, Zhao & Huang, "GOT-10k: A Large High-Diversity Benchmark for Generic
Object Tracking in the Wild", TPAMI 2019).

Layout::

    <root>/<split>/GOT-10k_<Split>_<nnnnnn>/00000001.jpg ...   split: train, val, test
    <root>/<split>/GOT-10k_<Split>_<nnnnnn>/groundtruth.txt    x,y,w,h, comma separated
    <root>/<split>/GOT-10k_<Split>_<nnnnnn>/absence.label      optional, 1 per frame where absent

The test split ships only the first frame's box: the remaining frames get NaN rows (unknown).
``absence.label`` (train/val) marks frames without the target, which become NaN rows.

Coordinates: the GOT-10k authors state that "all coordinate values are 1-based"
(got-10k/toolkit issue #6, answer by the maintainer), so 1 is subtracted from x and y.
Frame rate: GOT-10k videos are sampled at 10 fps, so ``fps = 10``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cfvgg_ros.datasets.otb import frame_range, numbered_images, read_boxes, read_number_rows
from cfvgg_ros.datasets.sequence import DatasetError, Sequence

DATASET = "GOT10k"
FPS = 10.0
ANNOTATION = "groundtruth.txt"
SPLITS = ("train", "val", "test")


def split_of_name(name: str) -> str | None:
    """``GOT-10k_Test_000001`` -> ``test`` (None when the name carries no split)."""
    parts = name.split("_")
    if len(parts) >= 3 and parts[1].lower() in SPLITS:
        return parts[1].lower()
    return None


def sequence_folder(root: Path, name: str) -> Path:
    """Folder of ``name`` (optionally written ``<split>/<name>``) under ``root`` or ``root/<split>``."""
    root = Path(root)
    if "/" in name:
        split, name = name.split("/", 1)
        candidates = [root / split / name]
    else:
        split = split_of_name(name)
        candidates = [root / split / name] if split else []
        candidates += [root / s / name for s in SPLITS] + [root / name]
    for path in candidates:
        if path.is_dir():
            return path
    raise DatasetError(f"{DATASET}/{name}: missing folder {candidates[0]}")


def list_got10k_sequences(root: Path) -> list[str]:
    """Sequences under ``root/{train,val,test}`` (or directly under ``root``) with ``groundtruth.txt``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"missing GOT-10k dataset folder {root}")
    folders = [root / s for s in SPLITS if (root / s).is_dir()] or [root]
    return sorted(p.name for folder in folders for p in folder.iterdir() if (p / ANNOTATION).is_file())


def load_got10k_sequence(root: Path, name: str) -> Sequence:
    """Load GOT-10k sequence ``name`` (e.g. ``GOT-10k_Test_000001``) from ``root``."""
    seq_dir = sequence_folder(root, name)
    name = seq_dir.name
    where = f"{DATASET}/{name}"
    anno_path = seq_dir / ANNOTATION
    boxes = read_boxes(anno_path, one_based=True)
    images = numbered_images(seq_dir)
    count = len(images)
    if len(boxes) == 1 and count > 1:
        boxes = np.vstack([boxes, np.full((count - 1, 4), np.nan)])  # test split: first box only
    elif len(boxes) != count:
        raise DatasetError(f"{where}: {count} images in {seq_dir} but {len(boxes)} boxes in {anno_path}")
    frames = frame_range(images, min(images), min(images) + count - 1, seq_dir)
    absence_path = seq_dir / "absence.label"
    attributes: dict = {"annotation": str(anno_path), "split": split_of_name(name) or seq_dir.parent.name}
    if absence_path.is_file():
        absent = np.array([v for row in read_number_rows(absence_path) for v in row]).astype(bool)
        if absent.size != count:
            raise DatasetError(f"{absence_path}: {absent.size} flags for {count} frames")
        boxes[absent] = np.nan
        attributes["absent"] = absent
    return Sequence(name=name, dataset=DATASET, boxes=boxes, frames=frames, fps=FPS, attributes=attributes)
