"""UAV123, UAV123@10fps and UAV20L loaders (Mueller, Smith & Ghanem, "A Benchmark and
Simulator for UAV Tracking", ECCV 2016).

Layout of the official downloads (``root`` is the folder holding ``anno/`` and ``data_seq/``)::

    <root>/data_seq/UAV123/<video>/000001.jpg            UAV123 and UAV20L frames (30 fps)
    <root>/data_seq/UAV123_10fps/<video>/000001.jpg      UAV123@10fps frames
    <root>/anno/UAV123/<seq>.txt, anno/UAV123_10fps/<seq>.txt, anno/UAV20L/<seq>.txt

Several sequences cut one video: ``bird1_2`` is frames 775-1477 (30 fps) or 259-493
(10 fps) of folder ``bird1``. The folder is the sequence name without a trailing
``_<number>`` (``car1_s`` is its own folder). The ranges are the toolkit's ``configSeqs``,
shipped as ``tables/uav123.json``, ``tables/uav123_10fps.json`` and ``tables/uav20l.json``
(UAV20L: whole folders). Annotations are ``x,y,w,h`` with commas, ``NaN,NaN,NaN,NaN`` when
the target is fully occluded or out of view, in 1-based MATLAB pixels (the benchmark is
evaluated with the OTB MATLAB toolkit), so 1 is subtracted from x and y.

Trimmed folders: some redistributions (including ``shared/data/UAV123_10fps``) keep only a
sequence's own frames, renumbered from ``000001``. When frame ``first`` of the range is absent
but the folder holds exactly ``last - first + 1`` numbered images, those images are used in
order. (In the shared copy every range starts at 1, so both readings agree.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cfvgg_ros.datasets.otb import frame_range, load_table, numbered_images, read_boxes
from cfvgg_ros.datasets.sequence import DatasetError, Sequence


@dataclass(frozen=True)
class UAVVariant:
    """Where one UAV benchmark keeps its frames and annotations, and its range table."""

    name: str
    frames_dir: str
    anno_dir: str
    table: str
    fps: float


VARIANTS = {
    "UAV123": UAVVariant("UAV123", "UAV123", "UAV123", "uav123.json", 30.0),
    "UAV123_10fps": UAVVariant("UAV123_10fps", "UAV123_10fps", "UAV123_10fps", "uav123_10fps.json", 10.0),
    "UAV20L": UAVVariant("UAV20L", "UAV123", "UAV20L", "uav20l.json", 30.0),
}


def _variant(variant: str) -> UAVVariant:
    if variant not in VARIANTS:
        raise DatasetError(f"unknown UAV benchmark {variant!r}; expected one of {sorted(VARIANTS)}")
    return VARIANTS[variant]


def uav_ranges(variant: str = "UAV123") -> dict[str, tuple[int, int]]:
    """Sequence -> (first, last) 1-based inclusive frame numbers from the shipped table."""
    table = load_table(_variant(variant).table)["sequences"]
    return {name: (int(first), int(last)) for name, (first, last) in table.items()}


def video_of(sequence: str) -> str:
    """Frame folder of a sequence: its name without a trailing ``_<number>`` (``bird1_2`` -> ``bird1``)."""
    return re.sub(r"_\d+$", "", sequence)


def list_uav_sequences(root: Path, variant: str = "UAV123") -> list[str]:
    """Sequences of ``variant`` under ``root`` whose annotation file and frame folder both exist."""
    spec = _variant(variant)
    root = Path(root)
    anno_dir = root / "anno" / spec.anno_dir
    if not anno_dir.is_dir():
        raise DatasetError(f"missing {variant} annotation folder {anno_dir}")
    frames_root = root / "data_seq" / spec.frames_dir
    return sorted(
        path.stem for path in anno_dir.glob("*.txt") if (frames_root / video_of(path.stem)).is_dir()
    )


def _frames(folder: Path, first: int, last: int, where: str) -> list[str]:
    images = numbered_images(folder)
    count = last - first + 1
    if first not in images and len(images) == count:
        # trimmed folder holding only this sequence's frames (see module docstring)
        return [str(images[n]) for n in sorted(images)]
    if first not in images:
        raise DatasetError(
            f"{where}: {folder} has no frame {first} and holds {len(images)} images, "
            f"not the {count} of a trimmed copy of range {first}..{last}"
        )
    return frame_range(images, first, last, folder)


def load_uav_sequence(root: Path, name: str, variant: str = "UAV123") -> Sequence:
    """Load sequence ``name`` of ``variant`` ("UAV123", "UAV123_10fps" or "UAV20L") from ``root``.

    A name missing from the range table (a custom sequence in this layout) uses frames
    1..N of its folder, N = number of annotation lines.
    """
    spec = _variant(variant)
    root = Path(root)
    where = f"{spec.name}/{name}"
    anno_path = root / "anno" / spec.anno_dir / f"{name}.txt"
    if not anno_path.is_file():
        raise DatasetError(f"{where}: missing annotation file {anno_path}")
    boxes = read_boxes(anno_path, one_based=True)
    ranges = uav_ranges(spec.name)
    first, last = ranges.get(name, (1, len(boxes)))
    if len(boxes) != last - first + 1:
        raise DatasetError(
            f"{where}: {anno_path} has {len(boxes)} boxes but the range {first}..{last} "
            f"has {last - first + 1} frames"
        )
    folder = root / "data_seq" / spec.frames_dir / video_of(name)
    if not folder.is_dir():
        raise DatasetError(f"{where}: missing frame folder {folder}")
    frames = _frames(folder, first, last, where)
    return Sequence(
        name=name,
        dataset=spec.name,
        boxes=boxes,
        frames=frames,
        fps=spec.fps,
        attributes={
            "first_frame": first, "last_frame": last, "video": video_of(name), "annotation": str(anno_path),
        },
    )
