"""What the tracking node does once, at start-up, before it subscribes to anything.

* :func:`set_up_threads`: pin every thread of the process to one core (``cpu_core`` >= 0), or
  only make OpenCV single-threaded (-1);
* :func:`tracker_keywords`: the keywords the tracker is created with -- its settings parameters
  (:mod:`.tracker_settings`), the ``model`` file for trackers that load the CNN student, and the
  deprecated ``tracker_params`` / ``model_path``;
* :func:`build_tracker`: register a plug-in factory ``module:attr`` (only reached with
  ``allow_plugins``, :func:`cfvgg_ros.ros.params.check_values`), create the tracker, warm it up on
  a dummy frame, and describe the CNN model it loads (:func:`feature_model_of`);
* :func:`redetect_mode`: how the tracker looks for a lost target itself (its registered
  capabilities).

Every failure raises :class:`~cfvgg_ros.ros.params.NodeStartupError` with a one-line reason.
What the node needs to know about a tracker comes from :func:`cfvgg_ros.core.tracker_info`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cfvgg_ros.core import REDETECT, Tracker, create_tracker, register_tracker, tracker_info
from cfvgg_ros.ros.params import PLUGIN_SEPARATOR, NodeStartupError, parse_tracker_params

WARM_UP_SHAPE = (96, 128, 3)  # dummy frame of the warm-up (random texture, seed 0)
WARM_UP_BOX = (40.0, 30.0, 32.0, 32.0)


def pin_process(core: int) -> int:
    """Pin every thread of this process to ``core`` and make the math libraries single-threaded."""
    from cfvgg_ros.threads import single_core

    pinned = single_core(core)
    if pinned is not None and os.path.isdir("/proc/self/task"):
        for tid in os.listdir("/proc/self/task"):
            try:
                os.sched_setaffinity(int(tid), {pinned})
            except (OSError, ValueError):
                pass  # the thread ended meanwhile
    return pinned


def set_up_threads(core: int) -> int | None:
    """``core`` >= 0: pin the process there (returns the core); -1: OpenCV single-threaded only."""
    if core < 0:
        import cv2

        cv2.setNumThreads(1)
        return None
    try:
        return pin_process(core)
    except ValueError as exc:
        raise NodeStartupError(f"cpu_core: {exc}") from exc


def feature_model_of(name: str, params: dict) -> str:
    """Which CNN feature model tracker ``name`` with ``params`` loads, for the log and status:
    its path, architecture, teacher, source commit and sha256 (whether it matched the recorded sum);
    "none" for trackers without one."""
    if not tracker_info(name).cnn_model:
        return "none"
    if "features" in params:
        return "per-feature models (tracker_params features)"
    from cfvgg_ros.models.contract import validate_model
    from cfvgg_ros.models.store import default_model_path, verify_model_file

    path = Path(params["model_path"]) if params.get("model_path") else default_model_path()
    try:
        contract = validate_model(path)
    except Exception as exc:  # noqa: BLE001 - a description only; the tracker itself loaded it
        return f"{path} (metadata unreadable: {exc})"
    provenance = contract.provenance
    try:  # the sum checked at load (models/SHA256SUMS), so a report names the exact file
        digest = verify_model_file(path)
        sha = f"sha256 {digest.sha256[:16]}{'' if digest.recorded else ', no recorded sum'}"
    except Exception as exc:  # noqa: BLE001 - a description only
        sha = f"sha256 unavailable: {exc}"
    return (f"{path} ({contract.architecture}; teacher {provenance.get('teacher', 'unknown')}; "
            f"commit {str(provenance.get('commit', 'unknown'))[:7]}; {sha})")


def tracker_keywords(p: dict, settings: dict, models_dir: Path) -> tuple[dict, list[str]]:
    """The keywords to create tracker ``p["tracker"]`` with, and warnings to log.

    ``settings``: its settings parameters that differ from its defaults
    (:func:`cfvgg_ros.ros.tracker_settings.declare_settings`). ``p["model"]`` (a file) becomes the
    ``model_path`` keyword of a tracker that loads the CNN student (and is an error for one that does
    not). Deprecated: ``p["model_path"]`` naming a file is read as ``model``, naming a folder it is
    what ``{model_path}`` in ``p["tracker_params"]`` stands for (default ``models_dir``); the keywords
    of ``tracker_params`` come last (they still override the settings parameters)."""
    from cfvgg_ros.ros.tracker_settings import BASE_CONFIGS, param_prefix

    name, warnings = p["tracker"], []
    model, legacy = p["model"], p["model_path"]
    folder = models_dir
    if legacy:
        if Path(legacy).is_dir():
            folder = Path(legacy)
            warnings.append(f"parameter 'model_path' is deprecated: it names the folder '{{model_path}}' in "
                            f"tracker_params stands for ({legacy}); set 'model' to a model file")
        elif model:
            warnings.append(f"parameter 'model_path' ({legacy}) is deprecated and ignored: 'model' is set ({model})")
        else:
            model = legacy
            warnings.append(f"parameter 'model_path' is deprecated: reading {legacy} as 'model' (a model file)")
    extra = parse_tracker_params(p["tracker_params"], folder)
    if extra and name in BASE_CONFIGS:
        names = ", ".join(f"{param_prefix(name)}.{k}" for k in sorted(extra))
        warnings.append(f"parameter 'tracker_params' is deprecated: set {names} instead")
    kwargs = {**settings, **extra}
    if model:
        if not tracker_info(name).cnn_model:
            raise NodeStartupError(f"tracker {name!r} loads no CNN model: 'model' must be empty, got {model!r}")
        if not Path(model).is_file():
            raise NodeStartupError(f"model file not found: {model!r} (parameter 'model')")
        if "model_path" in extra and extra["model_path"] != model:
            warnings.append(f"tracker_params model_path {extra['model_path']!r} is ignored: 'model' is {model!r}")
        kwargs["model_path"] = str(model)
    return kwargs, warnings


def build_tracker(name: str, params: dict, warm_up: bool = True, warm_up_updates: int = 8) -> tuple[Tracker, str]:
    """Create tracker ``name`` with keywords ``params`` (:func:`tracker_keywords`), warm it up
    (init + ``warm_up_updates`` updates on a dummy frame: a corrupt model fails here, and numba
    compiles before the first real frame); returns it with the description of its feature model."""
    if PLUGIN_SEPARATOR in name:  # a plug-in factory "package.module:attr" not in the registry
        register_tracker(name, name)
    try:
        tracker = create_tracker(name, **params)
    except KeyError as exc:
        reason = exc.args[0] if exc.args else exc
        raise NodeStartupError(f"cannot create tracker {name!r}: {reason}") from exc
    except Exception as exc:  # missing/corrupt model, bad parameter: whatever the tracker raises
        raise NodeStartupError(
            f"cannot create tracker {name!r} with parameters {params}: {type(exc).__name__}: {exc}"
        ) from exc
    if warm_up:
        frame = np.random.default_rng(0).integers(0, 256, WARM_UP_SHAPE, dtype=np.uint8)
        try:
            tracker.init(frame, WARM_UP_BOX)
            for _ in range(max(1, warm_up_updates)):
                tracker.update(frame)
        except Exception as exc:
            raise NodeStartupError(
                f"tracker {name!r} failed its warm-up (init + updates on a dummy frame) with "
                f"parameters {params}: {type(exc).__name__}: {exc}"
            ) from exc
    return tracker, feature_model_of(name, params)


def redetect_mode(tracker: Tracker) -> str:
    """"tracker.redetect" when the tracker registered the redetect capability, else "update"."""
    return "tracker.redetect" if tracker_info(tracker.name).supports(REDETECT) else "update"
