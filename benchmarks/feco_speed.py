"""Single-core frame times of fECO and its peers on 720p video, worst case beside the mean, with
the ECO engine's stage breakdown.

Pins the process to one core (before numpy loads), pre-decodes every frame (JPEG decoding is not
tracker time), runs each tracker over each sequence (init on frame 0 with the ground truth, then
``update`` on every frame, timed with ``time.perf_counter``) and prints one table: per tracker and
sequence the FPS (1 / mean frame time), the mean, median, 95th- and 99th-percentile and largest
frame times, whether the sequence meets the per-frame budget (mean <= ``--budget-mean`` ms and
p99 <= ``--budget-p99`` ms; default 10 / 20, the real-time issue's budget for 30 Hz 720p), and,
for the ECO-engine trackers, the mean milliseconds per frame of each profiled stage
(``profile=True``, see :mod:`cfvgg_ros.trackers.eco.profiling`). Timing only: the accuracy of these
runs is not reported, and no parameter may be tuned on the eval sequences among them.

    .venv/bin/python benchmarks/feco_speed.py [--trackers feco,eco-hc,opencv-nano] [--json out.json]
    .venv/bin/python benchmarks/feco_speed.py --sequences all720p --trackers cfvgg,feco,opencv-nano

``--sequences all720p`` is every shared UAV123@10fps and DTB70 sequence plus every synthetic preset
(1280x720).

Before timing, each tracker runs a short untimed warm-up (init + a few updates on the first
sequence) so that one-off costs (numba's cache load, onnxruntime's first run) are not counted;
``--no-warmup`` keeps them in. The machine's other load makes timings noisy: compare runs made
back to back and prefer medians.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cfvgg_ros.threads import single_core  # noqa: E402 - must run before numpy loads

DEFAULT_SEQUENCES = ("UAV123_10fps/wakeboard7", "UAV123_10fps/wakeboard4", "UAV123_10fps/person11")
ALL_720P = "all720p"
BUDGET_MEAN_MS = 10.0
BUDGET_P99_MS = 20.0
DEFAULT_TRACKERS = "cfvgg,feco,opencv-nano"
STAGE_ABBREV = {
    "cnn": "cnn",
    "hog_colour": "hog",
    "patch": "patch",
    "projection_fft": "proj",
    "detection": "det",
    "scale_filter": "scale",
    "sample_space": "space",
    "training": "train",
    "other": "other",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--trackers",
        default=DEFAULT_TRACKERS,
        help="comma-separated names, each optionally 'name:key=value,key=value' as cfvgg-bench takes them "
             f"(default {DEFAULT_TRACKERS})",
    )
    parser.add_argument("--sequences", default=",".join(DEFAULT_SEQUENCES),
                        help=f"comma-separated dataset/name specs, or {ALL_720P!r} (every shared UAV123@10fps and "
                             "DTB70 sequence and every synthetic preset)")
    parser.add_argument("--budget-mean", type=float, default=BUDGET_MEAN_MS, help="budget: mean ms per frame")
    parser.add_argument("--budget-p99", type=float, default=BUDGET_P99_MS, help="budget: p99 ms per frame")
    parser.add_argument("--data-root", default=None, help="data folder (default: the shared data folder)")
    parser.add_argument("--max-frames", type=int, default=0, help="use at most this many frames per sequence (0: all)")
    parser.add_argument("--cpu-core", type=int, default=None, help="core to pin to (default: lowest allowed)")
    parser.add_argument("--no-warmup", action="store_true", help="count one-off start-up costs")
    parser.add_argument("--no-profile", action="store_true", help="time without the stage profiler")
    parser.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    parser.add_argument("--markdown", action="store_true", help="print Markdown tables")
    return parser


def load_frames(spec: str, data_root, max_frames: int):
    """The sequence of ``spec`` and its frames decoded to RGB uint8 arrays."""
    from cfvgg_ros.datasets import resolve

    seq = resolve(spec, data_root)
    count = len(seq) if max_frames <= 0 else min(max_frames, len(seq))
    if count < 2:
        raise SystemExit(f"{spec}: needs at least two frames, has {count}")
    return seq, [seq.frame(i) for i in range(count)]


def make_tracker(name: str, params: dict, profile: bool):
    from cfvgg_ros.core.registry import create_tracker

    if profile and name in ("feco", "eco-hc", "cfvgg"):
        params = {**params, "profile": True}
    return create_tracker(name, **params)


def time_tracker(tracker, frames, box) -> tuple[float, list[float]]:
    """Init time and per-update times (seconds) of ``tracker`` over ``frames``."""
    start = time.perf_counter()
    tracker.init(frames[0], box)
    init_s = time.perf_counter() - start
    times = []
    for frame in frames[1:]:
        start = time.perf_counter()
        tracker.update(frame)
        times.append(time.perf_counter() - start)
    return init_s, times


def summarise(times) -> dict:
    import numpy as np

    ms = 1e3 * np.asarray(times, dtype=np.float64)
    return {
        "frames": int(ms.size),
        "fps": float(1e3 / ms.mean()),
        "mean_ms": float(ms.mean()),
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
    }


def all_720p_specs(data_root) -> list[str]:
    """Every shared UAV123@10fps and DTB70 sequence (1280x720) and every synthetic preset."""
    from cfvgg_ros.datasets import dataset_root, list_sequences
    from cfvgg_ros.datasets.synthetic import PRESETS

    specs = []
    if data_root is not None:
        for dataset in ("UAV123_10fps", "DTB70"):
            try:
                specs += [f"{dataset}/{name}" for name in list_sequences(dataset, dataset_root(dataset, data_root))]
            except Exception:  # noqa: BLE001 - a dataset missing from the shared folder
                pass
    return specs + [f"synthetic/{name}" for name in sorted(PRESETS)]


def within_budget(row, mean_ms: float, p99_ms: float) -> bool:
    return row["mean_ms"] <= mean_ms and row["p99_ms"] <= p99_ms


def format_table(rows, markdown: bool, budget=(BUDGET_MEAN_MS, BUDGET_P99_MS)) -> str:
    stages = list(STAGE_ABBREV)
    header = ["tracker", "sequence", "FPS", "mean", "median", "p95", "p99", "max", "budget", "init"]
    header += [STAGE_ABBREV[s] for s in stages]
    lines = []
    for row in rows:
        prof = row.get("profile") or {}
        cells = [
            row["tracker"],
            row["sequence"],
            f"{row['fps']:.1f}",
            f"{row['mean_ms']:.2f}",
            f"{row['median_ms']:.2f}",
            f"{row['p95_ms']:.2f}",
            f"{row['p99_ms']:.2f}",
            f"{row['max_ms']:.2f}",
            "ok" if within_budget(row, *budget) else "OVER",
            f"{row['init_ms']:.0f}",
        ]
        cells += [f"{prof['stages'][s]['ms_per_frame']:.2f}" if prof else "-" for s in stages]
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(c) + " |" for c in lines]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 2 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header)] + [fmt.format(*c) for c in lines])


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    core = single_core(args.cpu_core)
    import platform
    import statistics

    from cfvgg_ros.cli.bench import UsageError, parse_tracker_specs
    from cfvgg_ros.evaluation.results import tracker_label
    from cfvgg_ros.paths import shared_data_root
    from cfvgg_ros.trackers.eco.profiling import format_profile_table, merge_reports

    data_root = Path(args.data_root) if args.data_root else shared_data_root()
    try:
        trackers = [(tracker_label(n, p), n, p) for n, p in parse_tracker_specs(args.trackers)]
    except UsageError as exc:
        print(f"feco_speed: {exc}", file=sys.stderr)
        return 2
    specs = [s.strip() for s in args.sequences.split(",") if s.strip()]
    if specs == [ALL_720P]:
        specs = all_720p_specs(data_root)
    if data_root is None and not all(s.startswith("synthetic/") for s in specs):
        print("feco_speed: no shared data folder (set CFVGG_SHARED or pass --data-root)", file=sys.stderr)
        return 2
    print(f"# single core {core} ({platform.processor() or platform.machine()}), frames pre-decoded", flush=True)
    loaded = [load_frames(spec, data_root, args.max_frames) for spec in specs]
    rows = []
    for label, name, params in trackers:
        if not args.no_warmup:
            seq, frames = loaded[0]
            warm = make_tracker(name, params, False)
            time_tracker(warm, frames[: min(len(frames), 12)], tuple(seq.boxes[0]))
        for spec, (seq, frames) in zip(specs, loaded, strict=True):
            tracker = make_tracker(name, params, not args.no_profile)
            init_s, times = time_tracker(tracker, frames, tuple(float(v) for v in seq.boxes[0]))
            row = {"tracker": label, "sequence": spec, "init_ms": 1e3 * init_s, **summarise(times)}
            report = tracker.profile_report() if hasattr(tracker, "profile_report") else None
            if report:
                report.pop("table", None)
                row["profile"] = report
            rows.append(row)
            print(f"  {label} {spec}: {row['fps']:.1f} FPS (median {row['median_ms']:.2f} ms)", flush=True)
    print()
    budget = (args.budget_mean, args.budget_p99)
    print(format_table(rows, args.markdown, budget))
    print()
    print(f"per tracker: median of the per-sequence FPS; worst sequence by mean and by p99 (budget: mean <= "
          f"{budget[0]:g} ms, p99 <= {budget[1]:g} ms)")
    labels = [label for label, _, _ in trackers]
    for name in labels:
        mine = [r for r in rows if r["tracker"] == name]
        fps = [r["fps"] for r in mine]
        worst_mean = max(mine, key=lambda r: r["mean_ms"])
        worst_p99 = max(mine, key=lambda r: r["p99_ms"])
        over = [r["sequence"] for r in mine if not within_budget(r, *budget)]
        print(f"  {name}: {statistics.median(fps):.1f} FPS (min {min(fps):.1f}); worst mean "
              f"{worst_mean['mean_ms']:.2f} ms ({worst_mean['sequence']}), worst p99 {worst_p99['p99_ms']:.2f} ms "
              f"({worst_p99['sequence']}), max {max(r['max_ms'] for r in mine):.2f} ms; "
              + (f"over budget on {len(over)}: {', '.join(over)}" if over else "within budget on every sequence"))
    pooled = {
        name: merge_reports([r["profile"] for r in rows if r["tracker"] == name])
        for name in labels
        if any(r.get("profile") for r in rows if r["tracker"] == name)
    }
    if pooled:
        print()
        print("stage breakdown, all sequences pooled (mean ms per frame):")
        print(format_profile_table(pooled, markdown=args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps({"core": core, "rows": rows}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
