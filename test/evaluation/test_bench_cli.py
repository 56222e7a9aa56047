"""``cfvgg-bench``: argument handling, exit codes, tables, CSV and plots on tiny sequences."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from cfvgg_ros.cli import bench
from cfvgg_ros.cli.bench import UsageError, main, parse_tracker_specs
from cfvgg_ros.core.contract import Tracker, TrackResult
from cfvgg_ros.core.registry import register_tracker
from cfvgg_ros.datasets.sequence import Sequence
from cfvgg_ros.evaluation import runner

H, W, SIZE, FRAMES = 48, 64, 14, 10


def _boxes(num_frames=FRAMES):
    return np.array([[6.0 + 1.5 * i, 10.0 + i, SIZE, SIZE] for i in range(num_frames)])


BOXES = _boxes()


def _render_square(index: int, boxes=BOXES) -> np.ndarray:
    rng = np.random.default_rng(3)
    frame = np.full((H, W, 3), 50, np.uint8)
    x, y = int(boxes[index, 0]), int(boxes[index, 1])
    frame[y:y + SIZE, x:x + SIZE] = rng.integers(120, 256, size=(SIZE, SIZE, 3), dtype=np.uint8)
    return frame


class _StillTracker(Tracker):
    """Never moves: a weak but valid tracker."""

    def _init(self, frame, box):
        self.box = box

    def _update(self, frame):
        return TrackResult(self.box, 0.25)


register_tracker("test-cli-still", _StillTracker)


@pytest.fixture(autouse=True)
def _restore_process_state():
    """main() pins the process to one core and sets thread variables: undo that afterwards."""
    environ = dict(os.environ)
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    yield
    os.environ.clear()
    os.environ.update(environ)
    if affinity is not None:
        os.sched_setaffinity(0, affinity)


@pytest.fixture
def tiny_sequences(monkeypatch):
    """Specs "test/sq1", "test/sq2" resolve to tiny in-memory sequences."""
    made = {}

    def resolve(spec, data_root):
        if spec in ("test/sq1", "test/sq2"):
            name = spec.split("/", 1)[1]
            made[name] = Sequence(name=name, dataset="test", boxes=_boxes(), render=_render_square)
            return made[name]
        raise runner.BenchmarkInputError(f"unknown test sequence {spec!r}")

    monkeypatch.setattr(runner, "resolve_spec", resolve)
    return made


def test_parse_tracker_specs():
    assert parse_tracker_specs("a,b") == [("a", {}), ("b", {})]
    assert parse_tracker_specs("a:x=1,y=true,z=hann, b") == [("a", {"x": 1, "y": True, "z": "hann"}),
                                                             ("b", {})]
    assert parse_tracker_specs("kcf:desc_pca=1,csrt:padding=2.5") == [("kcf", {"desc_pca": 1}),
                                                                      ("csrt", {"padding": 2.5})]
    for bad in ("", "x=1,a", "a:nokey", 'a:c={"x": 1', "a:c=[1]]"):
        with pytest.raises(UsageError):
            parse_tracker_specs(bad)


def test_parse_tracker_specs_keeps_json_values_with_commas_whole():
    text = 'cfvgg:s={"n": 9, "f": 2.0},a=[1, 2],b="x,y", feco:t={"u": {"v": 1, "w": 2}}'
    assert parse_tracker_specs(text) == [
        ("cfvgg", {"s": {"n": 9, "f": 2.0}, "a": [1, 2], "b": "x,y"}),
        ("feco", {"t": {"u": {"v": 1, "w": 2}}}),
    ]


def test_list_trackers(capsys):
    assert main(["--list-trackers"]) == 0
    names = capsys.readouterr().out.split()
    assert "opencv-csrt" in names and "opencv-nano" in names and "test-cli-still" in names


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--trackers", "no-such-tracker", "--sequences", "test/sq1"], "unknown tracker 'no-such-tracker'"),
        (["--trackers", "test-cli-still", "--sequences", "test/nope"], "unknown test sequence"),
        (["--trackers", "test-cli-still", "--rules", "otb,vot"], "unknown rule set"),
        (["--trackers", "test-cli-still", "--jobs", "0"], "--jobs must be >= 1"),
        (["--trackers", "opencv-kcf:bogus=1", "--sequences", "test/sq1"], "unknown KCF parameter"),
        (["--trackers", "test-cli-still", "--params", "{bad json"], "--params is not valid JSON"),
        (["--trackers", "test-cli-still", "--params", '{"opencv-kcf": {}}'], "not in --trackers"),
        (["--trackers", "test-cli-still", "--dataset", "NoSuchSet"], "unknown dataset"),
    ],
)
def test_bad_arguments_exit_2(argv, message, tmp_path, capsys, tiny_sequences):
    code = main([*argv, "--data-root", str(tmp_path), "--results", str(tmp_path / "res"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err


def test_missing_data_root_exit_2(tmp_path, capsys):
    assert main(["--trackers", "test-cli-still", "--data-root", str(tmp_path / "absent")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_argparse_errors_exit_2(capsys):
    assert main(["--no-such-option"]) == 2
    assert main(["--split", "eval", "--all"]) == 2  # mutually exclusive
    capsys.readouterr()


def test_run_prints_tables_writes_csv_and_plots(tmp_path, capsys, tiny_sequences):
    argv = ["--trackers", "opencv-mosse,test-cli-still", "--sequences", "test/sq1,test/sq2",
            "--data-root", str(tmp_path), "--results", str(tmp_path / "res"), "--run-name", "tiny",
            "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "== otb rules ==" in out and "== pysot rules ==" in out
    assert "test/sq1" in out and "mean (2 seq)" in out and "opencv-mosse AUC" in out
    run_dir = tmp_path / "res" / "tiny"
    for rules in ("otb", "pysot"):
        assert (run_dir / f"report_{rules}.csv").is_file()
        for kind in ("success", "precision"):
            png = run_dir / f"{kind}_{rules}.png"
            assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert str(png) in out
    header = (run_dir / "report_otb.csv").read_text().splitlines()[0]
    assert header.startswith("sequence,frames,opencv-mosse AUC (%),opencv-mosse P@20 (%),opencv-mosse FPS")
    assert (run_dir / "opencv-mosse" / "test" / "sq1.npz").is_file()
    assert (run_dir / "test-cli-still" / "test" / "sq2.txt").is_file()

    # second run: resumed from disk, Markdown output, one rule set
    assert main([*argv, "--markdown", "--rules", "pysot", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "### pysot rules" in out and "otb rules" not in out
    assert "| test/sq1" in out and "resumed 4 stored result(s)" in out

    # a stored result from another configuration (here: written before fingerprints) is run again
    from cfvgg_ros.evaluation.results import load_result, save_result

    old = load_result(run_dir, "opencv-mosse", "test", "sq1")
    del old.metadata["fingerprint"]
    save_result(old, run_dir)
    assert main([*argv, "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "resumed 3 stored result(s)" in out and "re-ran 1 stored result(s) computed with another" in out


def test_tracker_params_reach_the_results(tmp_path, capsys, tiny_sequences):
    argv = ["--trackers", "opencv-kcf", "--params", '{"opencv-kcf": {"resize": false}}', "--sequences",
            "test/sq1", "--data-root", str(tmp_path), "--results", str(tmp_path), "--no-progress",
            "--no-plots"]
    assert main(argv) == 0
    assert "opencv-kcf@resize=false" in capsys.readouterr().out
    assert (tmp_path / "bench" / "opencv-kcf@resize=false" / "test" / "sq1.npz").is_file()


def test_otb_layout_folder_end_to_end(tmp_path, capsys):
    """Integration with the real dataset loader: a sequence folder in OTB layout."""
    cv2 = pytest.importorskip("cv2")
    folder = tmp_path / "Square"
    (folder / "img").mkdir(parents=True)
    boxes = _boxes()
    for index in range(FRAMES):
        cv2.imwrite(str(folder / "img" / f"{index + 1:04d}.png"), _render_square(index)[:, :, ::-1])
    lines = [",".join(str(v) for v in (b + [1, 1, 0, 0])) for b in boxes]  # OTB files are 1-based
    (folder / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    argv = ["--trackers", "opencv-mosse", "--sequences", str(folder), "--data-root", str(tmp_path),
            "--results", str(tmp_path / "res"), "--no-progress", "--no-plots", "--rules", "otb"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Square" in out and "mean (1 seq)" in out


def test_module_top_level_stays_light():
    code = ("import sys, cfvgg_ros.cli.bench; "
            "heavy = [m for m in ('numpy', 'cv2', 'onnxruntime', 'torch') if m in sys.modules]; "
            "print(heavy); sys.exit(1 if heavy else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert bench.main is main


def test_init_perturbation_runs_sre_and_prints_the_summary(tmp_path, capsys, tiny_sequences):
    from cfvgg_ros.evaluation.metrics import mean_scores, score_sequence
    from cfvgg_ros.evaluation.results import iter_results

    argv = ["--trackers", "test-cli-still", "--sequences", "test/sq1,test/sq2", "--init-perturbation",
            "left,scale_12", "--data-root", str(tmp_path), "--results", str(tmp_path), "--run-name", "sre",
            "--no-progress", "--rules", "otb"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "== SRE, otb rules ==" in out and "SRE mean" in out
    run_dir = tmp_path / "sre"
    rows = (run_dir / "sre_otb.csv").read_text().splitlines()
    assert rows[0] == "tracker,left,scale_12,SRE mean,sequences"
    label, left, scale, overall, count = rows[1].split(",")
    assert label == "test-cli-still" and count == "2"
    for name, value in (("left", left), ("scale_12", scale)):  # each column = that run's mean AUC
        results = iter_results(run_dir / f"init-{name}")
        assert {r.metadata["init_perturbation"] for r in results} == {name} and len(results) == 2
        expected = mean_scores([score_sequence(r.boxes, r.gt_boxes, "otb") for r in results]).auc
        assert float(value) == pytest.approx(100 * expected, abs=1e-4)
        assert (run_dir / f"init-{name}" / "report_otb.csv").is_file()
    assert float(left) != float(scale)  # a still tracker keeps its (different) init boxes
    assert float(overall) == pytest.approx((float(left) + float(scale)) / 2, abs=1e-4)

    assert main([*argv, "--markdown"]) == 0  # resumed from disk
    out = capsys.readouterr().out
    assert "### SRE, otb rules" in out and "| test-cli-still" in out and "resumed 4 stored" in out


@pytest.mark.parametrize("value, message", [("bogus", "unknown init perturbation"), ("sre,left", "choose 'sre'")])
def test_bad_init_perturbation_exit_2(value, message, tmp_path, capsys, tiny_sequences):
    argv = ["--trackers", "test-cli-still", "--sequences", "test/sq1", "--init-perturbation", value,
            "--data-root", str(tmp_path), "--results", str(tmp_path), "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
