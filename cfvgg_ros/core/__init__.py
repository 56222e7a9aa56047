"""Tracker contract and registry (no ROS, no torch): ``create_tracker``, ``init``, ``update``,
and what a host needs to know about each tracker (``tracker_info``)."""

from .contract import Tracker, TrackerError, TrackResult, check_box, check_frame
from .registry import (
    CAPABILITIES,
    DEFAULT_LOST_THRESHOLD,
    REDETECT,
    TrackerInfo,
    available_trackers,
    create_tracker,
    register_tracker,
    tracker_info,
)

__all__ = [
    "CAPABILITIES",
    "DEFAULT_LOST_THRESHOLD",
    "REDETECT",
    "TrackResult",
    "Tracker",
    "TrackerError",
    "TrackerInfo",
    "available_trackers",
    "check_box",
    "check_frame",
    "create_tracker",
    "register_tracker",
    "tracker_info",
]
