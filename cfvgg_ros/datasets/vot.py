"""VOT loader (Kristan et al., "The Visual Object Tracking VOT2015 challenge results", ICCVW 2015).

Layout::

    <root>/<seq>/color/00000001.jpg     (VOT2015+ toolkit layout)
    <root>/<seq>/00000001.jpg           (older layout, images beside the annotation)
    <root>/<seq>/groundtruth.txt        one region per frame

A region line has 8 numbers, the corners ``x1,y1,...,x4,y4`` of a rotated rectangle
(VOT2014-2016), or 4 numbers ``x,y,w,h`` (an axis-aligned rectangle; the toolkit accepts
both). The OTB-style box of a polygon is its axis-aligned bounding box: ``x = min xi``,
``y = min yi``, ``w = max xi - min xi``, ``h = max yi - min yi``.

Coordinates are used unchanged, i.e. taken as **0-based**: the VOT toolkit and its TraX
protocol hand the ground-truth region to trackers as-is, and the Python toolkits (vot-toolkit,
GOT-10k toolkit, pysot) read VOT regions as image coordinates without any 1-pixel shift,
unlike the 1-based OTB MATLAB annotations. Frames with a non-finite or empty region become
NaN rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cfvgg_ros.datasets.otb import (
    all_frames_matching,
    invalid_to_nan,
    numbered_images,
    read_number_rows,
)
from cfvgg_ros.datasets.sequence import DatasetError, Sequence

FPS = 30.0
ANNOTATION = "groundtruth.txt"


def region_to_box(region) -> np.ndarray:
    """One VOT region (4 numbers ``x,y,w,h`` or >= 6 polygon corner coordinates) as ``x,y,w,h``."""
    values = np.asarray(region, dtype=np.float64).ravel()
    if values.size == 4:
        return values.copy()
    if values.size >= 6 and values.size % 2 == 0:
        xs, ys = values[0::2], values[1::2]
        return np.array([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()])
    raise DatasetError(f"a VOT region is 4 numbers (x,y,w,h) or >= 6 polygon coordinates, got {values.size}")


def read_vot_boxes(path: Path) -> np.ndarray:
    """Read a VOT ``groundtruth.txt`` as (N, 4) ``x,y,w,h`` boxes, 0-based, invalid rows NaN."""
    rows = read_number_rows(path)
    boxes = []
    for lineno, row in enumerate(rows, start=1):
        try:
            boxes.append(region_to_box(row))
        except DatasetError as exc:
            raise DatasetError(f"{path}:{lineno}: {exc}") from exc
    return invalid_to_nan(np.array(boxes))


def image_folder(seq_dir: Path) -> Path:
    """``<seq>/color`` when present (current toolkit layout), else the sequence folder itself."""
    color = Path(seq_dir) / "color"
    return color if color.is_dir() else Path(seq_dir)


def is_vot_folder(path: Path) -> bool:
    """Whether ``path`` looks like one VOT sequence (``groundtruth.txt`` plus numbered images)."""
    path = Path(path)
    if not (path / ANNOTATION).is_file():
        return False
    folder = image_folder(path)
    return any(p.stem.isdigit() and p.suffix.lower() in (".jpg", ".jpeg", ".png") for p in folder.iterdir())


def list_vot_sequences(root: Path) -> list[str]:
    """Sequences under ``root`` (folders holding ``groundtruth.txt``)."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"missing VOT dataset folder {root}")
    return sorted(p.name for p in root.iterdir() if (p / ANNOTATION).is_file())


def load_vot_sequence(root: Path, name: str, dataset: str = "VOT2015") -> Sequence:
    """Load VOT sequence ``name`` from ``root``; ``dataset`` names the edition in the result."""
    seq_dir = Path(root) / name
    if not seq_dir.is_dir():
        raise DatasetError(f"{dataset}/{name}: missing folder {seq_dir}")
    anno_path = seq_dir / ANNOTATION
    boxes = read_vot_boxes(anno_path)
    folder = image_folder(seq_dir)
    frames = all_frames_matching(numbered_images(folder), boxes, folder, f"{dataset}/{name}")
    return Sequence(name=name, dataset=dataset, boxes=boxes, frames=frames, fps=FPS,
                    attributes={"annotation": str(anno_path)})


def load_vot_folder(path: Path, dataset: str = "VOT") -> Sequence:
    """Load a single VOT-layout sequence folder."""
    path = Path(path)
    return load_vot_sequence(path.parent, path.name, dataset)
