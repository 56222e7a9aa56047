"""The Table IV ablation configs (config/ablations/*.yaml): each loads, differs from
config/train.yaml only in what its row changes, and the teacher-free and fidelity-only runs train."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cfvgg_ros.training import train as train_module
from cfvgg_ros.training.config import ConfigError, load_config
from cfvgg_ros.training.train import CHECKPOINT_NAME, load_checkpoint, train

REPO = Path(__file__).resolve().parents[2]
BASE = REPO / "config" / "train.yaml"
ABLATIONS = REPO / "config" / "ablations"

# row file -> {flattened key: value} that must differ from config/train.yaml (and nothing else)
NO_FIDELITY = {"loss.fidelity_weight": 0.0, "loss.fidelity_levels": []}
EXPECTED = {
    "tracking_single": {**NO_FIDELITY, "loss.tracking_levels": ["high"]},
    "tracking_multi": dict(NO_FIDELITY),
    "fidelity_only": {"loss.tracking_weight": 0.0},
    "fidelity_multi": {},
    "scratch_no_teacher": {**NO_FIDELITY, "teacher.kind": "none", "student.init": "random"},
}


def _flat(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        flat.update(_flat(value, f"{name}.") if isinstance(value, dict) else {name: value})
    return flat


def test_every_row_has_a_config_and_no_config_is_unexplained():
    assert sorted(p.stem for p in ABLATIONS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("row", sorted(EXPECTED))
def test_ablation_differs_from_train_yaml_only_where_intended(row):
    base = _flat(load_config(BASE).to_dict())
    ablation = _flat(load_config(ABLATIONS / f"{row}.yaml").to_dict())
    assert set(base) == set(ablation)
    changed = {key: ablation[key] for key in base if ablation[key] != base[key]}
    assert changed.pop("output_dir") == f"results/training/ablations/{row}"
    assert changed == EXPECTED[row]


def _tiny_overrides(out_dir: Path) -> list[str]:
    return [
        f"output_dir={out_dir}",
        "data.sequences=[synthetic/translation]",
        "data.patch_size=64",
        "data.samples_per_epoch=4",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.max_frame_gap=10",
        "optim.epochs=1",
        "runtime.device=cpu",
        "runtime.threads=1",
        "runtime.progress=false",
    ]


def _rows(path: Path) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_teacher_free_config_trains_without_building_a_teacher(tmp_path, monkeypatch):
    def no_teacher(*args, **kwargs):
        raise AssertionError("the teacher-free run must not build a teacher")

    monkeypatch.setattr(train_module, "build_teacher", no_teacher)
    config = load_config(ABLATIONS / "scratch_no_teacher.yaml", _tiny_overrides(tmp_path / "run"))
    summary = train(config)
    assert summary["status"] == "finished" and summary["global_step"] == 2
    rows = _rows(tmp_path / "run" / "log.csv")
    assert all(float(r["tracking"]) > 0 and float(r["fidelity"]) == 0 for r in rows)
    assert all(r["fidelity_low"] == "" for r in rows)
    state = load_checkpoint(tmp_path / "run" / CHECKPOINT_NAME)
    assert state["teacher"] == "none"
    assert not any(key.startswith("adapters.") and "weight" in key for key in state["model"])


def test_fidelity_only_config_trains_the_fidelity_term_alone(tmp_path, small_vggm_mat):
    # the small VGG-M-layout teacher stands in for EfficientNet-Lite0 to keep the test fast
    overrides = _tiny_overrides(tmp_path / "run") + [
        "teacher.kind=vggm",
        f"teacher.weights={small_vggm_mat}",
        "student.init=prune",
    ]
    config = load_config(ABLATIONS / "fidelity_only.yaml", overrides)
    assert config.loss.tracking_weight == 0.0
    summary = train(config)
    assert summary["status"] == "finished" and summary["global_step"] == 2
    for row in _rows(tmp_path / "run" / "log.csv"):
        assert float(row["tracking"]) > 0  # still logged as a diagnostic
        assert float(row["loss"]) == pytest.approx(float(row["fidelity_weighted"]), rel=1e-6)


def test_teacher_none_refuses_fidelity_and_nothing_to_train_is_refused():
    with pytest.raises(ConfigError, match="fidelity_levels"):
        load_config(BASE, ["teacher.kind=none"])
    with pytest.raises(ConfigError, match="nothing to train"):
        load_config(BASE, ["loss.tracking_weight=0", "loss.fidelity_weight=0"])
    with pytest.raises(ConfigError, match="tracking_weight"):
        load_config(BASE, ["loss.tracking_weight=-1"])


def test_overlay_base_merges_mappings_and_detects_cycles(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("seed: 4\nloss:\n  fidelity_weight: 2.0\n  dcf_lambda: 0.5\n")
    overlay = tmp_path / "sub" / "row.yaml"
    overlay.parent.mkdir()
    overlay.write_text("base: ../base.yaml\nloss:\n  fidelity_weight: 0.5\n")
    config = load_config(overlay)
    assert (config.seed, config.loss.fidelity_weight, config.loss.dcf_lambda) == (4, 0.5, 0.5)
    loop = tmp_path / "loop.yaml"
    loop.write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="itself"):
        load_config(loop)
    with pytest.raises(ConfigError, match="not found"):
        load_config(overlay.with_name("missing.yaml"))
