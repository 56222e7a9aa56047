"""The one feature vocabulary every tracker's configuration uses.

Names:

* ``"hog"`` -- 31-channel fHOG (:mod:`cfvgg_ros.features.fhog`);
* ``"colour"`` -- the colour feature (:mod:`cfvgg_ros.features.colour`);
* ``"grey"`` -- cell-averaged intensity;
* ``"cnn:low"``, ``"cnn:mid"``, ``"cnn:high"`` -- one output level of the CF-VGG student
  (:mod:`cfvgg_ros.features.cnn`; strides 2, 8 and 16).
"""

from __future__ import annotations

from dataclasses import dataclass

CNN_LEVELS = ("low", "mid", "high")
HANDCRAFTED = ("hog", "colour", "grey")
CNN_PREFIX = "cnn:"
FEATURE_NAMES = (*HANDCRAFTED, *(CNN_PREFIX + level for level in CNN_LEVELS))

__all__ = ["CNN_LEVELS", "CNN_PREFIX", "FEATURE_NAMES", "HANDCRAFTED", "Feature", "parse_feature"]


@dataclass(frozen=True)
class Feature:
    """A parsed feature name: ``kind`` is ``"cnn"`` or the hand-crafted name, ``level`` the CNN
    output (``""`` for hand-crafted features)."""

    name: str
    kind: str
    level: str = ""

    @property
    def is_cnn(self) -> bool:
        return self.kind == "cnn"


def parse_feature(name: str) -> Feature:
    """Parse a feature name of :data:`FEATURE_NAMES`; ValueError listing them otherwise."""
    if isinstance(name, str):
        if name in HANDCRAFTED:
            return Feature(name, name)
        if name.startswith(CNN_PREFIX) and name[len(CNN_PREFIX):] in CNN_LEVELS:
            return Feature(name, "cnn", name[len(CNN_PREFIX):])
    raise ValueError(f"unknown feature {name!r}; features are {', '.join(FEATURE_NAMES)}")
