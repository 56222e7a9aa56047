"""Launch the cfvgg_ros tracking node (ROS 2 Jazzy):

    ros2 launch cfvgg_ros track.launch.py image_topic:=/camera/image_raw cpu_core:=2

Arguments: ``image_topic``, ``camera_info_topic``, ``params_file`` (default: the shipped
config/track.yaml), ``model_path`` (default: the shipped models/ folder), ``cpu_core`` (-1: no pinning) and
``fastdds_profile``: the Fast DDS profile with a 32 MiB shared-memory segment
(config/fastdds_shm.xml) unless FASTRTPS_DEFAULT_PROFILES_FILE is already set. These arguments
override the same parameters in the params file; the tracker and everything else come from it.
The default topics come from the package's one table of topic names, ``cfvgg_ros.ros.topics``.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, SetEnvironmentVariable
from launch.substitutions import EnvironmentVariable, LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

from cfvgg_ros.ros.topics import DRIVER_CAMERA_INFO, DRIVER_IMAGE


def generate_launch_description():
    share = FindPackageShare("cfvgg_ros")
    default_profile = PathJoinSubstitution([share, "config", "fastdds_shm.xml"])
    arguments = [
        DeclareLaunchArgument("image_topic", default_value=DRIVER_IMAGE,
                              description="sensor_msgs/Image topic to track on"),
        DeclareLaunchArgument("camera_info_topic", default_value=DRIVER_CAMERA_INFO,
                              description="sensor_msgs/CameraInfo topic (bearing-ray poses); empty: none"),
        DeclareLaunchArgument("params_file", default_value=PathJoinSubstitution([share, "config", "track.yaml"]),
                              description="ROS parameters file of the node"),
        DeclareLaunchArgument("model_path", default_value=PathJoinSubstitution([share, "models"]),
                              description="folder of model files"),
        DeclareLaunchArgument("cpu_core", default_value="-1",
                              description="pin the node to this CPU core (-1: no pinning)"),
        DeclareLaunchArgument("fastdds_profile",
                              default_value=EnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE",
                                                                default_value=default_profile),
                              description="Fast DDS XML profile (shared memory, 32 MiB segment)"),
    ]
    node = Node(
        package="cfvgg_ros",
        executable="track_node",
        name="track_node",
        output="screen",
        emulate_tty=True,
        parameters=[
            LaunchConfiguration("params_file"),
            {
                "image_topic": LaunchConfiguration("image_topic"),
                "camera_info_topic": LaunchConfiguration("camera_info_topic"),
                "model_path": LaunchConfiguration("model_path"),
                "cpu_core": ParameterValue(LaunchConfiguration("cpu_core"), value_type=int),
            },
        ],
    )
    return LaunchDescription([
        *arguments,
        SetEnvironmentVariable("FASTRTPS_DEFAULT_PROFILES_FILE", LaunchConfiguration("fastdds_profile")),
        node,
    ])
