"""OTB-2015 (OTB100) loader, plus the plain-text annotation helpers the other benchmark
loaders share (the OTB ``x,y,w,h`` text format is the common ancestor of UAV123, DTB70,
LaSOT and GOT-10k ground truth).

Layout (Wu, Lim & Yang, "Object Tracking Benchmark", TPAMI 2015)::

    <root>/<Seq>/img/0001.jpg ...
    <root>/<Seq>/groundtruth_rect.txt          one target
    <root>/<Seq>/groundtruth_rect.1.txt, .2.txt  two targets (Jogging, Skating2) -> <Seq>-1, <Seq>-2

Annotation lines are ``x,y,w,h`` separated by commas, tabs or spaces (mixed across the
benchmark, sometimes with CRLF line ends), in **1-based** MATLAB pixel coordinates: the
toolkit draws ``rectangle('Position', [x y w h])`` on images indexed from 1. We subtract 1
from x and y to get the project's 0-based convention.

Frame ranges follow the toolkit's ``configSeqs100`` (shipped as ``tables/otb2015.json``):
most sequences use images 1..N, but e.g. David uses images 300-770, BlurCar1 247-988,
BlurCar3 3-359, BlurCar4 18-397, Diving scores images 1-215 of 231, Tiger1 drops its first 5
frames (``initOmit``) and Human4 is evaluated on ``groundtruth_rect.2.txt``. A sequence not in
the table (a user's own OTB-layout folder) must have exactly one box per image.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from cfvgg_ros.datasets.sequence import DatasetError, Sequence

DATASET = "OTB100"
FPS = 30.0
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_SEPARATORS = re.compile(r"[,;\s]+")
_TARGET_SUFFIX = re.compile(r"(.+?)[-_.](\d+)")


# ----------------------------------------------------------------------------- shared helpers


@cache
def load_table(filename: str) -> dict:
    """A JSON table shipped in ``cfvgg_ros/datasets/tables`` (``{"source", "fps", "sequences"}``)."""
    try:
        text = resources.files("cfvgg_ros.datasets").joinpath("tables", filename).read_text()
    except FileNotFoundError as exc:
        raise DatasetError(f"package data table cfvgg_ros/datasets/tables/{filename} is missing") from exc
    return json.loads(text)


def read_number_rows(path: Path) -> list[list[float]]:
    """Parse a text file of numbers, one row per non-empty line, separated by commas, tabs,
    spaces or semicolons (``NaN`` allowed). Raises :class:`DatasetError` when the file is
    missing or a token is not a number."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"missing annotation file {path}")
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            rows.append([float(token) for token in _SEPARATORS.split(line) if token])
        except ValueError as exc:
            raise DatasetError(f"{path}:{lineno}: not a list of numbers: {line[:80]!r}") from exc
    if not rows:
        raise DatasetError(f"annotation file {path} is empty")
    return rows


def invalid_to_nan(boxes: np.ndarray) -> np.ndarray:
    """Replace rows that are not a valid box (any non-finite value, or ``w <= 0`` / ``h <= 0``)
    with NaN rows, the project's marker for "target absent"."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(boxes).all(axis=1) | ~(boxes[:, 2] > 0) | ~(boxes[:, 3] > 0)
    boxes[bad] = np.nan
    return boxes


def read_boxes(path: Path, *, one_based: bool) -> np.ndarray:
    """Read an ``x,y,w,h`` annotation file as an (N, 4) float64 array in 0-based pixels
    (subtracting 1 from x and y when ``one_based``); invalid rows become NaN."""
    rows = read_number_rows(path)
    for lineno, row in enumerate(rows, start=1):
        if len(row) != 4:
            raise DatasetError(f"{path}: box {lineno} has {len(row)} numbers, expected 4 (x, y, w, h)")
    boxes = np.array(rows, dtype=np.float64)
    if one_based:
        boxes[:, :2] -= 1.0
    return invalid_to_nan(boxes)


def numbered_images(folder: Path) -> dict[int, Path]:
    """Map frame number -> image path for the image files named by a number in ``folder``
    (``0001.jpg``, ``00000001.jpg``, ...)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"missing image folder {folder}")
    images: dict[int, Path] = {}
    for path in folder.iterdir():
        if path.suffix.lower() in IMAGE_EXTENSIONS and path.stem.isdigit():
            number = int(path.stem)
            if number in images:
                raise DatasetError(f"{folder}: frame {number} twice: {images[number].name}, {path.name}")
            images[number] = path
    if not images:
        raise DatasetError(f"no numbered images ({'/'.join(IMAGE_EXTENSIONS)}) in {folder}")
    return images


def frame_range(images: dict[int, Path], first: int, last: int, folder: Path) -> list[str]:
    """Paths of frames ``first..last`` (inclusive), with a clear error naming the first gap."""
    missing = [n for n in range(first, last + 1) if n not in images]
    if missing:
        raise DatasetError(
            f"{folder}: frames {first}..{last} needed but {len(missing)} are missing "
            f"(first missing: {missing[0]})"
        )
    return [str(images[n]) for n in range(first, last + 1)]


