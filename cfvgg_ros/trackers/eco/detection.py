"""Target localisation on the continuous score (C-COT Sec. 3.4): the score's Fourier series is
sampled on a grid, the grid maximum seeds Newton's method on the series itself."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .fourier import frequencies, hermitian_weights, sample_fs


@dataclass(frozen=True)
class Peak:
    """Maximum of a score: position ``(y, x)`` in grid cells, wrapped to ``[-G/2, G/2)`` (a
    displacement from the sample centre), its value and the index of the scale it was found in."""

    y: float
    x: float
    value: float
    scale_index: int


def _wrap(v: float, period: int) -> float:
    return float((v + period / 2.0) % period - period / 2.0)


class SeriesEvaluator:
    """Value, gradient and Hessian of the real series ``scores_fs`` (2Ky+1, Kx+1) at ``(y, x)`` in
    units of ``grid_hw`` cells per period (coefficients and frequencies prepared once)."""

    def __init__(self, scores_fs: np.ndarray, grid_hw):
        gy, gx = grid_hw
        ky, kx = frequencies(scores_fs.shape)
        self.ay = 2j * np.pi * ky / gy
        self.ax = 2j * np.pi * kx / gx
        self.m = scores_fs.astype(np.complex128) * hermitian_weights(scores_fs.shape, np.float64)

    def __call__(self, y: float, x: float) -> tuple[float, np.ndarray, np.ndarray]:
        ay, ax = self.ay, self.ax
        ey = np.exp(ay * y)
        ex = np.exp(ax * x)
        cols = np.stack([ex, ax * ex, ax * ax * ex], axis=1)  # (Kx+1, 3)
        mx = self.m @ cols  # (2Ky+1, 3): series in x and its two x-derivatives
        rows = np.stack([ey, ay * ey, ay * ay * ey])  # (3, 2Ky+1)
        r = (rows @ mx).real  # r[i, j] = d^i/dy^i d^j/dx^j
        return (
            float(r[0, 0]),
            np.array([r[1, 0], r[0, 1]]),
            np.array([[r[2, 0], r[1, 1]], [r[1, 1], r[0, 2]]]),
        )


def evaluate_series(
    scores_fs: np.ndarray, y: float, x: float, grid_hw
) -> tuple[float, np.ndarray, np.ndarray]:
    """Value, gradient (2,) and Hessian (2, 2) of the real series ``scores_fs`` at ``(y, x)``."""
    return SeriesEvaluator(scores_fs, grid_hw)(y, x)


def newton_refine(
    scores_fs: np.ndarray, y0: float, x0: float, grid_hw, iterations: int = 5, max_step: float = 1.0
) -> tuple[float, float, float]:
    """Newton's method for the maximum of the series starting at ``(y0, x0)`` (grid cells);
    steps are limited to ``max_step`` cells and a step that lowers the score is halved.
    Returns ``(y, x, value)``."""
    evaluate = SeriesEvaluator(scores_fs, grid_hw)
    pos = np.array([y0, x0], dtype=np.float64)
    val, grad, hess = evaluate(pos[0], pos[1])
    for _ in range(int(iterations)):
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.dot(step, grad) <= 0:
            step = grad / (np.linalg.norm(hess) + 1e-12)  # not a local max model: gradient step
        norm = np.linalg.norm(step)
        if norm > max_step:
            step *= max_step / norm
        for _half in range(10):
            cand = pos + step
            cval, cgrad, chess = evaluate(cand[0], cand[1])
            if cval >= val:
                pos, val, grad, hess = cand, cval, cgrad, chess
                break
            step *= 0.5
        else:
            break
        if np.linalg.norm(step) < 1e-10:
            break
    return float(pos[0]), float(pos[1]), float(val)


def _parabola_offset(left: float, centre: float, right: float) -> float:
    """Sub-cell offset in [-0.5, 0.5] of the vertex of the parabola through three samples."""
    denom = float(left) - 2.0 * float(centre) + float(right)
    if denom >= 0.0:
        return 0.0
    return float(np.clip(0.5 * (float(left) - float(right)) / denom, -0.5, 0.5))


def find_peak(scores_fs: np.ndarray, grid_hw, newton_iterations: int = 5,
              prior: np.ndarray | None = None, prior_weight=0.0, refine_merged: bool = False) -> Peak:
    """Maximum over scales of the scores ``scores_fs`` (S, 2Ky+1, Kx+1): grid search on
    :func:`sample_fs`, then Newton refinement in the best scale. With a ``prior`` (S, Gy, Gx) on
    the same grid (e.g. :meth:`.colour_model.ColourModel.response`), the grid search runs on
    ``(1 - prior_weight) * score / max(score) + prior_weight * prior / max(prior)`` (each map
    relative to its own maximum: the two have unrelated units) and Newton climbs the filter's
    score from there (``refine_merged``: a parabola through the merged map's maximum and its
    neighbours places the peak instead, Staple's choice); the peak's value stays the filter's.
    ``prior_weight`` may be a function of the filter's grid maximum."""
    if scores_fs.ndim == 2:
        scores_fs = scores_fs[None]
    gy, gx = int(grid_hw[0]), int(grid_hw[1])
    sampled = sample_fs(scores_fs, (gy, gx))
    merged = sampled
    if prior is not None:
        top_score = float(sampled.max())
        if callable(prior_weight):
            prior_weight = float(prior_weight(top_score))
    if prior is not None and prior_weight > 0.0:
        prior = np.asarray(prior, dtype=np.float32).reshape(sampled.shape)
        top_prior = float(prior.max())
        if top_score > 0.0 and top_prior > 0.0:
            merged = (1.0 - prior_weight) / top_score * sampled + prior_weight / top_prior * prior
    flat = int(np.argmax(merged))
    s, iy, ix = np.unravel_index(flat, sampled.shape)
    y0, x0 = _wrap(float(iy), gy), _wrap(float(ix), gx)
    if merged is not sampled and refine_merged:
        m = merged[s]
        dy = _parabola_offset(m[(iy - 1) % gy, ix], m[iy, ix], m[(iy + 1) % gy, ix])
        dx = _parabola_offset(m[iy, (ix - 1) % gx], m[iy, ix], m[iy, (ix + 1) % gx])
        return Peak(y=_wrap(y0 + dy, gy), x=_wrap(x0 + dx, gx), value=float(sampled[s, iy, ix]),
                    scale_index=int(s))
    y, x, val = newton_refine(scores_fs[s], y0, x0, (gy, gx), newton_iterations)
    val = max(val, float(sampled[s, iy, ix]))
    return Peak(y=_wrap(y, gy), x=_wrap(x, gx), value=val, scale_index=int(s))
