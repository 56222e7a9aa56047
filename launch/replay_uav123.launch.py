"""Replay a tracking bag through the tracking node and record its outputs (real ROS 2 installs).

    cfvgg-bag make UAV123_10fps/person11 bags/person11
    ros2 launch cfvgg_ros replay_uav123.launch.py bag:=bags/person11 output:=out/person11
    cfvgg-bag score out/person11 --groundtruth bags/person11

Starts the tracking node (executable ``track_node``, node name ``track_node`` so its status is
``/track_node/status``; ``image``/``camera_info`` remapped to the bag's camera topics), ``ros2 bag
record`` of the node's outputs and -- after ``play_delay`` seconds for discovery -- ``ros2 bag
play`` of the input bag (its ``/init_bbox`` and ``/init_bbox_stamped`` initialise the node). When
playback ends, the launch shuts down after ``tail`` seconds so the last outputs are recorded.
Every process uses the package's Fast DDS profile unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set.
The topic and node names come from the package's one table of them, ``cfvgg_ros.ros.topics``.
"""

from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
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

from cfvgg_ros.ros.topics import CAMERA_INFO, DRIVER_CAMERA_INFO, DRIVER_IMAGE, IMAGE, NODE_NAME, OUTPUT_TOPICS


def generate_launch_description():
    share = FindPackageShare("cfvgg_ros")
    bag = LaunchConfiguration("bag")
    output = LaunchConfiguration("output")
    params_file = LaunchConfiguration("params_file")
    rate = LaunchConfiguration("rate")
    play_delay = LaunchConfiguration("play_delay")
    tail = LaunchConfiguration("tail")

    arguments = [
        DeclareLaunchArgument("bag", description="input rosbag2 directory made by 'cfvgg-bag make'"),
        DeclareLaunchArgument("output", default_value="replay_output",
                              description="new rosbag2 directory for the node's outputs"),
        DeclareLaunchArgument("params_file",
                              default_value=PathJoinSubstitution([share, "config", "track.yaml"]),
                              description="tracking node parameters"),
        DeclareLaunchArgument(
            "fastdds_profile",
            default_value=EnvironmentVariable(
                "FASTRTPS_DEFAULT_PROFILES_FILE",
                default_value=PathJoinSubstitution([share, "config", "fastdds_shm.xml"])),
            description="Fast DDS XML profile of every process here (shared memory, 32 MiB segment)",
        ),
        DeclareLaunchArgument("rate", default_value="1.0", description="playback speed factor"),
        DeclareLaunchArgument("play_delay", default_value="3.0",
                              description="seconds between starting the node/recorder and playing"),
        DeclareLaunchArgument("tail", default_value="2.0",
                              description="seconds to keep recording after playback ends"),
    ]

    track_node = Node(
        package="cfvgg_ros",
        executable="track_node",
        name=NODE_NAME,
        parameters=[params_file],
        remappings=[(IMAGE, DRIVER_IMAGE), (CAMERA_INFO, DRIVER_CAMERA_INFO)],
        output="screen",
    )
    record = ExecuteProcess(
        cmd=["ros2", "bag", "record", "--storage", "mcap", "--output", output, *OUTPUT_TOPICS],
        output="screen",
    )
    play = ExecuteProcess(cmd=["ros2", "bag", "play", bag, "--rate", rate], output="screen")
    stop_after_play = RegisterEventHandler(
        OnProcessExit(
            target_action=play,
            on_exit=[TimerAction(period=tail, actions=[EmitEvent(event=Shutdown(reason="bag played"))])],
        )
    )
    return LaunchDescription([
        *arguments,
        # the sender's shared-memory segment must hold a whole image: player, node and recorder alike
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", LaunchConfiguration("fastdds_profile")),
        track_node,
        record,
        TimerAction(period=play_delay, actions=[play]),
        stop_after_play,
    ])
