"""Benchmark sequences in their official layouts: OTB-2015, UAV123 (30 fps and 10 fps),
UAV20L, DTB70, VOT, LaSOT, GOT-10k, plus synthetic sequences.

Every loader returns a :class:`~cfvgg_ros.datasets.sequence.Sequence` with 0-based
``(x, y, w, h)`` float64 boxes (NaN rows where the target is absent) and one frame path per box.

* :func:`list_sequences` / :func:`load_sequence` take a dataset name and its root folder.
* :func:`resolve` takes a spec ``"<dataset>/<sequence>"`` and the data root holding one folder
  per dataset (``shared/data`` layout), a path to a single OTB- or VOT-layout sequence folder,
  or ``"synthetic/<preset>"``.
"""

from __future__ import annotations

from pathlib import Path

from cfvgg_ros.datasets.sequence import DatasetError, Sequence, read_rgb

DATASETS = (
    "OTB100", "UAV123", "UAV123_10fps", "UAV20L", "DTB70", "VOT2015", "VOT", "LaSOT", "GOT10k", "synthetic",
)

_ALIASES = {
    "otb100": "OTB100",
    "otb2015": "OTB100",
    "otb-2015": "OTB100",
    "otb": "OTB100",
    "uav123": "UAV123",
    "uav123_10fps": "UAV123_10fps",
    "uav123@10fps": "UAV123_10fps",
    "uav20l": "UAV20L",
    "dtb70": "DTB70",
    "vot2015": "VOT2015",
    "vot": "VOT",
    "lasot": "LaSOT",
    "got10k": "GOT10k",
    "got-10k": "GOT10k",
    "synthetic": "synthetic",
}

# folder(s) of each dataset under a data root, first existing one wins (UAV20L shares UAV123's root)
_FOLDERS = {
    "OTB100": ("OTB100", "OTB2015", "OTB"),
    "UAV123": ("UAV123",),
    "UAV123_10fps": ("UAV123_10fps",),
    "UAV20L": ("UAV123", "UAV20L"),
    "DTB70": ("DTB70",),
    "VOT2015": ("VOT2015",),
    "VOT": ("VOT",),
    "LaSOT": ("LaSOT",),
    "GOT10k": ("GOT10k", "GOT-10k"),
}

__all__ = [
    "DATASETS",
    "DatasetError",
    "Sequence",
    "canonical_dataset",
    "dataset_root",
    "list_sequences",
    "load_sequence",
    "read_rgb",
    "resolve",
]


def canonical_dataset(dataset: str) -> str:
    """The canonical name of ``dataset`` (case-insensitive; ``OTB2015`` -> ``OTB100``)."""
    canonical = _ALIASES.get(str(dataset).lower())
    if canonical is None:
        raise DatasetError(f"unknown dataset {dataset!r}; expected one of {DATASETS} (or alias OTB2015)")
    return canonical


def dataset_root(dataset: str, data_root) -> Path:
    """The folder of ``dataset`` under ``data_root`` (e.g. ``data_root/UAV123`` for UAV20L)."""
    dataset = canonical_dataset(dataset)
    if dataset == "synthetic":
        raise DatasetError("synthetic sequences have no folder; use resolve('synthetic/<preset>')")
    if data_root is None:
        raise DatasetError(f"no data root given for {dataset}")
    candidates = [Path(data_root) / folder for folder in _FOLDERS[dataset]]
    for path in candidates:
        if path.is_dir():
            return path
    raise DatasetError(f"{dataset} not found: none of {[str(p) for p in candidates]} exists")


