"""Score a recorded output bag against the ground truth of the input bag it was tracked on.

Frames are matched by header stamp: the node copies each image's header onto its outputs, so
output ``k`` belongs to the ground-truth frame with the same stamp (nearest stamp within
``stamp_tolerance_ns``, 1 ms by default, far below any frame period). A frame without an
output, or with an empty polygon (target lost), gets a NaN box, i.e. a failure. As in offline
one-pass evaluation (:func:`cfvgg_ros.evaluation.runner.run_sequence`) the init frame's box is
its ground-truth box and frames before it stay NaN. The boxes are
then scored with :func:`cfvgg_ros.evaluation.metrics.score_sequence` under each rule set.

Polygons become boxes as their axis-aligned bounds (``x = min x``, ``w = max x - min x``), so two
corners or four in any order give the same box. Timing comes from the node's
diagnostic_msgs/DiagnosticArray status topic when it was recorded: every numeric key/value is
summarised (mean, p95, last) -- the tracker FPS is the mean of ``tracker_fps`` (else ``fps``),
the latency the mean of ``latency_ms`` and ``latency_p95_ms`` (keys of
:meth:`cfvgg_ros.ros.status.NodeStatus.key_values`). The recorded output rate is outputs per
second of reception time in the output bag.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cfvgg_ros.bags import (
    GROUNDTRUTH_TOPIC,
    INIT_BBOX_STAMPED_TOPIC,
    OUTPUT_BOX_TOPIC,
    STATUS_TOPIC,
    BagError,
)
from cfvgg_ros.ros.stamps import stamp_to_ns

DEFAULT_STAMP_TOLERANCE_NS = 1_000_000


@dataclass
class GroundTruth:
    """Per-frame ground truth of an input bag: header stamps (N,) int64 ns, boxes (N, 4)
    0-based ``(x, y, w, h)`` (NaN rows where absent), the init frame and the sequence's name and
    frame rate (from the metadata written by ``make``; NaN / the bag name when absent)."""

    stamps_ns: np.ndarray
    boxes: np.ndarray
    init_frame: int
    sequence: str
    fps: float


@dataclass
class Outputs:
    """Tracker outputs of an output bag: header stamps (M,), boxes (M, 4), reception times (M,)."""

    stamps_ns: np.ndarray
    boxes: np.ndarray
    receive_ns: np.ndarray


@dataclass
class StatSummary:
    """Mean, 95th percentile, last value and count of one numeric diagnostic value."""

    mean: float
    p95: float
    last: float
    count: int


@dataclass
class BagScores:
    """Result of :func:`score_bags`: matched boxes (N, 4) per ground-truth frame, which frames
    had an output, the scores per rule set, output counts and timing (see the module docstring)."""

    sequence: str
    boxes: np.ndarray
    gt_boxes: np.ndarray
    stamps_ns: np.ndarray
    matched: np.ndarray
    init_frame: int
    scores: dict = field(default_factory=dict)
    num_outputs: int = 0
    unmatched_outputs: int = 0
    duplicate_outputs: int = 0
    output_rate_hz: float = float("nan")
    diagnostics: dict = field(default_factory=dict)

    def _diagnostic_mean(self, key: str) -> float:
        summary = self.diagnostics.get(key)
        return summary.mean if summary is not None else float("nan")

    @property
    def tracker_fps(self) -> float:
        """The tracker's speed reported by the node (mean of the status ``tracker_fps``, else
        ``fps``), NaN when the status topic was not recorded."""
        fps = self._diagnostic_mean("tracker_fps")
        return fps if math.isfinite(fps) else self._diagnostic_mean("fps")

    @property
    def node_fps(self) -> float:
        """The node's output rate from its status (mean of ``fps``), NaN when unknown."""
        return self._diagnostic_mean("fps")

    def summary(self) -> str:
        """A few human-readable lines: frames with output, AUC and precision per rule set, FPS."""
        count = int(self.matched.sum())
        lines = [f"{self.sequence}: {count}/{len(self.matched)} frames with a tracker output "
                 f"({self.num_outputs} outputs, {self.unmatched_outputs} unmatched, "
                 f"{self.duplicate_outputs} duplicate stamps)"]
        for rules, score in self.scores.items():
            lines.append(f"  {rules:6s} AUC {100 * score.auc:5.1f}"
                         f"  precision@20px {100 * score.precision20:5.1f}"
                         f"  ({score.num_frames} frames)")
        def text(value: float, unit: str = "") -> str:
            return "n/a" if math.isnan(value) else f"{value:.1f}{unit}"

        lines.append(f"  tracker FPS {text(self.tracker_fps)}   node output {text(self.node_fps, ' Hz')}"
                     f"   recorded output rate {text(self.output_rate_hz, ' Hz')}")
        if "latency_ms" in self.diagnostics:
            p95 = self._diagnostic_mean("latency_p95_ms")
            lines.append(f"  latency receipt->publish over the node's status windows: mean "
                         f"{self.diagnostics['latency_ms'].mean:.1f} ms, p95 {text(p95, ' ms')}")
        skipped = self.diagnostics.get("frames_skipped", self.diagnostics.get("dropped_frames"))  # older nodes
        if skipped is not None:
            lines.append(f"  frames skipped by the node {skipped.last:.0f}")
        return "\n".join(lines)

    def to_sequence_result(self, tracker: str, dataset: str | None = None, name: str | None = None):
        """A :class:`~cfvgg_ros.evaluation.results.SequenceResult` of these boxes (scores and
        per-frame times NaN: the bag holds no per-frame timing; FPS, rate and diagnostics go
        into ``metadata``)."""
        from cfvgg_ros.evaluation.results import SequenceResult

        seq_dataset, _, seq_name = self.sequence.rpartition("/")
        n = len(self.boxes)
        return SequenceResult(
            tracker=tracker, dataset=dataset or seq_dataset or "bag", sequence=name or seq_name,
            boxes=self.boxes, scores=np.full(n, np.nan), times=np.full(n, np.nan),
            gt_boxes=self.gt_boxes, init_frame=self.init_frame,
            metadata={
                "source": "bag", "tracker_fps": self.tracker_fps, "output_rate_hz": self.output_rate_hz,
                "frames_with_output": int(self.matched.sum()),
                "diagnostics": {k: vars(v) for k, v in self.diagnostics.items()},
            },
        )


