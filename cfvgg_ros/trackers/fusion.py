"""Expert fusion (issue 12, optional; not in the paper): several registered trackers run side by
side on every frame and one box is reported.

Each frame every expert updates. An expert's *relative confidence* is its score divided by the
running mean of its own scores on earlier frames (rate ``rate``): the experts' scores live on
unrelated scales (a filter's peak, a Siamese classifier's probability), but each falls when its
own tracker is unsure. While every expert's box overlaps the first expert's by at least
``agree_iou``, the first expert's box is reported (list the stronger expert first). When they
disagree, the most confident expert's box is reported; an expert that loses ``correct_after``
disagreeing frames in a row to the same winner is started again on the winner's box (its own
``init``: for a CNN correlation filter that is one first-frame training, a latency spike of a few
hundred milliseconds on that frame). An expert whose update fails (``TrackerError``) is started
again on the reported box at once; only a frame on which every expert fails raises.

Means only learn from frames where the expert's box was reported or agreed with the reported
one, so a drifting expert's low scores do not make its later scores look confident.
The reported score is the reporting expert's relative confidence (about 1 while it tracks as it
has been tracking). Never the package's default: its experts' files may not ship (NanoTrack's).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from cfvgg_ros.core.contract import Tracker, TrackerError, TrackResult
from cfvgg_ros.core.registry import create_tracker, tracker_info


def box_overlap(a, b) -> float:
    """Intersection over union of two ``(x, y, w, h)`` boxes (0 for empty ones)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = aw * ah + bw * bh - inter
    return float(inter / union) if union > 0 else 0.0


def appearance(frame: np.ndarray, box, side: int = 32) -> np.ndarray:
    """The grey pixels of ``box`` inside the frame resized to ``side`` x ``side``, zero mean and
    unit norm: dot products of two are their normalised cross-correlation. All zeros for a flat
    patch, a box off the frame or a non-finite box (the cost is bounded by the frame, whatever
    box a diverging expert reports)."""
    x, y, w, h = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x, y, w, h)):
        return np.zeros(side * side, dtype=np.float32)
    fh, fw = frame.shape[:2]
    x0, y0 = max(int(math.floor(x)), 0), max(int(math.floor(y)), 0)
    x1, y1 = min(int(math.ceil(x + w)), fw), min(int(math.ceil(y + h)), fh)
    if x1 <= x0 or y1 <= y0:
        return np.zeros(side * side, dtype=np.float32)
    grey = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    vec = cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    vec -= vec.mean()
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 1e-6 else np.zeros_like(vec)


class ExpertFusion(Tracker):
    """Registered trackers ``experts`` (names joined by ``+``, first = the one reported while all
    agree) fused as the module docstring says. ``model_path`` goes to the experts that load the
    CNN student."""

    def __init__(self, experts: str = "cfvgg+opencv-nano", agree_iou: float = 0.5, correct_after: int = 10,
                 rate: float = 0.1, judge: str = "template", template_rate: float = 0.05,
                 model_path: str | None = None) -> None:
        super().__init__()
        names = [n.strip() for n in str(experts).split("+") if n.strip()]
        if len(names) < 2:
            raise TrackerError(f"experts must name at least two trackers joined by '+', got {experts!r}")
        if "fusion" in names:
            raise TrackerError("an expert cannot itself be 'fusion'")
        if not 0.0 < agree_iou <= 1.0 or not 0.0 < rate <= 1.0 or int(correct_after) < 1:
            raise TrackerError("need 0 < agree_iou <= 1, 0 < rate <= 1 and correct_after >= 1")
        if judge not in ("confidence", "template"):
            raise TrackerError(f"judge must be 'confidence' or 'template', got {judge!r}")
        if not 0.0 <= template_rate <= 1.0:
            raise TrackerError(f"template_rate must lie in [0, 1], got {template_rate}")
        self.judge, self.template_rate = judge, float(template_rate)
        self.names = names
        self.experts = []
        for name in names:
            params = {"model_path": model_path} if model_path is not None and tracker_info(name).cnn_model else {}
            self.experts.append(create_tracker(name, **params))
        self.agree_iou, self.correct_after, self.rate = float(agree_iou), int(correct_after), float(rate)
        self.means: list[float | None] = []
        self.streaks: list[int] = []
        self.reporting = 0  # index of the expert whose box was reported last
        self.corrections = 0  # experts started again on another's box, so far

    def _init(self, frame: np.ndarray, box) -> None:
        for expert in self.experts:
            expert.init(frame, box)
        self.means = [None] * len(self.experts)
        self.streaks = [0] * len(self.experts)
        self.reporting, self.corrections = 0, 0
        self.first_template = appearance(frame, box) if self.judge == "template" else None
        self.template = self.first_template

    def _judged(self, frame: np.ndarray, results, live) -> int:
        """The expert (of ``live``) whose box looks most like the target: the sum of the
        normalised cross-correlations of its patch with the first template and the running one."""
        scores = [float(appearance(frame, results[i].box) @ (self.first_template + self.template)) for i in live]
        return live[int(np.argmax(scores))]

    def _confidence(self, index: int, score: float) -> float:
        """``score`` over the running mean of the expert's trusted scores (1 without any yet)."""
        mean = self.means[index]
        value = score / mean if mean is not None and mean > 0.0 else 1.0
        return value if math.isfinite(value) else 0.0

    def _trust(self, index: int, score: float) -> None:
        """Fold ``score`` into the expert's running mean (frames where its box was reported or
        agreed with the reported one: a drifting expert's low scores do not lower its mean)."""
        mean = self.means[index]
        if math.isfinite(score):
            self.means[index] = score if mean is None else (1.0 - self.rate) * mean + self.rate * score

    def _update(self, frame: np.ndarray) -> TrackResult:
        results: list[TrackResult | None] = []
        for expert in self.experts:
            try:
                results.append(expert.update(frame))
            except TrackerError:  # e.g. a diverged filter: it is started again on the reported box
                results.append(None)
        live = [i for i, r in enumerate(results) if r is not None]
        if not live:
            raise TrackerError(f"every expert failed on this frame ({'+'.join(self.names)})")
        confidences = [self._confidence(i, float(r.score)) if r is not None else -math.inf
                       for i, r in enumerate(results)]
        agree = results[0] is not None and all(
            r is not None and box_overlap(results[0].box, r.box) >= self.agree_iou for r in results[1:])
        if agree:
            winner = 0
        elif self.judge == "template":
            winner = self._judged(frame, results, live)
        else:
            winner = int(np.argmax(confidences))
        chosen = results[winner].box
        if agree and self.template is not None and self.template_rate > 0.0:
            blend = (1.0 - self.template_rate) * self.template + self.template_rate * appearance(frame, chosen)
            norm = float(np.linalg.norm(blend))
            self.template = blend / norm if norm > 1e-6 else self.template
        for i, expert in enumerate(self.experts):
            result = results[i]
            if result is not None and (i == winner or box_overlap(result.box, chosen) >= self.agree_iou):
                self._trust(i, float(result.score))
                self.streaks[i] = 0
                continue
            self.streaks[i] = self.streaks[i] + 1 if self.reporting == winner else 1
            if result is None or self.streaks[i] >= self.correct_after:
                try:
                    expert.init(frame, chosen)
                except TrackerError:
                    continue  # a box the expert cannot start from (e.g. off the frame): try again later
                self.streaks[i] = 0
                self.corrections += 1
        self.reporting = winner
        return TrackResult(chosen, confidences[winner])


def create_fusion(**params) -> ExpertFusion:
    return ExpertFusion(**params)
