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
        sys.executable, str(SCRIPT), "--trackers", "eco-hc,eco-hc:use_scale_filter=false,number_of_scales=3",
        "--sequences", "synthetic/translation", "--max-frames", "6", "--json", str(out),
    ]
    env = {k: v for k, v in os.environ.items() if k != "CFVGG_PROFILE"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "median of the per-sequence FPS" in proc.stdout and "stage breakdown" in proc.stdout
    assert "p99" in proc.stdout and "budget" in proc.stdout
    rows = json.loads(out.read_text())["rows"]
    # cfvgg-bench's spec syntax: the second tracker has two parameters, labelled as in its results
    assert [r["tracker"] for r in rows] == ["eco-hc", "eco-hc@number_of_scales=3,use_scale_filter=false"]
    for row in rows:
        assert row["frames"] == 5 and row["fps"] > 0
        assert row["median_ms"] <= row["p95_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["profile"]["frames"] == 5
    assert rows[1]["profile"]["stages"]["scale_filter"]["calls"] == 0


def test_budget_check_and_the_720p_sequence_set():
    import importlib.util

    spec = importlib.util.spec_from_file_location("feco_speed", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.within_budget({"mean_ms": 10.0, "p99_ms": 20.0}, 10.0, 20.0)
    assert not module.within_budget({"mean_ms": 9.0, "p99_ms": 20.5}, 10.0, 20.0)
    assert not module.within_budget({"mean_ms": 10.1, "p99_ms": 12.0}, 10.0, 20.0)
    assert module.summarise([0.001] * 99 + [0.101])["max_ms"] == 101.0
    specs = module.all_720p_specs(None)  # without shared data: the synthetic presets (1280x720)
    assert specs and all(s.startswith("synthetic/") for s in specs) and "synthetic/aerial" in specs
