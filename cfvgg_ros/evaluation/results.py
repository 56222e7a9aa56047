"""Per-sequence benchmark results on disk.

Layout: ``<run_dir>/<tracker>/<dataset>/<sequence>.npz`` (``run_dir`` is ``results/<run-name>``)
plus ``<sequence>.txt``, the predicted boxes as ``x,y,w,h`` lines like the OTB/UAV toolkits'
result files (``NaN,NaN,NaN,NaN`` where there is no prediction). Both are written atomically
(temporary file + ``os.replace``) and only once a sequence is complete, so a killed run leaves
no partial result; the ``.npz`` is the marker that a sequence is done.

The ``.npz`` holds ``boxes`` (N, 4), ``scores`` (N,), ``times`` (N,) -- seconds spent in
``update()`` per frame, NaN for the init frame and any frames before it --, ``init_time``
(seconds in ``init()``), ``init_frame``, ``gt_boxes`` (N, 4) so that reports need no data
folder, ``errors`` (one line per tracker exception), and JSON strings ``params`` and
``metadata`` (package version, UTC date, CPU, library versions).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RESULT_SUFFIX = ".npz"
BOXES_SUFFIX = ".txt"
_SAFE_CHARS = re.compile(r"[^A-Za-z0-9._=+,@-]")
_MAX_LABEL = 80


@dataclass
class SequenceResult:
    """One tracker's output on one sequence (see the module docstring for the fields)."""

    tracker: str
    dataset: str
    sequence: str
    boxes: np.ndarray
    scores: np.ndarray
    times: np.ndarray
    gt_boxes: np.ndarray
    init_frame: int = 0
    init_time: float = float("nan")
    params: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.gt_boxes = np.asarray(self.gt_boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        self.times = np.asarray(self.times, dtype=np.float64).reshape(-1)
        n = len(self.boxes)
        if not (len(self.gt_boxes) == len(self.scores) == len(self.times) == n):
            raise ValueError(
                f"{self.tracker}/{self.dataset}/{self.sequence}: boxes {n}, gt {len(self.gt_boxes)}, "
                f"scores {len(self.scores)}, times {len(self.times)} rows differ"
            )

    @property
    def num_frames(self) -> int:
        return len(self.boxes)

    @property
    def num_updates(self) -> int:
        """Frames on which ``update()`` ran (finite time)."""
        return int(np.isfinite(self.times).sum())

    @property
    def update_seconds(self) -> float:
        """Total seconds spent in ``update()`` (init excluded)."""
        return float(np.nansum(self.times))

    @property
    def fps(self) -> float:
        """Update frames per second of ``update()`` time (NaN when no update ran)."""
        seconds = self.update_seconds
        return self.num_updates / seconds if self.num_updates and seconds > 0 else float("nan")


def safe_component(name: str, what: str = "name") -> str:
    """Check that ``name`` can be one folder/file name (no separators, not ``.``/``..``)."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{what} {name!r} cannot be used as a file name")
    return name


def _param_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def tracker_label(name: str, params: dict | None = None) -> str:
    """Folder name for a tracker configuration: ``name`` alone without params, else
    ``name@key=value,...`` (sorted keys, unsafe characters replaced by ``_``; long labels end
    in a short hash so different params never share a folder)."""
    safe_component(name, "tracker name")
    if not params:
        return name
    text = ",".join(f"{key}={_param_text(params[key])}" for key in sorted(params))
    label = _SAFE_CHARS.sub("_", f"{name}@{text}")
    if len(label) > _MAX_LABEL or label != f"{name}@{text}":
        import hashlib

        digest = hashlib.sha1(text.encode()).hexdigest()[:8]
        label = f"{label[: _MAX_LABEL - 9]}~{digest}"
    return label


def result_path(run_dir, tracker: str, dataset: str, sequence: str, suffix: str = RESULT_SUFFIX) -> Path:
    """``<run_dir>/<tracker>/<dataset>/<sequence><suffix>``."""
    return (Path(run_dir) / safe_component(tracker, "tracker") / safe_component(dataset, "dataset")
            / (safe_component(sequence, "sequence") + suffix))


def has_result(run_dir, tracker: str, dataset: str, sequence: str) -> bool:
    """Whether a complete result is stored for this tracker and sequence."""
    return result_path(run_dir, tracker, dataset, sequence).is_file()


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_metadata() -> dict:
    """Provenance of a run: package version, UTC date, CPU, platform, library versions."""
    from cfvgg_ros import __version__

    meta = {
        "package_version": __version__,
        "date_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu": _cpu_name(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    if "cv2" in sys.modules:
        meta["opencv"] = sys.modules["cv2"].__version__
    if hasattr(os, "sched_getaffinity"):
        meta["cpu_affinity"] = sorted(os.sched_getaffinity(0))
    return meta


def _atomic_write(path: Path, write) -> None:
    """Write via ``write(file_object)`` into a temporary file beside ``path``, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def format_boxes(boxes: np.ndarray) -> str:
    """Boxes as ``x,y,w,h`` lines (4 decimals; ``NaN`` for missing values)."""
    lines = []
    for row in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        lines.append(",".join("NaN" if not math.isfinite(v) else f"{v:.4f}" for v in row))
    return "\n".join(lines) + ("\n" if lines else "")


def save_result(result: SequenceResult, run_dir) -> Path:
    """Store ``result`` (``.txt`` then ``.npz``, each atomically). Returns the ``.npz`` path."""
    npz_path = result_path(run_dir, result.tracker, result.dataset, result.sequence)
    txt_path = npz_path.with_suffix(BOXES_SUFFIX)
    _atomic_write(txt_path, lambda handle: handle.write(format_boxes(result.boxes).encode()))
    arrays = {
        "boxes": result.boxes,
        "scores": result.scores,
        "times": result.times,
        "gt_boxes": result.gt_boxes,
        "init_frame": np.int64(result.init_frame),
        "init_time": np.float64(result.init_time),
        "errors": np.array(result.errors, dtype=np.str_).reshape(-1),
        "params": np.str_(json.dumps(result.params, sort_keys=True, default=str)),
        "metadata": np.str_(json.dumps(result.metadata, sort_keys=True, default=str)),
        "names": np.array([result.tracker, result.dataset, result.sequence], dtype=np.str_),
    }
    _atomic_write(npz_path, lambda handle: np.savez(handle, **arrays))
    return npz_path


def read_result(path) -> SequenceResult:
    """Load a stored ``.npz`` result file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no result file {path}")
    with np.load(path, allow_pickle=False) as data:
        tracker, dataset, sequence = (str(v) for v in data["names"])
        return SequenceResult(
            tracker=tracker,
            dataset=dataset,
            sequence=sequence,
            boxes=data["boxes"],
            scores=data["scores"],
            times=data["times"],
            gt_boxes=data["gt_boxes"],
            init_frame=int(data["init_frame"]),
            init_time=float(data["init_time"]),
            errors=[str(v) for v in data["errors"]],
            params=json.loads(str(data["params"])),
            metadata=json.loads(str(data["metadata"])),
        )


def stored_provenance(path) -> tuple[str | None, str | None]:
    """``(fingerprint digest, init perturbation)`` recorded in a stored result's metadata
    (``None`` for what it lacks; results written before fingerprints have no digest)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            metadata = json.loads(str(data["metadata"]))
    except (OSError, ValueError, KeyError):
        return None, None
    fingerprint = metadata.get("fingerprint") or {}
    return fingerprint.get("digest"), metadata.get("init_perturbation")


def load_result(run_dir, tracker: str, dataset: str, sequence: str) -> SequenceResult:
    """Load the stored result of ``tracker`` on ``dataset/sequence`` under ``run_dir``."""
    return read_result(result_path(run_dir, tracker, dataset, sequence))


def iter_results(run_dir) -> list[SequenceResult]:
    """Every stored result under ``run_dir`` (sorted by tracker, dataset, sequence)."""
    return [read_result(path) for path in sorted(Path(run_dir).glob(f"*/*/*{RESULT_SUFFIX}"))]
