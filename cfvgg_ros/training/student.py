"""The CF-VGG student network (paper Fig. 3 / Table II, the released ``CF_VGGM.mat``) and the
1x1 "adapter" convolutions of the fidelity loss (§IV-A-1), which are dropped at export.

Layout (MatConvNet semantics, input RGB 0-255 minus a per-channel mean inside the model)::

    conv1 7x7 3->12 /2, ReLU, LRN(5, 2, 1e-4, 0.75)   -> low  (stride 2)
    max-pool 3x3 /2 pad [t0 b1 l0 r1]
    conv2 5x5 12->32 /2 pad 1, ReLU, LRN               -> mid  (stride 8)
    max-pool 3x3 /2 pad [t0 b1 l0 r1]
    conv3, conv4, conv5 3x3 ->64 pad 1, each + ReLU    -> high (stride 16, after relu5)

With the default channels (12, 32, 64, 64, 64) the student has 103,760 parameters, as
``CF_VGGM.mat`` does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cfvgg_ros.models.contract import LayerGeometry

LEVELS = ("low", "mid", "high")
CFVGG_CHANNELS = (12, 32, 64, 64, 64)
# per-channel mean of the 224x224x3 averageImage of VGG-M / CF_VGGM.mat (RGB, 0-255)
IMAGENET_MEAN_RGB = (123.6591, 116.7663, 103.9318)
ARCHITECTURE = "cf-vgg"

# (kernel, stride, pad) of each conv layer and of the two pools (pads: before, after)
_CONV_GEOMETRY = ((7, 2, 0), (5, 2, 1), (3, 1, 1), (3, 1, 1), (3, 1, 1))
_POOL = LayerGeometry(kernel=3, stride=2, pad_before=0, pad_after=1)
CONV_KERNELS = tuple(kernel for kernel, _, _ in _CONV_GEOMETRY)  # (7, 5, 3, 3, 3)


class MatConvNetLRN(nn.Module):
    """``vl_nnnormalize`` [N kappa alpha beta]: y_k = x_k / (kappa + alpha * sum_{q in G(k)} x_q^2)^beta
    (Krizhevsky et al. 2012, Eq. 3), G(k) = [k - floor((N-1)/2), k + ceil((N-1)/2)].

    torch's ``local_response_norm`` divides alpha by N, so it is called with ``alpha * N``."""

    def __init__(self, size: int = 5, kappa: float = 2.0, alpha: float = 1e-4, beta: float = 0.75):
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise ValueError(f"LRN window size must be a positive odd integer, got {size}")
        self.size, self.kappa, self.alpha, self.beta = int(size), float(kappa), float(alpha), float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.local_response_norm(x, self.size, alpha=self.alpha * self.size, beta=self.beta, k=self.kappa)

    def extra_repr(self) -> str:
        return f"size={self.size}, kappa={self.kappa}, alpha={self.alpha}, beta={self.beta}"


def _pool_t0b1l0r1(x: torch.Tensor) -> torch.Tensor:
    """MatConvNet max-pool 3x3 stride 2 pad [top 0, bottom 1, left 0, right 1]. The input follows
    ReLU + LRN and is therefore >= 0, so zero padding equals MatConvNet's -inf padding."""
    return F.max_pool2d(F.pad(x, (0, 1, 0, 1)), kernel_size=3, stride=2)


