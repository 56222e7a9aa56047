"""DTB70 loader (Li & Yeung, "Visual Object Tracking for Unmanned Aerial Vehicles: A
Benchmark and New Motion Models", AAAI 2017).

Layout::

    <root>/<Seq>/img/00001.jpg ...
    <root>/<Seq>/groundtruth_rect.txt    x,y,w,h per frame, comma separated

DTB70 is distributed in the OTB format and evaluated with the OTB MATLAB toolkit, so its
boxes are 1-based MATLAB pixels: 1 is subtracted from x and y. Every image has a box.
"""

from __future__ import annotations

from pathlib import Path

from cfvgg_ros.datasets.otb import all_frames_matching, numbered_images, read_boxes
from cfvgg_ros.datasets.sequence import DatasetError, Sequence

DATASET = "DTB70"
FPS = 30.0
ANNOTATION = "groundtruth_rect.txt"


def list_dtb70_sequences(root: Path) -> list[str]:
    """Sequences under ``root`` that have ``img/`` and ``groundtruth_rect.txt``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"missing DTB70 dataset folder {root}")
    return sorted(p.name for p in root.iterdir() if (p / "img").is_dir() and (p / ANNOTATION).is_file())


def load_dtb70_sequence(root: Path, name: str) -> Sequence:
    """Load DTB70 sequence ``name`` from ``root``."""
    seq_dir = Path(root) / name
    if not seq_dir.is_dir():
        raise DatasetError(f"{DATASET}/{name}: missing folder {seq_dir}")
    anno_path = seq_dir / ANNOTATION
    boxes = read_boxes(anno_path, one_based=True)
    image_dir = seq_dir / "img"
    frames = all_frames_matching(numbered_images(image_dir), boxes, image_dir, f"{DATASET}/{name}")
    return Sequence(name=name, dataset=DATASET, boxes=boxes, frames=frames, fps=FPS,
                    attributes={"annotation": str(anno_path)})
