"""Play a rosbag2 directory over ROS 2 with rclpy, as ``ros2 bag play`` does.

Messages are published as their recorded CDR bytes (``Publisher.publish(bytes)``, no
deserialisation), in bag-time order, message ``k`` at ``start + (t_k - t_0) / rate`` on the
monotonic clock; header stamps are left as recorded. Each topic's publisher QoS follows the
recorded offers like ``ros2 bag play``: reliable when every recorded offer was reliable (else
best effort), transient-local when every offer was (else volatile), keep-last with the
recorded depth (10 when it is unknown). A topic whose message type rclpy cannot import here is
skipped with a warning.

Start paused (``start_paused=True`` / ``--start-paused``): publishers are created and the
player waits until Enter is pressed on its standard input or the ``~/resume`` service
(std_srvs/Trigger, e.g. ``ros2 service call /cfvgg_bag_player/resume std_srvs/srv/Trigger``)
is called. ``wait_for`` names topics that must have a subscriber before playing starts, so a
freshly started node does not miss the first frames while DDS discovery runs.
"""

from __future__ import annotations

import importlib
import math
import select
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cfvgg_ros.bags import BagError

DEFAULT_NODE_NAME = "cfvgg_bag_player"
_DEFAULT_DEPTH = 10


@dataclass
class PlayStats:
    """What :func:`play_bag` published: messages per topic, loops completed, wall seconds
    spent playing, and the largest delay of a publish behind its scheduled time."""

    published: dict[str, int] = field(default_factory=dict)
    loops: int = 0
    seconds: float = 0.0
    max_lateness: float = 0.0
    interrupted: bool = False

    @property
    def total(self) -> int:
        return sum(self.published.values())


def message_class(msgtype: str):
    """The rclpy message class of a ROS 2 type name (``sensor_msgs/msg/Image``)."""
    parts = msgtype.split("/")
    if len(parts) != 3 or not all(parts):
        raise BagError(f"cannot import message type {msgtype!r}: expected '<package>/msg/<Type>'")
    package, kind, name = parts
    try:
        module = importlib.import_module(f"{package}.{kind}")
        return getattr(module, name)
    except (ImportError, AttributeError) as exc:
        raise BagError(f"message type {msgtype} is not available to rclpy here: {exc}") from exc


