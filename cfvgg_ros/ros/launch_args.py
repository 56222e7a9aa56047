"""The launch files' arguments, as one table (no ROS, no launch import).

``launch/track.launch.py`` and ``launch/replay_uav123.launch.py`` declare exactly these arguments
(name, default, description, allowed values) and check the values with :func:`check` before they
start anything, so a bad value fails the launch at once with a one-line reason; the README's
launch-argument tables are generated from here (:mod:`cfvgg_ros.ros.docs`). Defaults written in
``<...>`` are resolved by the launch file (the package share, an environment variable).
"""

from __future__ import annotations

from dataclasses import dataclass

from cfvgg_ros.ros import topics
from cfvgg_ros.ros.params import IMAGE_QOS_CHOICES, IMAGE_TRANSPORTS

BOOLS = ("true", "false")
#: default of ``fastdds_profile`` for the node: the launching environment's, else the node's own
NODE_PROFILE_DEFAULT = "<$FASTRTPS_DEFAULT_PROFILES_FILE, else share/config/fastdds_node.xml>"


@dataclass(frozen=True)
class LaunchArg:
    """One launch argument. ``kind``: how :func:`check` reads it (str, int, float, bool, a list of
    ``choices``); ``empty``: "" means "not set here" (the params file's value stays)."""

    name: str
    default: str
    description: str
    choices: tuple[str, ...] = ()
    kind: type = str
    required: bool = False

    @property
    def launch_default(self) -> str | None:
        """The literal default to declare (None: the launch file builds it, or it is required)."""
        return None if self.required or self.default.startswith("<") else self.default


TRACK_ARGS: tuple[LaunchArg, ...] = (
    LaunchArg("image_topic", topics.DRIVER_IMAGE, "sensor_msgs/Image topic to track on (with image_transport "
                                                  "compressed: its /compressed sub-topic)"),
    LaunchArg("camera_info_topic", topics.DRIVER_CAMERA_INFO, "sensor_msgs/CameraInfo topic (bearing-ray poses); "
                                                              "'none': no camera_info"),
    LaunchArg("image_transport", "", "raw or compressed; empty: the params file's (raw)",
              choices=("", *IMAGE_TRANSPORTS)),
    LaunchArg("image_qos", "", "best_available, sensor_data or reliable; empty: the params file's (best_available)",
              choices=("", *IMAGE_QOS_CHOICES)),
    LaunchArg("params_file", "<share/config/track.yaml>", "ROS parameters file of the node (these arguments "
                                                          "override it where set)"),
    LaunchArg("tracker", "", "tracker name; empty: the params file's"),
    LaunchArg("model", "", "ONNX CNN model file of trackers that use one; empty: the params file's (the shipped "
                           "student)"),
    LaunchArg("cpu_core", "-1", "pin the node to this CPU core (-1: no pinning)", kind=int),
    LaunchArg("node_name", topics.NODE_NAME, "the node's name (its ~/status is /<namespace>/<node_name>/status)"),
    LaunchArg("namespace", "", "the node's namespace"),
    LaunchArg("lifecycle", "false", "run the managed (lifecycle) node track_lifecycle_node instead of track_node",
              choices=BOOLS, kind=bool),
    LaunchArg("autostart", "true", "lifecycle: the node configures and activates itself at start (and after each "
                                   "respawn; parameter autostart); false: a lifecycle manager does", choices=BOOLS,
              kind=bool),
    LaunchArg("respawn", "false", "restart the node when its process exits", choices=BOOLS, kind=bool),
    LaunchArg("respawn_delay", "2.0", "seconds before a respawn", kind=float),
    LaunchArg("log_level", "info", "the node's log level",
              choices=("debug", "info", "warn", "error", "fatal")),
    LaunchArg("fastdds_profile", NODE_PROFILE_DEFAULT, "Fast DDS XML profile of the node (receives over UDP with a "
                                                       "16 MiB buffer, sends over shared memory too)"),
)

REPLAY_ARGS: tuple[LaunchArg, ...] = (
    LaunchArg("bag", "", "input rosbag2 directory made by 'cfvgg-bag make'", required=True),
    LaunchArg("output", "replay_output", "new rosbag2 directory for the node's outputs"),
    LaunchArg("params_file", "<share/config/track.yaml>", "tracking node parameters"),
    LaunchArg("tracker", "", "tracker name; empty: the params file's"),
    LaunchArg("model", "", "ONNX CNN model file of trackers that use one; empty: the params file's"),
    LaunchArg("bag_tool", "ros2", "ros2: 'ros2 bag play/record' (a ROS 2 install); cfvgg: 'cfvgg-bag play/record' "
                                  "(rosbags, works in a pip environment too)", choices=("ros2", "cfvgg")),
    LaunchArg("fastdds_profile", "<$FASTRTPS_DEFAULT_PROFILES_FILE, else share/config/fastdds_shm.xml>",
              "Fast DDS XML profile of the player and recorder (shared memory, 32 MiB segment)"),
    LaunchArg("node_fastdds_profile", NODE_PROFILE_DEFAULT, "Fast DDS XML profile of the tracking node"),
    LaunchArg("rate", "1.0", "playback speed factor", kind=float),
    LaunchArg("play_delay", "3.0", "seconds between starting the node/recorder and playing", kind=float),
    LaunchArg("tail", "2.0", "seconds to keep recording after playback ends", kind=float),
)


def check(args: tuple[LaunchArg, ...], values: dict[str, str]) -> dict:
    """The values of ``args`` (name -> launch text) read as their kinds; ValueError naming the
    argument, its value and what it must be."""
    out = {}
    for arg in args:
        text = values.get(arg.name, arg.default)
        if arg.required and not text:
            raise ValueError(f"launch argument {arg.name} is required ({arg.description})")
        if arg.choices and text not in arg.choices:
            shown = ", ".join(repr(c) for c in arg.choices)
            raise ValueError(f"launch argument {arg.name}:={text!r} is not one of {shown}")
        try:
            if arg.kind is bool:
                value = text == "true"
            elif arg.kind in (int, float):
                value = arg.kind(text)
            else:
                value = text
        except ValueError:
            what = "an integer" if arg.kind is int else "a number"
            raise ValueError(f"launch argument {arg.name}:={text!r} must be {what}") from None
        if arg.kind is int and arg.name == "cpu_core" and value < -1:
            raise ValueError(f"launch argument cpu_core:={text!r} must be >= 0, or -1 for no pinning")
        if arg.kind is float and not value >= 0:
            raise ValueError(f"launch argument {arg.name}:={text!r} must be >= 0")
        out[arg.name] = "" if arg.name == "camera_info_topic" and value == "none" else value
    return out