def polygon_box(points) -> np.ndarray:
    """Axis-aligned ``(x, y, w, h)`` bounds of polygon points (objects with ``x``, ``y``);
    NaN for fewer than two points."""
    points = list(points)
    if len(points) < 2:
        return np.full(4, np.nan)
    xs = np.array([float(p.x) for p in points])
    ys = np.array([float(p.y) for p in points])
    return np.array([xs.min(), ys.min(), xs.max() - xs.min(), ys.max() - ys.min()])


def _open(bag):
    from rosbags.rosbag2 import Reader

    path = Path(bag)
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    reader = Reader(path)
    try:
        reader.open()
    except Exception as exc:
        raise BagError(f"cannot open bag {path}: {exc}") from exc
    return reader


def custom_data(bag) -> dict:
    """The ``custom_data`` mapping of a bag's metadata.yaml (empty when absent)."""
    from ruamel.yaml import YAML

    meta = YAML(typ="safe").load((Path(bag) / "metadata.yaml").read_text())
    info = (meta or {}).get("rosbag2_bagfile_information") or {}
    return dict(info.get("custom_data") or {})


def _typestore():
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_JAZZY)


def _messages(reader, topic: str, msgtype: str | None = None):
    """Deserialised messages of ``topic`` with their bag times; empty when the topic is absent."""
    connections = [c for c in reader.connections if c.topic == topic]
    if msgtype is not None:
        for conn in connections:
            if conn.msgtype != msgtype:
                raise BagError(f"{topic} has type {conn.msgtype}, expected {msgtype}")
    if not connections:
        return
    store = _typestore()
    for conn, timestamp, data in reader.messages(connections=connections):
        yield timestamp, store.deserialize_cdr(data, conn.msgtype)


