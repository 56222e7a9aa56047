"""Registry of trackers by name: ``create_tracker(name, **params)`` and ``tracker_info(name)``.

Tracker modules register a factory with :func:`register_tracker`, together with a
:class:`TrackerInfo` that tells a host (the ROS node, the benchmark) what it needs to know about
the tracker without building one: its default LOST threshold, whether it loads the CNN student
(and so takes a ``model_path`` parameter), and its optional capabilities. Factories may be given
as lazy ``"module:attr"`` strings so that listing names costs nothing.

The built-in trackers register themselves in the catalogue modules named in
:data:`CATALOGUES` (imported by name on the first query, so this module imports nothing above
the core).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass

from .contract import Tracker

#: Capability: the tracker implements :meth:`Tracker.redetect` (a wider search after a loss).
REDETECT = "redetect"
CAPABILITIES = frozenset({REDETECT})

#: Default LOST threshold of trackers that register none: the OpenCV peers report 1 (found) / 0 (lost).
DEFAULT_LOST_THRESHOLD = 0.5

#: Modules that register the built-in trackers when imported (see :func:`register_tracker`).
CATALOGUES = ("cfvgg_ros.trackers",)


@dataclass(frozen=True)
class TrackerInfo:
    """What a host needs to know about a registered tracker.

    ``lost_threshold``: a frame scoring below it counts as a miss (the score's scale is the
    tracker's own). ``cnn_model``: the tracker's features come from the ONNX CNN student, whose
    file the ``model_path`` parameter names (None: the shipped student). ``capabilities``: a
    subset of :data:`CAPABILITIES`. ``description``: one line for listings.
    """

    lost_threshold: float = DEFAULT_LOST_THRESHOLD
    cnn_model: bool = False
    capabilities: frozenset[str] = frozenset()
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "capabilities", frozenset(self.capabilities))
        unknown = self.capabilities - CAPABILITIES
        if unknown:
            raise ValueError(f"unknown tracker capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")

    def supports(self, capability: str) -> bool:
        return capability in self.capabilities


_LAZY: dict[str, str] = {}
_FACTORIES: dict[str, Callable[..., Tracker]] = {}
_INFO: dict[str, TrackerInfo] = {}
_catalogues_loaded = False
_catalogue_lock = threading.Lock()


def _load_catalogues() -> None:
    global _catalogues_loaded
    if _catalogues_loaded:
        return
    with _catalogue_lock:
        if not _catalogues_loaded:
            _catalogues_loaded = True
            for module in CATALOGUES:
                importlib.import_module(module)


def register_tracker(name: str, factory: Callable[..., Tracker] | str, info: TrackerInfo | None = None) -> None:
    """Register ``factory`` (a callable, or a lazy ``"module:attr[.attr]"`` string) as ``name``,
    described by ``info`` (default: :class:`TrackerInfo` ()). Re-registering a name replaces it."""
    if isinstance(factory, str):
        _LAZY[name] = factory
        _FACTORIES.pop(name, None)
    else:
        _FACTORIES[name] = factory
        _LAZY.pop(name, None)
    _INFO[name] = info or TrackerInfo()


def available_trackers() -> list[str]:
    """Names accepted by :func:`create_tracker`, sorted."""
    _load_catalogues()
    return sorted(set(_LAZY) | set(_FACTORIES))


def tracker_info(name: str) -> TrackerInfo:
    """The :class:`TrackerInfo` registered with ``name`` (a default one for names that are not
    registered, such as plug-in factories named ``module:attr``)."""
    _load_catalogues()
    return _INFO.get(name, TrackerInfo())


def _resolve(name: str) -> Callable[..., Tracker]:
    _load_catalogues()
    if name in _FACTORIES:
        return _FACTORIES[name]
    if name not in _LAZY:
        raise KeyError(f"unknown tracker {name!r}; available: {', '.join(available_trackers())}")
    module_name, attr_path = _LAZY[name].split(":")
    obj = importlib.import_module(module_name)
    for part in attr_path.split("."):
        obj = getattr(obj, part)
    _FACTORIES[name] = obj
    return obj


def create_tracker(name: str, **params) -> Tracker:
    """Create the tracker registered as ``name`` with keyword parameters ``params``."""
    tracker = _resolve(name)(**params)
    tracker.name = name
    return tracker
