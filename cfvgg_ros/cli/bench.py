"""``cfvgg-bench``: run trackers over benchmark sequences (one-pass evaluation), store the
results under ``<results>/<run-name>/`` and print per-sequence tables, for each rule set.

The process is pinned to one core (:func:`cfvgg_ros.threads.single_core`) right after the
arguments are parsed and *before* numpy / OpenCV / onnxruntime load, so this module imports
only the standard library at the top.

Examples::

    cfvgg-bench --trackers opencv-csrt,opencv-nano --split eval
    cfvgg-bench --trackers "opencv-kcf:desc_pca=1,resize=false" --sequences OTB100/Jogging-1
    cfvgg-bench --trackers opencv-csrt --dataset UAV123_10fps --jobs 2 --markdown
    cfvgg-bench --trackers feco,opencv-nano --init-perturbation sre --jobs 2   # OTB's SRE
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_TRACKERS = "opencv-csrt,opencv-kcf"
SPLITS = ("eval", "train")


class UsageError(Exception):
    """A command-line mistake: reported in one line, exit status 2."""


def _parse_value(text: str):
    """``key=value`` value: JSON when it parses (numbers, true/false, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def split_top_level(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces and double quotes, so that a JSON
    value (``key={"a": 1, "b": 2}``) stays one item. Unbalanced brackets raise UsageError."""
    items, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(text):
        if quoted:
            quoted = char != '"' or text[i - 1] == "\\"
        elif char == '"':
            quoted = True
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth < 0:
                raise UsageError(f"unbalanced {char!r} in {text!r}")
        elif char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if depth or quoted:
        raise UsageError(f"unclosed bracket or quote in {text!r}")
    items.append(text[start:])
    return items


def parse_tracker_specs(text: str) -> list[tuple[str, dict]]:
    """``"a,b:key=value,key2=value2,c"`` -> ``[("a", {}), ("b", {...}), ("c", {})]``.

    A comma-separated item holding ``=`` but no ``:`` continues the previous tracker's params;
    commas inside a JSON value (``b:cfg={"x": 1, "y": 2}``) do not separate items.
    """
    trackers: list[tuple[str, dict]] = []
    for item in (part.strip() for part in split_top_level(text)):
        if not item:
            continue
        if "=" in item and ":" not in item.split("=", 1)[0]:
            if not trackers:
                raise UsageError(f"parameter {item!r} comes before any tracker name in --trackers")
            key, value = item.split("=", 1)
            trackers[-1][1][key.strip()] = _parse_value(value.strip())
            continue
        name, _, rest = item.partition(":")
        params: dict = {}
        if rest:
            if "=" not in rest:
                raise UsageError(f"tracker parameter {rest!r} must be key=value")
            key, value = rest.split("=", 1)
            params[key.strip()] = _parse_value(value.strip())
        trackers.append((name.strip(), params))
    if not trackers:
        raise UsageError("--trackers is empty")
    return trackers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfvgg-bench",
        description="Benchmark trackers (one-pass evaluation) and report AUC, precision@20 and FPS.",
    )
    parser.add_argument("--trackers", default=DEFAULT_TRACKERS,
                        help="comma-separated tracker names, each optionally 'name:key=value,key=value' "
                             f"(default: {DEFAULT_TRACKERS})")
    parser.add_argument("--params", default=None,
                        help="JSON object {tracker name: {param: value}} (or a path to such a .json file), "
                             "merged into --trackers' params")
    parser.add_argument("--data-root", default=None,
                        help="benchmark data folder (default: the shared data folder, $CFVGG_SHARED/data)")
    select = parser.add_mutually_exclusive_group()
    select.add_argument("--split", choices=SPLITS,
                        help="the sequences of a split in splits.json (default: eval)")
    select.add_argument("--sequences",
                        help="comma-separated specs, e.g. OTB100/Jogging-1,UAV123_10fps/person11 "
                             "(also synthetic/<preset> or an OTB-layout folder)")
    select.add_argument("--dataset", help="every sequence of one dataset, e.g. UAV123_10fps")
    select.add_argument("--all", action="store_true",
                        help="every sequence of every dataset under --data-root")
    parser.add_argument("--from-bag", default=None, metavar="OUTPUT_BAG[,...]",
                        help="score recorded node outputs (cfvgg-bag record) instead of running trackers; "
                             "needs --groundtruth")
    parser.add_argument("--groundtruth", default=None, metavar="INPUT_BAG[,...]",
                        help="with --from-bag: the input bags (cfvgg-bag make) in the same order")
    parser.add_argument("--label", default="track_node", help="with --from-bag: the tracker's name in the tables")
    parser.add_argument("--init-perturbation", default=None, metavar="sre|NAME[,...]",
                        help="spatial robustness evaluation (OTB's SRE): start every sequence from perturbed "
                             "ground-truth boxes, 'sre' = all 12 (left,right,up,down,topLeft,topRight,"
                             "bottomLeft,bottomRight,scale_8,scale_9,scale_11,scale_12); each perturbation is "
                             "stored in <run>/init-<name>/ and a summary table is printed")
    parser.add_argument("--rules", default="otb,pysot",
                        help="metric rule sets, comma-separated (default: both)")
    parser.add_argument("--results", default="results", help="results folder (default: results/)")
    parser.add_argument("--run-name", default="bench",
                        help="sub-folder of --results for this run (default: bench)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes, each pinned to one core")
    parser.add_argument("--no-resume", action="store_true", help="rerun sequences that already have results")
    parser.add_argument("--cpu-core", type=int, default=None,
                        help="core to pin this process to (default: the lowest allowed core)")
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    parser.add_argument("--profile", action="store_true",
                        help="profile the trackers that support it (ECO engine) and print their mean ms per "
                             "frame per stage (sets $CFVGG_PROFILE=1; resumed results carry no profile)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--no-plots", action="store_true", help="do not write success/precision PNGs")
    parser.add_argument("--list-trackers", action="store_true", help="list the tracker names and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="log INFO messages")
    return parser


def _load_params_json(text: str) -> dict:
    source = text
    if os.path.isfile(text):
        source = Path(text).read_text(encoding="utf-8")
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--params is not valid JSON ({exc})") from exc
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise UsageError('--params must be a JSON object {"tracker": {"param": value}}')
    return value


def _resolve_trackers(args) -> list[tuple[str, dict]]:
    from cfvgg_ros.core.registry import available_trackers

    trackers = parse_tracker_specs(args.trackers)
    names = available_trackers()
    for name, _ in trackers:
        if name not in names:
            raise UsageError(f"unknown tracker {name!r}; available: {', '.join(names)}")
    if args.params:
        extra = _load_params_json(args.params)
        listed = [name for name, _ in trackers]
        for name in extra:
            if name not in listed:
                raise UsageError(f"--params names tracker {name!r}, "
                                 f"which is not in --trackers ({', '.join(listed)})")
        trackers = [(name, {**params, **extra.get(name, {})}) for name, params in trackers]
    return trackers


def _needs_data(spec: str) -> bool:
    return not (spec.startswith("synthetic/") or os.path.isdir(spec))


def _select_specs(args, data_root: Path | None) -> list[str]:
    """Sequence specs chosen by --split / --sequences / --dataset / --all (default: eval split)."""
    if args.sequences is not None:
        specs = [s.strip() for s in args.sequences.split(",") if s.strip()]
        if not specs:
            raise UsageError("--sequences is empty")
        if data_root is None and any(_needs_data(s) for s in specs):
            raise UsageError("no data folder: pass --data-root or set $CFVGG_SHARED")
        return specs
    from cfvgg_ros.datasets.sequence import DatasetError

    synthetic_only = args.dataset is not None and args.dataset.lower() == "synthetic"
    if data_root is None and not synthetic_only:
        raise UsageError("no data folder: pass --data-root or set $CFVGG_SHARED")

    if args.dataset is not None or args.all:
        from cfvgg_ros.datasets import DATASETS, canonical_dataset, dataset_root, list_sequences

        if args.dataset is not None:
            try:
                datasets = [canonical_dataset(args.dataset)]
            except DatasetError as exc:
                raise UsageError(str(exc)) from exc
        else:  # every dataset folder present under the data root (synthetic has none)
            datasets = [d for d in DATASETS if d != "synthetic"]
        specs = []
        for dataset in datasets:
            try:
                root = "." if dataset == "synthetic" else dataset_root(dataset, data_root)
                names = list_sequences(dataset, root)
            except (DatasetError, OSError) as exc:
                if args.dataset is not None:
                    raise UsageError(f"cannot list {dataset} under {data_root}: {exc}") from exc
                continue
            specs += [f"{dataset}/{name}" for name in names]
        if not specs:
            raise UsageError(f"no sequences found under {data_root}")
        return list(dict.fromkeys(specs))
    from cfvgg_ros.datasets.splits import load_splits

    split = args.split or "eval"
    try:
        return list(load_splits(data_root)[split])
    except (DatasetError, OSError, KeyError, ValueError) as exc:
        raise UsageError(f"cannot read the {split!r} split under {data_root}: {exc}") from exc


def _run(args, allowed_cores: list[int] | None) -> int:
    import logging

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    from cfvgg_ros.core.registry import available_trackers

    if args.list_trackers:
        print("\n".join(available_trackers()))
        return 0
    from cfvgg_ros.evaluation.metrics import RULES

    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    bad = [r for r in rules if r not in RULES]
    if bad or not rules:
        raise UsageError(f"unknown rule set(s) {bad or args.rules!r}; choose from {', '.join(RULES)}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be >= 1, got {args.jobs}")
    if args.from_bag is not None or args.groundtruth is not None:
        return _score_bags(args, rules)
    trackers = _resolve_trackers(args)
    if args.data_root is not None:
        data_root = Path(args.data_root)
        if not data_root.is_dir():
            raise UsageError(f"--data-root {data_root} is not a folder")
    else:
        from cfvgg_ros.paths import shared_data_root

        data_root = shared_data_root()
    specs = _select_specs(args, data_root)

    from cfvgg_ros.evaluation.report import write_report
    from cfvgg_ros.evaluation.runner import BenchmarkInputError, run_benchmark

    run_dir = Path(args.results) / args.run_name
    if args.init_perturbation is not None:
        return _run_sre(args, trackers, specs, data_root, run_dir, rules, allowed_cores)
    previous_profile = os.environ.get("CFVGG_PROFILE")
    if args.profile:  # read by the trackers, here and in spawned workers
        os.environ["CFVGG_PROFILE"] = "1"
    try:
        run = run_benchmark(trackers, specs, data_root, run_dir, jobs=args.jobs, resume=not args.no_resume,
                            progress=not args.no_progress, cores=allowed_cores)
    except BenchmarkInputError as exc:
        raise UsageError(str(exc)) from exc
    finally:
        if args.profile and previous_profile is None:
            os.environ.pop("CFVGG_PROFILE", None)
        elif args.profile:
            os.environ["CFVGG_PROFILE"] = previous_profile
    for label, key, message in run.failed:
        print(f"FAILED: {label} on {key}: {message}", file=sys.stderr)
    results = run.result_list()
    if not results:
        print("cfvgg-bench: no results to report", file=sys.stderr)
        return 1
    text, files = write_report(results, run_dir, rules=rules, markdown=args.markdown, labels=run.labels,
                               sequences=run.sequences, plots=not args.no_plots)
    print(text)
    print()
    if args.profile:
        _print_profiles(results, args.markdown)
    if run.resumed:
        print(f"resumed {len(run.resumed)} stored result(s) (use --no-resume to rerun them)")
    if run.stale:
        print(f"re-ran {len(run.stale)} stored result(s) computed with another configuration")
    _print_outputs(run_dir, files)
    return 1 if run.failed else 0


def _print_outputs(where, files) -> None:
    """The results folder and the report files written there."""
    print(f"results: {where}")
    for path in files:
        print(f"{'CSV' if path.suffix == '.csv' else 'plot'}: {path}")


def _run_sre(args, trackers, specs, data_root, run_dir: Path, rules: list[str], allowed_cores) -> int:
    """``--init-perturbation``: one benchmark run per perturbation (each in ``init-<name>/``, with
    its own per-sequence report files), then the SRE summary table."""
    from cfvgg_ros.evaluation.perturbation import PerturbationError, parse_perturbations
    from cfvgg_ros.evaluation.report import write_report, write_sre_report
    from cfvgg_ros.evaluation.runner import BenchmarkInputError, run_benchmark

    try:
        names = parse_perturbations(args.init_perturbation)
    except PerturbationError as exc:
        raise UsageError(f"--init-perturbation: {exc}") from exc
    if args.profile:
        raise UsageError("--profile and --init-perturbation do not go together (profile an OPE run)")
    runs, failed, resumed, stale, labels, sequences = {}, [], 0, 0, None, None
    for number, name in enumerate(names, start=1):
        if not args.no_progress:
            print(f"init perturbation {name} ({number}/{len(names)})", file=sys.stderr)
        try:
            run = run_benchmark(trackers, specs, data_root, run_dir / f"init-{name}", jobs=args.jobs,
                                resume=not args.no_resume, progress=not args.no_progress, cores=allowed_cores,
                                init_perturbation=name)
        except BenchmarkInputError as exc:
            raise UsageError(str(exc)) from exc
        failed += [(f"{label} [{name}]", key, message) for label, key, message in run.failed]
        resumed += len(run.resumed)
        stale += len(run.stale)
        labels, sequences = run.labels, run.sequences
        if run.result_list():
            write_report(run.result_list(), run.run_dir, rules=rules, labels=run.labels,
                         sequences=run.sequences, plots=False)
            runs[name] = run.result_list()
    for label, key, message in failed:
        print(f"FAILED: {label} on {key}: {message}", file=sys.stderr)
    if not runs:
        print("cfvgg-bench: no results to report", file=sys.stderr)
        return 1
    text, files = write_sre_report(runs, run_dir, rules=rules, markdown=args.markdown, labels=labels,
                                   sequences=sequences)
    print(text)
    print()
    if resumed:
        print(f"resumed {resumed} stored result(s) (use --no-resume to rerun them)")
    if stale:
        print(f"re-ran {stale} stored result(s) computed with another configuration")
    _print_outputs(f"{run_dir} (per perturbation: {run_dir}/init-<name>/)", files)
    return 1 if failed else 0


def _score_bags(args, rules: list[str]) -> int:
    """``--from-bag``: score recorded node outputs against their input bags' ground truth with
    the same metrics and report as a tracker run (FPS comes from the node's status)."""
    from cfvgg_ros.bags import BagError
    from cfvgg_ros.bags.score import score_bags
    from cfvgg_ros.evaluation.report import write_report

    outputs = [p for p in (args.from_bag or "").split(",") if p]
    inputs = [p for p in (args.groundtruth or "").split(",") if p]
    if not outputs or len(outputs) != len(inputs):
        raise UsageError("--from-bag and --groundtruth need the same number (>= 1) of comma-separated bags")
    results = []
    for output, groundtruth in zip(outputs, inputs, strict=True):
        try:
            scores = score_bags(output, groundtruth, rules=tuple(rules))
        except (BagError, OSError) as exc:
            raise UsageError(f"cannot score {output} against {groundtruth}: {exc}") from exc
        print(scores.summary())
        results.append(scores.to_sequence_result(args.label))
    run_dir = Path(args.results) / args.run_name
    text, files = write_report(results, run_dir, rules=rules, markdown=args.markdown, plots=not args.no_plots)
    print(text)
    _print_outputs(run_dir, files)
    return 0


def _print_profiles(results, markdown: bool) -> None:
    """Per-stage breakdown (mean ms per frame, all sequences pooled) of every tracker whose
    results carry a profile."""
    from cfvgg_ros.trackers.eco.profiling import format_profile_table, merge_reports

    by_label: dict[str, list] = {}
    for result in results:
        report = result.metadata.get("profile")
        if report:
            by_label.setdefault(result.tracker, []).append(report)
    if not by_label:
        print("no profiles in these results (only the ECO-engine trackers profile; resumed results lack one)")
        print()
        return
    print("stage breakdown (mean ms per frame, all sequences pooled):")
    print(format_profile_table({label: merge_reports(r) for label, r in by_label.items()}, markdown=markdown))
    print()


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cfvgg-bench``. Returns 0 on success, 1 when some sequence failed to
    run, 2 on usage errors (unknown tracker or sequence, missing data folder)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    allowed_cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    if not args.verbose:  # before OpenCV loads (here and in spawned workers): no WARN chatter
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    from cfvgg_ros.threads import single_core  # light: pins before numpy / OpenCV load

    try:
        try:
            single_core(args.cpu_core)
        except ValueError as exc:
            raise UsageError(f"--cpu-core: {exc}") from exc
        return _run(args, allowed_cores)
    except UsageError as exc:
        print(f"cfvgg-bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cfvgg-bench: interrupted (finished sequences are stored; rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