class CFVGGStudent(nn.Module):
    """CF-VGG feature network. ``forward(image)`` takes N x 3 x H x W float RGB in 0-255 and
    returns ``{"low", "mid", "high"}`` (see the module docstring)."""

    def __init__(
        self, channels: Sequence[int] = CFVGG_CHANNELS, mean_rgb: Sequence[float] = IMAGENET_MEAN_RGB
    ):
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if len(channels) != 5 or min(channels) < 1:
            raise ValueError(f"channels must be 5 positive filter counts (conv1..conv5), got {channels}")
        if len(tuple(mean_rgb)) != 3:
            raise ValueError(f"mean_rgb must have 3 values, got {mean_rgb}")
        self.channels = channels
        self.register_buffer("mean_rgb", torch.tensor(tuple(mean_rgb), dtype=torch.float32).view(1, 3, 1, 1))
        convs, cin = [], 3
        for cout, (kernel, stride, pad) in zip(channels, _CONV_GEOMETRY, strict=True):
            convs.append(nn.Conv2d(cin, cout, kernel, stride=stride, padding=pad))
            cin = cout
        self.conv1, self.conv2, self.conv3, self.conv4, self.conv5 = convs
        self.norm = MatConvNetLRN()

    @property
    def level_channels(self) -> dict[str, int]:
        """Channels of the low / mid / high outputs."""
        return {"low": self.channels[0], "mid": self.channels[1], "high": self.channels[4]}

    def forward(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"image must be N x 3 x H x W RGB, got shape {tuple(image.shape)}")
        x = image - self.mean_rgb
        low = self.norm(F.relu(self.conv1(x)))
        mid = self.norm(F.relu(self.conv2(_pool_t0b1l0r1(low))))
        x = F.relu(self.conv3(_pool_t0b1l0r1(mid)))
        x = F.relu(self.conv4(x))
        high = F.relu(self.conv5(x))
        return {"low": low, "mid": mid, "high": high}


def student_geometry() -> dict[str, list[LayerGeometry]]:
    """The conv/pool chain leading to each output, for the ONNX contract's receptive fields."""
    convs = [LayerGeometry(kernel=k, stride=s, pad_before=p, pad_after=p) for k, s, p in _CONV_GEOMETRY]
    return {
        "low": convs[:1],
        "mid": [convs[0], _POOL, convs[1]],
        "high": [convs[0], _POOL, convs[1], _POOL, *convs[2:]],
    }


def count_parameters(module: nn.Module) -> int:
    """Number of scalar parameters of ``module``."""
    return sum(p.numel() for p in module.parameters())


def load_simplenn_weights(student: CFVGGStudent, net) -> CFVGGStudent:
    """Copy the five conv layers and the mean of a MatConvNet
    :class:`~cfvgg_ros.models.matconvnet.SimpleNN` (e.g. ``CF_VGGM.mat``) into ``student``."""
    from cfvgg_ros.models.matconvnet import ConvLayer

    convs = [layer for layer in net.layers if isinstance(layer, ConvLayer)][:5]
    if len(convs) < 5:
        raise ValueError(f"{net.source}: need 5 conv layers, found {len(convs)}")
    modules = [student.conv1, student.conv2, student.conv3, student.conv4, student.conv5]
    with torch.no_grad():
        for layer, module in zip(convs, modules, strict=True):
            weights = torch.from_numpy(np.ascontiguousarray(layer.weights.transpose(3, 2, 0, 1)))
            if tuple(weights.shape) != tuple(module.weight.shape):
                raise ValueError(
                    f"{layer.name}: filters {tuple(weights.shape)} do not fit {tuple(module.weight.shape)}"
                )
            module.weight.copy_(weights)
            module.bias.copy_(torch.from_numpy(layer.bias))
        student.mean_rgb.copy_(torch.tensor(np.asarray(net.mean_rgb, np.float32)).view(1, 3, 1, 1))
    return student


class FeatureAdapters(nn.Module):
    """1x1 convolutions mapping the student's channels to the teacher's per level (§IV-A-1);
    used only by the fidelity loss (Eq. 5) and dropped at export."""

    def __init__(self, student_channels: dict[str, int], teacher_channels: dict[str, int]):
        super().__init__()
        missing = [lv for lv in teacher_channels if lv not in student_channels]
        if missing:
            raise ValueError(f"the student has no level(s) {missing}")
        self.adapters = nn.ModuleDict(
            {lv: nn.Conv2d(student_channels[lv], int(c), kernel_size=1) for lv, c in teacher_channels.items()}
        )

    def forward(self, features: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {lv: adapter(features[lv]) for lv, adapter in self.adapters.items()}


class DistillationModel(nn.Module):
    """The trainable part of distillation: student plus adapters (one module for DDP)."""

    def __init__(self, student: CFVGGStudent, adapters: FeatureAdapters):
        super().__init__()
        self.student, self.adapters = student, adapters

    def forward(self, template: torch.Tensor, search: torch.Tensor):
        """Student features and adapted (teacher-channel) features of both patches."""
        fx, fz = self.student(template), self.student(search)
        return fx, fz, self.adapters(fx), self.adapters(fz)
