"""Reproduce Table IV of CF-VGG (Wang et al., IEEE TIP 2020): fECO with differently trained
students, mean AUC over the shared **eval** split under both metric rule sets (otb, pysot), with
the paper's OTB-2015 AUC beside each row for reference.

Rows (keys for ``--model ROW=PATH`` / the ``--models`` YAML), in the paper's order:

* ``cf_vggm``: the paper's released ``CF_VGGM`` (default: ``shared/models/paper/CF_VGGM.mat``,
  converted once into the user cache like the trackers do);
* ``scratch``: "pretrained tiny model", here teacher-free (config/ablations/scratch_no_teacher.yaml);
* ``fidelity_only``, ``tracking_single``, ``tracking_multi``: the loss ablations
  (config/ablations/*.yaml);
* ``fidelity_multi``: fidelity + multi-layer tracking = config/train.yaml (default: the shipped
  ``models/cfvgg_student.onnx``);
* ``online``: "offline + online fine-tune", the ``fidelity_multi`` model (unless given) with
  fECO's ``online_adaptation`` (paper Eq. 9-11).

Default model paths are ``results/training/ablations/<row>/student.onnx`` (the export commands in
the ablation configs). A ``.mat`` path is converted to ONNX first. A row whose model file does
not exist prints as "not trained". Results are stored under ``<results>/<run-name>/<model sha1>``
so a retrained model never reuses stale results, and an interrupted run resumes.

Usage::

    .venv/bin/python benchmarks/table4.py                      # eval split, default paths
    .venv/bin/python benchmarks/table4.py --models table4.yaml --jobs 2
    .venv/bin/python benchmarks/table4.py --model fidelity_only=/tmp/fid.onnx --sequences OTB100/Boy

The eval split mixes OTB100, UAV123_10fps, DTB70 and VOT2015 sequences, so the paper's
OTB-2015 numbers are a reference for the ordering of the rows, not for the values.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO))

RULES = ("otb", "pysot")
ABLATION_DIR = Path("results/training/ablations")
SHIPPED_MODEL = Path("models/cfvgg_student.onnx")


@dataclass(frozen=True)
class Row:
    """One line of Table IV: ``key`` (CLI name), the paper's wording, the paper's fECO AUC on
    OTB-2015 (%), and whether fECO runs with online adaptation."""

    key: str
    title: str
    paper_otb2015: float | None
    online: bool = False


# fECO rows of Table IV (OTB-2015 column); CF_VGGM is the released 64x model of Table III (68.2).
ROWS = (
    Row("cf_vggm", "CF_VGGM (paper's released model)", 68.2),
    Row("scratch", "pretrained tiny model (ours: no teacher)", 65.5),
    Row("fidelity_only", "only fidelity loss", 65.1),
    Row("tracking_single", "only tracking loss, single-layer", 64.6),
    Row("tracking_multi", "only tracking loss, multi-layer", 65.9),
    Row("fidelity_multi", "fidelity + multi-layer tracking", 67.9),
    Row("online", "offline + online fine-tune", 68.2, online=True),
)
ROW_KEYS = tuple(row.key for row in ROWS)
# Reference rows of Table IV that this script does not run (uncompressed / hand-crafted ECO).
REFERENCE_ROWS = (("ECO (baseline, VGG-M)", 69.4), ("ECOhc (hand-crafted features)", 64.6))


class Table4Error(ValueError):
    """Bad input: unknown row, unreadable model mapping, no sequences."""


@dataclass
class RowResult:
    """A row's outcome: ``status`` "ok", "not trained" or "failed: ..."; mean AUC (0-1) per
    rule set and the number of sequences scored."""

    row: Row
    model: Path | None
    status: str
    auc: dict
    sequences: int = 0


def default_models(shared_models: Path | None) -> dict[str, Path | None]:
    """Default model path of every row, inside this checkout (None where there is none, e.g. the
    paper's model without a shared folder)."""
    ablations = REPO / ABLATION_DIR
    models: dict[str, Path | None] = {
        key: ablations / key / "student.onnx" for key in ("fidelity_only", "tracking_single", "tracking_multi")
    }
    models["scratch"] = ablations / "scratch_no_teacher" / "student.onnx"
    models["fidelity_multi"] = REPO / SHIPPED_MODEL
    models["cf_vggm"] = shared_models / "paper" / "CF_VGGM.mat" if shared_models is not None else None
    return models


def parse_model_args(items: list[str]) -> dict[str, Path]:
    """``["row=path", ...]`` -> ``{row: Path}``; unknown rows raise :class:`Table4Error`."""
    models = {}
    for item in items or []:
        key, sep, path = item.partition("=")
        if not sep or not path:
            raise Table4Error(f"--model {item!r} must look like ROW=PATH")
        models[_check_row(key.strip())] = Path(path.strip())
    return models


def read_models_yaml(path) -> dict[str, Path]:
    """A YAML mapping ``row: path`` (relative paths are relative to the YAML's folder)."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise Table4Error(f"model mapping {path} not found")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise Table4Error(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(values, dict):
        raise Table4Error(f"{path} must map row names to model paths, got {type(values).__name__}")
    models = {}
    for key, value in values.items():
        if not isinstance(value, str):
            raise Table4Error(f"{path}: the model of row {key!r} must be a path, got {value!r}")
        model = Path(value).expanduser()
        models[_check_row(str(key))] = model if model.is_absolute() else path.parent / model
    return models


def _check_row(key: str) -> str:
    if key not in ROW_KEYS:
        raise Table4Error(f"unknown Table IV row {key!r}; rows: {', '.join(ROW_KEYS)}")
    return key


def resolve_models(given: dict[str, Path], shared_models: Path | None) -> dict[str, Path | None]:
    """Every row's model: ``given`` over the defaults; ``online`` falls back to ``fidelity_multi``'s."""
    models = {**default_models(shared_models), **given}
    if "online" not in given:
        models["online"] = models.get("fidelity_multi")
    return models


def file_sha1(path: Path) -> str:
    sha = hashlib.sha1()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def onnx_model(path: Path) -> Path:
    """``path`` itself for an ONNX model; a MatConvNet ``.mat`` is converted (and verified) once
    into the user cache, as the trackers' default model is."""
    path = Path(path)
    if path.suffix.lower() != ".mat":
        return path
    from cfvgg_ros.models.store import converted_model_path

    return converted_model_path(path)


def feco_params(model: Path, online: bool) -> dict:
    """fECO parameters with every CNN feature of the paper's run file reading ``model``."""
    params: dict = {"model_path": str(model)}
    if online:
        params["online_adaptation"] = True
    return params


def run_rows(models: dict[str, Path | None], specs: list, data_root, results_dir, rows=ROWS,
             jobs: int = 1, progress: bool = True, cores: list[int] | None = None) -> list[RowResult]:
    """Run fECO for every row whose model exists, score each with both rule sets."""
    from cfvgg_ros.evaluation.metrics import mean_scores, score_sequence
    from cfvgg_ros.evaluation.runner import run_benchmark

    if not specs:
        raise Table4Error("no sequences to evaluate")
    outcomes = []
    for row in rows:
        model = models.get(row.key)
        if model is None or not Path(model).is_file():
            outcomes.append(RowResult(row, model, "not trained", {}))
            continue
        try:
            onnx_path = onnx_model(Path(model))
            run_dir = Path(results_dir) / f"model-{file_sha1(onnx_path)[:12]}"
            run = run_benchmark([("feco", feco_params(onnx_path, row.online))], specs, data_root, run_dir,
                                jobs=jobs, progress=progress, cores=cores)
        except Exception as exc:  # one broken model must not hide the other rows
            outcomes.append(RowResult(row, model, f"failed: {type(exc).__name__}: {exc}", {}))
            continue
        results = run.result_list()
        if not results:
            outcomes.append(RowResult(row, model, "failed: no sequence ran", {}))
            continue
        auc = {rules: mean_scores([score_sequence(r.boxes, r.gt_boxes, rules) for r in results]).auc
               for rules in RULES}
        status = "ok" if not run.failed else f"ok ({len(run.failed)} sequence(s) failed)"
        outcomes.append(RowResult(row, model, status, auc, len(results)))
    return outcomes


def format_table(outcomes: list[RowResult], markdown: bool = False) -> str:
    """Table IV as text: row, our mean AUC (otb / pysot rules, %), sequences, paper OTB-2015 AUC."""
    header = ["fECO variant", "AUC otb (%)", "AUC pysot (%)", "seq", "paper OTB-2015", "model"]
    lines = []
    for name, paper in REFERENCE_ROWS:
        lines.append([name, "-", "-", "-", f"{paper:.1f}", "(paper only, not run)"])
    for out in outcomes:
        ok = out.status.startswith("ok")
        ours = [f"{100 * out.auc[r]:.1f}" if ok else out.status for r in RULES]
        paper = f"{out.row.paper_otb2015:.1f}" if out.row.paper_otb2015 is not None else "-"
        model = str(out.model) if out.model is not None else "(none)"
        if out.row.online:
            model += " +online"
        lines.append([out.row.title, *ours, str(out.sequences) if ok else "-", paper, model])
    if markdown:
        rows = [header, ["---"] * len(header), *lines]
        return "\n".join("| " + " | ".join(row) + " |" for row in rows)
    widths = [max(len(row[i]) for row in [header, *lines]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    text = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    text += [fmt.format(*row) for row in lines]
    return "\n".join(line.rstrip() for line in text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="table4", description="CF-VGG Table IV: fECO mean AUC per training configuration (eval split)."
    )
    parser.add_argument("--models", default=None, help="YAML mapping row -> model path (.onnx or .mat)")
    parser.add_argument("--model", action="append", default=[], metavar="ROW=PATH",
                        help=f"model of one row (repeatable; overrides --models); rows: {', '.join(ROW_KEYS)}")
    parser.add_argument("--rows", default=None, help="comma-separated subset of rows to run (default: all)")
    parser.add_argument("--data-root", default=None, help="benchmark data folder (default: shared/data)")
    parser.add_argument("--sequences", default=None,
                        help="comma-separated sequence specs instead of the eval split (e.g. for a smoke test)")
    parser.add_argument("--results", default="results", help="results folder (default: results/)")
    parser.add_argument("--run-name", default="table4", help="sub-folder of --results (default: table4)")
    parser.add_argument("--jobs", type=int, default=1, help="parallel processes, each pinned to one core")
    parser.add_argument("--cpu-core", type=int, default=None, help="core to pin this process to")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _specs(args, data_root) -> list[str]:
    if args.sequences:
        return [s.strip() for s in args.sequences.split(",") if s.strip()]
    if data_root is None:
        raise Table4Error("no shared data folder found for the eval split; give --data-root or --sequences")
    from cfvgg_ros.datasets.splits import load_splits

    try:
        return list(load_splits(data_root)["eval"])
    except (OSError, KeyError, ValueError) as exc:
        raise Table4Error(f"cannot read the eval split under {data_root}: {exc}") from exc


def main(argv: list[str] | None = None) -> int:
    """Print Table IV; 0 when every row with a model ran, 1 when some row failed, 2 on bad input."""
    args = build_parser().parse_args(argv)
    allowed_cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    from cfvgg_ros.threads import single_core  # pin before numpy / OpenCV / onnxruntime load

    try:
        if args.jobs < 1:
            raise Table4Error(f"--jobs must be >= 1, got {args.jobs}")
        single_core(args.cpu_core)
        from cfvgg_ros.paths import shared_data_root, shared_models_root

        given = read_models_yaml(args.models) if args.models else {}
        given.update(parse_model_args(args.model))
        models = resolve_models(given, shared_models_root())
        rows = ROWS
        if args.rows:
            wanted = {_check_row(k.strip()) for k in args.rows.split(",") if k.strip()}
            rows = tuple(row for row in ROWS if row.key in wanted)
        data_root = Path(args.data_root) if args.data_root else shared_data_root()
        specs = _specs(args, data_root)
        outcomes = run_rows(models, specs, data_root, Path(args.results) / args.run_name, rows,
                            jobs=args.jobs, progress=not args.no_progress, cores=allowed_cores)
    except Table4Error as exc:
        print(f"table4: error: {exc}", file=sys.stderr)
        return 2
    print(f"Table IV (fECO, mean AUC over {len(specs)} sequence(s); paper column: OTB-2015 AUC, "
          "Wang et al. TIP 2020)")
    print(format_table(outcomes, markdown=args.markdown))
    return 1 if any(o.status.startswith("failed") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