def all_frames_matching(images: dict[int, Path], boxes: np.ndarray, folder: Path, where: str) -> list[str]:
    """All images of ``folder`` in order, which must be consecutive and one per box."""
    if len(images) != len(boxes):
        raise DatasetError(f"{where}: {len(images)} images in {folder} but {len(boxes)} annotated boxes")
    first = min(images)
    return frame_range(images, first, first + len(boxes) - 1, folder)


# ----------------------------------------------------------------------------- OTB-2015


def otb_table() -> dict[str, list]:
    """The OTB-2015 configuration: name -> [folder, annotation file, first, last, omit]."""
    return load_table("otb2015.json")["sequences"]


def canonical_otb_name(name: str) -> str:
    """Normalise target-suffix spellings of table sequences (``Jogging_1``, ``Jogging.1`` ->
    ``Jogging-1``; ``Human4-2`` -> ``Human4``, the OTB-2015 name of that target)."""
    table = otb_table()
    if name in table:
        return name
    match = _TARGET_SUFFIX.fullmatch(name)
    if match:
        base, target = match.groups()
        if f"{base}-{target}" in table:
            return f"{base}-{target}"
        if base in table and table[base][1] == f"groundtruth_rect.{target}.txt":
            return base
    return name


def _entry(root: Path, name: str) -> tuple[str, str, str, int | None, int | None, int]:
    """(sequence name, folder, annotation file, first, last, omit); first/last None when not in the table."""
    name = canonical_otb_name(name)
    table = otb_table()
    if name in table:
        folder, anno, first, last, omit = table[name]
        return name, folder, anno, int(first), int(last), int(omit)
    if (root / name).is_dir():
        return name, name, "groundtruth_rect.txt", None, None, 0
    match = _TARGET_SUFFIX.fullmatch(name)
    if match and (root / match.group(1) / f"groundtruth_rect.{match.group(2)}.txt").is_file():
        base, target = match.groups()
        return f"{base}-{target}", base, f"groundtruth_rect.{target}.txt", None, None, 0
    return name, name, "groundtruth_rect.txt", None, None, 0


def list_otb_sequences(root: Path) -> list[str]:
    """Sequences present under an OTB-layout ``root`` (folders with ``img/`` and a ground-truth
    file); two-target folders give ``<Seq>-1`` and ``<Seq>-2``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"missing OTB dataset folder {root}")
    by_folder: dict[str, list[str]] = {}
    for name, (folder, anno, *_rest) in otb_table().items():
        if (root / folder / anno).is_file():
            by_folder.setdefault(folder, []).append(name)
    names = []
    for folder in sorted(p for p in root.iterdir() if (p / "img").is_dir()):
        if folder.name in by_folder:
            names += sorted(by_folder[folder.name])
        elif (folder / "groundtruth_rect.txt").is_file():
            names.append(folder.name)
        else:
            targets = sorted(p.name.split(".")[1] for p in folder.glob("groundtruth_rect.*.txt"))
            names += [f"{folder.name}-{target}" for target in targets if target.isdigit()]
    return names


def load_otb_sequence(root: Path, name: str) -> Sequence:
    """Load OTB-2015 sequence ``name`` (e.g. ``Diving``, ``Jogging-1``, ``David``) from ``root``."""
    root = Path(root)
    name, folder, anno, first, last, omit = _entry(root, name)
    seq_dir = root / folder
    if not seq_dir.is_dir():
        raise DatasetError(f"OTB sequence {name}: missing folder {seq_dir}")
    anno_path = seq_dir / anno
    boxes = read_boxes(anno_path, one_based=True)
    images = numbered_images(seq_dir / "img")
    where = f"{DATASET}/{name}"
    if first is None:
        frames = all_frames_matching(images, boxes, seq_dir / "img", where)
        first = min(images)
    else:
        if len(boxes) != last - first + 1:
            raise DatasetError(
                f"{where}: {anno_path} has {len(boxes)} boxes but the OTB-2015 range {first}..{last} "
                f"has {last - first + 1} frames"
            )
        frames = frame_range(images, first, last, seq_dir / "img")
    return Sequence(
        name=name,
        dataset=DATASET,
        boxes=boxes[omit:],
        frames=frames[omit:],
        fps=FPS,
        attributes={"first_frame": first + omit, "annotation": str(anno_path)},
    )


def load_otb_folder(path: Path) -> Sequence:
    """Load a single OTB-layout sequence folder (``img/`` + ``groundtruth_rect.txt``); a
    two-target folder is refused with the names to use instead."""
    path = Path(path)
    if not (path / "img").is_dir():
        raise DatasetError(f"{path} is not an OTB-layout sequence folder (no img/)")
    if not (path / "groundtruth_rect.txt").is_file() and path.name not in otb_table():
        targets = [n for n in list_otb_sequences(path.parent) if n.startswith(f"{path.name}-")]
        if targets:
            raise DatasetError(f"{path} holds several targets; load one of {targets} from {path.parent}")
    return load_otb_sequence(path.parent, path.name)
