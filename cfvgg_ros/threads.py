"""Single-core execution: pin the process and make every math library single-threaded.

Call :func:`single_core` *before* numpy, OpenCV, onnxruntime, numba or torch are imported:
the thread-count environment variables are only read when those libraries load.
Libraries already imported are also told at run time where they offer a call for it.
"""

from __future__ import annotations

import os
import sys

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


def single_core(core: int | None = None) -> int | None:
    """Limit every math library to one thread and pin the process to ``core``.

    ``core=None`` keeps the current affinity's lowest core. Returns the core pinned to,
    or None where the platform has no ``sched_setaffinity``.
    """
    for var in THREAD_ENV_VARS:
        os.environ[var] = "1"
    pinned = None
    if hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        pinned = allowed[0] if core is None else int(core)
        if pinned not in allowed:
            raise ValueError(f"cpu core {pinned} is not available to this process (allowed: {allowed})")
        os.sched_setaffinity(0, {pinned})
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(1)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
    if "numba" in sys.modules:
        try:
            sys.modules["numba"].set_num_threads(1)
        except (ValueError, RuntimeError):
            pass
    return pinned


def opencv_single_thread() -> None:
    """Tell OpenCV (imported lazily by callers) to use one thread."""
    import cv2

    cv2.setNumThreads(1)
