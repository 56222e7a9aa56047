"""Smoke test of benchmarks/feco_speed.py on a synthetic sequence (timing only, no assertions on speed)."""

import json
import os
import subprocess
import sys

from cfvgg_ros.paths import SOURCE_ROOT

SCRIPT = SOURCE_ROOT / "benchmarks" / "feco_speed.py"


def test_feco_speed_runs_and_reports_stages(tmp_path):
    out = tmp_path / "speed.json"
    cmd = [
        sys.executable, str(SCRIPT), "--trackers", "eco-hc,eco-hc:use_scale_filter=false",
        "--sequences", "synthetic/translation", "--max-frames", "6", "--json", str(out),
    ]
    env = {k: v for k, v in os.environ.items() if k != "CFVGG_PROFILE"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "median over sequences" in proc.stdout and "stage breakdown" in proc.stdout
    rows = json.loads(out.read_text())["rows"]
    assert [r["tracker"] for r in rows] == ["eco-hc", "eco-hc:use_scale_filter=false"]
    for row in rows:
        assert row["frames"] == 5 and row["fps"] > 0 and row["median_ms"] <= row["p95_ms"]
        assert row["profile"]["frames"] == 5
    assert rows[1]["profile"]["stages"]["scale_filter"]["calls"] == 0