def qos_from_offers(offers) -> object:
    """An rclpy ``QoSProfile`` from recorded rosbags ``Qos`` offers (see the module docstring)."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rosbags.interfaces import QosDurability, QosHistory, QosReliability

    offers = list(offers)
    reliable = bool(offers) and all(o.reliability == QosReliability.RELIABLE for o in offers)
    latched = bool(offers) and all(o.durability == QosDurability.TRANSIENT_LOCAL for o in offers)
    depths = [int(o.depth) for o in offers if o.history == QosHistory.KEEP_LAST and int(o.depth) > 0]
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=max(depths) if depths else _DEFAULT_DEPTH,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


def _stdin_enter(stop: threading.Event, resume: threading.Event) -> None:
    """Set ``resume`` when a line arrives on stdin (end of file or a closed stdin are ignored)."""
    stream = sys.stdin
    if stream is None or stream.closed:
        return
    try:
        while not stop.is_set() and not resume.is_set():
            ready, _, _ = select.select([stream], [], [], 0.2)
            if ready:
                if stream.readline():
                    resume.set()
                return
    except (OSError, ValueError):
        return


def _sleep_until(deadline: float, stop: threading.Event) -> None:
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        stop.wait(min(remaining, 0.1))


def play_bag(
    bag,
    *,
    rate: float = 1.0,
    loop: bool = False,
    start_paused: bool = False,
    topics: Iterable[str] | None = None,
    wait_for: Iterable[str] = (),
    wait_timeout: float = 10.0,
    delay: float = 0.0,
    node_name: str = DEFAULT_NODE_NAME,
    stop: threading.Event | None = None,
    log=print,
) -> PlayStats:
    """Publish the rosbag2 directory ``bag`` (see the module docstring).

    ``rate`` scales playback speed, ``loop`` repeats until stopped (``stop`` event or SIGINT),
    ``topics`` restricts playback to those topics, ``wait_for`` topics must be matched by a
    subscriber first (up to ``wait_timeout`` seconds, then playing starts anyway with a
    warning), ``delay`` adds seconds before the first message. Initialises and shuts down its
    own rclpy context. Returns :class:`PlayStats`.
    """
    from rosbags.rosbag2 import Reader

    if not (isinstance(rate, int | float) and math.isfinite(rate) and rate > 0):
        raise BagError(f"rate must be a positive number, got {rate!r}")
    if delay < 0 or wait_timeout < 0:
        raise BagError("delay and wait_timeout must not be negative")
    path = Path(bag)
    if not (path / "metadata.yaml").is_file():
        raise BagError(f"{path} is not a rosbag2 directory (no metadata.yaml)")
    stop = stop or threading.Event()
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:
        raise BagError(f"cannot open bag {path}: {exc}") from exc
    try:
        wanted = None if topics is None else set(topics)
        connections = [c for c in reader.connections if wanted is None or c.topic in wanted]
        missing = sorted((wanted or set()) - {c.topic for c in reader.connections})
        if missing:
            raise BagError(f"topics not in {path}: {missing}; it has {sorted(reader.topics)}")
        if not connections:
            raise BagError(f"{path} has no topics to play")
        return _play(reader, connections, rate, loop, start_paused, list(wait_for), wait_timeout,
                     delay, node_name, stop, log)
    finally:
        reader.close()


def _play(reader, connections, rate, loop, start_paused, wait_for, wait_timeout, delay, node_name,
          stop, log) -> PlayStats:
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    context = rclpy.Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    stats = PlayStats(published={c.topic: 0 for c in connections})
    executor = SingleThreadedExecutor(context=context)
    node = None
    spinner = None
    finished = threading.Event()  # ends the spin and stdin threads without touching ``stop``
    try:
        node = rclpy.create_node(node_name, context=context)
        publishers = {}
        by_topic = {}
        for conn in connections:
            if conn.topic in by_topic:
                if by_topic[conn.topic].msgtype != conn.msgtype:
                    raise BagError(f"topic {conn.topic} has two types in the bag: "
                                   f"{by_topic[conn.topic].msgtype} and {conn.msgtype}")
                publishers[conn.id] = publishers[by_topic[conn.topic].id]
                continue
            try:
                msg_class = message_class(conn.msgtype)
            except BagError as exc:  # as ros2 bag play: skip a topic whose type is not installed
                log(f"warning: not playing {conn.topic}: {exc}")
                continue
            by_topic[conn.topic] = conn
            qos = qos_from_offers(conn.ext.offered_qos_profiles)
            publishers[conn.id] = node.create_publisher(msg_class, conn.topic, qos)
        connections = [c for c in connections if c.id in publishers]
        if not connections:
            raise BagError("none of the bag's message types is available to rclpy here")
        stats.published = {c.topic: 0 for c in connections}
        resume = threading.Event()
        if start_paused:
            from std_srvs.srv import Trigger

            def on_resume(_request, response):
                response.success = not resume.is_set()
                response.message = "resumed" if response.success else "already playing"
                resume.set()
                return response

            node.create_service(Trigger, "~/resume", on_resume)
        executor.add_node(node)

        def spin() -> None:
            try:
                while context.ok() and not stop.is_set() and not finished.is_set():
                    executor.spin_once(timeout_sec=0.1)
            except (ExternalShutdownException, rclpy.executors.ShutdownException):
                pass

        spinner = threading.Thread(target=spin, name="bag-player-spin", daemon=True)
        spinner.start()
        if wait_for:
            _wait_for_subscribers(node, by_topic, publishers, wait_for, wait_timeout, stop, log)
        if start_paused and not stop.is_set():
            service = node.resolve_service_name("~/resume")
            log(f"paused: press Enter or call {service} (std_srvs/srv/Trigger) to play")
            threading.Thread(target=_stdin_enter, args=(finished, resume), daemon=True).start()
            while not resume.is_set() and not stop.is_set():
                resume.wait(0.1)
        if delay > 0:
            _sleep_until(time.monotonic() + delay, stop)
        begin = time.monotonic()
        while not stop.is_set():
            _play_once(reader, connections, publishers, rate, stop, stats)
            if stop.is_set():
                break
            stats.loops += 1
            if not loop:
                break
        stats.seconds = time.monotonic() - begin
        stats.interrupted = stop.is_set()
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        finished.set()
        if spinner is not None:
            spinner.join(timeout=2.0)
        executor.shutdown(timeout_sec=1.0)
        if node is not None:
            node.destroy_node()
        if context.ok():
            rclpy.shutdown(context=context)
    return stats


def _wait_for_subscribers(node, by_topic, publishers, wait_for, timeout, stop, log) -> None:
    unknown = sorted(set(wait_for) - set(by_topic))
    if unknown:
        raise BagError(f"--wait-for topics are not played: {unknown}")
    deadline = time.monotonic() + timeout
    pending = list(wait_for)
    while pending and not stop.is_set():
        pending = [t for t in pending if publishers[by_topic[t].id].get_subscription_count() == 0]
        if not pending:
            return
        if time.monotonic() >= deadline:
            log(f"warning: no subscriber on {pending} after {timeout:g} s; playing anyway")
            return
        stop.wait(0.02)


def _play_once(reader, connections, publishers, rate, stop, stats) -> None:
    start_wall = None
    first_time = None
    for conn, timestamp, data in reader.messages(connections=connections):
        if stop.is_set():
            return
        if start_wall is None:
            start_wall, first_time = time.monotonic(), timestamp
        due = start_wall + (timestamp - first_time) / 1e9 / rate
        _sleep_until(due, stop)
        if stop.is_set():
            return
        stats.max_lateness = max(stats.max_lateness, time.monotonic() - due)
        publishers[conn.id].publish(bytes(data))
        stats.published[conn.topic] += 1
