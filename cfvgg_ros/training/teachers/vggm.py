"""VGG-M teacher from a user-supplied MatConvNet ``imagenet-vgg-m.mat`` / ``imagenet-vgg-m-2048.mat``
and the random filter pruning that initialises the student from it (paper §IV: "we randomly
prune 7/8 filters in the current layer and the corresponding 7/8 channels in each filter of
the next convolutional layer").

The ``.mat`` is read with :func:`cfvgg_ros.models.matconvnet.load_simplenn`; the layers up to
relu5 are rebuilt in torch with MatConvNet semantics. Taps (``default_taps``): low = norm1
(96 ch, stride 2), mid = norm2 (256 ch, stride 8), high = relu5 (512 ch, stride 16).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cfvgg_ros.models.matconvnet import ConvLayer, LRNLayer, PoolLayer, ReLULayer, default_taps, load_simplenn

from ..student import _CONV_GEOMETRY, CFVGGStudent, MatConvNetLRN
from . import Teacher


class _MatConvNetPool(nn.Module):
    """``vl_nnpool`` max pooling with asymmetric padding [top, bottom, left, right] (-inf pads)."""

    def __init__(self, layer: PoolLayer):
        super().__init__()
        if layer.method != "max":
            raise ValueError(f"pool layer {layer.name!r}: only max pooling is supported, got {layer.method}")
        self.pool, self.stride = tuple(layer.pool), tuple(layer.stride)
        t, b, l, r = layer.pad
        self.pad = (l, r, t, b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if any(self.pad):
            x = F.pad(x, self.pad, value=float("-inf"))
        return F.max_pool2d(x, kernel_size=self.pool, stride=self.stride)


class _MatConvNetConv(nn.Conv2d):
    """``vl_nnconv`` with asymmetric zero padding [top, bottom, left, right]."""

    def __init__(self, layer: ConvLayer):
        kh, kw, cin, cout = layer.weights.shape
        super().__init__(cin, cout, (kh, kw), stride=tuple(layer.stride), dilation=tuple(layer.dilate))
        t, b, l, r = layer.pad
        self.asym_pad = (l, r, t, b)
        with torch.no_grad():
            self.weight.copy_(torch.from_numpy(np.ascontiguousarray(layer.weights.transpose(3, 2, 0, 1))))
            self.bias.copy_(torch.from_numpy(layer.bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.asym_pad) if any(self.asym_pad) else x)


class VGGMTeacher(Teacher):
    """VGG-M (Chatfield et al. 2014) up to relu5, frozen; outputs norm1 / norm2 / relu5."""

    name = "vggm"

    def __init__(self, net):
        super().__init__()
        taps = default_taps(net)
        last = max(net.index(name) for name in taps.values())
        self.tap_of = {layer_name: level for level, layer_name in taps.items()}
        self.layer_names: list[str] = []
        modules, channels, tap_channels = [], 3, {}
        for layer in net.layers[: last + 1]:
            if isinstance(layer, ConvLayer):
                if layer.weights.shape[2] != channels:
                    raise ValueError(f"{layer.name}: grouped convolutions are not supported")
                modules.append(_MatConvNetConv(layer))
                channels = layer.out_channels
            elif isinstance(layer, ReLULayer):
                modules.append(nn.LeakyReLU(layer.leak) if layer.leak else nn.ReLU())
            elif isinstance(layer, LRNLayer):
                modules.append(MatConvNetLRN(layer.size, layer.kappa, layer.alpha, layer.beta))
            elif isinstance(layer, PoolLayer):
                modules.append(_MatConvNetPool(layer))
            else:
                raise ValueError(f"layer {layer.name!r} ({layer.type}) precedes relu5 and is not supported")
            self.layer_names.append(layer.name)
            if layer.name in self.tap_of:
                tap_channels[self.tap_of[layer.name]] = channels
        self.layers = nn.ModuleList(modules)
        self.channels = tap_channels
        self.register_buffer("mean_rgb", torch.tensor(np.asarray(net.mean_rgb, np.float32)).view(1, 3, 1, 1))
        self.source = f"{net.source} sha1 {net.sha1}"

    @classmethod
    def from_mat(cls, path) -> VGGMTeacher:
        """Load ``imagenet-vgg-m.mat`` (or any SimpleNN of that layout)."""
        return cls(load_simplenn(path))

    def raw_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = images - self.mean_rgb
        out = {}
        for name, module in zip(self.layer_names, self.layers, strict=True):
            x = module(x)
            if name in self.tap_of:
                out[self.tap_of[name]] = x
        return out


def prune_to_student(
    net, keep_fraction: float = 1 / 8, seed: int = 0
) -> tuple[CFVGGStudent, list[np.ndarray]]:
    """Initialise a CF-VGG student by random filter pruning of VGG-M (§IV).

    For each of conv1..conv5 keep ``round(cout * keep_fraction)`` randomly chosen filters
    (seeded) and, in the next conv layer, only the input channels of those kept filters.
    With VGG-M (96, 256, 512, 512, 512 filters) and 1/8 this gives the CF-VGG channels
    (12, 32, 64, 64, 64). Returns the student and the kept filter indices per layer.
    """
    if not 0 < keep_fraction <= 1:
        raise ValueError(f"keep_fraction must be in (0, 1], got {keep_fraction}")
    convs = [layer for layer in net.layers if isinstance(layer, ConvLayer)][:5]
    if len(convs) < 5:
        raise ValueError(f"{net.source}: VGG-M layout needs 5 conv layers, found {len(convs)}")
    for layer, (kernel, stride, pad) in zip(convs, _CONV_GEOMETRY, strict=True):
        if layer.kernel != (kernel, kernel) or layer.stride != (stride, stride) or layer.pad != (pad,) * 4:
            raise ValueError(
                f"{layer.name}: kernel {layer.kernel}, stride {layer.stride}, pad {layer.pad} differ from"
                f" the CF-VGG layout ({kernel}x{kernel}, stride {stride}, pad {pad})"
            )
    rng = np.random.default_rng(seed)
    kept = []
    for layer in convs:
        cout = layer.out_channels
        count = max(1, int(round(cout * keep_fraction)))
        kept.append(np.sort(rng.choice(cout, size=count, replace=False)))
    student = CFVGGStudent(channels=[len(k) for k in kept], mean_rgb=net.mean_rgb)
    modules = [student.conv1, student.conv2, student.conv3, student.conv4, student.conv5]
    previous = np.arange(3)
    with torch.no_grad():
        for layer, keep, module in zip(convs, kept, modules, strict=True):
            weights = layer.weights[:, :, previous][:, :, :, keep]  # kh, kw, cin, cout
            module.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights.transpose(3, 2, 0, 1))))
            module.bias.copy_(torch.from_numpy(layer.bias[keep]))
            previous = keep
    return student, kept
