"""Benchmark figures and annotated videos.

Success and precision plots follow the paper's Fig. 7 (and the OTB toolkit's
``plotDrawSave``): one curve per tracker, legend sorted best first as ``"[0.682] fECO"``
with the AUC (success) or the precision at 20 px (precision). Figures are drawn on an Agg
canvas created inside each call, so no global matplotlib backend is touched.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from .metrics import PRECISION_SCORE_PIXELS, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS

#: Distinct RGB colours for boxes and curves (cycled).
PALETTE: tuple[tuple[int, int, int], ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (128, 128, 0),
    (0, 0, 128),
)
_LINE_STYLES = ("-", "--", "-.", ":")


def _check_curves(curves: Mapping[str, np.ndarray], length: int, kind: str) -> dict[str, np.ndarray]:
    if not curves:
        raise ValueError(f"{kind} plot needs at least one curve")
    checked = {}
    for name, curve in curves.items():
        array = np.asarray(curve, dtype=np.float64)
        if array.shape != (length,):
            raise ValueError(f"{kind} curve of {name!r} must have shape ({length},), got {array.shape}")
        checked[str(name)] = array
    return checked


def ranked_legend(curves: Mapping[str, np.ndarray], metric: str) -> list[tuple[str, str]]:
    """``(name, label)`` pairs sorted best first; ``metric`` is ``"auc"`` (mean of a (21,)
    success curve) or ``"precision"`` (value at 20 px of a (51,) curve). Labels read
    ``"[0.682] name"``."""
    if metric == "auc":
        checked = _check_curves(curves, len(SUCCESS_THRESHOLDS), "success")
        scores = {name: float(np.mean(curve)) for name, curve in checked.items()}
    elif metric == "precision":
        checked = _check_curves(curves, len(PRECISION_THRESHOLDS), "precision")
        scores = {name: float(curve[PRECISION_SCORE_PIXELS]) for name, curve in checked.items()}
    else:
        raise ValueError(f"metric must be 'auc' or 'precision', got {metric!r}")
    order = sorted(scores, key=lambda name: -scores[name])
    return [(name, f"[{scores[name]:.3f}] {name}") for name in order]


def _curve_plot(curves, thresholds, metric, path, title, xlabel, ylabel) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    curves = {str(name): np.asarray(curve, dtype=np.float64) for name, curve in curves.items()}
    legend = ranked_legend(curves, metric)
    figure = Figure(figsize=(6.0, 4.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    order = {name: index for index, name in enumerate(curves)}  # colours follow input order
    for name, label in legend:
        index = order[name]
        colour = tuple(c / 255.0 for c in PALETTE[index % len(PALETTE)])
        style = _LINE_STYLES[(index // len(PALETTE)) % len(_LINE_STYLES)]
        axes.plot(thresholds, curves[name], style, color=colour,
                  linewidth=2.0, label=label)
    axes.set_xlim(float(thresholds[0]), float(thresholds[-1]))
    axes.set_ylim(0.0, 1.0)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower left" if metric == "auc" else "lower right", fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def success_plot(curves: Mapping[str, np.ndarray], path, title: str = "Success plots of OPE") -> Path:
    """Write a success plot (PNG) of ``{tracker: (21,) success curve}``; returns the path.
    Each tracker keeps its colour (by its position in ``curves``) across plots."""
    return _curve_plot(curves, SUCCESS_THRESHOLDS, "auc", path, title, "Overlap threshold", "Success rate")


def precision_plot(curves: Mapping[str, np.ndarray], path, title: str = "Precision plots of OPE") -> Path:
    """Write a precision plot (PNG) of ``{tracker: (51,) precision curve}``; returns the path."""
    return _curve_plot(curves, PRECISION_THRESHOLDS, "precision", path, title,
                       "Location error threshold", "Precision")


def _check_rgb(frame) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        shape = getattr(frame, "shape", None)
        raise ValueError(f"frame must be an HxWx3 uint8 RGB array, got {type(frame).__name__} {shape}")
    return frame


def annotate_frame(
    frame_rgb: np.ndarray,
    boxes: Mapping[str, Iterable[float]],
    colours: Mapping[str, tuple[int, int, int]] | None = None,
    thickness: int = 2,
    show_labels: bool = True,
) -> np.ndarray:
    """A copy of ``frame_rgb`` with each ``{name: (x, y, w, h)}`` box drawn (cv2) and, when
    ``show_labels``, its name written above it. Boxes with NaN or non-positive size (target
    lost / absent) are skipped. ``colours`` maps names to RGB; others take :data:`PALETTE`."""
    import cv2

    out = _check_rgb(frame_rgb).copy()
    if thickness < 1:
        raise ValueError(f"thickness must be >= 1, got {thickness}")
    colours = dict(colours or {})
    for index, (name, box) in enumerate(boxes.items()):
        try:
            x, y, w, h = (float(v) for v in box)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"box of {name!r} must be four numbers (x, y, w, h), got {box!r}") from exc
        if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
            continue
        colour = tuple(int(c) for c in colours.get(name, PALETTE[index % len(PALETTE)]))
        left, top = round(x), round(y)
        right, bottom = max(left, round(x + w) - 1), max(top, round(y + h) - 1)
        cv2.rectangle(out, (left, top), (right, bottom), colour, thickness)
        if show_labels:
            scale = max(0.4, out.shape[0] / 900.0)
            (_, text_h), _ = cv2.getTextSize(str(name), cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            text_y = top - 4 if top - 4 - text_h >= 0 else bottom + text_h + 4
            cv2.putText(out, str(name), (left, text_y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1,
                        cv2.LINE_AA)
    return out


def _checked_stream(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Yield the frames, checking each is RGB uint8 with the shape of the first one."""
    shape = None
    for i, frame in enumerate(frames):
        _check_rgb(frame)
        if shape is None:
            shape = frame.shape
        elif frame.shape != shape:
            raise ValueError(f"frame {i} has shape {frame.shape}, expected {shape} like frame 0")
        yield frame
    if shape is None:
        raise ValueError("no frames to write")


def write_gif(frames: Iterable[np.ndarray], path, fps: float = 10.0, max_side: int = 320) -> Path:
    """Write RGB frames as a looping GIF (Pillow), each downscaled as it arrives so the longer
    side is at most ``max_side`` pixels (keeps the file and memory small). Returns the path."""
    import cv2
    from PIL import Image

    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    images = []
    for frame in _checked_stream(frames):
        height, width = frame.shape[:2]
        scale = min(1.0, max_side / max(height, width))
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        images.append(Image.fromarray(frame))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, round(1000.0 / fps)), loop=0, optimize=True)
    return path


def write_video(frames: Iterable[np.ndarray], path, fps: float = 30.0) -> Path:
    """Write RGB frames as an MP4 (cv2.VideoWriter, 'mp4v' codec), streaming them one by one.
    Returns the path."""
    import cv2

    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    writer = None
    try:
        for frame in _checked_stream(frames):
            if writer is None:
                height, width = frame.shape[:2]
                path.parent.mkdir(parents=True, exist_ok=True)
                fourcc = cv2.VideoWriter_fourcc(*"mp4v")
                writer = cv2.VideoWriter(str(path), fourcc, float(fps), (width, height))
                if not writer.isOpened():
                    raise OSError(f"cannot open a video writer for {path} (mp4v, {width}x{height})")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    return path
