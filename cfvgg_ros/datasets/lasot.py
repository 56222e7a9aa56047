"""LaSOT loader (Fan et al., "LaSOT: A High-quality Benchmark for Large-scale Single Object
Tracking", CVPR 2019).

Layout::

    <root>/<category>/<category>-<n>/img/00000001.jpg ...
    <root>/<category>/<category>-<n>/groundtruth.txt     x,y,w,h per frame, comma separated
    <root>/<category>/<category>-<n>/full_occlusion.txt  one line of 0/1 flags per frame
    <root>/<category>/<category>-<n>/out_of_view.txt     one line of 0/1 flags per frame

A flat copy (``<root>/<category>-<n>/``, as the test-set archive is often unpacked) is read too.
LaSOT is evaluated with an OTB-derived MATLAB toolkit and its boxes are 1-based MATLAB pixels,
so 1 is subtracted from x and y. Occlusion / out-of-view flags are kept in
``Sequence.attributes`` ("full_occlusion", "out_of_view" as bool arrays) and do *not* blank
the box (the benchmark scores those frames against the annotated box); only invalid boxes
(NaN, w <= 0 or h <= 0) become NaN rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cfvgg_ros.datasets.otb import all_frames_matching, numbered_images, read_boxes, read_number_rows
from cfvgg_ros.datasets.sequence import DatasetError, Sequence

DATASET = "LaSOT"
FPS = 30.0
ANNOTATION = "groundtruth.txt"


def category_of(name: str) -> str:
    """``airplane-1`` -> ``airplane``."""
    if "-" not in name:
        raise DatasetError(f"LaSOT sequence names look like <category>-<n>, got {name!r}")
    return name.rsplit("-", 1)[0]


def sequence_folder(root: Path, name: str) -> Path:
    """``<root>/<category>/<name>``, or ``<root>/<name>`` for a flat copy."""
    root = Path(root)
    nested = root / category_of(name) / name
    if nested.is_dir():
        return nested
    if (root / name).is_dir():
        return root / name
    raise DatasetError(f"{DATASET}/{name}: missing folder {nested}")


def list_lasot_sequences(root: Path) -> list[str]:
    """Sequences under ``root`` (nested by category, or flat) that have ``groundtruth.txt``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"missing LaSOT dataset folder {root}")
    names = set()
    for child in root.iterdir():
        if not child.is_dir():
            continue
        if (child / ANNOTATION).is_file():
            names.add(child.name)
        else:
            names.update(p.name for p in child.iterdir() if p.is_dir() and (p / ANNOTATION).is_file())
    return sorted(names)


def _flags(path: Path, count: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    values = np.array([v for row in read_number_rows(path) for v in row])
    if values.size != count:
        raise DatasetError(f"{path}: {values.size} flags for {count} frames")
    return values.astype(bool)


def load_lasot_sequence(root: Path, name: str) -> Sequence:
    """Load LaSOT sequence ``name`` (e.g. ``airplane-1``) from ``root``."""
    seq_dir = sequence_folder(root, name)
    anno_path = seq_dir / ANNOTATION
    boxes = read_boxes(anno_path, one_based=True)
    image_dir = seq_dir / "img"
    frames = all_frames_matching(numbered_images(image_dir), boxes, image_dir, f"{DATASET}/{name}")
    attributes: dict = {"annotation": str(anno_path), "category": category_of(name)}
    for flag in ("full_occlusion", "out_of_view"):
        values = _flags(seq_dir / f"{flag}.txt", len(boxes))
        if values is not None:
            attributes[flag] = values
    return Sequence(name=name, dataset=DATASET, boxes=boxes, frames=frames, fps=FPS, attributes=attributes)
