"""Dataset sequence -> rosbag2 directory, as a camera + ground station would have produced it.

Topics (all headers ``frame_id = "camera_optical"``, frame ``i`` stamped
``EPOCH_NS + round(i * 1e9 / fps)``, bag time = header stamp unless said otherwise):

* ``/camera/image_raw`` sensor_msgs/Image per frame (``rgb8`` or ``bgr8``, via
  :func:`cfvgg_ros.ros.conversions.rgb_to_image`);
* ``/camera/camera_info`` sensor_msgs/CameraInfo per frame, only when the intrinsics are known:
  synthetic sequences are rendered by an ideal pinhole camera, written as
  :func:`synthetic_camera_info` (60 degree horizontal field of view, square pixels, principal
  point at the image centre, no distortion); benchmark datasets publish no calibration, so
  their bags have no camera_info;
* ``/init_bbox`` sensor_msgs/RegionOfInterest and ``/init_bbox_stamped``
  geometry_msgs/PolygonStamped (four corners, header stamp = the init frame's stamp), once, at
  the init frame = the first frame with a valid ground-truth box (frame 0 unless the target is
  absent there, as in OPE). Their bag time is half a frame period after that frame, so a player
  publishes the frame before the box meant for it;
* ``/groundtruth`` geometry_msgs/PolygonStamped per frame: the corners ``(x, y)``,
  ``(x + w, y)``, ``(x + w, y + h)``, ``(x, y + h)`` of the 0-based ``(x, y, w, h)`` box, an empty
  polygon where the target is absent (NaN box).

Offered QoS recorded per topic as ``ros2 bag record`` does: images, camera_info and ground
truth reliable/volatile keep-last 10 (a reliable offer matches best-effort and reliable
subscriptions alike); the two init topics reliable/transient-local keep-last 1, so a
subscriber that asks for transient-local still gets the box after joining late. The sequence
name, frame rate, init frame and frame count are stored in the metadata's ``custom_data``
(keys ``cfvgg_ros.*``).
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from cfvgg_ros.bags import (
    BAG_VERSION,
    CAMERA_FRAME_ID,
    CAMERA_INFO_TOPIC,
    EPOCH_NS,
    GROUNDTRUTH_TOPIC,
    IMAGE_TOPIC,
    INIT_BBOX_STAMPED_TOPIC,
    INIT_BBOX_TOPIC,
    STORAGES,
    BagError,
    prepare_bag_dir,
)
from cfvgg_ros.ros.stamps import ns_to_sec_nanosec

#: encodings ``make`` can write (both decode back to the same RGB pixels).
ENCODINGS = ("rgb8", "bgr8")
#: horizontal field of view of the synthetic camera, degrees.
SYNTHETIC_HFOV_DEG = 60.0
#: metadata custom_data keys.
META_SEQUENCE = "cfvgg_ros.sequence"
META_FPS = "cfvgg_ros.fps"
META_INIT_FRAME = "cfvgg_ros.init_frame"
META_NUM_FRAMES = "cfvgg_ros.num_frames"

_INFINITE_SEC, _INFINITE_NSEC = divmod(2**63 - 1, 1_000_000_000)  # RMW_DURATION_INFINITE


@dataclass
class MadeBag:
    """What :func:`make_bag` wrote."""

    path: Path
    sequence: str
    num_frames: int
    fps: float
    init_frame: int
    storage: str
    encoding: str
    has_camera_info: bool
    first_stamp_ns: int


def offered_qos(reliable: bool = True, transient_local: bool = False, depth: int = 10):
    """A rosbags ``Qos`` offer (keep-last ``depth``, infinite deadline/lifespan/lease,
    automatic liveliness), the form ``ros2 bag record`` stores per topic."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime

    infinite = QosTime(_INFINITE_SEC, _INFINITE_NSEC)
    return Qos(
        QosHistory.KEEP_LAST,
        int(depth),
        QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
        QosDurability.TRANSIENT_LOCAL if transient_local else QosDurability.VOLATILE,
        infinite,
        infinite,
        QosLiveliness.AUTOMATIC,
        infinite,
        False,
    )


def stamp_ns(index: int, fps: float) -> int:
    """Header stamp of frame ``index`` at ``fps``: ``EPOCH_NS + round(index * 1e9 / fps)``."""
    return EPOCH_NS + round(index * 1e9 / fps)


def box_polygon(box) -> list[tuple[float, float]]:
    """Corners of an ``(x, y, w, h)`` box, clockwise in image coordinates from the top-left;
    ``[]`` for a box with NaN or infinite entries."""
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return []
    return [(x, y), (x + w, y), (x + w, y + h), (x, y + h)]