def read_groundtruth(bag, topic: str = GROUNDTRUTH_TOPIC) -> GroundTruth:
    """Ground truth of an input bag made by ``cfvgg-bag make`` (PolygonStamped per frame)."""
    polygon_type = "geometry_msgs/msg/PolygonStamped"
    reader = _open(bag)
    try:
        if topic not in reader.topics:
            raise BagError(f"{bag} has no ground-truth topic {topic}; topics: {sorted(reader.topics)}")
        frames = [(stamp_to_ns(m.header.stamp), polygon_box(m.polygon.points))
                  for _, m in _messages(reader, topic, polygon_type)]
        init_stamps = [stamp_to_ns(m.header.stamp)
                       for _, m in _messages(reader, INIT_BBOX_STAMPED_TOPIC, polygon_type)]
    finally:
        reader.close()
    if not frames:
        raise BagError(f"{bag}: {topic} holds no messages")
    frames.sort(key=lambda item: item[0])
    stamps = np.array([s for s, _ in frames], dtype=np.int64)
    if len(np.unique(stamps)) != len(stamps):
        raise BagError(f"{bag}: two ground-truth messages share a header stamp")
    boxes = np.stack([b for _, b in frames])
    meta = custom_data(bag)
    init_frame = None
    if "cfvgg_ros.init_frame" in meta:
        init_frame = int(meta["cfvgg_ros.init_frame"])
    elif init_stamps:
        hits = np.flatnonzero(stamps == init_stamps[0])
        init_frame = int(hits[0]) if len(hits) else None
    if init_frame is None:
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
        if not valid.any():
            raise BagError(f"{bag}: no valid ground-truth box")
        init_frame = int(np.argmax(valid))
    if not 0 <= init_frame < len(stamps):
        raise BagError(f"{bag}: init frame {init_frame} is outside the {len(stamps)} ground-truth frames")
    fps = float(meta.get("cfvgg_ros.fps", "nan"))
    return GroundTruth(stamps_ns=stamps, boxes=boxes, init_frame=init_frame,
                       sequence=str(meta.get("cfvgg_ros.sequence", Path(bag).name)), fps=fps)


def read_outputs(bag, topic: str = OUTPUT_BOX_TOPIC) -> Outputs:
    """Tracker boxes of an output bag (PolygonStamped; empty polygon = NaN box)."""
    reader = _open(bag)
    try:
        if topic not in reader.topics:
            raise BagError(f"{bag} has no output topic {topic}; topics: {sorted(reader.topics)}")
        rows = [(stamp_to_ns(m.header.stamp), polygon_box(m.polygon.points), t)
                for t, m in _messages(reader, topic, "geometry_msgs/msg/PolygonStamped")]
    finally:
        reader.close()
    if not rows:
        return Outputs(np.zeros(0, dtype=np.int64), np.zeros((0, 4)), np.zeros(0, dtype=np.int64))
    return Outputs(
        stamps_ns=np.array([r[0] for r in rows], dtype=np.int64),
        boxes=np.stack([r[1] for r in rows]),
        receive_ns=np.array([r[2] for r in rows], dtype=np.int64),
    )


def status_topic_of(reader) -> str | None:
    """The node's status topic in an open bag: ``STATUS_TOPIC`` when present, else the first
    DiagnosticArray topic, else None."""
    if STATUS_TOPIC in reader.topics:
        return STATUS_TOPIC
    for topic, info in sorted(reader.topics.items()):
        if info.msgtype == "diagnostic_msgs/msg/DiagnosticArray":
            return topic
    return None


def read_diagnostics(bag, topic: str | None = None) -> dict[str, StatSummary]:
    """Numeric values of a DiagnosticArray topic (``None``: :func:`status_topic_of`), summarised
    per key; empty when the bag has no such topic."""
    reader = _open(bag)
    values: dict[str, list[float]] = {}
    try:
        topic = status_topic_of(reader) if topic is None else topic
        if topic is None or topic not in reader.topics:
            return {}
        for _, msg in _messages(reader, topic, "diagnostic_msgs/msg/DiagnosticArray"):
            for status in msg.status:
                for item in status.values:
                    try:
                        number = float(item.value)
                    except ValueError:
                        continue
                    if math.isfinite(number):
                        values.setdefault(str(item.key), []).append(number)
    finally:
        reader.close()
    return {key: StatSummary(mean=float(np.mean(v)), p95=float(np.percentile(v, 95)), last=float(v[-1]),
                             count=len(v)) for key, v in values.items()}


