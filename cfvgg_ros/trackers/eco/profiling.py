"""Per-stage wall-time profiling of the ECO engine (``profile=True`` or ``CFVGG_PROFILE=1``).

:class:`StageProfiler` accumulates ``time.perf_counter`` intervals per named stage over the
tracker's ``update`` calls; the time of a frame not covered by any stage is booked as
``other``. Disabled, :meth:`StageProfiler.stage` returns one shared no-op context manager, so
the instrumentation costs a method call per stage. Reports are plain JSON-friendly dicts
(:func:`merge_reports` pools several sequences, :func:`format_profile_table` prints them).
"""

from __future__ import annotations

import os
import time

PROFILE_ENV_VAR = "CFVGG_PROFILE"

STAGES = (
    "cnn",
    "hog_colour",
    "patch",
    "projection_fft",
    "detection",
    "scale_filter",
    "sample_space",
    "training",
    "other",
)
"""Stage names in report order: CNN inference (with the pooling and normalisation of its maps),
hand-crafted features (fHOG / colour with their normalisation), patch sampling (crop + resize),
cosine window + projection + FFT + interpolation + sample shifts, scoring and peak search
(grid + Newton, the colour model's score and update when on), fDSST scale filter (track +
update, its own patches and fHOG included), sample-space update (distances, merges, sample
energy), CG training, and the rest of the frame."""


def profiling_requested(flag: bool | None = None) -> bool:
    """``flag`` when given, else whether ``$CFVGG_PROFILE`` is set to a true value."""
    if flag is not None:
        return bool(flag)
    return os.environ.get(PROFILE_ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")


class _NullStage:
    __slots__ = ()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> bool:
        return False


_NULL_STAGE = _NullStage()


class _Stage:
    __slots__ = ("_profiler", "_name", "_start")

    def __init__(self, profiler: StageProfiler, name: str):
        self._profiler = profiler
        self._name = name
        self._start = 0.0

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> bool:
        self._profiler.add(self._name, time.perf_counter() - self._start)
        return False


class StageProfiler:
    """Accumulated seconds and call counts per stage, and whole-frame time for ``other``.

    Nested stages are not subtracted from their parent: instrument disjoint code regions.
    """

    def __init__(self, enabled: bool = False):
        self.enabled = bool(enabled)
        self.reset()

    def reset(self) -> None:
        self.seconds = dict.fromkeys(STAGES, 0.0)
        self.calls = dict.fromkeys(STAGES, 0)
        self.frames = 0
        self.frame_seconds = 0.0
        self.init_seconds = 0.0
        self.adaptation_seconds = 0.0
        self._frame_start = None

    def stage(self, name: str):
        """Context manager timing ``name`` (a no-op when disabled)."""
        if not self.enabled:
            return _NULL_STAGE
        if name not in self.seconds:
            raise ValueError(f"unknown profiling stage {name!r}; stages: {STAGES}")
        return _Stage(self, name)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1

    def frame_begin(self) -> None:
        if self.enabled:
            self._frame_start = time.perf_counter()

    def frame_end(self) -> None:
        if self.enabled and self._frame_start is not None:
            self.frame_seconds += time.perf_counter() - self._frame_start
            self.frames += 1
            self._frame_start = None

    def add_init(self, seconds: float, adaptation: float = 0.0) -> None:
        """Count an ``init`` of ``seconds``, of which ``adaptation`` went to the CNN's online
        adaptation."""
        if self.enabled:
            self.init_seconds += seconds
            self.adaptation_seconds += adaptation

    def report(self) -> dict:
        """``{"frames", "init_ms", "adaptation_ms", "frame_ms", "stages": {name: {"ms_per_frame", "total_ms",
        "calls", "share"}}}``; ``other`` = frame time not covered by the named stages."""
        covered = sum(v for k, v in self.seconds.items() if k != "other")
        seconds = dict(self.seconds)
        seconds["other"] = max(self.frame_seconds - covered, 0.0) + self.seconds["other"]
        n = max(self.frames, 1)
        total = max(self.frame_seconds, 1e-12)
        stages = {
            name: {
                "ms_per_frame": 1e3 * seconds[name] / n,
                "total_ms": 1e3 * seconds[name],
                "calls": int(self.calls[name]),
                "share": seconds[name] / total if self.frame_seconds > 0 else 0.0,
            }
            for name in STAGES
        }
        return {
            "frames": int(self.frames),
            "init_ms": 1e3 * self.init_seconds,
            "adaptation_ms": 1e3 * self.adaptation_seconds,
            "frame_ms": 1e3 * self.frame_seconds / n,
            "stages": stages,
        }


def _ordered_stages(names) -> list[str]:
    """Distinct stage ``names`` in :data:`STAGES` order, unknown names after them (reports read
    back from JSON may have their keys sorted)."""
    present = list(dict.fromkeys(names))
    return [n for n in STAGES if n in present] + [n for n in present if n not in STAGES]


def merge_reports(reports) -> dict:
    """Pool several :meth:`StageProfiler.report` dicts (e.g. one per sequence), frame-weighted."""
    reports = [r for r in reports if r and r.get("frames")]
    if not reports:
        raise ValueError("no non-empty profile reports to merge")
    frames = sum(int(r["frames"]) for r in reports)
    names = _ordered_stages(name for r in reports for name in r["stages"])
    frame_total = sum(r["frame_ms"] * r["frames"] for r in reports)
    stages = {}
    for name in names:
        total = sum(r["stages"].get(name, {}).get("total_ms", 0.0) for r in reports)
        stages[name] = {
            "ms_per_frame": total / frames,
            "total_ms": total,
            "calls": sum(int(r["stages"].get(name, {}).get("calls", 0)) for r in reports),
            "share": total / frame_total if frame_total > 0 else 0.0,
        }
    return {
        "frames": frames,
        "init_ms": sum(r["init_ms"] for r in reports) / len(reports),
        "frame_ms": frame_total / frames,
        "stages": stages,
    }


def format_profile_table(reports: dict, markdown: bool = False) -> str:
    """Table of mean ms per frame per stage, one column per entry of ``reports``
    (``{label: report}``), with the whole-frame mean, the implied FPS and the mean init time."""
    if not reports:
        return "(no profile reports)"
    labels = list(reports)
    names = _ordered_stages(name for r in reports.values() for name in r["stages"])
    rows = [[name] + [f"{reports[lbl]['stages'].get(name, {}).get('ms_per_frame', 0.0):.2f}" for lbl in labels]
            for name in names]
    rows.append(["= frame (ms)"] + [f"{reports[lbl]['frame_ms']:.2f}" for lbl in labels])
    rows.append(["FPS (1/mean)"] + [f"{1e3 / max(reports[lbl]['frame_ms'], 1e-9):.1f}" for lbl in labels])
    rows.append(["init (ms)"] + [f"{reports[lbl]['init_ms']:.1f}" for lbl in labels])
    rows.append(["frames"] + [str(reports[lbl]["frames"]) for lbl in labels])
    header = ["stage (ms/frame)"] + labels
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{widths[0]}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header)] + [fmt.format(*r) for r in rows])
