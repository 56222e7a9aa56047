"""Replay a tracking bag through the tracking node and record its outputs:

    cfvgg-bag make UAV123_10fps/person11 bags/person11
    ros2 launch cfvgg_ros replay_uav123.launch.py bag:=bags/person11 output:=out/person11
    cfvgg-bag score out/person11 --groundtruth bags/person11

Starts the tracking node (executable ``track_node``, node name ``track_node`` so its status is
``/track_node/status``; its image and camera_info topics set to the bag's camera topics), a
recorder of the node's outputs and -- after ``play_delay`` seconds for discovery -- a player of
the input bag (its ``/init_bbox`` and ``/init_bbox_stamped`` initialise the node): ``ros2 bag
record / play`` (``bag_tool:=ros2``, a ROS 2 install) or ``cfvgg-bag record / play``
(``bag_tool:=cfvgg``, rosbags: also in a pip environment). When playback ends, the launch shuts
down after ``tail`` seconds so the last outputs are recorded. Player and recorder use the
publishers' Fast DDS profile (config/fastdds_shm.xml), the node its own (config/fastdds_node.xml),
unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set. The arguments are the table
``cfvgg_ros.ros.launch_args.REPLAY_ARGS``, checked before anything starts; the topic and node names
come from ``cfvgg_ros.ros.topics``.
"""

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    OpaqueFunction,
    RegisterEventHandler,
    SetEnvironmentVariable,
    TimerAction,
)
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch.launch_description import LaunchDescription
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from cfvgg_ros.ros.launch_args import REPLAY_ARGS, check
from cfvgg_ros.ros.topics import (
    DRIVER_CAMERA_INFO,
    DRIVER_IMAGE,
    INIT_BBOX,
    INIT_BBOX_STAMPED,
    NODE_NAME,
    OUTPUT_TOPICS,
)

SUBSTITUTED_DEFAULTS = {
    "params_file": lambda share: PathJoinSubstitution([share, "config", "track.yaml"]),
    "fastdds_profile": lambda share: EnvironmentVariable(
        "FASTRTPS_DEFAULT_PROFILES_FILE", default_value=PathJoinSubstitution([share, "config", "fastdds_shm.xml"])),
    "node_fastdds_profile": lambda share: EnvironmentVariable(
        "FASTRTPS_DEFAULT_PROFILES_FILE", default_value=PathJoinSubstitution([share, "config", "fastdds_node.xml"])),
}


def _replay(context):
    values = check(REPLAY_ARGS, {name: str(value) for name, value in context.launch_configurations.items()})
    overrides = {"image_topic": DRIVER_IMAGE, "camera_info_topic": DRIVER_CAMERA_INFO}
    for name in ("tracker", "model"):
        if values[name]:
            overrides[name] = values[name]
    track_node = Node(
        package="cfvgg_ros",
        executable="track_node",
        name=NODE_NAME,
        parameters=[values["params_file"], overrides],
        additional_env={"FASTRTPS_DEFAULT_PROFILES_FILE": values["node_fastdds_profile"]},
        output="screen",
    )
    if values["bag_tool"] == "cfvgg":
        record_cmd = ["cfvgg-bag", "record", values["output"], "--storage", "mcap", "--topics", *OUTPUT_TOPICS]
        # the first frame and the init requests are played only once the node subscribes to them
        play_cmd = ["cfvgg-bag", "play", values["bag"], "--rate", str(values["rate"]), "--wait-for", DRIVER_IMAGE,
                    INIT_BBOX, INIT_BBOX_STAMPED]
    else:
        record_cmd = ["ros2", "bag", "record", "--storage", "mcap", "--output", values["output"], *OUTPUT_TOPICS]
        play_cmd = ["ros2", "bag", "play", values["bag"], "--rate", str(values["rate"]), "--delay", "1.0"]
    record = ExecuteProcess(cmd=record_cmd, output="screen", sigterm_timeout="10")
    play = ExecuteProcess(cmd=play_cmd, output="screen")
    stop_after_play = RegisterEventHandler(
        OnProcessExit(
            target_action=play,
            on_exit=[TimerAction(period=values["tail"], actions=[EmitEvent(event=Shutdown(reason="bag played"))])],
        )
    )
    return [track_node, record, TimerAction(period=values["play_delay"], actions=[play]), stop_after_play]


def generate_launch_description():
    share = FindPackageShare("cfvgg_ros")
    arguments = [
        DeclareLaunchArgument(arg.name, description=arg.description,
                              default_value=SUBSTITUTED_DEFAULTS[arg.name](share) if arg.name in SUBSTITUTED_DEFAULTS
                              else arg.launch_default,
                              **({"choices": list(arg.choices)} if arg.choices else {}))
        for arg in REPLAY_ARGS
    ]
    return LaunchDescription([
        *arguments,
        # the player's shared-memory segment must hold a whole image (the node receives over UDP)
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", LaunchConfiguration("fastdds_profile")),
        OpaqueFunction(function=_replay),
    ])