def read_status_values(bag, topic: str | None = None) -> list[dict[str, str]]:
    """Every status message of an output bag (``topic``; None: :func:`status_topic_of`) as its
    key/value text, in recording order; empty when the bag has no such topic."""
    reader = _open(bag)
    try:
        topic = status_topic_of(reader) if topic is None else topic
        if topic is None or topic not in reader.topics:
            return []
        return [{str(item.key): str(item.value) for status in msg.status for item in status.values}
                for _, msg in _messages(reader, topic, "diagnostic_msgs/msg/DiagnosticArray")]
    finally:
        reader.close()


def match_outputs(gt_stamps: np.ndarray, outputs: Outputs, tolerance_ns: int = DEFAULT_STAMP_TOLERANCE_NS):
    """Boxes (N, 4) per ground-truth stamp (NaN where none), the matched mask (N,), and the
    counts of outputs matched to no frame and of outputs repeating an already matched stamp."""
    n = len(gt_stamps)
    boxes = np.full((n, 4), np.nan)
    matched = np.zeros(n, dtype=bool)
    unmatched = duplicates = 0
    if n == 0 or len(outputs.stamps_ns) == 0:
        return boxes, matched, len(outputs.stamps_ns), 0
    order = np.argsort(gt_stamps, kind="stable")
    sorted_stamps = gt_stamps[order]
    for stamp, box in zip(outputs.stamps_ns, outputs.boxes, strict=True):
        pos = int(np.searchsorted(sorted_stamps, stamp))
        candidates = [c for c in (pos - 1, pos) if 0 <= c < n]
        best = min(candidates, key=lambda c: abs(int(sorted_stamps[c]) - int(stamp)))
        if abs(int(sorted_stamps[best]) - int(stamp)) > tolerance_ns:
            unmatched += 1
            continue
        frame = int(order[best])
        if matched[frame]:
            duplicates += 1  # e.g. a looped replay: keep the first output of each frame
            continue
        matched[frame] = True
        boxes[frame] = box
    return boxes, matched, unmatched, duplicates


def score_bags(
    output_bag,
    groundtruth_bag,
    *,
    rules=("otb", "pysot"),
    topic: str = OUTPUT_BOX_TOPIC,
    status_topic: str | None = None,
    stamp_tolerance_ns: int = DEFAULT_STAMP_TOLERANCE_NS,
) -> BagScores:
    """Score the tracker outputs recorded in ``output_bag`` (``topic``, PolygonStamped) against
    the ground truth of the input bag ``groundtruth_bag`` (see the module docstring).

    ``rules``: a rule-set name or several (``"otb"``, ``"pysot"``), see
    :mod:`cfvgg_ros.evaluation.metrics`. ``status_topic``: the node's DiagnosticArray topic
    (default: found by :func:`status_topic_of`). Returns :class:`BagScores` (``.scores[rules]`` is a
    :class:`~cfvgg_ros.evaluation.metrics.SequenceScore`).
    """
    from cfvgg_ros.evaluation.metrics import RULES, score_sequence

    rule_sets = [rules] if isinstance(rules, str) else list(rules)
    unknown = [r for r in rule_sets if r not in RULES]
    if unknown or not rule_sets:
        raise BagError(f"unknown rule set(s) {unknown or rule_sets}; choose from {RULES}")
    if stamp_tolerance_ns < 0:
        raise BagError("stamp_tolerance_ns must not be negative")
    gt = read_groundtruth(groundtruth_bag)
    outputs = read_outputs(output_bag, topic)
    boxes, matched, unmatched, duplicates = match_outputs(gt.stamps_ns, outputs, int(stamp_tolerance_ns))
    boxes[: gt.init_frame] = np.nan
    boxes[gt.init_frame] = gt.boxes[gt.init_frame]
    rate = float("nan")
    if len(outputs.receive_ns) > 1:
        span = (int(outputs.receive_ns.max()) - int(outputs.receive_ns.min())) / 1e9
        rate = (len(outputs.receive_ns) - 1) / span if span > 0 else float("nan")
    return BagScores(
        sequence=gt.sequence, boxes=boxes, gt_boxes=gt.boxes, stamps_ns=gt.stamps_ns, matched=matched,
        init_frame=gt.init_frame,
        scores={r: score_sequence(boxes, gt.boxes, r) for r in rule_sets},
        num_outputs=len(outputs.stamps_ns), unmatched_outputs=unmatched, duplicate_outputs=duplicates,
        output_rate_hz=rate, diagnostics=read_diagnostics(output_bag, status_topic),
    )
