"""Record ROS 2 topics into a rosbag2 directory with rclpy raw subscriptions (no deserialisation).

Like ``ros2 bag record``: a topic is subscribed once it appears in the ROS graph (checked every
0.1 s, so the recorder may start before the publishers), with a QoS that matches every
publisher's offer (reliable only when all offers are reliable, transient-local only when all
are), and the publishers' offered QoS profiles are stored in the bag's metadata. The bag time of
a message is its reception time (system clock, nanoseconds).

Recording stops on SIGINT (``KeyboardInterrupt``) or a set ``stop`` event, after ``duration``
seconds, or -- once the first message arrived -- after ``until_idle`` seconds without one. Only
messages on ``idle_topics`` (default: every recorded topic) count as activity: a node that
publishes its status periodically would otherwise never look idle.
Message definitions come from rosbags' Jazzy type store; types it lacks (e.g. vision_msgs on a
real ROS install) are read from the package's ``.msg`` files found through ament_index, and a
topic whose definition cannot be found is skipped with a warning.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cfvgg_ros.bags import BAG_VERSION, STORAGES, BagError, prepare_bag_dir

DEFAULT_NODE_NAME = "cfvgg_bag_recorder"
_GRAPH_PERIOD = 0.1
_SUBSCRIPTION_DEPTH = 100


@dataclass
class RecordStats:
    """What :func:`record_bag` wrote: messages per subscribed topic, their types, topics never
    seen or skipped, wall seconds recorded and why it stopped (``signal``, ``duration``, ``idle``)."""

    path: Path
    recorded: dict[str, int] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)
    not_seen: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    stopped_by: str = "signal"

    @property
    def total(self) -> int:
        return sum(self.recorded.values())


def normalise_topic(topic: str) -> str:
    """Absolute topic name (``target_box`` -> ``/target_box``); rejects empty names."""
    topic = str(topic).strip()
    if not topic or topic == "/":
        raise BagError("empty topic name")
    return topic if topic.startswith("/") else "/" + topic


def _duration_time(duration):
    from rosbags.interfaces import QosTime

    sec, nsec = divmod(int(duration.nanoseconds), 1_000_000_000)
    return QosTime(sec, nsec)


def offer_from_rclpy(profile):
    """rosbags ``Qos`` from an rclpy ``QoSProfile`` (a publisher's offer from the graph)."""
    from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability

    def enum(kind, value):
        try:
            return kind(int(value))
        except ValueError:
            return kind.UNKNOWN

    return Qos(
        enum(QosHistory, profile.history),
        int(profile.depth),
        enum(QosReliability, profile.reliability),
        enum(QosDurability, profile.durability),
        _duration_time(profile.deadline),
        _duration_time(profile.lifespan),
        enum(QosLiveliness, profile.liveliness),
        _duration_time(profile.liveliness_lease_duration),
        bool(profile.avoid_ros_namespace_conventions),
    )


def subscription_qos(offers):
    """An rclpy ``QoSProfile`` compatible with every rclpy publisher offer in ``offers``."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    offers = list(offers)
    reliable = bool(offers) and all(o.reliability == ReliabilityPolicy.RELIABLE for o in offers)
    latched = bool(offers) and all(o.durability == DurabilityPolicy.TRANSIENT_LOCAL for o in offers)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=_SUBSCRIPTION_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def register_from_share(typestore, msgtype: str, _seen: set | None = None) -> None:
    """Add ``msgtype`` (and the types it uses) to ``typestore`` from the ``.msg`` files of an
    installed ROS package (ament_index); raises :class:`BagError` when one cannot be found."""
    from rosbags.typesys import get_types_from_msg

    seen = set() if _seen is None else _seen
    if msgtype in typestore.types or msgtype in seen:
        return
    seen.add(msgtype)
    parts = msgtype.split("/")
    if len(parts) != 3 or not all(parts):
        raise BagError(f"no message definition for {msgtype!r}: expected '<package>/msg/<Type>'")
    package, _, name = parts
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory(package))
    except Exception as exc:  # ImportError, PackageNotFoundError, ...
        raise BagError(f"no message definition for {msgtype}: package {package} not found ({exc})") from exc
    path = share / "msg" / f"{name}.msg"
    if not path.is_file():
        raise BagError(f"no message definition for {msgtype}: {path} does not exist")
    types = get_types_from_msg(path.read_text(), msgtype)
    for dependency in _dependencies(types[msgtype]):
        register_from_share(typestore, dependency, seen)
    typestore.register(types)


def _dependencies(definition) -> list[str]:
    """Names of the message types a rosbags field definition refers to."""
    from rosbags.interfaces import Nodetype

    found = []

    def visit(desc) -> None:
        kind, detail = desc
        if kind == Nodetype.NAME:
            found.append(detail)
        elif kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
            visit(detail[0])

    for _name, desc in definition[1]:
        visit(desc)
    return found


def record_bag(
    out_dir,
    topics: Iterable[str],
    *,
    duration: float | None = None,
    until_idle: float | None = None,
    idle_topics: Iterable[str] | None = None,
    storage: str = "mcap",
    overwrite: bool = False,
    node_name: str = DEFAULT_NODE_NAME,
    stop: threading.Event | None = None,
    log=print,
) -> RecordStats:
    """Record ``topics`` into the new rosbag2 directory ``out_dir`` (see the module docstring).
    Initialises and shuts down its own rclpy context. Returns :class:`RecordStats`."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    topics = list(dict.fromkeys(normalise_topic(t) for t in topics))
    if not topics:
        raise BagError("no topics to record")
    active = set(topics) if idle_topics is None else {normalise_topic(t) for t in idle_topics}
    if not active <= set(topics):
        raise BagError(f"idle topics {sorted(active - set(topics))} are not recorded")
    for name, value in (("duration", duration), ("until_idle", until_idle)):
        if value is not None and not value > 0:
            raise BagError(f"{name} must be a positive number of seconds, got {value}")
    if storage not in STORAGES:
        raise BagError(f"unknown storage {storage!r}; choose one of {STORAGES}")
    out = prepare_bag_dir(out_dir, overwrite)
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(out, version=BAG_VERSION, storage_plugin=plugin)
    try:
        writer.open()
    except Exception as exc:
        raise BagError(f"cannot create bag {out}: {exc}") from exc
    stats = RecordStats(path=out)
    try:
        _record(writer, topics, active, duration, until_idle, node_name, stop or threading.Event(), log,
                stats)
    finally:
        writer.close()
    stats.not_seen = [t for t in topics if t not in stats.recorded and t not in stats.skipped]
    return stats


def _record(writer, topics, active, duration, until_idle, node_name, stop, log, stats) -> None:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions
    from rosbags.typesys import Stores, get_typestore

    from cfvgg_ros.bags.play import message_class

    typestore = get_typestore(Stores.ROS2_JAZZY)
    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    executor = SingleThreadedExecutor(context=context)
    node = None
    last_message = [None]
    subscriptions = []
    start = time.monotonic()
    try:
        node = rclpy.create_node(node_name, context=context)
        executor.add_node(node)
        pending = list(topics)

        def subscribe(topic: str, msgtype: str) -> None:
            try:
                if msgtype not in typestore.types:
                    register_from_share(typestore, msgtype)
                msg_class = message_class(msgtype)
            except BagError as exc:
                stats.skipped[topic] = str(exc)
                log(f"warning: not recording {topic}: {exc}")
                return
            publishers = node.get_publishers_info_by_topic(topic)
            profiles = [info.qos_profile for info in publishers]
            connection = writer.add_connection(
                topic, msgtype, typestore=typestore,
                offered_qos_profiles=[offer_from_rclpy(p) for p in profiles],
            )
            stats.recorded[topic] = 0
            stats.types[topic] = msgtype

            counts_as_activity = topic in active

            def on_message(data: bytes) -> None:
                writer.write(connection, time.time_ns(), data)
                stats.recorded[topic] += 1
                if counts_as_activity:
                    last_message[0] = time.monotonic()

            subscriptions.append(node.create_subscription(
                msg_class, topic, on_message, subscription_qos(profiles), raw=True,
            ))
            log(f"recording {topic} [{msgtype}]")

        next_graph_check = start
        while not stop.is_set():
            now = time.monotonic()
            if pending and now >= next_graph_check:
                graph = dict(node.get_topic_names_and_types())
                for topic in list(pending):
                    if graph.get(topic):
                        pending.remove(topic)
                        subscribe(topic, graph[topic][0])
                next_graph_check = now + _GRAPH_PERIOD
            if duration is not None and now - start >= duration:
                stats.stopped_by = "duration"
                break
            if until_idle is not None and last_message[0] is not None and now - last_message[0] >= until_idle:
                stats.stopped_by = "idle"
                break
            executor.spin_once(timeout_sec=0.02)
    except KeyboardInterrupt:
        stats.stopped_by = "signal"
    finally:
        stats.seconds = time.monotonic() - start
        executor.shutdown(timeout_sec=1.0)
        if node is not None:
            for subscription in subscriptions:
                node.destroy_subscription(subscription)
            node.destroy_node()
        if context.ok():
            rclpy.shutdown(context=context)
