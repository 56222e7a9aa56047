"""Plots, annotated frames and video/GIF writers."""

import numpy as np
import pytest

from cfvgg_ros.evaluation.plots import (
    annotate_frame,
    precision_plot,
    ranked_legend,
    success_plot,
    write_gif,
    write_video,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_ranked_legend_best_first():
    curves = {"KCF": np.full(21, 0.4), "fECO": np.full(21, 0.682), "CF-VGG": np.full(21, 0.6)}
    assert ranked_legend(curves, "auc") == [
        ("fECO", "[0.682] fECO"),
        ("CF-VGG", "[0.600] CF-VGG"),
        ("KCF", "[0.400] KCF"),
    ]
    precision = {"a": np.linspace(0, 1, 51), "b": np.full(51, 0.5)}
    assert [label for _, label in ranked_legend(precision, "precision")] == ["[0.500] b", "[0.400] a"]
    with pytest.raises(ValueError, match="shape"):
        ranked_legend({"a": np.zeros(20)}, "auc")
    with pytest.raises(ValueError, match="metric"):
        ranked_legend(curves, "eao")


def test_plots_write_png(tmp_path):
    success = {"fECO": np.linspace(1, 0, 21), "KCF": np.linspace(0.8, 0, 21)}
    precision = {"fECO": np.linspace(0, 1, 51), "KCF": np.linspace(0, 0.8, 51)}
    out = success_plot(success, tmp_path / "sub" / "success.png", "Success plots of OPE")
    assert out == tmp_path / "sub" / "success.png"
    assert out.stat().st_size > 1000 and out.read_bytes()[:8] == PNG_MAGIC
    out = precision_plot(precision, tmp_path / "precision.png", "Precision plots of OPE")
    assert out.stat().st_size > 1000 and out.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError):
        success_plot({}, tmp_path / "empty.png", "x")
    with pytest.raises(ValueError, match="shape"):
        precision_plot(success, tmp_path / "wrong.png", "x")


def _border_mask(shape, left, top, right, bottom):
    mask = np.zeros(shape[:2], dtype=bool)
    mask[top, left : right + 1] = mask[bottom, left : right + 1] = True
    mask[top : bottom + 1, left] = mask[top : bottom + 1, right] = True
    return mask


def test_annotate_frame_changes_border_only():
    frame = np.zeros((50, 60, 3), dtype=np.uint8)
    out = annotate_frame(frame, {"gt": (10, 5, 20, 15)}, {"gt": (0, 255, 0)}, thickness=1, show_labels=False)
    assert out is not frame and not frame.any()  # input untouched
    changed = out.any(axis=2)
    np.testing.assert_array_equal(changed, _border_mask(frame.shape, 10, 5, 29, 19))
    assert (out[changed] == (0, 255, 0)).all()


def test_annotate_frame_labels_and_lost_boxes():
    frame = np.full((120, 160, 3), 40, dtype=np.uint8)
    boxes = {"ours": (30, 40, 50, 30), "lost": (np.nan, np.nan, np.nan, np.nan), "empty": (5, 5, 0, 3)}
    out = annotate_frame(frame, boxes)
    changed = (out != frame).any(axis=2)
    assert changed[40, 30:80].all()  # top edge drawn
    assert changed[:40].any()  # label written above the box
    assert not changed[85:, :].any() and not changed[:, 100:].any()  # nothing for the skipped boxes
    assert not changed[50:65, 40:70].any()  # box interior untouched
    with pytest.raises(ValueError, match="RGB"):
        annotate_frame(np.zeros((10, 10), dtype=np.uint8), {})
    with pytest.raises(ValueError, match="four numbers"):
        annotate_frame(frame, {"bad": (1, 2, 3)})


def _frames(count=6, height=48, width=64):
    frames = []
    for i in range(count):
        frame = np.zeros((height, width, 3), dtype=np.uint8)
        frame[:, i * 8 : i * 8 + 8] = (255, 128, 0)
        frames.append(frame)
    return frames


def test_write_gif_downscales(tmp_path):
    from PIL import Image

    out = write_gif(_frames(height=96, width=128), tmp_path / "clip.gif", fps=5, max_side=64)
    with Image.open(out) as gif:
        assert gif.size == (64, 48) and gif.n_frames == 6
    with pytest.raises(ValueError, match="no frames"):
        write_gif([], tmp_path / "none.gif", fps=5)
    with pytest.raises(ValueError, match="shape"):
        write_gif([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], tmp_path / "x.gif")


def test_write_video(tmp_path):
    import cv2

    out = write_video(iter(_frames()), tmp_path / "clip.mp4", fps=10)
    assert out.stat().st_size > 0
    capture = cv2.VideoCapture(str(out))
    try:
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
        ok, frame = capture.read()
        assert ok and frame.shape == (48, 64, 3)
    finally:
        capture.release()
    with pytest.raises(ValueError, match="fps"):
        write_video(_frames(), tmp_path / "bad.mp4", fps=0)
