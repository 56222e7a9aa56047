"""Why images do (not) reach the node: publishers, matching, QoS and frames lost in transport.

The node feeds an :class:`InputMonitor` from its image subscription: the publishers discovered on
the topic and the reliability each offers, how many the subscription matched, the QoS it
subscribes with, each frame that arrives, frames the middleware reports lost (a best-effort
sample of which a fragment never came) and incompatible-QoS events. :meth:`InputMonitor.diagnose`
turns that into one state with the likely fix, shown in ``~/status`` (``input``, ``input_hint``,
level WARN) and logged when it changes:

* ``waiting``: no publisher on the topic yet (OK: nothing to fix here; check the topic name);
* ``ok``: frames arrive;
* ``unmatched``: publishers exist but none matched for ``warn_after`` seconds (QoS or message type);
* ``incompatible_qos``: the middleware reported a publisher whose QoS this subscription cannot
  match (e.g. ``image_qos: reliable`` facing a best-effort camera);
* ``no_frames``: a publisher matched ``warn_after`` seconds ago and not one frame arrived since;
* ``losing_frames``: frames were lost in transport within the last ``warn_after`` seconds.

Nothing here imports ROS; reliabilities are plain names (``reliable``, ``best_effort``).
"""

from __future__ import annotations

import collections
import threading
import time
from dataclasses import dataclass

STATES = ("waiting", "ok", "unmatched", "incompatible_qos", "no_frames", "losing_frames")
#: states that are problems (status level WARN)
WARN_STATES = frozenset({"unmatched", "incompatible_qos", "no_frames", "losing_frames"})

_FIX_BEST_EFFORT = ("large best-effort images are being lost in transport before the node (fragments of each "
                    "image that never arrive); likely fix: let the camera publish reliable (image_qos "
                    "best_available then subscribes reliable and lost fragments are sent again), raise "
                    "net.core.rmem_max to >= 16 MiB (the node's UDP receive buffer is capped there), keep the "
                    "node's Fast DDS profile (config/fastdds_node.xml, FASTRTPS_DEFAULT_PROFILES_FILE unset), "
                    "or publish image_transport 'compressed' (image_transport:=compressed)")


@dataclass(frozen=True)
class Diagnosis:
    state: str
    hint: str = ""

    @property
    def warn(self) -> bool:
        return self.state in WARN_STATES


class InputMonitor:
    """Thread-safe record of the image input (see the module docstring)."""

    def __init__(self, topic: str, choice: str, warn_after: float = 3.0, clock=time.monotonic) -> None:
        self.topic, self.choice, self.warn_after = topic, choice, float(warn_after)
        self._clock = clock
        self._lock = threading.Lock()
        self.offered: list[str] = []  # reliability offered by each publisher discovered
        self.matched = 0
        self.reliability = ""  # the subscription's reliability now
        self.frames = 0
        self.lost = 0
        self._lost_times: collections.deque[tuple[float, int]] = collections.deque(maxlen=256)
        self._incompatible: tuple[float, str] | None = None  # (when, policy) of the last event
        self._matched_since: float | None = None  # when the matched count last became > 0
        self._unmatched_since: float | None = None  # when publishers were seen without a match
        self._frames_at_match = 0
        self._last_frame: float | None = None

    # -- events --------------------------------------------------------------------------------
    def subscribed(self, reliability: str) -> None:
        """The subscription was (re)created with ``reliability``."""
        with self._lock:
            self.reliability = reliability
            self._matched_since = None
            self.matched = 0

    def publishers(self, offered: list[str], matched: int) -> None:
        """The publishers discovered on the topic (their offered reliabilities) and how many the
        subscription has matched (polled)."""
        now = self._clock()
        with self._lock:
            self.offered = list(offered)
            if matched > 0 and (self.matched == 0 or self._matched_since is None):
                self._matched_since, self._frames_at_match = now, self.frames
            if matched == 0:
                self._matched_since = None
            self.matched = int(matched)
            if offered and matched == 0:
                self._unmatched_since = self._unmatched_since if self._unmatched_since is not None else now
            else:
                self._unmatched_since = None

    def frame(self) -> None:
        with self._lock:
            self.frames += 1
            self._last_frame = self._clock()
            self._incompatible = None

    def frames_lost(self, count: int) -> None:
        """The middleware reports ``count`` more samples lost (message_lost event)."""
        if count <= 0:
            return
        with self._lock:
            self.lost += int(count)
            self._lost_times.append((self._clock(), int(count)))

    def incompatible_qos(self, policy: str) -> None:
        """The middleware found a publisher whose QoS this subscription cannot match (``policy``)."""
        with self._lock:
            self._incompatible = (self._clock(), str(policy))

    # -- reports -------------------------------------------------------------------------------
    def recently_lost(self) -> int:
        """Frames lost in transport within the last ``warn_after`` seconds."""
        now = self._clock()
        with self._lock:
            return sum(n for t, n in self._lost_times if now - t <= self.warn_after)

    def diagnose(self) -> Diagnosis:
        now = self._clock()
        recent_lost = self.recently_lost()
        with self._lock:
            publishers, subscribed = len(self.offered), self.reliability or "?"
            if self._incompatible is not None:
                policy = self._incompatible[1]
                return Diagnosis("incompatible_qos", (
                    f"a publisher on {self.topic} offers QoS this subscription ({subscribed}) cannot match "
                    f"(policy {policy}): no frames from it; with image_qos {self.choice!r} set "
                    "image_qos:=best_available, which follows what the publishers offer"))
            if publishers and not self.matched and self._unmatched_since is not None \
                    and now - self._unmatched_since >= self.warn_after:
                return Diagnosis("unmatched", (
                    f"{publishers} publisher(s) on {self.topic} ({', '.join(sorted(set(self.offered)))}) but none "
                    f"matched this {subscribed} subscription for {now - self._unmatched_since:.0f} s: incompatible "
                    "QoS or message type (check `ros2 topic info -v`; image_transport raw/compressed)"))
            if self.matched and self._matched_since is not None and self.frames == self._frames_at_match \
                    and now - self._matched_since >= self.warn_after:
                waited = now - self._matched_since
                if subscribed == "best_effort" or recent_lost:
                    hint = (f"{self.matched} publisher(s) matched on {self.topic} {waited:.0f} s ago but no frame "
                            f"arrived ({self.lost} lost in transport): {_FIX_BEST_EFFORT}")
                else:
                    hint = (f"{self.matched} publisher(s) matched on {self.topic} {waited:.0f} s ago but no frame "
                            "arrived: the publisher may not be publishing (check `ros2 topic hz`)")
                return Diagnosis("no_frames", hint)
            if recent_lost:
                return Diagnosis("losing_frames", (
                    f"{recent_lost} frame(s) lost in transport in the last {self.warn_after:g} s on {self.topic} "
                    f"({self.lost} in all, {self.frames} received; subscribed {subscribed}): {_FIX_BEST_EFFORT}"))
            if not publishers and not self.matched:
                return Diagnosis("waiting", f"no publisher on {self.topic} yet")
            return Diagnosis("ok")

    def key_values(self, diagnosis: Diagnosis | None = None) -> list[tuple[str, str]]:
        diagnosis = diagnosis or self.diagnose()
        with self._lock:
            return [
                ("input", diagnosis.state),
                ("input_hint", diagnosis.hint),
                ("image_qos", f"{self.choice} -> {self.reliability}" if self.choice == "best_available"
                 else self.reliability),
                ("image_publishers", str(len(self.offered))),
                ("image_publishers_matched", str(self.matched)),
                ("frames_lost_in_transport", str(self.lost)),
            ]
