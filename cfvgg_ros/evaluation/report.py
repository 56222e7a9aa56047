"""Benchmark report: per-sequence tables with the overall mean, CSV files and success /
precision plots, for each metric rule set of :mod:`cfvgg_ros.evaluation.metrics`.

Columns: sequence, frames, then per tracker AUC (%), precision at 20 px (%) and FPS. FPS is
update frames / seconds spent in ``update()`` (init excluded). The mean row holds the scores of
:func:`~cfvgg_ros.evaluation.metrics.mean_scores` over the tracker's sequences (the mean of the
per-sequence curves, as the toolkits do) and FPS = all update frames / all update seconds.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .metrics import RULES, mean_scores, score_sequence
from .results import SequenceResult

MEAN_ROW = "mean"


@dataclass
class Cell:
    """One tracker on one sequence (or on all of them, for the mean row)."""

    auc: float
    precision20: float
    fps: float


@dataclass
class ReportTable:
    """The scores of one rule set: ``rows`` = ``(sequence key, frames, {label: Cell})`` and the
    mean row ``mean`` = ``{label: Cell}``; ``curves`` = ``{label: (success (21,), precision (51,))}``
    of the overall mean; ``counts`` = sequences per tracker in its mean."""

    rules: str
    labels: list[str]
    rows: list[tuple[str, int, dict]] = field(default_factory=list)
    mean: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)

    def header(self, short: bool = False) -> list[str]:
        """Column names; ``short`` drops the units (printed tables explain them below)."""
        names = ("AUC", "P@20", "FPS") if short else ("AUC (%)", "P@20 (%)", "FPS")
        columns = ["sequence", "frames"]
        for label in self.labels:
            columns += [f"{label} {name}" for name in names]
        return columns

    def body(self) -> list[list]:
        """Rows of numbers (NaN where a tracker has no result), the mean row last."""
        rows = []
        total_frames = sum(frames for _, frames, _ in self.rows)
        mean_row = (f"{MEAN_ROW} ({len(self.rows)} seq)", total_frames, self.mean)
        for key, frames, cells in [*self.rows, mean_row]:
            row = [key, frames]
            for label in self.labels:
                cell = cells.get(label)
                row += ([100.0 * cell.auc, 100.0 * cell.precision20, cell.fps] if cell
                        else [math.nan, math.nan, math.nan])
            rows.append(row)
        return rows


def _key(result: SequenceResult) -> str:
    return f"{result.dataset}/{result.sequence}"


def build_table(results: Iterable[SequenceResult], rules: str = "otb", labels: list[str] | None = None,
                sequences: list[str] | None = None) -> ReportTable:
    """Score ``results`` with rule set ``rules``. ``labels`` / ``sequences`` fix the column and
    row order (default: first-seen order)."""
    if rules not in RULES:
        raise ValueError(f"unknown rule set {rules!r}; choose from {', '.join(RULES)}")
    results = list(results)
    labels = list(labels) if labels is not None else list(dict.fromkeys(r.tracker for r in results))
    sequences = list(sequences) if sequences is not None else list(dict.fromkeys(_key(r) for r in results))
    by_pair = {(r.tracker, _key(r)): r for r in results}
    table = ReportTable(rules=rules, labels=labels)
    scores: dict[str, list] = {label: [] for label in labels}
    timing: dict[str, list[float]] = {label: [0.0, 0.0] for label in labels}
    for key in sequences:
        cells, frames = {}, 0
        for label in labels:
            result = by_pair.get((label, key))
            if result is None:
                continue
            frames = result.num_frames
            score = score_sequence(result.boxes, result.gt_boxes, rules)
            scores[label].append(score)
            timing[label][0] += result.num_updates
            timing[label][1] += result.update_seconds
            cells[label] = Cell(score.auc, score.precision20, result.fps)
        if cells:
            table.rows.append((key, frames, cells))
    for label in labels:
        if not scores[label]:
            continue
        overall = mean_scores(scores[label])
        updates, seconds = timing[label]
        fps = updates / seconds if updates and seconds > 0 else math.nan
        table.mean[label] = Cell(overall.auc, overall.precision20, fps)
        table.curves[label] = (np.asarray(overall.success), np.asarray(overall.precision))
        table.counts[label] = len(scores[label])
    return table


def _fmt(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer):
        return str(int(value))
    return "-" if not math.isfinite(value) else f"{value:.1f}"


def _aligned(header: list[str], rows: list[list[str]], markdown: bool, rule_before_last: bool = False) -> list[str]:
    """``header`` and ``rows`` (strings) as aligned text lines (first column left-aligned), or as
    a Markdown table; ``rule_before_last`` sets the last row (a mean) apart in plain text."""
    widths = [max(len(str(line[i])) for line in [header, *rows]) for i in range(len(header))]

    def line(cells) -> str:
        parts = [cells[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return (f"| {' | '.join(parts)} |") if markdown else "  ".join(parts)

    out = [line(header)]
    if markdown:
        rules = [":" + "-" * (widths[0] - 1)] + ["-" * (w - 1) + ":" for w in widths[1:]]
        out.append("| " + " | ".join(rules) + " |")
    else:
        out.append("  ".join("-" * w for w in widths))
    if rule_before_last and rows:
        out += [line(row) for row in rows[:-1]]
        if not markdown:
            out.append("  ".join("-" * w for w in widths))
        out.append(line(rows[-1]))
    else:
        out += [line(row) for row in rows]
    return out


def format_table(table: ReportTable, markdown: bool = False) -> str:
    """The table as aligned plain text, or as a Markdown table."""
    rows = [[_fmt(v) for v in row] for row in table.body()]
    out = _aligned(table.header(short=True), rows, markdown, rule_before_last=True)
    out.append("")
    out.append("AUC and P@20 (precision at 20 px) in %; FPS = update frames / seconds in update()")
    missing = [f"{label} has {table.counts.get(label, 0)} of {len(table.rows)} sequences"
               for label in table.labels if table.counts.get(label, 0) != len(table.rows)]
    if missing:
        out.append("note: " + "; ".join(missing) + " (its mean covers only those)")
    return "\n".join(out)


def _write_rows(path, header: list[str], rows: list[list]) -> Path:
    """CSV of ``header`` and ``rows``: numbers with 4 decimals, empty when missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([v if isinstance(v, str | int) else ("" if not math.isfinite(v) else f"{v:.4f}")
                             for v in row])
    return path


