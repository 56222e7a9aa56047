"""Cross-check stored benchmark results with the independent `pysot` implementation.

Usage: ``python benchmarks/verify_pysot_rules.py results/peers [--tolerance 0.5]``

For every stored (tracker, sequence) result, prints the AUC and precision@20 computed by
``cfvgg_ros.evaluation.metrics`` (rules="pysot") beside those of
``benchmarks/pysot_reference.py`` and their difference in points; exits 1 when any AUC
differs by more than the tolerance (default 0.5 points, as the foundation issue asks).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pysot_reference import auc_and_precision  # noqa: E402

from cfvgg_ros.evaluation.metrics import score_sequence  # noqa: E402
from cfvgg_ros.evaluation.results import iter_results  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", help="a cfvgg-bench run folder, e.g. results/peers")
    parser.add_argument("--tolerance", type=float, default=0.5, help="largest AUC difference in points")
    args = parser.parse_args(argv)
    results = iter_results(args.run_dir)
    if not results:
        print(f"no results under {args.run_dir}", file=sys.stderr)
        return 2
    worst = 0.0
    print(f"{'tracker':<16} {'sequence':<28} {'AUC ours':>9} {'AUC ref':>9} {'diff':>6} {'P20 ours':>9} {'P20 ref':>9}")
    for r in results:
        ours = score_sequence(r.boxes, r.gt_boxes, rules="pysot")
        ref_auc, ref_p20 = auc_and_precision(r.boxes.tolist(), r.gt_boxes.tolist())
        diff = 100 * abs(ours.auc - ref_auc)
        worst = max(worst, diff)
        print(f"{r.tracker:<16} {r.dataset + '/' + r.sequence:<28} {100 * ours.auc:9.2f} {100 * ref_auc:9.2f} "
              f"{diff:6.3f} {100 * ours.precision20:9.2f} {100 * ref_p20:9.2f}")
    verdict = "OK" if worst <= args.tolerance else "MISMATCH"
    print(f"{len(results)} results; largest AUC difference {worst:.3f} points "
          f"(tolerance {args.tolerance}): {verdict}")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
