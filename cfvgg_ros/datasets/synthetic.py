"""Built-in default input: deterministic synthetic aerial tracking sequences with exact ground truth.

A procedurally textured vehicle (seen from above) drives along a road over a large procedural
terrain (fields, hedges, roads, buildings, trees). A simulated drone camera views a moving,
zooming crop of that terrain. Challenges (scale change, in-plane rotation, partial occlusion by
a tree canopy, illumination drift with a cloud shadow, motion blur) are switched on per preset.

The ground-truth box is computed from the geometry, not from pixels: the target body is a
rounded rectangle with half sizes ``(a, b)`` and corner radius ``r``; rotated by ``theta`` its
axis-aligned half extent is ``(a - r)|cos| + (b - r)|sin| + r`` (and symmetrically for y), which
is exact. Boxes are ``(x, y, w, h)`` 0-based pixel-index floats (``x`` = first covered column),
NaN rows where the target is entirely out of view, rounded to :data:`GT_RESOLUTION` (1/256 px) so
that a box and its corners are exact float32 values: an init box sent to the node as a polygon
(float32 corners) arrives as the very box an offline run starts from.

Rendering one 1280x720 frame costs a few milliseconds on one core (one ``cv2.warpAffine`` of the
terrain, small region-of-interest composites, lookup-table photometry); all textures are made
once when the sequence is built.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .sequence import DatasetError, Sequence

CHALLENGES = ("translation", "scale", "rotation", "occlusion", "illumination", "blur")


@dataclass(frozen=True)
class ScenarioParams:
    """Scenario of one synthetic sequence. Lengths are in pixels of a 720-line frame and scale
    with ``min(width, height) / 720``; times are in frames.

    ``camera_follow`` = 0 keeps the camera still (the target crosses the view), 1 makes the
    drone follow the target (the target then wanders by ``frame_wander`` of the frame size).
    ``zoom_ratio`` is the peak linear magnification of the target (reached mid-sequence, via
    camera altitude). ``turn_deg`` / ``turn_period`` give the heading oscillation of the vehicle
    (in-plane rotation). ``occlusion_fraction`` > 0 places a tree canopy that hides about that
    fraction of the target at ``occlusion_time`` (fraction of the sequence). ``gain_range`` and
    ``gamma_range`` bound the global photometric drift; ``cloud_shadow`` sweeps a soft shadow
    across the scene. ``exposure`` (fraction of the frame interval) turns motion into blur;
    ``speed_burst`` multiplies the target speed during a smooth burst around ``burst_time``.
    """

    num_frames: int = 150
    target_length: float = 84.0
    target_width: float = 40.0
    speed: float = 3.0
    heading_deg: float = 0.0
    heading_jitter_deg: float = 15.0
    turn_deg: float = 0.0
    turn_period: float = 90.0
    camera_follow: float = 1.0
    frame_wander: float = 0.15
    camera_yaw_deg: float = 0.0
    camera_shake: float = 0.0
    zoom_ratio: float = 1.0
    occlusion_fraction: float = 0.0
    occlusion_time: float = 0.5
    gain_range: tuple[float, float] = (1.0, 1.0)
    gamma_range: tuple[float, float] = (1.0, 1.0)
    cloud_shadow: float = 0.0
    exposure: float = 0.0
    speed_burst: float = 1.0
    burst_time: float = 0.5
    noise_sigma: float = 2.0
    challenges: tuple[str, ...] = ("translation",)


PRESETS: dict[str, ScenarioParams] = {
    "aerial": ScenarioParams(
        num_frames=150, speed=3.2, turn_deg=18.0, turn_period=110.0, camera_follow=0.9,
        frame_wander=0.18, camera_yaw_deg=4.0, camera_shake=1.5, zoom_ratio=1.35,
        occlusion_fraction=0.35, occlusion_time=0.62, gain_range=(0.7, 1.15), gamma_range=(0.9, 1.12),
        cloud_shadow=0.35, exposure=0.6, speed_burst=2.6, burst_time=0.3, challenges=CHALLENGES,
    ),
    "translation": ScenarioParams(
        num_frames=120, speed=3.6, camera_follow=0.0, frame_wander=0.0, challenges=("translation",),
    ),
    "scale": ScenarioParams(
        num_frames=120, speed=1.5, camera_follow=1.0, frame_wander=0.05, zoom_ratio=1.6,
        challenges=("scale",),
    ),
    "occlusion": ScenarioParams(
        num_frames=120, speed=3.0, camera_follow=0.8, frame_wander=0.05, occlusion_fraction=0.4,
        occlusion_time=0.5, challenges=("occlusion",),
    ),
    "rotation": ScenarioParams(
        num_frames=120, speed=2.5, turn_deg=30.0, turn_period=160.0, camera_follow=1.0,
        frame_wander=0.05, challenges=("rotation",),
    ),
    "illumination": ScenarioParams(
        num_frames=120, speed=2.5, camera_follow=1.0, frame_wander=0.08, gain_range=(0.5, 1.25),
        gamma_range=(0.8, 1.25), cloud_shadow=0.45, challenges=("illumination",),
    ),
    "blur": ScenarioParams(
        num_frames=120, speed=3.0, camera_follow=0.6, frame_wander=0.05, camera_shake=5.0,
        exposure=0.9, speed_burst=4.5, burst_time=0.5, challenges=("blur",),
    ),
}

#: ground-truth boxes are multiples of this (px): exact in float32 for frames under 32768 px.
GT_RESOLUTION = 1.0 / 256.0
_SUBSTEPS = 8  # trajectory samples per frame (sub-frame poses for motion blur)
_SPRITE_OVERSAMPLE = 1.4  # sprite resolution relative to the target's base size in the frame
_MAX_BLUR_TAPS = 12


# ----------------------------------------------------------------------------- texture helpers
def _value_noise(rng: np.random.Generator, height: int, width: int, cell: float, octaves: int = 4,
                 persistence: float = 0.5) -> np.ndarray:
    """Multi-octave value noise in [-1, 1] (float32): random grids upsampled bicubically."""
    total = np.zeros((height, width), np.float32)
    amp, norm = 1.0, 0.0
    for _ in range(octaves):
        gh, gw = max(2, int(height / cell) + 2), max(2, int(width / cell) + 2)
        grid = rng.uniform(-1.0, 1.0, (gh, gw)).astype(np.float32)
        total += amp * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        norm += amp
        amp *= persistence
        cell = max(cell / 2.0, 1.5)
    return np.clip(total / norm, -1.0, 1.0)


def _sdf_round_rect(x: np.ndarray, y: np.ndarray, a: float, b: float, r: float) -> np.ndarray:
    """Signed distance to a centred rounded rectangle of half sizes (a, b), corner radius r."""
    qx, qy = np.abs(x) - (a - r), np.abs(y) - (b - r)
    outside = np.hypot(np.maximum(qx, 0.0), np.maximum(qy, 0.0))
    return outside + np.minimum(np.maximum(qx, qy), 0.0) - r


def _rot(theta: float) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


# ----------------------------------------------------------------------------- sprites
@dataclass
class _Sprite:
    """Premultiplied RGBA sprite (HxWx4, stored as uint8) and the size of one sprite pixel in world px."""

    rgba: np.ndarray
    world_per_pixel: float

    def __post_init__(self) -> None:
        self.rgba = np.clip(np.asarray(self.rgba, np.float32) + 0.5, 0, 255).astype(np.uint8)

    @property
    def centre(self) -> np.ndarray:
        h, w = self.rgba.shape[:2]
        return np.array([(w - 1) / 2.0, (h - 1) / 2.0])


_CAR_COLOURS = np.array([
    (190, 30, 35), (235, 235, 230), (30, 60, 150), (200, 200, 205), (245, 190, 20), (25, 25, 30),
    (20, 110, 70), (230, 100, 20), (90, 150, 210),
], np.float32)


def _make_car(rng: np.random.Generator, length: float, width: float, corner: float) -> np.ndarray:
    """Top view of a car, front towards +x: premultiplied RGBA float32, ``length`` x ``width`` body
    (in sprite pixels) centred in the image with a 2-pixel margin, drawn 4x supersampled."""
    ss = 4
    w_px, h_px = int(math.ceil(length)) + 4, int(math.ceil(width)) + 4
    ys, xs = np.mgrid[0:h_px * ss, 0:w_px * ss].astype(np.float32)
    x = (xs + 0.5) / ss - 0.5 - (w_px - 1) / 2.0  # sprite-pixel coordinates about the centre
    y = (ys + 0.5) / ss - 0.5 - (h_px - 1) / 2.0
    a, b = length / 2.0, width / 2.0
    alpha = np.clip(0.5 - _sdf_round_rect(x, y, a, b, corner) * ss / 2.0, 0.0, 1.0)
    body = _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))]
    # cylindrical shading across the width, darker rim
    shade = 1.0 - 0.35 * (y / b) ** 4 + 0.08 * np.cos(np.pi * x / length)
    rgb = body[None, None, :] * shade[..., None]
    u = x / a  # -1 (rear) .. +1 (front)
    # cabin: rear window, roof, windshield
    roof = _sdf_round_rect(x + 0.07 * length, y, 0.13 * length, 0.40 * width, 0.1 * width) < 0
    wind = (u > 0.10) & (u < 0.46) & (np.abs(y) < b * (0.66 + 0.55 * (u - 0.10)))
    rear = (u < -0.38) & (u > -0.62) & (np.abs(y) < b * (0.66 - 0.45 * (u + 0.38)))
    glass = np.array([38, 48, 62], np.float32) * (1.0 + 0.5 * np.clip(y / b, 0, 1))[..., None]
    rgb = np.where((wind | rear)[..., None], glass, rgb)
    rgb = np.where(roof[..., None], np.minimum(body * 1.12 + 12, 255), rgb)
    if rng.random() < 0.5:  # racing stripes
        stripe = (np.abs(np.abs(y) - 0.1 * width) < 0.045 * width) & ~wind & ~rear
        stripe_col = np.array([250, 250, 250] if body.mean() < 150 else [20, 20, 20], np.float32)
        rgb = np.where(stripe[..., None], stripe_col, rgb)

    def lamp(cx: float) -> np.ndarray:
        return ((x - cx * a) / (0.05 * length)) ** 2 + ((np.abs(y) - 0.62 * b) / (0.12 * width)) ** 2 < 1

    rgb = np.where(lamp(0.93)[..., None], np.float32([255, 245, 200]), rgb)
    rgb = np.where(lamp(-0.94)[..., None], np.float32([200, 20, 20]), rgb)
    edge = np.clip(1.0 - np.abs(_sdf_round_rect(x, y, a, b, corner) + 0.6), 0, 1)  # dark outline
    rgb = rgb * (1.0 - 0.5 * edge[..., None])
    rgba = np.dstack([np.clip(rgb, 0, 255) * alpha[..., None], alpha * 255.0]).astype(np.float32)
    return cv2.resize(rgba, (w_px, h_px), interpolation=cv2.INTER_AREA)


def _make_canopy(rng: np.random.Generator, radius: float) -> np.ndarray:
    """A tree canopy of about ``radius`` px (round on its +y side, lobed behind): premultiplied RGBA."""
    size = int(math.ceil(radius * 3.2)) | 1
    c = (size - 1) / 2.0
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    x, y = xs - c, ys - (c + 0.3 * radius)  # main disc sits towards +y, lobes behind
    sdf = np.hypot(x, y) - radius
    for ang in rng.uniform(-2.6, -0.5, 5):  # lobes on the far (-y) side
        rr = radius * rng.uniform(0.45, 0.7)
        d = radius * rng.uniform(0.55, 0.85)
        sdf = np.minimum(sdf, np.hypot(x - d * math.cos(ang), y - d * math.sin(ang)) - rr)
    leaf = _value_noise(rng, size, size, max(radius / 5.0, 2.0), octaves=3)
    sdf = sdf - 0.06 * radius * leaf
    alpha = np.clip(0.5 - sdf / 1.5, 0.0, 1.0)
    lit = np.clip(0.75 - 0.25 * (x + y) / (2 * radius), 0.4, 1.1) * (0.85 + 0.25 * leaf)
    rgb = np.array([52, 88, 38], np.float32) * lit[..., None]
    return np.dstack([rgb * alpha[..., None], alpha * 255.0]).astype(np.float32)


# ----------------------------------------------------------------------------- terrain
def _resample(pts: np.ndarray, spacing: float) -> np.ndarray:
    """Polyline ``pts`` (Nx2) resampled at uniform arc-length ``spacing``."""
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    s = np.arange(0.0, arc[-1] + 1e-9, max(spacing, 0.5))
    return np.stack([np.interp(s, arc, pts[:, 0]), np.interp(s, arc, pts[:, 1])], 1)


def _draw_dashed(img: np.ndarray, pts: np.ndarray, colour, thickness: int, dash: float) -> None:
    """Dashed polyline (dashes and gaps ``dash`` px long along the arc)."""
    pts = _resample(pts, dash / 6.0)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(pts, axis=0).T))])
    on = (arc // dash) % 2 == 0
    for i in range(len(pts) - 1):
        if on[i]:
            p, q = np.round(pts[i] * 16).astype(int), np.round(pts[i + 1] * 16).astype(int)
            cv2.line(img, tuple(p), tuple(q), colour, thickness, cv2.LINE_AA, 4)


def _make_terrain(rng: np.random.Generator, height: int, width: int, unit: float, road: np.ndarray,
                  road_width: float) -> np.ndarray:
    """Procedural aerial terrain (HxWx3 uint8 RGB): field parcels with crop rows and hedges,
    multi-octave brightness noise, a road along ``road`` (Nx2 world points), side roads,
    buildings with shadows and tree clusters kept off the main road."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    ca, sa = math.cos(angle), math.sin(angle)
    warp = 40.0 * unit * _value_noise(rng, height, width, 300 * unit, octaves=2)
    u_, v_ = xs * ca + ys * sa + warp, -xs * sa + ys * ca - warp
    cw, ch = rng.uniform(220, 320) * unit, rng.uniform(150, 230) * unit
    iu, iv = np.floor(u_ / cw), np.floor(v_ / ch)
    pid = ((iu * 7919 + iv * 104729).astype(np.int64)) % 997
    palette = np.array([(92, 120, 56), (118, 138, 68), (150, 148, 88), (168, 148, 98), (112, 98, 68),
                        (80, 108, 58), (186, 172, 118), (132, 118, 84), (100, 128, 76)], np.float32)
    lut = rng.integers(len(palette), size=997)
    dirs = rng.integers(2, size=997).astype(np.float32)
    periods = rng.uniform(4.0, 9.0, 997).astype(np.float32) * unit
    amps = rng.uniform(0.03, 0.14, 997).astype(np.float32)
    d, per, amp = dirs[pid], periods[pid], amps[pid]
    coord = np.where(d > 0, u_, v_)
    rows = 1.0 + amp * np.sin(coord * (2 * np.pi) / per)
    img = palette[lut[pid]] * rows[..., None]
    # hedges along parcel borders
    du = np.minimum(u_ / cw - iu, 1 - (u_ / cw - iu)) * cw
    dv = np.minimum(v_ / ch - iv, 1 - (v_ / ch - iv)) * ch
    hedge = np.clip(1.0 - (np.minimum(du, dv) - 2.0 * unit) / (2.0 * unit), 0.0, 1.0)[..., None]
    img = img * (1 - hedge) + np.float32([48, 70, 36]) * hedge
    img *= (1.0 + 0.16 * _value_noise(rng, height, width, 180 * unit, octaves=5))[..., None]
    img = np.clip(img, 0, 255).astype(np.uint8)

    # side roads (straight, random) then the main road along the target path
    asphalt = (84, 85, 90)
    for _ in range(int(rng.integers(2, 4))):
        p = rng.uniform([0, 0], [width, height])
        t = rng.uniform(0, np.pi)
        q = p + 4 * max(width, height) * np.array([math.cos(t), math.sin(t)])
        p = p - 4 * max(width, height) * np.array([math.cos(t), math.sin(t)])
        rw = int(max(2, rng.uniform(0.5, 0.8) * road_width))
        cv2.line(img, tuple(np.round(p * 16).astype(int)), tuple(np.round(q * 16).astype(int)),
                 (150, 140, 120), rw + int(4 * unit) + 1, cv2.LINE_AA, 4)
        cv2.line(img, tuple(np.round(p * 16).astype(int)), tuple(np.round(q * 16).astype(int)),
                 asphalt, rw, cv2.LINE_AA, 4)
    pts16 = np.round(road * 16).astype(np.int32).reshape(-1, 1, 2)
    rw = int(round(road_width))
    cv2.polylines(img, [pts16], False, (160, 152, 130), rw + int(6 * unit) + 1, cv2.LINE_AA, 4)
    cv2.polylines(img, [pts16], False, asphalt, rw, cv2.LINE_AA, 4)
    _draw_dashed(img, road, (225, 225, 215), max(1, int(round(2 * unit))), 24 * unit)

    # buildings (with cast shadows) and trees, away from the main road
    def far_from_road(pt: np.ndarray, clearance: float) -> bool:
        return bool(np.min(np.hypot(*(road - pt).T)) > road_width / 2 + clearance)

    roofs = [(160, 82, 62), (140, 140, 142), (182, 172, 162), (100, 92, 86), (205, 205, 198), (120, 60, 50)]
    n_build = int(width * height / (260 * unit) ** 2 * 1.2)
    shadow_off = np.array([5.0, 7.0]) * unit
    for _ in range(n_build):
        c = rng.uniform([0, 0], [width, height])
        bw, bh = rng.uniform(28, 90, 2) * unit
        if not far_from_road(c, max(bw, bh)):
            continue
        ang = math.degrees(angle) + rng.choice([0, 90]) + rng.normal(0, 3)
        box = cv2.boxPoints(((float(c[0]), float(c[1])), (float(bw), float(bh)), ang))
        sh = np.vstack([box, box + shadow_off])
        hull = cv2.convexHull(sh.astype(np.float32))
        cv2.fillConvexPoly(img, np.round(hull * 16).astype(np.int32), (45, 50, 40), cv2.LINE_AA, 4)
        col = np.array(roofs[rng.integers(len(roofs))], float)
        cv2.fillConvexPoly(img, np.round(box * 16).astype(np.int32), col.tolist(), cv2.LINE_AA, 4)
        if np.hypot(*(box[0] - box[1])) < np.hypot(*(box[1] - box[2])):  # ridge along the long side
            mid1, mid2 = (box[0] + box[1]) / 2, (box[2] + box[3]) / 2
            tri = np.array([box[1], box[2], mid2, mid1])
        else:
            mid1, mid2 = (box[1] + box[2]) / 2, (box[3] + box[0]) / 2
            tri = np.array([box[2], box[3], mid2, mid1])
        cv2.fillConvexPoly(img, np.round(tri * 16).astype(np.int32), (col * 0.78).tolist(), cv2.LINE_AA, 4)
        cv2.line(img, tuple(np.round(mid1 * 16).astype(int)), tuple(np.round(mid2 * 16).astype(int)),
                 (col * 1.15).clip(0, 255).tolist(), max(1, int(2 * unit)), cv2.LINE_AA, 4)
    n_clusters = int(width * height / (220 * unit) ** 2)
    for _ in range(n_clusters):
        c = rng.uniform([0, 0], [width, height])
        spread = rng.uniform(15, 60) * unit
        for _ in range(int(rng.integers(3, 18))):
            p = c + rng.normal(0, spread, 2)
            r = rng.uniform(5, 13) * unit
            if not far_from_road(p, r):
                continue
            g = rng.uniform(0.75, 1.2)
            cv2.circle(img, tuple(np.round((p + shadow_off * 0.6) * 16).astype(int)), int(r * 16),
                       (30, 38, 26), -1, cv2.LINE_AA, 4)
            cv2.circle(img, tuple(np.round(p * 16).astype(int)), int(r * 16),
                       (int(50 * g), int(84 * g), int(36 * g)), -1, cv2.LINE_AA, 4)
            cv2.circle(img, tuple(np.round((p - r * 0.3) * 16).astype(int)), int(r * 0.5 * 16),
                       (int(72 * g), int(110 * g), int(50 * g)), -1, cv2.LINE_AA, 4)
    grain = rng.normal(0.0, 5.0, (height, width, 1)).astype(np.float32)
    return np.clip(img.astype(np.float32) + grain, 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- the scene
def _smooth_wave(rng: np.random.Generator, t: np.ndarray, period: float, n: int = 3) -> np.ndarray:
    """A smooth pseudo-random signal in about [-1, 1]: sum of ``n`` sines of random phase."""
    out = np.zeros_like(t)
    for k in range(n):
        f = rng.uniform(0.7, 1.4) * (1.6 ** k) / period
        out += math.sqrt(0.5) ** k * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return out / sum(math.sqrt(0.5) ** k for k in range(n))


class SyntheticScene:
    """Deterministic renderer of one synthetic sequence; calling it with a frame index returns the
    HxWx3 uint8 RGB frame (same index -> identical array). :attr:`boxes` holds the ground truth."""

    def __init__(self, params: ScenarioParams, width: int = 1280, height: int = 720, seed: int = 0):
        if width < 32 or height < 32:
            raise ValueError(f"frame size must be at least 32x32, got {width}x{height}")
        if params.num_frames < 1:
            raise ValueError(f"num_frames must be >= 1, got {params.num_frames}")
        self.params, self.width, self.height, self.seed = params, int(width), int(height), int(seed)
        self.num_frames = int(params.num_frames)
        self.unit = min(width, height) / 720.0
        rng = np.random.default_rng(seed)
        self._simulate(rng)
        self._build_textures(rng)
        self.boxes = np.array([self._gt_box(i) for i in range(self.num_frames)])

    # -- geometry -----------------------------------------------------------------------------
    def _simulate(self, rng: np.random.Generator) -> None:
        """Trajectories sampled ``_SUBSTEPS`` times per frame: target position/heading/scale,
        camera centre/altitude/yaw, photometry. World units = frame pixels at base altitude."""
        p, n, u = self.params, self.num_frames, self.unit
        t = np.arange(-2 * _SUBSTEPS, (n + 2) * _SUBSTEPS + 1) / _SUBSTEPS
        self._t = t
        span = max(n - 1, 1)
        tn = t / span
        heading0 = math.radians(p.heading_deg + rng.uniform(-1, 1) * p.heading_jitter_deg)
        heading = heading0 + math.radians(p.turn_deg) * np.sin(2 * np.pi * t / p.turn_period
                                                                + rng.uniform(-0.3, 0.3))
        burst = np.exp(-0.5 * ((tn - p.burst_time) / 0.06) ** 2)
        speed = p.speed * u * (1.0 + (p.speed_burst - 1.0) * burst)
        step = speed / _SUBSTEPS
        pos = np.cumsum(np.stack([step * np.cos(heading), step * np.sin(heading)], 1), 0)
        pos -= np.interp(span / 2, t, pos[:, 0]), 0
        pos[:, 1] -= np.interp(span / 2, t, pos[:, 1])
        # camera altitude: target magnification zoom(t) = zoom_ratio ** sin(pi t / span)
        mag = np.exp(math.log(p.zoom_ratio) * np.sin(np.pi * np.clip(tn, 0, 1)))
        cam_scale = 1.0 / mag  # world px per frame px
        yaw = math.radians(p.camera_yaw_deg) * _smooth_wave(rng, t, 140.0, 2)
        wander = p.frame_wander * np.stack([self.width * _smooth_wave(rng, t, 120.0),
                                            self.height * _smooth_wave(rng, t, 120.0)], 1)
        shake = p.camera_shake * u * np.stack([_smooth_wave(rng, t, 9.0), _smooth_wave(rng, t, 11.0)], 1)
        # follow: camera centre such that the target appears at frame centre + wander (rotated)
        c, s = np.cos(yaw), np.sin(yaw)
        rot_w = np.stack([c * wander[:, 0] - s * wander[:, 1], s * wander[:, 0] + c * wander[:, 1]], 1)
        follow = pos - cam_scale[:, None] * rot_w
        cam = p.camera_follow * follow + shake  # a still camera (follow 0) looks at the path's middle
        self._traj = {"x": pos[:, 0], "y": pos[:, 1], "heading": heading, "cam_x": cam[:, 0],
                      "cam_y": cam[:, 1], "cam_scale": cam_scale, "yaw": yaw}
        gmin, gmax = p.gain_range
        gam_min, gam_max = p.gamma_range
        self._gain = gmin + (gmax - gmin) * 0.5 * (1 + _smooth_wave(rng, t, 0.9 * max(n, 30), 2))
        self._gamma = gam_min + (gam_max - gam_min) * 0.5 * (1 + _smooth_wave(rng, t, 0.7 * max(n, 30), 2))
        # world extent: every view corner over time, plus margins (shift the world origin there)
        fc = np.array([(self.width - 1) / 2.0, (self.height - 1) / 2.0])
        corners = np.array([[0, 0], [self.width, 0], [0, self.height], [self.width, self.height]]) - fc
        pts = []
        for k in range(0, len(t), _SUBSTEPS):
            r = cam_scale[k] * _rot(yaw[k])
            pts.append(corners @ r.T + cam[k])
        pts = np.concatenate(pts + [pos])
        margin = 48 * u + 4
        lo, hi = pts.min(0) - margin, pts.max(0) + margin
        self._origin = -lo
        self._world_size = (int(math.ceil(hi[1] - lo[1])), int(math.ceil(hi[0] - lo[0])))  # (h, w)
        self._frame_centre = fc

    def _state(self, t: float) -> dict:
        return {k: float(np.interp(t, self._t, v)) for k, v in self._traj.items()}

    def _camera_inverse(self, st: dict) -> np.ndarray:
        """2x3 affine mapping frame pixels to world (terrain image) pixels."""
        r = st["cam_scale"] * _rot(st["yaw"])
        centre = np.array([st["cam_x"], st["cam_y"]]) + self._origin
        return np.hstack([r, (centre - r @ self._frame_centre)[:, None]])

    def _to_frame(self, st: dict, world_xy: np.ndarray) -> np.ndarray:
        """World (terrain-image) point -> frame pixel, with the camera state ``st``."""
        r = _rot(-st["yaw"]) / st["cam_scale"]
        centre = np.array([st["cam_x"], st["cam_y"]]) + self._origin
        return self._frame_centre + r @ (world_xy - centre)

    def _sprite_affine(self, sprite: _Sprite, st: dict, world_xy: np.ndarray, angle: float) -> np.ndarray:
        """2x3 affine mapping sprite pixels to frame pixels (sprite centred at ``world_xy``)."""
        lin = sprite.world_per_pixel / st["cam_scale"] * _rot(angle - st["yaw"])
        centre = self._to_frame(st, world_xy)
        return np.hstack([lin, (centre - lin @ sprite.centre)[:, None]])

    def _target_world(self, st: dict) -> np.ndarray:
        return np.array([st["x"], st["y"]]) + self._origin

    def _gt_box(self, index: int) -> np.ndarray:
        """Exact axis-aligned box of the rotated rounded-rectangle body (see module docstring)."""
        st = self._state(index)
        k = 1.0 / st["cam_scale"]
        a, b, r = self._half_length * k, self._half_width * k, self._corner * k
        th = st["heading"] - st["yaw"]
        c, s = abs(math.cos(th)), abs(math.sin(th))
        ex, ey = (a - r) * c + (b - r) * s + r, (a - r) * s + (b - r) * c + r
        cx, cy = self._to_frame(st, self._target_world(st))
        if cx + ex < -0.5 or cy + ey < -0.5 or cx - ex > self.width - 0.5 or cy - ey > self.height - 0.5:
            return np.full(4, np.nan)
        x0, y0 = np.round(np.array([cx - ex + 0.5, cy - ey + 0.5]) / GT_RESOLUTION) * GT_RESOLUTION
        x1, y1 = np.round(np.array([cx + ex + 0.5, cy + ey + 0.5]) / GT_RESOLUTION) * GT_RESOLUTION
        return np.array([x0, y0, x1 - x0, y1 - y0])

    # -- textures -----------------------------------------------------------------------------
    def _build_textures(self, rng: np.random.Generator) -> None:
        p, u = self.params, self.unit
        length, width = p.target_length * u, p.target_width * u
        self._half_length, self._half_width = length / 2.0, width / 2.0
        self._corner = 0.22 * width
        over = _SPRITE_OVERSAMPLE * max(p.zoom_ratio, 1.0) ** 0.5
        sp_len, sp_wid = max(length * over, 8.0), max(width * over, 4.0)
        car = _make_car(rng, sp_len, sp_wid, self._corner * sp_wid / width)
        self._car = _Sprite(car, length / sp_len)
        # the road the car drives on: its path extended both ways; the car keeps to the right lane
        lane = 0.75 * width
        path = np.stack([self._traj["x"], self._traj["y"]], 1)[::_SUBSTEPS] + self._origin
        head = self._traj["heading"][::_SUBSTEPS]
        normal = np.stack([np.sin(head), -np.cos(head)], 1)  # to the left of the driving direction
        centre = path + lane * normal
        ext = 4.0 * max(self.width, self.height) * u
        d0 = centre[1] - centre[0]
        d1 = centre[-1] - centre[-2]
        d0 = d0 / max(np.hypot(*d0), 1e-9)
        d1 = d1 / max(np.hypot(*d1), 1e-9)
        road = np.vstack([centre[0] - ext * d0, centre, centre[-1] + ext * d1])
        wh, ww = self._world_size
        self._world = _make_terrain(rng, wh, ww, u, road, road_width=4.0 * lane)
        # occluding canopy, placed beside the path at the occlusion time so that it hides about
        # ``occlusion_fraction`` of the target's width as the car drives past
        self._canopy = None
        if p.occlusion_fraction > 0:
            t_occ = p.occlusion_time * max(self.num_frames - 1, 1)
            st = self._state(t_occ)
            radius = 0.9 * length
            sprite = _make_canopy(rng, radius * 1.0)
            hd = st["heading"]
            lateral = np.array([-math.sin(hd), math.cos(hd)])  # the car's right side
            side = 1.0 if rng.random() < 0.5 else -1.0
            # coverage: the chord at depth d into a disc of radius R across a bar of half-width b
            dist = radius + self._half_width - 2 * self._half_width * p.occlusion_fraction * 1.15
            centre_w = self._target_world(st) + side * (dist + 0.3 * radius) * lateral
            # canopy sprite's +y (round side) must point at the path
            angle = math.atan2(-side * lateral[1], -side * lateral[0]) - math.pi / 2
            self._canopy = (_Sprite(sprite, 1.0), centre_w, angle)
        # cloud shadow: a soft blob (low-res) drifting across the view
        self._cloud = None
        if p.cloud_shadow > 0:
            blob = np.clip(0.6 + 0.8 * _value_noise(rng, 64, 64, 12, octaves=3), 0, 1)
            yy, xx = np.mgrid[0:64, 0:64]
            blob *= np.clip(1.6 - np.hypot(xx - 31.5, yy - 31.5) / 20.0, 0, 1)
            self._cloud = cv2.GaussianBlur(blob.astype(np.float32), (0, 0), 2.0)
            self._cloud_dir = rng.uniform(0, 2 * np.pi)
        # sensor noise (signed, split in two saturating uint8 layers), shifted per frame
        if p.noise_sigma > 0:
            noise = rng.normal(0.0, p.noise_sigma, (self.height + 16, self.width + 16, 3))
            self._noise_pos = np.clip(noise, 0, 255).astype(np.uint8)
            self._noise_neg = np.clip(-noise, 0, 255).astype(np.uint8)
        else:
            self._noise_pos = None

    # -- rendering ------------------------------------------------------------------------------
    def __call__(self, index: int) -> np.ndarray:
        return self.render(index)

    def __len__(self) -> int:
        return self.num_frames

    def render(self, index: int, *, target: bool = True, occluder: bool = True,
               photometry: bool = True) -> np.ndarray:
        """Frame ``index`` as HxWx3 uint8 RGB. ``target``/``occluder``/``photometry`` (illumination,
        blur and noise) can be switched off for diagnostics."""
        if not isinstance(index, int | np.integer) or not 0 <= index < self.num_frames:
            raise IndexError(f"frame index {index!r} out of range 0..{self.num_frames - 1}")
        index = int(index)
        p = self.params
        st = self._state(index)
        frame = cv2.warpAffine(self._world, self._camera_inverse(st), (self.width, self.height),
                               flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
        if target:
            poses = [st]
            rel = np.zeros(2)
            if photometry and p.exposure > 0:  # the target's motion relative to the background
                half = 0.5 * p.exposure
                s0, s1 = self._state(index - half), self._state(index + half)
                rel = self._to_frame(st, self._target_world(s1)) - self._to_frame(st, self._target_world(s0))
                taps = int(min(_MAX_BLUR_TAPS, math.ceil(np.hypot(*rel))))
                if taps >= 2:
                    poses = [self._state(index + half * (2 * j / (taps - 1) - 1)) for j in range(taps)]
            affines = [self._sprite_affine(self._car, st, self._target_world(q), q["heading"]) for q in poses]
            self._composite(frame, self._car, affines)
        if occluder and self._canopy is not None:
            sprite, centre_w, angle = self._canopy
            self._composite(frame, sprite, [self._sprite_affine(sprite, st, centre_w, angle)])
        if photometry:
            frame = self._photometry(frame, index, st)
        return frame

    def _composite(self, frame: np.ndarray, sprite: _Sprite, affines: list[np.ndarray]) -> None:
        """Alpha-blend the sprite (averaged over the given poses, i.e. motion blur) into ``frame``."""
        h, w = sprite.rgba.shape[:2]
        corners = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [-0.5, h - 0.5, 1], [w - 0.5, h - 0.5, 1]])
        pts = np.concatenate([corners @ a.T for a in affines])
        x0, y0 = np.floor(pts.min(0)).astype(int) - 1
        x1, y1 = np.ceil(pts.max(0)).astype(int) + 2
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, self.width), min(y1, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        acc = None
        for a in affines:
            m = a.copy()
            m[:, 2] -= (x0, y0)
            warped = cv2.warpAffine(sprite.rgba, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(np.float32)
            acc = warped if acc is None else acc + warped
        acc *= 1.0 / len(affines)
        roi = frame[y0:y1, x0:x1].astype(np.float32)
        alpha = acc[..., 3:4] * (1.0 / 255.0)
        frame[y0:y1, x0:x1] = np.clip(roi * (1.0 - alpha) + acc[..., :3] + 0.5, 0, 255).astype(np.uint8)

    def _photometry(self, frame: np.ndarray, index: int, st: dict) -> np.ndarray:
        p = self.params
        if p.exposure > 0:  # camera motion blur: displacement of the view centre during exposure
            half = 0.5 * p.exposure
            world_c = self._camera_inverse(st) @ np.append(self._frame_centre, 1.0)
            d = self._to_frame(self._state(index + half), world_c) - self._to_frame(self._state(index - half),
                                                                                    world_c)
            frame = _line_blur(frame, d)
        if self._cloud is not None:
            span = max(self.num_frames - 1, 1)
            travel = 1.6 * max(self.width, self.height)
            frac = index / span - 0.5
            centre = self._frame_centre + travel * frac * np.array([math.cos(self._cloud_dir),
                                                                    math.sin(self._cloud_dir)])
            size = 0.9 * max(self.width, self.height) / st["cam_scale"] * 0.8
            scale = size / 64.0
            m = np.array([[scale, 0, centre[0] - 31.5 * scale], [0, scale, centre[1] - 31.5 * scale]]) / 8.0
            small = cv2.warpAffine(self._cloud, m, ((self.width + 7) // 8, (self.height + 7) // 8),
                                   flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            if small.max() > 0.01:
                shade = 1.0 - p.cloud_shadow * cv2.resize(small, (self.width, self.height),
                                                          interpolation=cv2.INTER_LINEAR)
                shade8 = np.clip(shade * 255.0 + 0.5, 0, 255).astype(np.uint8)
                frame = cv2.multiply(frame, cv2.merge([shade8, shade8, shade8]), scale=1.0 / 255.0)
        gain = float(np.interp(index, self._t, self._gain))
        gamma = float(np.interp(index, self._t, self._gamma))
        if abs(gain - 1.0) > 1e-6 or abs(gamma - 1.0) > 1e-6:
            levels = np.arange(256) / 255.0
            lut = np.clip(255.0 * np.clip(gain * levels, 0, None) ** gamma + 0.5, 0, 255).astype(np.uint8)
            frame = cv2.LUT(frame, lut)
        if self._noise_pos is not None:
            oy, ox = (index * 7) % 16, (index * 11) % 16
            sl = np.s_[oy:oy + self.height, ox:ox + self.width]
            frame = cv2.subtract(cv2.add(frame, self._noise_pos[sl]), self._noise_neg[sl])
        return frame

    # -- diagnostics --------------------------------------------------------------------------------
    def target_alpha(self, index: int) -> np.ndarray:
        """HxW float32 coverage (0..1) of the target in frame ``index`` (no blur, occluder ignored)."""
        st = self._state(index)
        mask = np.zeros((self.height, self.width, 3), np.uint8)
        white = _Sprite(np.dstack([self._car.rgba[..., 3:]] * 3 + [self._car.rgba[..., 3:]]),
                        self._car.world_per_pixel)
        affine = self._sprite_affine(self._car, st, self._target_world(st), st["heading"])
        self._composite(mask, white, [affine])
        return mask[..., 0].astype(np.float32) / 255.0

    def occluded_fraction(self, index: int) -> float:
        """Fraction of the target's area hidden by the occluder in frame ``index`` (0 without one)."""
        if self._canopy is None:
            return 0.0
        st = self._state(index)
        sprite, centre_w, angle = self._canopy
        canopy_alpha = np.zeros((self.height, self.width, 3), np.uint8)
        white = _Sprite(np.dstack([sprite.rgba[..., 3:]] * 4), sprite.world_per_pixel)
        self._composite(canopy_alpha, white, [self._sprite_affine(sprite, st, centre_w, angle)])
        target = self.target_alpha(index)
        area = float(target.sum())
        return float((target * canopy_alpha[..., 0] / 255.0).sum() / area) if area > 0 else 0.0


def _line_blur(frame: np.ndarray, displacement: np.ndarray) -> np.ndarray:
    """Linear motion blur along ``displacement`` (pixels). Kernels stay <= 9x9 so OpenCV filters
    directly (no DFT); longer blurs repeat a shorter line kernel (a smooth, near-box profile)."""
    length = float(np.hypot(*displacement))
    if length < 1.5:
        return frame
    passes = int(math.ceil(length / 8.0))
    seg = displacement / passes
    size = 9
    kernel = np.zeros((size, size), np.float32)
    c = (size - 1) / 2.0
    for s in np.linspace(-0.5, 0.5, 17):
        x, y = c + s * seg[0], c + s * seg[1]
        ix, iy = int(math.floor(x)), int(math.floor(y))
        fx, fy = x - ix, y - iy
        for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy),
                            (1, 1, fx * fy)):
            if 0 <= ix + dx < size and 0 <= iy + dy < size:
                kernel[iy + dy, ix + dx] += wgt
    kernel /= kernel.sum()
    for _ in range(passes):
        frame = cv2.filter2D(frame, -1, kernel, borderType=cv2.BORDER_REFLECT)
    return frame


# ----------------------------------------------------------------------------- public API
def make_sequence(preset: str = "aerial", *, num_frames: int | None = None, width: int = 1280,
                  height: int = 720, seed: int = 0, **overrides) -> Sequence:
    """Build the synthetic sequence ``preset`` (a key of :data:`PRESETS`).

    ``overrides`` replace fields of the preset's :class:`ScenarioParams`. The returned sequence has
    no frame paths; ``render(index)`` draws frame ``index`` deterministically.
    """
    if preset not in PRESETS:
        raise DatasetError(f"unknown synthetic preset {preset!r}; choose from {sorted(PRESETS)}")
    params = PRESETS[preset]
    valid = {f.name for f in dataclasses.fields(ScenarioParams)}
    unknown = sorted(set(overrides) - valid)
    if unknown:
        raise TypeError(f"unknown scenario parameter(s) {unknown}; valid: {sorted(valid)}")
    if num_frames is not None:
        overrides["num_frames"] = int(num_frames)
    params = dataclasses.replace(params, **overrides)
    scene = SyntheticScene(params, width=width, height=height, seed=seed)
    attributes = {c: c in params.challenges for c in CHALLENGES}
    attributes.update(challenges=tuple(params.challenges), seed=int(seed), width=int(width),
                      height=int(height))
    return Sequence(name=preset, dataset="synthetic", boxes=scene.boxes, frames=[], fps=30.0,
                    render=scene, attributes=attributes)


def write_sequence(seq: Sequence, out_dir: str | Path, ext: str = "jpg",
                   progress: Callable[[int, int], None] | None = None) -> Path:
    """Write ``seq`` as an OTB-layout folder: ``img/0001.<ext>`` ... and ``groundtruth_rect.txt``
    (one ``x,y,w,h`` line per frame, 1-based, comma separated; ``NaN`` rows kept). Returns the folder."""
    ext = ext.lower().lstrip(".")
    if ext not in ("jpg", "jpeg", "png", "bmp"):
        raise ValueError(f"unsupported image extension {ext!r} (jpg, png or bmp)")
    out = Path(out_dir)
    (out / "img").mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in ("jpg", "jpeg") else []
    for i in range(len(seq)):
        path = out / "img" / f"{i + 1:04d}.{ext}"
        if not cv2.imwrite(str(path), cv2.cvtColor(seq.frame(i), cv2.COLOR_RGB2BGR), params):
            raise DatasetError(f"cannot write {path}")
        if progress is not None:
            progress(i + 1, len(seq))
    boxes = seq.boxes.copy()
    boxes[:, :2] += 1.0
    lines = [",".join("NaN" if not np.isfinite(v) else f"{v:.3f}" for v in row) for row in boxes]
    (out / "groundtruth_rect.txt").write_text("\n".join(lines) + "\n")
    return out
