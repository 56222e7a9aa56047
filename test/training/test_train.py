"""The training loop: outputs, SIGTERM checkpoint + exact resume, DDP with gloo, the CLI."""

from __future__ import annotations

import csv
import json
import os
import signal

import pytest
import torch

from cfvgg_ros.cli.train import main as train_main
from cfvgg_ros.training.config import ConfigError, config_from_dict
from cfvgg_ros.training.train import CHECKPOINT_NAME, load_checkpoint, train


def _config(values: dict, **overrides):
    values = json.loads(json.dumps(values))
    for key, value in overrides.items():
        section, name = key.split("__")
        values[section][name] = value
    return config_from_dict(values)


def _rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_two_iterations_write_checkpoint_csv_and_png(tiny_config_dict, tmp_path):
    config = _config(tiny_config_dict, optim__epochs=1, data__samples_per_epoch=4)
    summary = train(config)
    out = tmp_path / "run"
    assert summary["status"] == "finished" and summary["global_step"] == 2
    rows = _rows(out / "log.csv")
    assert [int(r["global_step"]) for r in rows] == [1, 2]
    assert all(float(r["loss"]) > 0 and float(r["tracking"]) > 0 and float(r["fidelity"]) > 0 for r in rows)
    assert (out / "losses.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    state = load_checkpoint(out / CHECKPOINT_NAME)
    assert state["epoch"] == 1 and state["iteration"] == 0 and state["student_channels"] == [2, 4, 8, 8, 8]
    assert json.loads((out / "summary.json").read_text())["global_step"] == 2


def test_sigterm_checkpoint_and_resume_reproduce_an_uninterrupted_run(tiny_config_dict, tmp_path):
    reference = train(_config(tiny_config_dict))
    reference_rows = _rows(tmp_path / "run" / "log.csv")
    assert reference["global_step"] == 6  # 2 epochs x 3 iterations

    values = dict(tiny_config_dict, output_dir=str(tmp_path / "killed"))

    def kill_at_four(step, row):
        if step == 4:  # mid-way through epoch 2
            os.kill(os.getpid(), signal.SIGTERM)

    stopped = train(config_from_dict(values), on_iteration=kill_at_four)
    assert stopped["status"] == "interrupted" and stopped["signal"] == "SIGTERM" and stopped["global_step"] == 4
    state = load_checkpoint(tmp_path / "killed" / CHECKPOINT_NAME)
    assert (state["epoch"], state["iteration"], state["global_step"]) == (1, 1, 4)

    resumed = train(config_from_dict(values), resume=True)
    assert resumed["status"] == "finished" and resumed["global_step"] == 6
    assert resumed["rank_digests"] == reference["rank_digests"]
    rows = _rows(tmp_path / "killed" / "log.csv")
    assert [r["loss"] for r in rows] == [r["loss"] for r in reference_rows]
    final = load_checkpoint(tmp_path / "killed" / CHECKPOINT_NAME)["model"]
    expected = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)["model"]
    for name, tensor in expected.items():
        assert torch.equal(final[name], tensor), name


def test_ddp_two_gloo_processes_end_with_identical_weights(tiny_config_dict, tmp_path):
    from cfvgg_ros.training.train import launch_local

    config = _config(tiny_config_dict, optim__epochs=1, data__samples_per_epoch=8)
    launch_local(config, nprocs=2)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["global_step"] == 2  # 8 samples / 2 ranks / batch 2
    assert len(summary["rank_digests"]) == 2 and len(set(summary["rank_digests"])) == 1


def test_onnx_init_starts_from_the_models_weights_and_fine_tunes_them(tiny_config_dict, tmp_path):
    from cfvgg_ros.training.export import student_to_onnx
    from cfvgg_ros.training.student import CFVGGStudent
    from cfvgg_ros.training.train import build_student

    torch.manual_seed(5)
    source = CFVGGStudent(channels=[2, 4, 8, 8, 8], mean_rgb=[100.0, 110.0, 120.0])
    model, _ = student_to_onnx(source, {"source": "test"})
    path = tmp_path / "start.onnx"
    path.write_bytes(model.SerializeToString())
    values = json.loads(json.dumps(tiny_config_dict))
    values["student"] = {"init": "onnx", "weights": str(path)}
    config = _config(values, optim__epochs=1, data__samples_per_epoch=4)
    start = build_student(config, None)
    for name, tensor in source.state_dict().items():
        assert torch.equal(start.state_dict()[name], tensor), name
    summary = train(config)
    assert summary["status"] == "finished" and summary["global_step"] == 2
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    assert state["student_channels"] == [2, 4, 8, 8, 8]
    trained = state["student"]["conv1.weight"]
    assert not torch.equal(trained, source.conv1.weight) and torch.allclose(trained, source.conv1.weight, atol=0.05)
    values["student"] = {"init": "onnx"}
    with pytest.raises(ConfigError, match="student.weights"):
        config_from_dict(values)


def test_resume_without_a_checkpoint_fails(tiny_config_dict):
    with pytest.raises(FileNotFoundError):
        train(config_from_dict(tiny_config_dict), resume=True)