def write_csv(table: ReportTable, path) -> Path:
    """Write the table (mean row last) as CSV; numbers with 4 decimals, empty when missing."""
    return _write_rows(path, table.header(), table.body())


def write_plots(table: ReportTable, out_dir, title_prefix: str = "OPE") -> list[Path]:
    """Success and precision plots (PNG) of each tracker's overall mean curves:
    ``<out_dir>/success_<rules>.png`` and ``precision_<rules>.png``."""
    if not table.curves:
        return []
    from .plots import precision_plot, success_plot

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    count = max(table.counts.values())
    suffix = f"{table.rules} rules, {count} sequence{'s' if count != 1 else ''}"
    success = success_plot({label: c[0] for label, c in table.curves.items()},
                           out_dir / f"success_{table.rules}.png",
                           f"Success plots of {title_prefix} ({suffix})")
    precision = precision_plot({label: c[1] for label, c in table.curves.items()},
                               out_dir / f"precision_{table.rules}.png",
                               f"Precision plots of {title_prefix} ({suffix})")
    return [Path(success), Path(precision)]


def write_report(results: Iterable[SequenceResult], out_dir, rules=RULES, markdown: bool = False,
                 labels: list[str] | None = None, sequences: list[str] | None = None,
                 plots: bool = True) -> tuple[str, list[Path]]:
    """Tables for each rule set in ``rules`` (returned as one text), plus ``report_<rules>.csv``
    and the plots written into ``out_dir``. Returns ``(text, written files)``."""
    results = list(results)
    if not results:
        raise ValueError("no results to report")
    out_dir = Path(out_dir)
    texts, files = [], []
    for rule_set in rules:
        table = build_table(results, rule_set, labels=labels, sequences=sequences)
        heading = f"{rule_set} rules"
        title = f"### {heading}\n\n" if markdown else f"== {heading} ==\n"
        texts.append(title + format_table(table, markdown))
        files.append(write_csv(table, out_dir / f"report_{rule_set}.csv"))
        if plots:
            files += write_plots(table, out_dir)
    return "\n\n".join(texts), files


def write_sre_report(runs: dict, out_dir, rules=RULES, markdown: bool = False,
                     labels: list[str] | None = None, sequences: list[str] | None = None) -> tuple[str, list[Path]]:
    """Spatial robustness (SRE) summary of ``runs`` = ``{perturbation: [SequenceResult, ...]}``:
    per rule set, one row per tracker with its mean AUC (%) under each perturbation and the SRE
    mean over all of them (OTB averages every sequence x perturbation run alike, which is the
    mean of the per-perturbation means when each covers the same sequences), also as
    ``<out_dir>/sre_<rules>.csv``. Returns ``(text, written files)``."""
    if not runs:
        raise ValueError("no SRE runs to report")
    out_dir = Path(out_dir)
    names = list(runs)
    texts, files = [], []
    for rule_set in rules:
        tables = {name: build_table(runs[name], rule_set, labels=labels, sequences=sequences) for name in names}
        row_labels = labels if labels is not None else list(dict.fromkeys(
            label for table in tables.values() for label in table.labels))
        header = ["tracker", *names, "SRE mean", "sequences"]
        body = []
        for label in row_labels:
            aucs = [100.0 * tables[n].mean[label].auc if label in tables[n].mean else math.nan for n in names]
            counts = {tables[n].counts.get(label, 0) for n in names}
            body.append([label, *aucs, float(np.mean(aucs)) if aucs else math.nan,
                         "/".join(str(c) for c in sorted(counts))])
        files.append(_write_rows(out_dir / f"sre_{rule_set}.csv", header, body))
        lines = _aligned(header, [[_fmt(v) for v in row] for row in body], markdown)
        title = f"### SRE, {rule_set} rules" if markdown else f"== SRE, {rule_set} rules =="
        texts.append("\n".join([title, *([""] if markdown else []), *lines, "",
                                "mean AUC (%) over the sequences, per init perturbation; "
                                "SRE mean = their mean"]))
    return "\n\n".join(texts), files
