"""What the tracking node does once, at start-up, before it subscribes to anything.

* :func:`set_up_threads`: pin every thread of the process to one core (``cpu_core`` >= 0), or
  only make OpenCV single-threaded (-1);
* :func:`build_tracker`: register a plug-in factory ``module:attr``, create the tracker with its
  ``tracker_params``, warm it up on a dummy frame, and describe the CNN model it loads
  (:func:`feature_model_of`);
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
from cfvgg_ros.ros.params import NodeStartupError, parse_tracker_params

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


def build_tracker(name: str, params_text: str, model_dir: Path, warm_up: bool = True,
                  warm_up_updates: int = 8) -> tuple[Tracker, str]:
    """Create tracker ``name`` with the parameters of ``params_text`` (``{model_path}`` ->
    ``model_dir``), warm it up (init + ``warm_up_updates`` updates on a dummy frame: a corrupt model
    fails here, and numba compiles before the first real frame); returns it with the description
    of its feature model."""
    if ":" in name:  # a plug-in factory "package.module:attr" not in the registry
        register_tracker(name, name)
    params = parse_tracker_params(params_text, model_dir)
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