def test_cli_refuses_bad_configs(tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text("data:\n  split: eval\n")
    assert train_main(["--config", str(config)]) == 2
    assert "eval" in capsys.readouterr().err
    config.write_text("optim:\n  epochz: 3\n")
    assert train_main(["--config", str(config)]) == 2
    assert "unknown key" in capsys.readouterr().err
    assert train_main(["--config", str(tmp_path / "missing.yaml")]) == 2
    config.write_text("data:\n  patch_size: 4\n")  # PairSettings' own validation, as a config error
    assert train_main(["--config", str(config)]) == 2
    assert "data: patch_size must be >= 16 pixels, got 4" in capsys.readouterr().err


def _completed_steps(log_path) -> int:
    """Rows of log.csv (the header excluded); 0 while it does not exist."""
    try:
        return max(log_path.read_bytes().count(b"\n") - 1, 0)
    except FileNotFoundError:
        return 0


def test_sigkill_mid_epoch_leaves_a_loadable_checkpoint_and_resume_finishes(tiny_config_dict, tmp_path):
    """SIGKILL (no handler runs) a CLI training run mid-epoch, preferably while it writes a
    checkpoint (one after every iteration): the checkpoint on disk loads, and ``--resume`` ends
    with the weights and losses of an uninterrupted run."""
    import subprocess
    import sys
    import time

    import yaml

    values = json.loads(json.dumps(tiny_config_dict))
    values["data"]["samples_per_epoch"] = 40  # 20 iterations per epoch, 2 epochs
    values["runtime"]["checkpoint_every"] = 1  # a checkpoint write after every iteration
    values["output_dir"] = str(tmp_path / "killed")
    config_path = tmp_path / "train.yaml"
    config_path.write_text(yaml.safe_dump(values))
    out = tmp_path / "killed"

    proc = subprocess.Popen([sys.executable, "-m", "cfvgg_ros.cli.train", "--config", str(config_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    killed_mid_write, first_checkpoint = False, None
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, f"the run ended before it was killed: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "the run wrote no checkpoint within 60 s"
            if first_checkpoint is None:
                if (out / CHECKPOINT_NAME).is_file() and _completed_steps(out / "log.csv") >= 3:
                    first_checkpoint = time.monotonic()
                else:
                    time.sleep(0.01)
                continue
            if any(out.glob(f".{CHECKPOINT_NAME}.tmp*")):  # a checkpoint write in flight
                killed_mid_write = True
                break
            if time.monotonic() - first_checkpoint > 2.0 or _completed_steps(out / "log.csv") >= 14:
                break
    finally:
        proc.kill()  # SIGKILL
        proc.wait(timeout=30)
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL

    state = load_checkpoint(out / CHECKPOINT_NAME)  # loads: never torn
    assert state["epoch"] == 0 and 2 <= state["global_step"] < 20, (state["epoch"], state["global_step"])
    print(f"killed after step {state['global_step']} (checkpoint write in flight: {killed_mid_write})")

    assert train_main(["--config", str(config_path), "--resume"]) == 0
    resumed = json.loads((out / "summary.json").read_text())
    assert resumed["status"] == "finished" and resumed["global_step"] == 40
    assert not list(out.glob(".*.tmp*")), "temporary files left behind"

    reference = train(config_from_dict(dict(values, output_dir=str(tmp_path / "reference"))))
    assert resumed["rank_digests"] == reference["rank_digests"]
    rows = _rows(out / "log.csv")
    assert [int(r["global_step"]) for r in rows] == list(range(1, 41))
    assert [r["loss"] for r in rows] == [r["loss"] for r in _rows(tmp_path / "reference" / "log.csv")]


def test_resume_drops_a_log_row_torn_by_a_kill(tiny_config_dict, tmp_path):
    """A kill mid-append leaves a partial last row in log.csv; resuming drops it (and the rows past
    the checkpoint) instead of failing on it."""
    values = dict(tiny_config_dict, output_dir=str(tmp_path / "run"))

    def stop_at_two(step, row):
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    assert train(config_from_dict(values), on_iteration=stop_at_two)["global_step"] == 2
    log = tmp_path / "run" / "log.csv"
    log.write_text(log.read_text() + "3,0,2,0.001,0.5")  # torn: too few fields, no newline
    summary = train(config_from_dict(values), resume=True)
    assert summary["status"] == "finished" and summary["global_step"] == 6
    rows = _rows(log)
    assert [int(r["global_step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r["loss"] and r["seconds"] for r in rows)


def test_a_torn_checkpoint_gives_a_clear_error(tiny_config_dict, tmp_path, capsys):
    from cfvgg_ros.training.train import CheckpointError

    values = dict(tiny_config_dict, output_dir=str(tmp_path / "run"))
    train(_config(values, optim__epochs=1, data__samples_per_epoch=4))
    path = tmp_path / "run" / CHECKPOINT_NAME
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)
    config_path = tmp_path / "train.yaml"
    config_path.write_text(json.dumps(values))  # JSON is YAML
    assert train_main(["--config", str(config_path), "--resume"]) == 2
    assert "not a readable checkpoint" in capsys.readouterr().err
