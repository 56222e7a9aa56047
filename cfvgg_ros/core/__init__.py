"""Tracker contract and registry (no ROS, no torch): ``create_tracker``, ``init``, ``update``."""

from .contract import Tracker, TrackerError, TrackResult, check_box, check_frame
from .registry import available_trackers, create_tracker, register_tracker

__all__ = [
    "TrackResult",
    "Tracker",
    "TrackerError",
    "available_trackers",
    "check_box",
    "check_frame",
    "create_tracker",
    "register_tracker",
]
