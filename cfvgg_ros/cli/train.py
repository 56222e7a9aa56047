"""``cfvgg-train``: offline distillation of the CF-VGG student (paper §IV-A).

    cfvgg-train --config config/train.yaml [--resume] [--set optim.epochs=5 ...]
    torchrun --nproc_per_node=4 -m cfvgg_ros.cli.train --config config/train.yaml   # DDP

SIGINT / SIGTERM checkpoint and stop; ``--resume`` continues exactly where the run stopped.
Exit codes: 0 finished, 2 bad configuration or data, 130 interrupted (checkpoint written).
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cfvgg-train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="training YAML (see config/train.yaml)")
    parser.add_argument("--resume", action="store_true", help="continue from <output_dir>/last.pt")
    parser.add_argument("--output-dir", help="override output_dir")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.epochs=5 (repeatable; YAML values)",
    )
    parser.add_argument(
        "--nprocs", type=int, default=1, help="processes on this machine without torchrun (DDP; gloo on CPU)"
    )
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from cfvgg_ros.datasets import DatasetError
    from cfvgg_ros.training.config import ConfigError, load_config

    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"output_dir={args.output_dir}")
    try:
        config = load_config(args.config, overrides)
    except ConfigError as exc:
        print(f"cfvgg-train: {exc}", file=sys.stderr)
        return 2
    from cfvgg_ros.training.train import CheckpointError, launch_local, train

    try:
        if args.nprocs > 1:
            launch_local(config, args.nprocs, resume=args.resume)
            return 0
        summary = train(config, resume=args.resume)
    except (ConfigError, DatasetError, FileNotFoundError, CheckpointError) as exc:
        print(f"cfvgg-train: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") != "0":  # torchrun: rank 0 reports
        return 130 if summary["status"] == "interrupted" else 0
    if summary["status"] == "interrupted":
        print(
            f"cfvgg-train: stopped by {summary['signal']}; checkpoint {summary['checkpoint']} "
            "(continue with --resume)",
            file=sys.stderr,
        )
        return 130
    print(f"cfvgg-train: finished {summary['global_step']} iterations; checkpoint {summary['checkpoint']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
