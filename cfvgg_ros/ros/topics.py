"""One table of the topic names the tracking node, the bag tools and the launch files use.

The node's names are the defaults of its ``*_topic`` parameters (inputs) and the names it
publishes under (outputs); relative names resolve in the node's namespace, ``~/`` names under
the node's name, and all of them can be remapped. The camera names are those of a usual camera
driver, and the ones a bag made by ``cfvgg-bag make`` carries. :data:`OUTPUT_TOPICS` are the
node's outputs as absolute names when it runs in the root namespace under its default name
:data:`NODE_NAME` (as ``launch/replay_uav123.launch.py`` and the replay pipeline start it).

Nothing here imports ROS: the bag tools and the launch files import it as plain Python.
"""

from __future__ import annotations

#: the node's default name (``~/`` topics and services live under it).
NODE_NAME = "track_node"

# -- node inputs ------------------------------------------------------------------------------
#: sensor_msgs/Image to track on.
IMAGE = "image"
#: sensor_msgs/CameraInfo of that image (bearing-ray poses).
CAMERA_INFO = "camera_info"
#: sensor_msgs/RegionOfInterest: init on the newest frame.
INIT_BBOX = "/init_bbox"
#: geometry_msgs/PolygonStamped: init on the frame its header stamp names.
INIT_BBOX_STAMPED = "/init_bbox_stamped"
#: vision_msgs/Detection2D: init like the stamped polygon (when vision_msgs is installed).
INIT_DETECTION = "/init_detection"

# -- node outputs -----------------------------------------------------------------------------
#: geometry_msgs/PoseStamped: bearing ray (with camera_info) or pixel centre of the box.
TARGET_POSE = "target_pose"
#: sensor_msgs/RegionOfInterest: the box clipped to the image.
TARGET_ROI = "target_roi"
#: geometry_msgs/PolygonStamped: the box's 4 corners.
TARGET_BOX = "target_box"
#: vision_msgs/Detection2D: the box with its score (when vision_msgs is installed).
TARGET_DETECTION = "target_detection"
#: diagnostic_msgs/DiagnosticArray: state, score, rates, latency, errors.
STATUS = "~/status"
#: sensor_msgs/Image: the frame with the box drawn (parameter ``publish_debug_image``).
DEBUG_IMAGE = "~/debug_image"
#: std_srvs/Trigger service: stop tracking.
RESET_SERVICE = "~/reset"

# -- camera driver (and input bag) topics -----------------------------------------------------
#: sensor_msgs/Image of a camera driver; the image topic of a bag made by ``make``.
DRIVER_IMAGE = "/camera/image_raw"
#: sensor_msgs/CameraInfo of a camera driver; the camera_info topic of a bag made by ``make``.
DRIVER_CAMERA_INFO = "/camera/camera_info"
#: geometry_msgs/PolygonStamped ground truth per frame in a bag made by ``make``.
GROUNDTRUTH = "/groundtruth"


def resolve(name: str, node_name: str = NODE_NAME, namespace: str = "/") -> str:
    """Absolute name of topic ``name`` for a node ``node_name`` in ``namespace`` (no remapping)."""
    namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
    if name.startswith("/"):
        return name
    if name.startswith("~/"):
        return f"{namespace}/{node_name}/{name[2:]}"
    return f"{namespace}/{name}"


#: the node's ``~/status`` under its default name in the root namespace.
STATUS_TOPIC = resolve(STATUS)
#: the output the bag tools score (``target_box``).
OUTPUT_BOX_TOPIC = resolve(TARGET_BOX)
#: the node's outputs recorded by default (``cfvgg-bag record``, the replay pipeline and launch file).
OUTPUT_TOPICS = (OUTPUT_BOX_TOPIC, resolve(TARGET_ROI), resolve(TARGET_POSE), STATUS_TOPIC)