def synthetic_camera_info(width: int, height: int, hfov_deg: float = SYNTHETIC_HFOV_DEG) -> dict:
    """Intrinsics of the ideal pinhole camera that renders synthetic sequences:
    ``fx = fy = (width / 2) / tan(hfov / 2)``, ``cx = (width - 1) / 2``, ``cy = (height - 1) / 2``
    (pixel centres at integer coordinates), ``plumb_bob`` with zero distortion, ``P = [K | 0]``.
    Returns the CameraInfo fields ``k``, ``d``, ``r``, ``p`` (flat lists) and ``distortion_model``."""
    if width <= 0 or height <= 0:
        raise BagError(f"camera size must be positive, got {width}x{height}")
    if not 0.0 < hfov_deg < 180.0:
        raise BagError(f"horizontal field of view must be in (0, 180) degrees, got {hfov_deg}")
    focal = (width / 2.0) / math.tan(math.radians(hfov_deg) / 2.0)
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    k = [focal, 0.0, cx, 0.0, focal, cy, 0.0, 0.0, 1.0]
    return {
        "distortion_model": "plumb_bob",
        "d": [0.0] * 5,
        "k": k,
        "r": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
        "p": [focal, 0.0, cx, 0.0, 0.0, focal, cy, 0.0, 0.0, 0.0, 1.0, 0.0],
    }


def init_roi(box, width: int, height: int) -> tuple[int, int, int, int]:
    """``(x_offset, y_offset, width, height)`` of a RegionOfInterest for a float box: the box
    rounded to whole pixels and clipped to the image (at least one pixel wide and high)."""
    x, y, w, h = (float(v) for v in box)
    left = min(max(round(x), 0), width - 1)
    top = min(max(round(y), 0), height - 1)
    right = min(max(round(x + w), left + 1), width)
    bottom = min(max(round(y + h), top + 1), height)
    return left, top, right - left, bottom - top


