"""The tracking node under ``tracemalloc`` (a diagnostic for ``soak.py --tracemalloc``): every
SIGUSR1 writes a snapshot to ``$CFVGG_TRACEMALLOC_PREFIX.<n>``; ``compare(a, b)`` lists the
source lines whose allocations grew most between two snapshots."""

from __future__ import annotations

import os
import signal
import sys
import tracemalloc


def compare(first: str, second: str, top: int = 12) -> list[str]:
    a, b = tracemalloc.Snapshot.load(first), tracemalloc.Snapshot.load(second)
    stats = b.compare_to(a, "lineno")
    total = sum(s.size_diff for s in stats)
    return [f"total {total / 2**20:+.1f} MB"] + [
        f"{s.size_diff / 2**20:+8.2f} MB {s.count_diff:+7d} blocks  {s.traceback}" for s in stats[:top]]


def main() -> int:
    tracemalloc.start(1)
    prefix = os.environ["CFVGG_TRACEMALLOC_PREFIX"]
    taken = [0]

    def dump(signum, frame) -> None:
        tracemalloc.take_snapshot().dump(f"{prefix}.{taken[0]}")
        taken[0] += 1

    signal.signal(signal.SIGUSR1, dump)
    from cfvgg_ros.ros.track_node import main as node_main

    return node_main(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
