"""Launch the cfvgg_ros tracking node (ROS 2 Jazzy):

    ros2 launch cfvgg_ros track.launch.py image_topic:=/camera/image_raw cpu_core:=2
    ros2 launch cfvgg_ros track.launch.py lifecycle:=true autostart:=false   # a lifecycle manager drives it

The arguments are the table ``cfvgg_ros.ros.launch_args.TRACK_ARGS`` (README "Deploy on a robot"):
topics, ``params_file`` (default: the shipped config/track.yaml), ``tracker``, ``model`` (a model
file), ``image_transport``, ``image_qos``, ``cpu_core``, ``node_name``, ``namespace``, ``lifecycle``
(the managed node ``track_lifecycle_node``) with ``autostart`` (the node configures and activates
itself at start, so also after each respawn), ``respawn`` / ``respawn_delay``, ``log_level`` and
``fastdds_profile`` (the node's profile, config/fastdds_node.xml, unless
FASTRTPS_DEFAULT_PROFILES_FILE is set). Arguments
that are set override the same parameters of the params file; empty ones leave them. Every value
is checked before anything starts: a bad one ends the launch with a one-line reason.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import EnvironmentVariable, PathJoinSubstitution
from launch_ros.actions import LifecycleNode, Node
from launch_ros.substitutions import FindPackageShare

from cfvgg_ros.ros.launch_args import TRACK_ARGS, check

SUBSTITUTED_DEFAULTS = {
    "params_file": lambda share: PathJoinSubstitution([share, "config", "track.yaml"]),
    "fastdds_profile": lambda share: EnvironmentVariable(
        "FASTRTPS_DEFAULT_PROFILES_FILE", default_value=PathJoinSubstitution([share, "config", "fastdds_node.xml"])),
}


def _node(context):
    values = check(TRACK_ARGS, {name: str(value) for name, value in context.launch_configurations.items()})
    overrides = {"cpu_core": values["cpu_core"], "image_topic": values["image_topic"],
                 "camera_info_topic": values["camera_info_topic"]}
    for name in ("tracker", "model", "image_transport", "image_qos"):
        if values[name]:
            overrides[name] = values[name]
    if values["lifecycle"]:  # autostart: the node configures and activates itself at every (re)start
        overrides["autostart"] = values["autostart"]
    common = dict(
        package="cfvgg_ros",
        name=values["node_name"],
        namespace=values["namespace"],
        output="screen",
        emulate_tty=True,
        parameters=[values["params_file"], overrides],
        respawn=values["respawn"],
        respawn_delay=values["respawn_delay"],
        additional_env={"FASTRTPS_DEFAULT_PROFILES_FILE": values["fastdds_profile"]},
        arguments=["--ros-args", "--log-level", values["log_level"]],
    )
    if not values["lifecycle"]:
        return [Node(executable="track_node", **common)]
    return [LifecycleNode(executable="track_lifecycle_node", **common)]


def generate_launch_description():
    share = FindPackageShare("cfvgg_ros")
    arguments = [
        DeclareLaunchArgument(arg.name, description=arg.description,
                              default_value=SUBSTITUTED_DEFAULTS[arg.name](share) if arg.name in SUBSTITUTED_DEFAULTS
                              else arg.launch_default,
                              **({"choices": list(arg.choices)} if arg.choices else {}))
        for arg in TRACK_ARGS
    ]
    return LaunchDescription([*arguments, OpaqueFunction(function=_node)])
