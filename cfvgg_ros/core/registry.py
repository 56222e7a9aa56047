"""Registry of trackers by name: ``create_tracker(name, **params)``.

Tracker modules register a factory with :func:`register_tracker`; the registry imports
those modules lazily so that listing names costs nothing.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from .contract import Tracker

# name -> "module:attribute" of a factory taking **params; modules load on first use.
_LAZY: dict[str, str] = {
    "opencv-csrt": "cfvgg_ros.peers:OpenCVTracker.csrt",
    "opencv-kcf": "cfvgg_ros.peers:OpenCVTracker.kcf",
    "opencv-mosse": "cfvgg_ros.peers:OpenCVTracker.mosse",
    "opencv-nano": "cfvgg_ros.peers:NanoTracker",
    "feco": "cfvgg_ros.eco.tracker:create_feco",
    "eco-hc": "cfvgg_ros.eco.tracker:create_eco_hc",
    "kcf": "cfvgg_ros.kcf:create_kcf",
    "fkcf": "cfvgg_ros.kcf:create_fkcf",
    "strcf": "cfvgg_ros.strcf:create_strcf",
    "fdeepstrcf": "cfvgg_ros.strcf:create_fdeepstrcf",
}
_FACTORIES: dict[str, Callable[..., Tracker]] = {}


def register_tracker(name: str, factory: Callable[..., Tracker] | str) -> None:
    """Register ``factory`` (a callable, or a lazy ``"module:attr[.attr]"`` string) as ``name``."""
    if isinstance(factory, str):
        _LAZY[name] = factory
        _FACTORIES.pop(name, None)
    else:
        _FACTORIES[name] = factory


def available_trackers() -> list[str]:
    """Names accepted by :func:`create_tracker`, sorted."""
    return sorted(set(_LAZY) | set(_FACTORIES))


def _resolve(name: str) -> Callable[..., Tracker]:
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
