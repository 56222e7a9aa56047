"""The train / eval split of the shared sequences (``shared/data/splits.json``).

Training and any tuning may only read "train" sequences; benchmarks only "eval" ones.
Specs are ``"<dataset>/<sequence>"`` with the dataset named as its folder under the data root
(``OTB100/Jogging-1``, ``UAV123_10fps/boat1``).
"""

from __future__ import annotations

import json
from pathlib import Path

from cfvgg_ros.datasets.sequence import DatasetError

SPLIT_NAMES = ("train", "eval")


def _data_root(data_root) -> Path:
    if data_root is None:
        from cfvgg_ros.paths import shared_data_root

        data_root = shared_data_root()
        if data_root is None:
            raise DatasetError("no data root given and shared/data was not found (set $CFVGG_SHARED)")
    return Path(data_root)


def load_splits(data_root=None) -> dict[str, list[str]]:
    """``{"train": [specs], "eval": [specs]}`` from ``<data_root>/splits.json`` (default: shared/data).

    Raises :class:`DatasetError` when the file is missing or malformed, or when a sequence is
    listed in both splits (a train/eval leak)."""
    path = _data_root(data_root) / "splits.json"
    if not path.is_file():
        raise DatasetError(f"missing split file {path}")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(raw, dict) or set(raw) != set(SPLIT_NAMES):
        raise DatasetError(f"{path} must map exactly {SPLIT_NAMES} to {{dataset: [sequences]}}")
    splits: dict[str, list[str]] = {}
    for split in SPLIT_NAMES:
        by_dataset = raw[split]
        if not isinstance(by_dataset, dict):
            raise DatasetError(f"{path}: split {split!r} must map dataset names to sequence lists")
        specs = []
        for dataset, names in by_dataset.items():
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise DatasetError(f"{path}: {split}/{dataset} must be a list of sequence names")
            specs += [f"{dataset}/{name}" for name in names]
        splits[split] = specs
    leaked = sorted(set(splits["train"]) & set(splits["eval"]))
    if leaked:
        raise DatasetError(f"{path}: sequences in both train and eval: {leaked}")
    return splits


def split_of(spec: str, data_root=None) -> str | None:
    """``"train"`` or ``"eval"`` for a ``"<dataset>/<sequence>"`` spec, None when it is in neither.
    Dataset aliases are accepted (``OTB2015/Diving`` is ``OTB100/Diving``)."""
    from cfvgg_ros.datasets import canonical_dataset

    if "/" not in spec:
        raise DatasetError(f"a split spec looks like <dataset>/<sequence>, got {spec!r}")
    dataset, name = spec.split("/", 1)
    try:
        dataset = canonical_dataset(dataset)
    except DatasetError:
        pass
    wanted = f"{dataset}/{name}"
    for split, specs in load_splits(data_root).items():
        if wanted in specs:
            return split
    return None