def _valid_box_mask(boxes: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


def _load(spec, data_root, synthetic_size, max_frames):
    """A Sequence from a spec string (``synthetic/<preset>`` honours ``synthetic_size``)."""
    from cfvgg_ros.datasets import Sequence, resolve

    if isinstance(spec, Sequence):
        return spec
    spec = str(spec)
    if synthetic_size is not None and spec.lower().startswith("synthetic/"):
        from cfvgg_ros.datasets.synthetic import make_sequence

        width, height = synthetic_size
        return make_sequence(spec.split("/", 1)[1], width=int(width), height=int(height),
                             num_frames=max_frames)
    return resolve(spec, data_root)


def make_bag(
    sequence,
    out_dir,
    *,
    data_root=None,
    storage: str = "mcap",
    fps: float | None = None,
    max_frames: int | None = None,
    encoding: str = "rgb8",
    synthetic_size: tuple[int, int] | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> MadeBag:
    """Write ``sequence`` (a :class:`~cfvgg_ros.datasets.Sequence` or a spec for
    :func:`cfvgg_ros.datasets.resolve`: ``"UAV123_10fps/person11"``, ``"synthetic/aerial"``, a
    folder) to the rosbag2 directory ``out_dir`` (see the module docstring for its topics).

    ``fps`` overrides the sequence's frame rate, ``max_frames`` keeps the first frames only,
    ``synthetic_size = (width, height)`` renders ``synthetic/<preset>`` specs at that size.
    ``progress(done, total)`` is called after each frame. Returns a :class:`MadeBag`.
    """
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from cfvgg_ros.ros.conversions import rgb_to_image

    if storage not in STORAGES:
        raise BagError(f"unknown storage {storage!r}; choose one of {STORAGES}")
    if encoding not in ENCODINGS:
        raise BagError(f"unknown encoding {encoding!r}; choose one of {ENCODINGS}")
    if max_frames is not None and int(max_frames) < 1:
        raise BagError(f"max_frames must be at least 1, got {max_frames}")
    seq = _load(sequence, data_root, synthetic_size, max_frames)
    rate = float(seq.fps if fps is None else fps)
    if not math.isfinite(rate) or rate <= 0:
        raise BagError(f"frame rate must be a positive number, got {rate}")
    count = len(seq) if max_frames is None else min(len(seq), int(max_frames))
    if count == 0:
        raise BagError(f"{seq.dataset}/{seq.name} has no frames")
    boxes = np.asarray(seq.boxes[:count], dtype=np.float64)
    valid = _valid_box_mask(boxes)
    if not valid.any():
        raise BagError(f"{seq.dataset}/{seq.name}: no valid ground-truth box in the first {count} frames")
    init_frame = int(np.argmax(valid))
    known_camera = seq.dataset == "synthetic"

    out = Path(out_dir)
    prepare_bag_dir(out, overwrite)
    ts = get_typestore(Stores.ROS2_JAZZY)
    T = ts.types
    Time, Header = T["builtin_interfaces/msg/Time"], T["std_msgs/msg/Header"]
    Point32, Polygon = T["geometry_msgs/msg/Point32"], T["geometry_msgs/msg/Polygon"]
    PolygonStamped = T["geometry_msgs/msg/PolygonStamped"]
    RegionOfInterest = T["sensor_msgs/msg/RegionOfInterest"]
    Image, CameraInfo = T["sensor_msgs/msg/Image"], T["sensor_msgs/msg/CameraInfo"]

    def header(ns: int):
        sec, nanosec = ns_to_sec_nanosec(ns)
        return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=CAMERA_FRAME_ID)

    def polygon(ns: int, box):
        points = [Point32(x=float(px), y=float(py), z=0.0) for px, py in box_polygon(box)]
        return PolygonStamped(header=header(ns), polygon=Polygon(points=points))

    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    frame_qos = [offered_qos(reliable=True, depth=10)]
    latched_qos = [offered_qos(reliable=True, transient_local=True, depth=1)]
    half_period = round(0.5e9 / rate)
    first_stamp = stamp_ns(0, rate)
    try:
        writer = Writer(out, version=BAG_VERSION, storage_plugin=plugin)
        writer.open()
    except Exception as exc:
        raise BagError(f"cannot create bag {out}: {exc}") from exc
    try:
        image_conn = writer.add_connection(IMAGE_TOPIC, Image.__msgtype__, typestore=ts,
                                           offered_qos_profiles=frame_qos)
        info_conn = None
        if known_camera:
            info_conn = writer.add_connection(CAMERA_INFO_TOPIC, CameraInfo.__msgtype__, typestore=ts,
                                              offered_qos_profiles=frame_qos)
        roi_conn = writer.add_connection(INIT_BBOX_TOPIC, RegionOfInterest.__msgtype__, typestore=ts,
                                         offered_qos_profiles=latched_qos)
        init_conn = writer.add_connection(INIT_BBOX_STAMPED_TOPIC, PolygonStamped.__msgtype__, typestore=ts,
                                          offered_qos_profiles=latched_qos)
        gt_conn = writer.add_connection(GROUNDTRUTH_TOPIC, PolygonStamped.__msgtype__, typestore=ts,
                                        offered_qos_profiles=frame_qos)
        width = height = 0
        for index in range(count):
            ns = stamp_ns(index, rate)
            frame = seq.frame(index)
            filled = rgb_to_image(frame, SimpleNamespace(), encoding)
            height, width = int(filled.height), int(filled.width)
            if info_conn is not None:
                cam = synthetic_camera_info(width, height)
                info = CameraInfo(
                    header=header(ns), height=height, width=width,
                    distortion_model=cam["distortion_model"],
                    d=np.array(cam["d"], dtype=np.float64), k=np.array(cam["k"], dtype=np.float64),
                    r=np.array(cam["r"], dtype=np.float64), p=np.array(cam["p"], dtype=np.float64),
                    binning_x=0, binning_y=0,
                    roi=RegionOfInterest(x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
                )
                writer.write(info_conn, ns, ts.serialize_cdr(info, CameraInfo.__msgtype__))
            image = Image(
                header=header(ns), height=height, width=width, encoding=filled.encoding,
                is_bigendian=0, step=int(filled.step), data=np.frombuffer(filled.data, dtype=np.uint8),
            )
            writer.write(image_conn, ns, ts.serialize_cdr(image, Image.__msgtype__))
            writer.write(gt_conn, ns, ts.serialize_cdr(polygon(ns, boxes[index]), PolygonStamped.__msgtype__))
            if index == init_frame:
                left, top, roi_w, roi_h = init_roi(boxes[index], width, height)
                roi = RegionOfInterest(x_offset=left, y_offset=top, height=roi_h, width=roi_w,
                                       do_rectify=False)
                writer.write(roi_conn, ns + half_period, ts.serialize_cdr(roi, RegionOfInterest.__msgtype__))
                writer.write(init_conn, ns + half_period,
                             ts.serialize_cdr(polygon(ns, boxes[index]), PolygonStamped.__msgtype__))
            if progress is not None:
                progress(index + 1, count)
        name = f"{seq.dataset}/{seq.name}"
        writer.set_custom_data(META_SEQUENCE, name)
        writer.set_custom_data(META_FPS, repr(rate))
        writer.set_custom_data(META_INIT_FRAME, str(init_frame))
        writer.set_custom_data(META_NUM_FRAMES, str(count))
    except BaseException:
        writer.close()
        shutil.rmtree(out, ignore_errors=True)
        raise
    writer.close()
    return MadeBag(path=out, sequence=name, num_frames=count, fps=rate, init_frame=init_frame,
                   storage=storage, encoding=encoding, has_camera_info=known_camera,
                   first_stamp_ns=first_stamp)
