"""Shared helpers for the distillation tests: a synthetic VGG-M-layout MatConvNet ``.mat`` and a
tiny, fast training configuration."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.io
import torch

torch.set_num_threads(1)  # two shared cores: avoid oversubscription, keep results reproducible

VGGM_CHANNELS = (96, 256, 512, 512, 512)
SMALL_CHANNELS = (16, 32, 64, 64, 64)  # pruned by 1/8 -> (2, 4, 8, 8, 8)
MEAN_RGB = (122.0, 116.0, 104.0)


def vggm_layers(channels=SMALL_CHANNELS, seed: int = 0) -> list[dict]:
    """SimpleNN layer dicts of the VGG-M layout (conv1-5, relu, lrn, pools; pool5 and a softmax
    after relu5 that the taps must ignore), random weights scaled like a trained net."""
    rng = np.random.default_rng(seed)
    geometry = ((7, 2, 0), (5, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1))
    layers, cin = [], 3
    for i, (cout, (k, stride, pad)) in enumerate(zip(channels, geometry, strict=True), start=1):
        std = np.sqrt(2.0 / (k * k * cin)) * (0.02 if i == 1 else 1.0)
        weights = np.empty((1, 2), dtype=object)
        weights[0, 0] = rng.normal(0, std, (k, k, cin, cout)).astype(np.float32)
        weights[0, 1] = rng.normal(0, 0.1, (cout, 1)).astype(np.float32)
        layers.append(
            {
                "type": "conv",
                "name": f"conv{i}",
                "weights": weights,
                "stride": np.array([[stride, stride]], float),
                "pad": np.full((1, 4), float(pad)),
            }
        )
        layers.append({"type": "relu", "name": f"relu{i}"})
        if i <= 2:
            layers.append({"type": "lrn", "name": f"norm{i}", "param": np.array([[5, 2, 1e-4, 0.75]])})
            layers.append(
                {
                    "type": "pool",
                    "name": f"pool{i}",
                    "method": "max",
                    "pool": np.array([[3, 3]], float),
                    "stride": np.array([[2, 2]], float),
                    "pad": np.array([[0, 1, 0, 1]], float),
                }
            )
        cin = cout
    layers.append(
        {
            "type": "pool",
            "name": "pool5",
            "method": "max",
            "pool": np.array([[3, 3]], float),
            "stride": np.array([[2, 2]], float),
            "pad": np.zeros((1, 4)),
        }
    )
    layers.append({"type": "softmax", "name": "prob"})
    return layers


def write_vggm_mat(path, channels=SMALL_CHANNELS, seed: int = 0):
    """Write a SimpleNN ``.mat`` with the VGG-M layout (``channels`` filters in conv1..conv5)."""
    layers = vggm_layers(channels, seed)
    cells = np.empty((1, len(layers)), dtype=object)
    for i, layer in enumerate(layers):
        cells[0, i] = layer
    net = {"layers": cells, "meta": {"normalization": {"averageImage": np.array(MEAN_RGB).reshape(1, 1, 3)}}}
    scipy.io.savemat(str(path), {"net": net})
    return path


@pytest.fixture(scope="session")
def small_vggm_mat(tmp_path_factory):
    return write_vggm_mat(tmp_path_factory.mktemp("vggm") / "imagenet-vgg-m-small.mat")


@pytest.fixture
def tiny_config_dict(tmp_path, small_vggm_mat):
    """A few-iteration CPU run: synthetic data, VGG-M-layout teacher, pruned 2/4/8-channel student."""
    return {
        "seed": 3,
        "output_dir": str(tmp_path / "run"),
        "data": {
            "sequences": ["synthetic/translation"],
            "patch_size": 64,
            "samples_per_epoch": 6,
            "batch_size": 2,
            "num_workers": 0,
            "max_frame_gap": 10,
        },
        "teacher": {"kind": "vggm", "weights": str(small_vggm_mat)},
        "student": {"init": "prune"},
        "loss": {"fidelity_weight": 1e-3},
        "optim": {"epochs": 2, "lr_start": 1e-3, "lr_end": 1e-4},
        "runtime": {"device": "cpu", "threads": 1, "progress": False},
    }


@pytest.fixture(scope="session")
def vggm_mat_writer():
    """:func:`write_vggm_mat`, for tests that need a .mat with other channels or seeds."""
    return write_vggm_mat