def list_sequences(dataset: str, root) -> list[str]:
    """Names of the sequences of ``dataset`` present under its root folder ``root``
    (UAV benchmarks: those whose annotation file and frame folder exist; synthetic: the presets)."""
    dataset = canonical_dataset(dataset)
    root = Path(root)
    if dataset == "OTB100":
        from cfvgg_ros.datasets.otb import list_otb_sequences

        return list_otb_sequences(root)
    if dataset in ("UAV123", "UAV123_10fps", "UAV20L"):
        from cfvgg_ros.datasets.uav123 import list_uav_sequences

        return list_uav_sequences(root, dataset)
    if dataset == "DTB70":
        from cfvgg_ros.datasets.dtb70 import list_dtb70_sequences

        return list_dtb70_sequences(root)
    if dataset in ("VOT2015", "VOT"):
        from cfvgg_ros.datasets.vot import list_vot_sequences

        return list_vot_sequences(root)
    if dataset == "LaSOT":
        from cfvgg_ros.datasets.lasot import list_lasot_sequences

        return list_lasot_sequences(root)
    if dataset == "GOT10k":
        from cfvgg_ros.datasets.got10k import list_got10k_sequences

        return list_got10k_sequences(root)
    try:  # synthetic: the generator's preset names (``root`` is ignored)
        from cfvgg_ros.datasets.synthetic import PRESETS
    except ImportError as exc:
        raise DatasetError(f"synthetic sequences are unavailable: {exc}") from exc
    return sorted(PRESETS)


def load_sequence(dataset: str, root, name: str) -> Sequence:
    """Load sequence ``name`` of ``dataset`` from its root folder ``root``."""
    dataset = canonical_dataset(dataset)
    if dataset == "synthetic":
        return _synthetic(name)
    root = Path(root)
    if dataset == "OTB100":
        from cfvgg_ros.datasets.otb import load_otb_sequence

        return load_otb_sequence(root, name)
    if dataset in ("UAV123", "UAV123_10fps", "UAV20L"):
        from cfvgg_ros.datasets.uav123 import load_uav_sequence

        return load_uav_sequence(root, name, dataset)
    if dataset == "DTB70":
        from cfvgg_ros.datasets.dtb70 import load_dtb70_sequence

        return load_dtb70_sequence(root, name)
    if dataset in ("VOT2015", "VOT"):
        from cfvgg_ros.datasets.vot import load_vot_sequence

        return load_vot_sequence(root, name, dataset)
    if dataset == "LaSOT":
        from cfvgg_ros.datasets.lasot import load_lasot_sequence

        return load_lasot_sequence(root, name)
    from cfvgg_ros.datasets.got10k import load_got10k_sequence

    return load_got10k_sequence(root, name)


def _synthetic(preset: str) -> Sequence:
    from cfvgg_ros.datasets.synthetic import make_sequence  # lazy: optional sibling module

    return make_sequence(preset)


def resolve(spec: str, data_root=None) -> Sequence:
    """Load the sequence named by ``spec``:

    * ``"<dataset>/<name>"`` from ``data_root/<dataset folder>`` (``OTB100/Jogging-1``,
      ``UAV123_10fps/boat1``, ``UAV20L/bike1`` under ``data_root/UAV123``, ...);
    * ``"synthetic/<preset>"`` via ``cfvgg_ros.datasets.synthetic.make_sequence``;
    * a path to one OTB-layout (``img/`` + ``groundtruth_rect.txt``) or VOT-layout
      (``groundtruth.txt`` + numbered images) sequence folder.
    """
    spec = str(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        if (path / "img").is_dir():
            from cfvgg_ros.datasets.otb import load_otb_folder

            return load_otb_folder(path)
        from cfvgg_ros.datasets.vot import is_vot_folder, load_vot_folder

        if is_vot_folder(path):
            return load_vot_folder(path)
        raise DatasetError(f"{path} is neither an OTB-layout nor a VOT-layout sequence folder")
    if "/" not in spec:
        raise DatasetError(f"spec must be '<dataset>/<sequence>' or a sequence folder, got {spec!r}")
    dataset, name = spec.split("/", 1)
    if not name:
        raise DatasetError(f"spec {spec!r} names no sequence")
    dataset = canonical_dataset(dataset)
    if dataset == "synthetic":
        return _synthetic(name)
    if data_root is None:
        from cfvgg_ros.paths import shared_data_root

        data_root = shared_data_root()
        if data_root is None:
            raise DatasetError(f"cannot resolve {spec!r}: no data root given and shared/data was not found")
    return load_sequence(dataset, dataset_root(dataset, data_root), name)
