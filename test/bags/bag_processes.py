"""Helpers of the bag tests: run ``cfvgg-bag`` subcommands as their own processes."""

from __future__ import annotations

import subprocess
import sys

import pytest


def start_bag_cli(subcommand: str, target, env, *args, stdin=None) -> subprocess.Popen:
    """``python -m cfvgg_ros.cli.bag <subcommand> <target> *args`` with output captured as text."""
    cmd = [sys.executable, "-m", "cfvgg_ros.cli.bag", subcommand, str(target), *args]
    return subprocess.Popen(cmd, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def finish(proc: subprocess.Popen, timeout: float = 20.0) -> str:
    """Wait for ``proc`` and return its output; kill it and fail the test after ``timeout``."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"{proc.args[3]} did not exit: {out}")
    return out
