"""Header stamps as integer nanoseconds: the one conversion the node and the bag tools share.

Messages are read by field name only (``sec``, ``nanosec``), so rclpy and rosbags messages both
work; nothing here imports ROS (the bag tools import it without rclpy).
"""

from __future__ import annotations

NS_PER_S = 1_000_000_000


def stamp_to_ns(stamp) -> int:
    """``builtin_interfaces/Time`` (``sec``, ``nanosec``) -> integer nanoseconds."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def ns_to_sec_nanosec(stamp_ns: int) -> tuple[int, int]:
    """Integer nanoseconds -> ``(sec, nanosec)``, the fields of a ``builtin_interfaces/Time``."""
    sec, nanosec = divmod(int(stamp_ns), NS_PER_S)
    return sec, nanosec


def format_stamp(stamp_ns: int) -> str:
    """``sec.nanosec`` text of a stamp in ns, for messages."""
    return f"{stamp_ns // NS_PER_S}.{stamp_ns % NS_PER_S:09d}"
