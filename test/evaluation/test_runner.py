"""Benchmark runner and result storage: timing, failures, resume, atomic writes, parallel jobs."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from cfvgg_ros.core.contract import Tracker, TrackResult
from cfvgg_ros.core.registry import register_tracker
from cfvgg_ros.datasets.sequence import Sequence
from cfvgg_ros.evaluation import runner
from cfvgg_ros.evaluation.results import (
    SequenceResult,
    has_result,
    iter_results,
    load_result,
    result_path,
    save_result,
    tracker_label,
)
from cfvgg_ros.evaluation.runner import BenchmarkInputError, run_benchmark, run_sequence

H, W, SIZE = 48, 64, 12


class MovingSquare:
    """Picklable renderer of a bright square on grey moving one pixel per frame."""

    def __init__(self, num_frames: int = 12, fail_at: int | None = None, exc=RuntimeError):
        self.boxes = np.array([[5.0 + i, 8.0 + 0.5 * i, SIZE, SIZE] for i in range(num_frames)])
        self.fail_at = fail_at
        self.exc = exc

    def __call__(self, index: int) -> np.ndarray:
        if index == self.fail_at:
            raise self.exc(f"simulated failure reading frame {index}")
        frame = np.full((H, W, 3), 60, np.uint8)
        x, y = int(self.boxes[index, 0]), int(self.boxes[index, 1])
        frame[y:y + SIZE, x:x + SIZE] = 220
        return frame


def square_sequence(name="sq", num_frames=12, fail_at=None, exc=RuntimeError) -> Sequence:
    render = MovingSquare(num_frames, fail_at, exc)
    return Sequence(name=name, dataset="test", boxes=render.boxes.copy(), render=render)


class FakeTracker(Tracker):
    """Returns the init box shifted by the frame count; raises on frame ``fail_on`` (1-based update)."""

    created = 0

    def __init__(self, fail_on: int | None = None):
        super().__init__()
        FakeTracker.created += 1
        self.fail_on = fail_on

    def _init(self, frame, box):
        self.box, self.count = box, 0

    def _update(self, frame):
        self.count += 1
        if self.count == self.fail_on:
            raise RuntimeError("boom")
        x, y, w, h = self.box
        return TrackResult((x + self.count, y + 0.5 * self.count, w, h), 0.5)


register_tracker("test-runner-fake", FakeTracker)


def test_run_sequence_outputs():
    sequence = square_sequence()
    result = run_sequence("test-runner-fake", {}, sequence)
    assert result.tracker == "test-runner-fake" and result.sequence == "sq" and result.dataset == "test"
    np.testing.assert_allclose(result.boxes, sequence.boxes)  # the fake follows exactly
    assert np.isnan(result.times[0]) and np.isnan(result.scores[0])
    assert np.all(np.isfinite(result.times[1:])) and np.all(result.times[1:] >= 0)
    np.testing.assert_array_equal(result.scores[1:], 0.5)
    assert result.num_updates == 11 and np.isfinite(result.init_time)
    assert result.errors == []
    assert result.metadata["tracker_name"] == "test-runner-fake"
    assert "package_version" in result.metadata and "cpu" in result.metadata


def test_run_sequence_starts_on_first_valid_box():
    sequence = square_sequence()
    sequence.boxes[:2] = np.nan
    result = run_sequence("test-runner-fake", {}, sequence)
    assert result.init_frame == 2
    assert np.isnan(result.boxes[:2]).all()
    np.testing.assert_allclose(result.boxes[2], sequence.boxes[2])
    assert np.isnan(result.times[:3]).all() and np.isfinite(result.times[3:]).all()


def test_tracker_exception_is_recorded_and_tracking_goes_on(caplog):
    result = run_sequence("test-runner-fake", {"fail_on": 3}, square_sequence())
    assert np.isnan(result.boxes[3]).all() and np.isnan(result.scores[3])
    assert np.isfinite(result.boxes[4:]).all()
    assert len(result.errors) == 1 and result.errors[0].startswith("frame 3: RuntimeError: boom")
    assert "boom" in caplog.text
    assert result.tracker == tracker_label("test-runner-fake", {"fail_on": 3})


def test_progress_counts_every_frame():
    counted = []
    run_sequence("test-runner-fake", {}, square_sequence(num_frames=9), progress=counted.append)
    assert sum(counted) == 9


def test_save_load_roundtrip_and_text_file(tmp_path):
    result = run_sequence("test-runner-fake", {"fail_on": 2}, square_sequence())
    path = save_result(result, tmp_path)
    assert path == result_path(tmp_path, result.tracker, "test", "sq")
    assert has_result(tmp_path, result.tracker, "test", "sq")
    loaded = load_result(tmp_path, result.tracker, "test", "sq")
    for name in ("boxes", "scores", "times", "gt_boxes"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.params == {"fail_on": 2} and loaded.errors == result.errors
    assert loaded.init_time == result.init_time and loaded.metadata == result.metadata
    lines = path.with_suffix(".txt").read_text().splitlines()
    assert len(lines) == 12 and lines[2] == "NaN,NaN,NaN,NaN"
    np.testing.assert_allclose([float(v) for v in lines[0].split(",")], result.boxes[0])
    assert [p.name for p in path.parent.iterdir()] and not list(path.parent.glob("*.tmp"))
    assert [r.sequence for r in iter_results(tmp_path)] == ["sq"]


def test_sequence_result_checks_lengths():
    with pytest.raises(ValueError, match="rows differ"):
        SequenceResult("t", "d", "s", np.zeros((3, 4)), np.zeros(2), np.zeros(3), np.zeros((3, 4)))


def test_tracker_label():
    assert tracker_label("opencv-kcf") == "opencv-kcf"
    assert tracker_label("opencv-kcf", {"b": 1, "a": True}) == "opencv-kcf@a=true,b=1"
    long = tracker_label("x", {"path": "/some/where/" + "d" * 100})
    assert "/" not in long and len(long) <= 80
    assert long != tracker_label("x", {"path": "/some/where/" + "e" * 100})
    with pytest.raises(ValueError):
        tracker_label("a/b")


def test_benchmark_stores_and_resumes(tmp_path):
    sequences = [square_sequence("a"), square_sequence("b", num_frames=8)]
    FakeTracker.created = 0
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    assert run.labels == ["test-runner-fake"] and run.sequences == ["test/a", "test/b"]
    assert len(run.results) == 2 and not run.failed and not run.resumed
    assert (tmp_path / "test-runner-fake" / "test" / "a.npz").is_file()
    assert (tmp_path / "test-runner-fake" / "test" / "b.txt").is_file()
    made = FakeTracker.created
    stamp = os.stat(tmp_path / "test-runner-fake" / "test" / "a.npz").st_mtime_ns

    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    assert FakeTracker.created == made + 1  # only the up-front parameter check, no sequence run
    assert sorted(run.resumed) == [("test-runner-fake", "test/a"), ("test-runner-fake", "test/b")]
    assert os.stat(tmp_path / "test-runner-fake" / "test" / "a.npz").st_mtime_ns == stamp
    assert len(run.result_list()) == 2

    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, resume=False, progress=False)
    assert not run.resumed and len(run.results) == 2


def test_resume_reruns_results_of_another_configuration(tmp_path, monkeypatch):
    """A stored result is resumed only under the same fingerprint and init perturbation: a changed
    configuration (code, model bytes, registered defaults), a result without a fingerprint (older
    format) or one started from another box is run again and listed as stale."""
    from cfvgg_ros.evaluation import fingerprint

    sequences = [square_sequence("a"), square_sequence("b", num_frames=8)]
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    stored = load_result(tmp_path, "test-runner-fake", "test", "a").metadata["fingerprint"]
    assert stored == fingerprint.config_fingerprint("test-runner-fake", {})
    assert len(stored["digest"]) == 16 and not run.stale

    real = fingerprint.config_fingerprint
    monkeypatch.setattr(fingerprint, "config_fingerprint",
                        lambda name, params=None: {**real(name, params), "digest": "0" * 16})
    FakeTracker.created = 0
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    assert sorted(run.stale) == [("test-runner-fake", "test/a"), ("test-runner-fake", "test/b")]
    assert not run.resumed and FakeTracker.created == 3  # the check, then both sequences again
    assert load_result(tmp_path, "test-runner-fake", "test", "b").metadata["fingerprint"]["digest"] == "0" * 16
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    assert len(run.resumed) == 2 and not run.stale
    monkeypatch.undo()

    # a result written before fingerprints existed
    old = load_result(tmp_path, "test-runner-fake", "test", "a")
    del old.metadata["fingerprint"]
    save_result(old, tmp_path)
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    assert run.stale == [("test-runner-fake", "test/a"), ("test-runner-fake", "test/b")]
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False)
    assert len(run.resumed) == 2

    # the same folder asked for a perturbed start
    run = run_benchmark([("test-runner-fake", {})], sequences, None, tmp_path, progress=False,
                        init_perturbation="left")
    assert len(run.stale) == 2 and not run.resumed
    assert load_result(tmp_path, "test-runner-fake", "test", "a").metadata["init_perturbation"] == "left"


def test_killed_run_leaves_no_partial_file_and_rerun_completes(tmp_path):
    folder = tmp_path / "test-runner-fake" / "test"
    killed = square_sequence("k", fail_at=6, exc=KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(["test-runner-fake"], [killed], None, tmp_path, progress=False)
    assert not folder.exists() or not list(folder.iterdir())

    broken = square_sequence("k", fail_at=6, exc=RuntimeError)  # a data error fails one sequence
    run = run_benchmark(["test-runner-fake"], [broken, square_sequence("ok")], None, tmp_path, progress=False)
    assert [f[:2] for f in run.failed] == [("test-runner-fake", "test/k")]
    assert sorted(p.name for p in folder.iterdir()) == ["ok.npz", "ok.txt"]

    run = run_benchmark(["test-runner-fake"], [square_sequence("k"), square_sequence("ok")], None, tmp_path,
                        progress=False)
    assert run.resumed == [("test-runner-fake", "test/ok")] and not run.failed
    assert has_result(tmp_path, "test-runner-fake", "test", "k")


def test_benchmark_rejects_bad_input(tmp_path):
    with pytest.raises(BenchmarkInputError, match="unknown tracker 'nope'"):
        run_benchmark(["nope"], [square_sequence()], None, tmp_path, progress=False)
    with pytest.raises(BenchmarkInputError, match="cannot create tracker"):
        run_benchmark([("opencv-kcf", {"nope": 1})], [square_sequence()], None, tmp_path, progress=False)
    with pytest.raises(BenchmarkInputError, match="jobs"):
        run_benchmark(["test-runner-fake"], [square_sequence()], None, tmp_path, jobs=0, progress=False)
    with pytest.raises(BenchmarkInputError, match="cannot load sequence"):
        run_benchmark(["test-runner-fake"], ["NoSuchDataset/none"], tmp_path, tmp_path, progress=False)
    assert not any(tmp_path.rglob("*.npz"))


def test_parallel_jobs_store_every_result(tmp_path):
    sequences = [square_sequence("p1", num_frames=6), square_sequence("p2", num_frames=6)]
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    run = run_benchmark(["opencv-mosse"], sequences, None, tmp_path, jobs=2, progress=False, cores=cores)
    assert not run.failed, run.failed
    assert set(run.results) == {("opencv-mosse", "test/p1"), ("opencv-mosse", "test/p2")}
    for result in run.results.values():
        assert result.num_updates == 5 and result.metadata.get("opencv")
    if cores is not None:  # each worker pinned to one core, round-robin over the allowed ones
        pinned = sorted(r.metadata["cpu_affinity"][0] for r in run.results.values())
        assert all(len(r.metadata["cpu_affinity"]) == 1 for r in run.results.values())
        assert set(pinned) <= set(cores)  # one worker may take both jobs


def test_init_perturbation_moves_only_the_init_box():
    sequence = square_sequence()
    result = run_sequence("test-runner-fake", {}, sequence, init_perturbation="right")
    # GT (5, 8, 12, 12): right -> x + ceil(1.2) = 7; the fake then drifts (+1, +0.5) per frame
    np.testing.assert_array_equal(result.metadata["init_box"], (7.0, 8.0, 12.0, 12.0))
    assert result.metadata["init_perturbation"] == "right"
    np.testing.assert_allclose(result.boxes[0], sequence.boxes[0])  # scored as the GT, as the toolkit
    np.testing.assert_allclose(result.boxes[1:], sequence.boxes[1:] + (2.0, 0.0, 0.0, 0.0))
    assert "init_perturbation" not in run_sequence("test-runner-fake", {}, sequence).metadata


def test_init_perturbation_in_parallel_runs_and_bad_names(tmp_path):
    sequences = [square_sequence("p1", num_frames=6), square_sequence("p2", num_frames=6)]
    run = run_benchmark(["test-runner-fake"], sequences, None, tmp_path, jobs=2, progress=False,
                        init_perturbation="scale_8")
    assert not run.failed, run.failed
    for result in run.results.values():  # (5, 8, 12, 12) x 0.8 about (11, 14): round(6.2) = 6
        assert result.metadata["init_perturbation"] == "scale_8"
        np.testing.assert_array_equal(result.metadata["init_box"], (6.0, 9.0, 10.0, 10.0))
    with pytest.raises(BenchmarkInputError, match="unknown init perturbation 'sideways'"):
        run_benchmark(["test-runner-fake"], sequences, None, tmp_path / "x", progress=False,
                      init_perturbation="sideways")
    assert not (tmp_path / "x").exists()


def test_runner_module_imports_stay_light():
    code = (
        "import sys, cfvgg_ros.evaluation as pkg; before = set(sys.modules); "
        "import cfvgg_ros.evaluation.runner; new = set(sys.modules) - before; "
        "heavy = [m for m in new if m.split('.')[0] in ('numpy', 'cv2', 'onnxruntime', 'torch', 'scipy')]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert runner.resolve_spec.__module__ == "cfvgg_ros.evaluation.runner"


class _BrokenInitTracker(Tracker):
    def _init(self, frame, box):
        raise RuntimeError("cannot start")

    def _update(self, frame):  # pragma: no cover - never reached
        raise AssertionError("update after a failed init")


register_tracker("test-runner-broken-init", _BrokenInitTracker)


def test_failed_init_is_recorded():
    result = run_sequence("test-runner-broken-init", {}, square_sequence(num_frames=5))
    assert result.errors == ["frame 0: RuntimeError: cannot start"]
    np.testing.assert_allclose(result.boxes[0], result.gt_boxes[0])
    assert np.isnan(result.boxes[1:]).all() and result.num_updates == 0 and np.isnan(result.fps)


def test_report_table_numbers(tmp_path):
    from cfvgg_ros.evaluation.report import build_table, format_table, write_csv

    perfect = run_sequence("test-runner-fake", {}, square_sequence("a"))
    perfect.times[1:] = 0.01  # 11 updates in 0.11 s
    lost = run_sequence("test-runner-broken-init", {}, square_sequence("a"))
    table = build_table([perfect, lost], "pysot")
    assert table.labels == ["test-runner-fake", "test-runner-broken-init"]
    (key, frames, cells), = table.rows
    assert key == "test/a" and frames == 12
    # exact boxes: overlap 1 passes every threshold but t = 1.0 (overlap > t): AUC = 20/21
    assert cells["test-runner-fake"].auc == pytest.approx(20 / 21)
    assert cells["test-runner-fake"].precision20 == pytest.approx(1.0)
    assert cells["test-runner-fake"].fps == pytest.approx(100.0)
    # only the init frame (pysot scores it) is right: 1 of 12 frames
    assert cells["test-runner-broken-init"].precision20 == pytest.approx(1 / 12)
    assert table.mean["test-runner-fake"].auc == pytest.approx(20 / 21)
    text = format_table(table)
    assert "test/a" in text and "95.2" in text and "100.0" in text and "mean (1 seq)" in text
    rows = write_csv(table, tmp_path / "t.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("test/a,12,95.2381,100.0000,100.0000,")
    assert rows[1].endswith(",")  # no FPS for the tracker that never updated
    with pytest.raises(ValueError, match="unknown rule set"):
        build_table([perfect], "vot")
