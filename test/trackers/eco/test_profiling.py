"""Stage profiler of the ECO engine: accounting, report merging and formatting, tracker hook."""

import json
import os

import numpy as np
import pytest

from cfvgg_ros.datasets.synthetic import make_sequence
from cfvgg_ros.trackers.eco import profiling
from cfvgg_ros.trackers.eco.config import ECOConfig, FeatureConfig
from cfvgg_ros.trackers.eco.profiling import (
    STAGES,
    StageProfiler,
    format_profile_table,
    merge_reports,
    profiling_requested,
)
from cfvgg_ros.trackers.eco.tracker import ECOTracker

HOG = (FeatureConfig("hog", compressed_dim=10, cell_size=4),)


class _Clock:
    """Deterministic stand-in for time.perf_counter."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(profiling.time, "perf_counter", fake)
    return fake


def test_disabled_profiler_records_nothing(clock):
    prof = StageProfiler(False)
    prof.frame_begin()
    with prof.stage("cnn"):
        clock.now += 1.0
    with prof.stage("not-a-stage"):  # no validation cost when disabled
        pass
    prof.frame_end()
    report = prof.report()
    assert report["frames"] == 0
    assert all(s["total_ms"] == 0.0 for s in report["stages"].values())


def test_stage_accounting_and_other(clock):
    prof = StageProfiler(True)
    for _ in range(2):
        prof.frame_begin()
        with prof.stage("cnn"):
            clock.now += 0.003
        with prof.stage("training"):
            clock.now += 0.001
        clock.now += 0.0005  # uncovered: booked as "other"
        prof.frame_end()
    report = prof.report()
    assert report["frames"] == 2
    assert list(report["stages"]) == list(STAGES)
    assert report["frame_ms"] == pytest.approx(4.5)
    assert report["stages"]["cnn"]["ms_per_frame"] == pytest.approx(3.0)
    assert report["stages"]["cnn"]["calls"] == 2
    assert report["stages"]["training"]["total_ms"] == pytest.approx(2.0)
    assert report["stages"]["other"]["ms_per_frame"] == pytest.approx(0.5)
    assert sum(s["share"] for s in report["stages"].values()) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown profiling stage"):
        prof.stage("gpu")
    json.dumps(report)  # JSON-friendly


def test_merge_reports_is_frame_weighted_and_order_stable(clock):
    reports = []
    for frames, ms in ((1, 2.0), (3, 6.0)):
        prof = StageProfiler(True)
        for _ in range(frames):
            prof.frame_begin()
            with prof.stage("detection"):
                clock.now += ms / 1e3
            prof.frame_end()
        reports.append(json.loads(json.dumps(prof.report(), sort_keys=True)))
    merged = merge_reports(reports)
    assert merged["frames"] == 4
    assert merged["frame_ms"] == pytest.approx((2.0 + 3 * 6.0) / 4)
    assert merged["stages"]["detection"]["ms_per_frame"] == pytest.approx(5.0)
    assert list(merged["stages"]) == list(STAGES)  # STAGES order even after sorted JSON keys
    table = format_profile_table({"a": merged, "b": reports[0]})
    lines = table.splitlines()
    assert lines[0].split()[-2:] == ["a", "b"]
    assert [ln.split()[0] for ln in lines[1 : 1 + len(STAGES)]] == list(STAGES)
    assert "| detection |" in format_profile_table({"a": merged}, markdown=True)
    with pytest.raises(ValueError):
        merge_reports([])


def test_profiling_requested_reads_the_environment(monkeypatch):
    monkeypatch.delenv(profiling.PROFILE_ENV_VAR, raising=False)
    assert not profiling_requested()
    monkeypatch.setenv(profiling.PROFILE_ENV_VAR, "1")
    assert profiling_requested()
    assert not profiling_requested(False)
    monkeypatch.setenv(profiling.PROFILE_ENV_VAR, "0")
    assert not profiling_requested()
    assert profiling_requested(True)


def _track(tracker, seq, frames):
    tracker.init(seq.frame(0), seq.boxes[0])
    return [tracker.update(seq.frame(i)) for i in range(1, frames)]


def test_tracker_profile_report(monkeypatch):
    monkeypatch.delenv(profiling.PROFILE_ENV_VAR, raising=False)
    seq = make_sequence("translation", num_frames=12, width=240, height=180)
    plain = ECOTracker(ECOConfig.feco(features=HOG))
    profiled = ECOTracker(ECOConfig.feco(features=HOG, profile=True))
    a = _track(plain, seq, 12)
    b = _track(profiled, seq, 12)
    assert plain.profile_report() is None
    # profiling does not change the results
    np.testing.assert_allclose([r.box for r in a], [r.box for r in b], rtol=0, atol=1e-9)
    report = profiled.profile_report()
    assert report["frames"] == 11 and report["init_ms"] > 0
    stages = report["stages"]
    for name in ("hog_colour", "patch", "projection_fft", "detection", "scale_filter", "sample_space", "training"):
        assert stages[name]["calls"] > 0 and stages[name]["total_ms"] > 0, name
    assert stages["cnn"]["calls"] == 0
    assert sum(s["total_ms"] for s in stages.values()) == pytest.approx(report["frame_ms"] * 11, rel=1e-6)
    assert "training" in report["table"] and "FPS" in report["table"]
    # a new init starts a fresh tally
    _track(profiled, seq, 3)
    assert profiled.profile_report()["frames"] == 2


def test_environment_variable_turns_profiling_on(monkeypatch):
    monkeypatch.setenv(profiling.PROFILE_ENV_VAR, "1")
    seq = make_sequence("translation", num_frames=3, width=240, height=180)
    tracker = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False))
    _track(tracker, seq, 3)
    report = tracker.profile_report()
    assert report["frames"] == 2 and report["stages"]["scale_filter"]["calls"] == 0
    off = ECOTracker(ECOConfig.feco(features=HOG, use_scale_filter=False, profile=False))
    assert not off.profiler.enabled


def test_runner_and_bench_report_profiles(monkeypatch, tmp_path, capsys):
    """The benchmark runner stores the profile in the result metadata; ``cfvgg-bench --profile``
    prints the per-stage table and leaves $CFVGG_PROFILE as it was."""
    from cfvgg_ros.cli.bench import main
    from cfvgg_ros.evaluation.runner import run_sequence

    monkeypatch.delenv(profiling.PROFILE_ENV_VAR, raising=False)
    seq = make_sequence("translation", num_frames=5, width=240, height=180)
    on = run_sequence("eco-hc", {"profile": True}, seq)
    assert on.metadata["profile"]["frames"] == 4 and "table" not in on.metadata["profile"]
    off = run_sequence("eco-hc", {}, seq)
    assert "profile" not in off.metadata
    code = main(
        ["--trackers", "eco-hc", "--sequences", "synthetic/translation", "--profile", "--results",
         str(tmp_path), "--no-progress", "--no-plots", "--rules", "otb"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "stage breakdown" in printed and "training" in printed
    assert profiling.PROFILE_ENV_VAR not in os.environ
