"""A subscription whose QoS follows the publishers: the node's image and camera_info inputs.

:class:`AdaptiveSubscription` subscribes with :func:`cfvgg_ros.ros.qos.image_qos` resolved against
the reliabilities the publishers on its topic offer (``image_qos: best_available``) and
:meth:`~AdaptiveSubscription.refresh` (called periodically) re-creates the subscription when the
publishers change so that the best choice changes: a reliable camera gets a reliable subscription
(lost fragments are sent again), a best-effort one a best-effort subscription (the only one that
matches it). With ``sensor_data`` or ``reliable`` the QoS stays as chosen. A switch is made without
a gap: the new subscription is created beside the old one, which goes only once the new one has
matched the publishers (or after :data:`SWITCH_TIMEOUT_S`); a message both deliver meanwhile (same
header stamp and size) is passed on once. The middleware's events
(matched publishers, incompatible QoS, samples lost in transport) go to an
:class:`~cfvgg_ros.ros.input_monitor.InputMonitor`.
"""

from __future__ import annotations

import time

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.qos import qos_policy_name_from_kind

from cfvgg_ros.ros.input_monitor import InputMonitor
from cfvgg_ros.ros.qos import image_qos, reliability_name

SWITCH_TIMEOUT_S = 2.0  # the old subscription goes at the latest this long after the new one came


def _message_key(msg) -> tuple:
    """What identifies a message delivered by both subscriptions during a switch."""
    header = getattr(msg, "header", None)
    stamp = (header.stamp.sec, header.stamp.nanosec) if header is not None else ()
    data = getattr(msg, "data", None)
    return (*stamp, len(data) if data is not None else -1)


class AdaptiveSubscription:
    """``node.create_subscription(msg_type, topic, callback, <QoS following the publishers>)``."""

    def __init__(self, node, msg_type, topic: str, callback, choice: str, monitor: InputMonitor | None = None,
                 log=None) -> None:
        self.node, self.msg_type, self.topic, self.callback = node, msg_type, topic, callback
        self.choice, self.monitor, self.log = choice, monitor, log
        self.resolved = node.resolve_topic_name(topic)
        self.subscription = self.qos = None
        self.pending = self.pending_qos = None  # the new subscription of a switch in progress
        self._pending_since = 0.0
        self._seen: set | None = None  # message keys while two subscriptions deliver
        self.subscription, self.qos = self._create(self._offered())
        if self.monitor is not None:
            self.monitor.subscribed(reliability_name(self.qos.reliability))

    def _offered(self) -> list:
        try:
            infos = self.node.get_publishers_info_by_topic(self.resolved)
        except Exception:  # noqa: BLE001 - the graph is a hint; the subscription works without it
            return []
        type_name = f"{self.msg_type.__module__.split('.')[0]}/msg/{self.msg_type.__name__}"
        return [info.qos_profile.reliability for info in infos if info.topic_type in ("", type_name)]

    def _create(self, offered):
        qos = image_qos(self.choice, offered)
        counted = [0]  # samples lost on this subscription so far (the event reports its own total)
        events = SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible,
                                            message_lost=lambda info: self._on_lost(info, counted))
        return self.node.create_subscription(self.msg_type, self.topic, self._deliver, qos,
                                             event_callbacks=events), qos

    def _deliver(self, msg) -> None:
        seen = self._seen
        if seen is not None:
            key = _message_key(msg)
            if key in seen:
                return
            seen.add(key)
        self.callback(msg)

    @property
    def reliability(self) -> str:
        return reliability_name(self.qos.reliability) if self.qos is not None else ""

    def refresh(self) -> str | None:
        """Re-resolve the QoS against the publishers now on the topic; switch the subscription when
        it changes (returns a line saying so, else None). Feeds the monitor."""
        if self.subscription is None:
            return None
        offered = self._offered()
        if self.monitor is not None:
            try:
                matched = self.subscription.get_publisher_count()
                if self.pending is not None:
                    matched = max(matched, self.pending.get_publisher_count())
            except Exception:  # noqa: BLE001 - the subscription was destroyed meanwhile
                matched = 0
            self.monitor.publishers([reliability_name(r) for r in offered], matched)
        if self.pending is not None:
            return self._finish_switch(offered)
        self._seen = None  # the old subscription's last messages are through
        if self.choice != "best_available":
            return None
        wanted = image_qos(self.choice, offered)
        if wanted.reliability == self.qos.reliability:
            return None
        self._seen = set()
        self.pending, self.pending_qos = self._create(offered)
        self._pending_since = time.monotonic()
        return None

    def _finish_switch(self, offered) -> str | None:
        matched = self.pending.get_publisher_count()
        if matched < len(offered) and time.monotonic() - self._pending_since < SWITCH_TIMEOUT_S:
            return None
        before = self.reliability
        self.node.destroy_subscription(self.subscription)
        self.subscription, self.qos, self.pending, self.pending_qos = self.pending, self.pending_qos, None, None
        if self.monitor is not None:
            self.monitor.subscribed(reliability_name(self.qos.reliability))
        offered_names = ", ".join(sorted({reliability_name(r) for r in offered})) or "none"
        return (f"{self.resolved}: publishers offer {offered_names}; subscription switched {before} -> "
                f"{self.reliability} (image_qos best_available)")

    def destroy(self) -> None:
        for subscription in (self.subscription, self.pending):
            if subscription is not None:
                self.node.destroy_subscription(subscription)
        self.subscription = self.pending = None

    # -- middleware events (executor thread) ---------------------------------------------------
    def _on_incompatible(self, info) -> None:
        try:
            policy = qos_policy_name_from_kind(info.last_policy_kind)
        except Exception:  # noqa: BLE001 - an unknown kind still says "incompatible"
            policy = str(info.last_policy_kind)
        if self.monitor is not None:
            self.monitor.incompatible_qos(policy)
        if self.log is not None:
            self.log.warning(f"a publisher on {self.resolved} offers QoS incompatible with this {self.reliability} "
                             f"subscription (policy {policy}): no frames from it (image_qos {self.choice})")

    def _on_lost(self, info, counted: list) -> None:
        total = int(info.total_count)
        change, counted[0] = total - counted[0], total
        if self.monitor is not None:
            self.monitor.frames_lost(change)
