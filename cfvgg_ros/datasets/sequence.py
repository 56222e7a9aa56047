"""A tracking sequence: frames (image paths, or a generator for synthetic data) and
ground-truth boxes ``(x, y, w, h)``, 0-based float pixels, NaN rows where the target is absent."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np


class DatasetError(ValueError):
    """A sequence or dataset folder that does not match its official layout."""


def read_rgb(path: str) -> np.ndarray:
    """Read an image file as an HxWx3 uint8 RGB array (clear error when unreadable)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class Sequence:
    """One annotated sequence.

    ``frames`` holds one image path per annotated frame (``len(frames) == len(boxes)``);
    a synthetic sequence leaves ``frames`` empty and renders frames with ``render``.
    ``fps`` is the capture rate (10 for UAV123@10fps, 30 for UAV123/OTB) used by the bag tools.
    """

    name: str
    dataset: str
    boxes: np.ndarray
    frames: list[str] = field(default_factory=list)
    fps: float = 30.0
    render: Callable[[int], np.ndarray] | None = None
    attributes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if self.render is None and len(self.frames) != len(self.boxes):
            raise DatasetError(
                f"{self.dataset}/{self.name}: {len(self.frames)} frames but {len(self.boxes)} boxes"
            )

    def __len__(self) -> int:
        return len(self.boxes)

    def frame(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as HxWx3 uint8 RGB."""
        if not 0 <= index < len(self):
            raise IndexError(f"{self.name}: frame {index} out of range 0..{len(self) - 1}")
        if self.render is not None:
            return self.render(index)
        return read_rgb(self.frames[index])

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(frame, box)`` pairs in order."""
        for i in range(len(self)):
            yield self.frame(i), self.boxes[i]
