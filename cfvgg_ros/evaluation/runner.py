"""Benchmark runner: run registered trackers over sequences (OTB-style one-pass evaluation,
OPE: init once on the first annotated frame, never re-initialise) and store the results.

This module's top-level imports are standard-library only: with ``jobs > 1`` each spawned
worker imports it to pin itself to one core (:func:`cfvgg_ros.threads.single_core`) *before*
numpy, OpenCV or onnxruntime load. Everything heavy is imported inside functions.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

_MAX_LOGGED_ERRORS = 5


class BenchmarkInputError(ValueError):
    """Bad benchmark input: unknown tracker or parameters, unknown sequence, bad jobs count."""


@dataclass
class BenchmarkRun:
    """What :func:`run_benchmark` did: every stored result by ``(tracker label, sequence key)``
    (key = ``"dataset/sequence"``), in the order asked for, plus what was resumed, re-run because
    the stored result came from another configuration (``stale``), or failed."""

    run_dir: Path
    labels: list[str]
    sequences: list[str]
    results: dict = field(default_factory=dict)
    resumed: list[tuple[str, str]] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str, str]] = field(default_factory=list)

    def result_list(self) -> list:
        """Stored results, tracker-major in the order asked for."""
        return [self.results[(label, key)] for label in self.labels for key in self.sequences
                if (label, key) in self.results]


def sequence_key(sequence) -> str:
    """``"dataset/name"`` of a Sequence."""
    return f"{sequence.dataset}/{sequence.name}"


def resolve_spec(spec, data_root):
    """A Sequence for ``spec``: a Sequence passes through, a string goes to
    :func:`cfvgg_ros.datasets.resolve` (``"OTB100/Jogging-1"``, ``"synthetic/aerial"``, a folder)."""
    from cfvgg_ros.datasets.sequence import Sequence

    if isinstance(spec, Sequence):
        return spec
    if not isinstance(spec, str | os.PathLike):
        raise BenchmarkInputError(f"sequence spec must be a string or Sequence, got {type(spec).__name__}")
    from cfvgg_ros.datasets import resolve

    return resolve(str(spec), data_root)


def first_valid_frame(gt_boxes) -> int:
    """Index of the first frame whose ground truth is finite with positive size.

    OPE initialises on frame 0; when the target is absent there (UAV123 marks such frames
    NaN) the tracker starts on the first annotated frame instead, and earlier frames get no
    prediction (NaN boxes; toolkits skip NaN ground-truth frames when scoring anyway).
    """
    import numpy as np

    gt = np.asarray(gt_boxes, dtype=np.float64).reshape(-1, 4)
    valid = np.isfinite(gt).all(axis=1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    if not valid.any():
        from cfvgg_ros.datasets.sequence import DatasetError

        raise DatasetError("sequence has no valid ground-truth box to initialise on")
    return int(np.argmax(valid))


def _advance(progress, count: int) -> None:
    if progress is None or count <= 0:
        return
    if hasattr(progress, "update"):
        progress.update(count)
    else:
        progress(count)


def run_sequence(tracker_name: str, params: dict | None, sequence, progress=None,
                 label: str | None = None, init_perturbation: str | None = None):
    """Run ``tracker_name`` (created with ``params``) over ``sequence`` (OPE) and return its
    :class:`~cfvgg_ros.evaluation.results.SequenceResult` (not stored).

    Init on the first valid ground-truth frame (see :func:`first_valid_frame`) with the GT box,
    whose output box is that GT box. Only ``update()`` is timed (``time.perf_counter``); frame
    reading is not. An exception from the tracker on a frame is logged and recorded (NaN box and
    score for that frame) and tracking goes on; a failed init leaves all boxes NaN except the GT.
    ``progress``: None, a tqdm-like object with ``update(n)``, or a callable taking a frame count.
    ``init_perturbation``: an SRE name of :mod:`~cfvgg_ros.evaluation.perturbation`; the tracker is
    initialised on that perturbed box instead (scoring and the stored init-frame box stay the GT).
    """
    import numpy as np

    from cfvgg_ros.core.registry import create_tracker

    from .fingerprint import config_fingerprint
    from .results import SequenceResult, collect_metadata, tracker_label

    params = dict(params or {})
    label = label or tracker_label(tracker_name, params)
    gt = np.asarray(sequence.boxes, dtype=np.float64).reshape(-1, 4)
    num_frames = len(gt)
    boxes = np.full((num_frames, 4), np.nan)
    scores = np.full(num_frames, np.nan)
    times = np.full(num_frames, np.nan)
    errors: list[str] = []
    where = f"{label} on {sequence_key(sequence)}"

    def record(index: int, exc: BaseException) -> None:
        errors.append(f"frame {index}: {type(exc).__name__}: {exc}")
        if len(errors) <= _MAX_LOGGED_ERRORS:
            logger.warning("%s: tracker failed on frame %d: %s: %s", where, index, type(exc).__name__, exc)
        elif len(errors) == _MAX_LOGGED_ERRORS + 1:
            logger.warning("%s: more tracker failures, logging no more for this sequence", where)

    fingerprint = config_fingerprint(tracker_name, params)  # of the code and models this run starts with
    init_frame = first_valid_frame(gt)
    tracker = create_tracker(tracker_name, **params)
    frame = sequence.frame(init_frame)
    init_box = gt[init_frame]
    if init_perturbation is not None:
        from .perturbation import perturb_box

        init_box = perturb_box(init_box, init_perturbation, np.shape(frame)[:2])
    start = time.perf_counter()
    try:
        tracker.init(frame, init_box)
        initialised = True
    except Exception as exc:  # a tracker bug must not stop the benchmark
        record(init_frame, exc)
        initialised = False
    init_time = time.perf_counter() - start
    boxes[init_frame] = gt[init_frame]
    _advance(progress, init_frame + 1)

    if initialised:
        for index in range(init_frame + 1, num_frames):
            frame = sequence.frame(index)
            start = time.perf_counter()
            try:
                result = tracker.update(frame)
            except Exception as exc:  # recorded, and tracking goes on with the next frame
                times[index] = time.perf_counter() - start
                record(index, exc)
            else:
                times[index] = time.perf_counter() - start
                boxes[index] = np.asarray(result.box, dtype=np.float64).reshape(4)
                scores[index] = float(result.score)
            _advance(progress, 1)
    else:
        _advance(progress, num_frames - init_frame - 1)

    metadata = collect_metadata()
    metadata.update({"tracker_name": tracker_name, "sequence_fps": float(getattr(sequence, "fps", 0.0)),
                     "fingerprint": fingerprint})
    if init_perturbation is not None:
        metadata.update({"init_perturbation": init_perturbation, "init_box": [float(v) for v in init_box]})
    # per-stage timings of trackers that profile themselves (ECO engine: profile=True / $CFVGG_PROFILE)
    profile_report = getattr(tracker, "profile_report", None)
    report = profile_report() if initialised and callable(profile_report) else None
    if report:
        metadata["profile"] = {key: value for key, value in report.items() if key != "table"}
    return SequenceResult(
        tracker=label,
        dataset=sequence.dataset,
        sequence=sequence.name,
        boxes=boxes,
        scores=scores,
        times=times,
        gt_boxes=gt,
        init_frame=init_frame,
        init_time=init_time,
        params=params,
        metadata=metadata,
        errors=errors,
    )


# -- parallel workers (spawned processes) --------------------------------------------------

def _worker_init(core_queue) -> None:
    """Spawned worker start-up: pin to one core FIRST, then let OpenCV use one thread."""
    core = core_queue.get()
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})  # the parent may be pinned elsewhere; widen to ``core``
    from cfvgg_ros.threads import single_core

    single_core(core)
    _opencv_one_thread()


def _opencv_one_thread() -> None:
    try:
        import cv2
    except ImportError:  # a tracker without OpenCV still runs
        return
    cv2.setNumThreads(1)


def _worker_run(task: tuple) -> tuple[str, str]:
    """Run one (tracker, sequence) job in a worker and store its result."""
    label, name, params, spec, data_root, run_dir, init_perturbation = task
    from .results import save_result

    sequence = resolve_spec(spec, data_root)
    save_result(run_sequence(name, params, sequence, label=label, init_perturbation=init_perturbation), run_dir)
    return label, sequence_key(sequence)


# -- the benchmark ---------------------------------------------------------------------------

def _check_trackers(trackers) -> list[tuple[str, str, dict]]:
    from cfvgg_ros.core.registry import available_trackers, create_tracker

    from .results import tracker_label

    checked = []
    names = available_trackers()
    for entry in trackers:
        if isinstance(entry, str):
            name, params = entry, {}
        else:
            name, params = entry
            params = dict(params or {})
        if name not in names:
            raise BenchmarkInputError(f"unknown tracker {name!r}; available: {', '.join(names)}")
        try:
            create_tracker(name, **params)  # fail now on bad parameters or missing model files
        except (TypeError, ValueError, KeyError, OSError) as exc:
            raise BenchmarkInputError(f"cannot create tracker {name!r} with {params}: {exc}") from exc
        label = tracker_label(name, params)
        if label in [c[0] for c in checked]:
            raise BenchmarkInputError(f"tracker {label!r} is listed twice")
        checked.append((label, name, params))
    if not checked:
        raise BenchmarkInputError("no trackers given")
    return checked


def _resolve_all(specs, data_root) -> dict:
    from cfvgg_ros.datasets.sequence import DatasetError

    sequences = {}
    for spec in specs:
        try:
            sequence = resolve_spec(spec, data_root)
        except BenchmarkInputError:
            raise
        except (DatasetError, OSError, KeyError, ValueError, ImportError) as exc:
            raise BenchmarkInputError(f"cannot load sequence {spec!r}: {exc}") from exc
        sequences.setdefault(sequence_key(sequence), (spec, sequence))
    if not sequences:
        raise BenchmarkInputError("no sequences given")
    return sequences


def _progress_bar(enabled: bool, **kwargs):
    from tqdm import tqdm

    return tqdm(disable=not enabled, dynamic_ncols=True, **kwargs)


def run_benchmark(trackers, specs, data_root, results_dir, jobs: int = 1, resume: bool = True,
                  progress: bool = True, cores: list[int] | None = None,
                  init_perturbation: str | None = None) -> BenchmarkRun:
    """Run every tracker on every sequence and store each result under ``results_dir`` (the
    run folder, e.g. ``results/<run-name>``); return a :class:`BenchmarkRun` of all results.

    ``trackers``: ``[(name, params), ...]`` (or bare names); ``specs``: sequence specs for
    :func:`resolve_spec` (strings, or Sequence objects). ``resume`` skips (tracker, sequence)
    pairs already stored from the same configuration (:mod:`.fingerprint`: name, parameters, result
    code, model bytes, and the same ``init_perturbation``); a stored result from another one is
    re-run and listed in ``stale``. ``jobs > 1`` runs sequences in that many spawned processes, each
    pinned to one core, round-robin over ``cores`` (default: this process's allowed cores);
    with ``jobs == 1`` everything runs here (the caller pins this process). ``progress`` shows
    tqdm bars on stderr: per sequence with frame counts (jobs=1), or frames done overall.
    A sequence whose run raises (e.g. unreadable frames) is logged and listed in ``failed``.
    ``init_perturbation`` (an SRE name) starts every sequence from that perturbed box (SRE runs
    go to their own ``results_dir``). Raises :class:`BenchmarkInputError` for unknown trackers,
    sequences or perturbations before running anything.
    """
    from .fingerprint import config_fingerprint
    from .results import has_result, read_result, result_path, save_result, stored_provenance

    if int(jobs) < 1:
        raise BenchmarkInputError(f"jobs must be >= 1, got {jobs}")
    if init_perturbation is not None:
        from .perturbation import SRE

        if init_perturbation not in SRE:
            raise BenchmarkInputError(f"unknown init perturbation {init_perturbation!r}; "
                                      f"choose from {', '.join(SRE)}")
    jobs = int(jobs)
    run_dir = Path(results_dir)
    checked = _check_trackers(trackers)
    sequences = _resolve_all(specs, data_root)
    run = BenchmarkRun(run_dir=run_dir, labels=[c[0] for c in checked], sequences=list(sequences))

    todo = []
    for label, name, params in checked:
        digest = config_fingerprint(name, params)["digest"] if resume else None
        for key, (spec, sequence) in sequences.items():
            if resume and has_result(run_dir, label, sequence.dataset, sequence.name):
                stored = stored_provenance(result_path(run_dir, label, sequence.dataset, sequence.name))
                if stored == (digest, init_perturbation):
                    run.resumed.append((label, key))
                    continue
                run.stale.append((label, key))
            todo.append((label, name, params, key, spec, sequence))
    if run.resumed:
        logger.info("resuming: %d of %d results already stored in %s", len(run.resumed),
                    len(run.resumed) + len(todo), run_dir)
    if run.stale:
        logger.warning("re-running %d stored result(s) in %s computed with another configuration "
                       "(tracker parameters, code or model files changed)", len(run.stale), run_dir)

    if todo and (jobs == 1 or len(todo) == 1):
        _opencv_one_thread()
        with _progress_bar(progress, total=len(todo), desc="sequences", unit="seq") as outer:
            for label, name, params, key, _spec, sequence in todo:
                with _progress_bar(progress, total=len(sequence), desc=f"{label} {key}", unit="frame",
                                   leave=False) as bar:
                    try:
                        save_result(run_sequence(name, params, sequence, progress=bar, label=label,
                                                 init_perturbation=init_perturbation), run_dir)
                    except Exception as exc:  # data problems fail this sequence, not the run
                        logger.error("%s on %s failed: %s: %s", label, key, type(exc).__name__, exc)
                        run.failed.append((label, key, f"{type(exc).__name__}: {exc}"))
                outer.update(1)
    elif todo:
        _run_parallel(todo, data_root, run_dir, jobs, progress, cores, run, init_perturbation)

    for label in run.labels:
        for key, (_spec, sequence) in sequences.items():
            path = result_path(run_dir, label, sequence.dataset, sequence.name)
            if path.is_file():
                run.results[(label, key)] = read_result(path)
    return run


@contextlib.contextmanager
def _single_thread_environment():
    """Thread-count variables set to 1 while workers spawn (they inherit the environment), so
    even a library imported before the worker's ``single_core`` call starts single-threaded."""
    from cfvgg_ros.threads import THREAD_ENV_VARS

    saved = {var: os.environ.get(var) for var in THREAD_ENV_VARS}
    os.environ.update({var: "1" for var in THREAD_ENV_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def _run_parallel(todo, data_root, run_dir, jobs, progress, cores, run, init_perturbation=None) -> None:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    if cores is None:
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [None]
    cores = list(cores) or [None]
    workers = min(jobs, len(todo))
    context = multiprocessing.get_context("spawn")
    core_queue = context.Queue()
    for index in range(workers):
        core_queue.put(cores[index % len(cores)])
    frames = {(t[0], t[3]): len(t[5]) for t in todo}
    with (
        _single_thread_environment(),
        _progress_bar(progress, total=sum(frames.values()), desc=f"frames ({workers} jobs)",
                      unit="frame") as bar,
        ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_init,
                            initargs=(core_queue,)) as pool,
    ):
        futures = {}
        for label, name, params, key, spec, _sequence in todo:
            task = (label, name, params, spec, data_root, str(run_dir), init_perturbation)
            futures[pool.submit(_worker_run, task)] = (label, key)
        for future in as_completed(futures):
            label, key = futures[future]
            try:
                future.result()
            except Exception as exc:
                logger.error("%s on %s failed: %s: %s", label, key, type(exc).__name__, exc)
                run.failed.append((label, key, f"{type(exc).__name__}: {exc}"))
            bar.update(frames[(label, key)])
