"""The SROS2 access-control policy of the tracking node, generated from the topic table.

``config/sros2_policy.xml`` is :func:`policy_xml` with the defaults (node ``track_node`` in the
root namespace, enclave :data:`DEFAULT_ENCLAVE`, the default ``*_topic`` parameters); a test keeps
the file, the topic table (:mod:`.topics`), the node's ``*_topic`` parameters and the services
every rclpy node serves in step. For another node name, namespace, enclave or input topics,
generate your own:

    python -m cfvgg_ros.ros.sros2_policy --namespace /drone1 --set image_topic=/camera/image_raw -o policy.xml

The format is sros2's policy XML version 0.2.0 (``<policy>`` / ``<enclaves>`` / ``<enclave
path>`` / ``<profiles>`` / ``<profile ns node>`` with ``<topics publish|subscribe>`` and
``<services reply|request>`` lists). Names are ROS names as in :mod:`.topics`: relative ones resolve
in the profile's namespace, ``~/`` ones under the node's name. ``ros2 security create_permission``
turns the policy into the signed DDS permissions of the enclave (README, "Security (SROS2)").
Nothing here imports ROS.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from cfvgg_ros.ros import topics

__all__ = [
    "DEFAULT_ENCLAVE",
    "INPUT_TOPIC_PARAMETERS",
    "LIFECYCLE_PUBLISHED",
    "LIFECYCLE_SERVICES",
    "NODE_PUBLISHED",
    "NODE_SERVICES",
    "NODE_SUBSCRIBED",
    "POLICY_VERSION",
    "PUBLISHED",
    "SERVED",
    "main",
    "policy_xml",
]

POLICY_VERSION = "0.2.0"
#: the enclave the node runs in (``--ros-args --enclave /cfvgg_ros/track_node``).
DEFAULT_ENCLAVE = f"/cfvgg_ros/{topics.NODE_NAME}"

#: the node's input topics: its ``*_topic`` parameter -> the default name (topic table).
INPUT_TOPIC_PARAMETERS = {
    "image_topic": topics.IMAGE,
    "camera_info_topic": topics.CAMERA_INFO,
    "init_bbox_topic": topics.INIT_BBOX,
    "init_bbox_stamped_topic": topics.INIT_BBOX_STAMPED,
    "init_detection_topic": topics.INIT_DETECTION,
}
#: the node's outputs (``target_detection`` only with vision_msgs, ``~/debug_image`` only with
#: ``publish_debug_image``: allowed either way).
PUBLISHED = (topics.TARGET_POSE, topics.TARGET_ROI, topics.TARGET_BOX, topics.TARGET_DETECTION,
             topics.STATUS, topics.DEBUG_IMAGE)
#: the node's own services.
SERVED = (topics.RESET_SERVICE,)
#: the image's sub-topic with ``image_transport: compressed`` (sensor_msgs/CompressedImage).
COMPRESSED_IMAGE = f"{topics.IMAGE}/compressed"
#: what the lifecycle variant (track_lifecycle_node) publishes and serves besides (rclpy.lifecycle).
LIFECYCLE_PUBLISHED = ("~/transition_event",)
LIFECYCLE_SERVICES = (
    "~/change_state",
    "~/get_available_states",
    "~/get_available_transitions",
    "~/get_state",
    "~/get_transition_graph",
)
#: what every rclpy node publishes (log and parameter events) ...
NODE_PUBLISHED = ("/rosout", "/parameter_events")
#: ... subscribes to (the simulated clock, with ``use_sim_time:=true``, e.g. bag replay) ...
NODE_SUBSCRIBED = ("/clock",)
#: ... and serves (the parameter services and Jazzy's type-description service).
NODE_SERVICES = (
    "~/describe_parameters",
    "~/get_parameter_types",
    "~/get_parameters",
    "~/get_type_description",
    "~/list_parameters",
    "~/set_parameters",
    "~/set_parameters_atomically",
)


def _list(tag: str, attribute: str, child: str, names, comment: str) -> list[str]:
    lines = [f"          <!-- {comment} -->", f'          <{tag} {attribute}="ALLOW">']
    lines += [f"            <{child}>{escape(name)}</{child}>" for name in names]
    lines.append(f"          </{tag}>")
    return lines


def policy_xml(node_name: str = topics.NODE_NAME, namespace: str = "/", enclave: str = DEFAULT_ENCLAVE,
               input_topics: dict[str, str] | None = None) -> str:
    """The policy text: the enclave ``enclave`` with one profile, node ``node_name`` in
    ``namespace``, allowed to subscribe to its inputs (``input_topics`` overrides entries of
    :data:`INPUT_TOPIC_PARAMETERS`; an empty name drops that input), publish its outputs and
    serve its services, and nothing else (DDS permissions deny by default)."""
    inputs = dict(INPUT_TOPIC_PARAMETERS)
    for parameter, name in (input_topics or {}).items():
        if parameter not in inputs:
            raise ValueError(f"unknown input topic parameter {parameter!r}; one of {', '.join(inputs)}")
        inputs[parameter] = name
    for what, value in (("node name", node_name), ("namespace", namespace), ("enclave", enclave)):
        if not value or any(c.isspace() for c in value):
            raise ValueError(f"{what} must be a non-empty name without spaces, got {value!r}")
    if not enclave.startswith("/") or not namespace.startswith("/"):
        raise ValueError(f"enclave and namespace must be absolute ('/...'), got {enclave!r}, {namespace!r}")
    subscribed = [name for name in inputs.values() if name] + list(NODE_SUBSCRIBED)
    if inputs["image_topic"]:  # image_transport: compressed
        subscribed.insert(1, f"{inputs['image_topic']}/compressed")
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<!-- SROS2 access-control policy of the cfvgg_ros tracking node. Generated by",
        "     `python -m cfvgg_ros.ros.sros2_policy` from cfvgg_ros/ros/topics.py: regenerate, do not edit.",
        "     README.md, section \"Security (SROS2)\", says how to use it. -->",
        f'<policy version="{POLICY_VERSION}">',
        "  <enclaves>",
        f"    <enclave path={quoteattr(enclave)}>",
        "      <profiles>",
        f"        <profile ns={quoteattr(namespace)} node={quoteattr(node_name)}>",
        *_list("topics", "subscribe", "topic", subscribed,
               "inputs: image (raw, or compressed), camera_info, the init requests; /clock with use_sim_time"),
        *_list("topics", "publish", "topic", list(PUBLISHED) + list(NODE_PUBLISHED) + list(LIFECYCLE_PUBLISHED),
               "outputs: the target, ~/status, ~/debug_image; rclpy's /rosout and /parameter_events; "
               "the lifecycle node's ~/transition_event"),
        *_list("services", "reply", "service", list(SERVED) + list(NODE_SERVICES) + list(LIFECYCLE_SERVICES),
               "served: ~/reset, the parameter and type-description services of every node, and the "
               "lifecycle node's lifecycle services"),
        "        </profile>",
        "      </profiles>",
        "    </enclave>",
        "  </enclaves>",
        "</policy>",
    ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfvgg_ros.ros.sros2_policy",
                                     description="Write the tracking node's SROS2 access-control policy.")
    parser.add_argument("--node-name", default=topics.NODE_NAME)
    parser.add_argument("--namespace", default="/")
    parser.add_argument("--enclave", default=DEFAULT_ENCLAVE)
    parser.add_argument("--set", dest="inputs", action="append", default=[], metavar="PARAMETER=TOPIC",
                        help=f"an input topic as the node's parameter sets it ({', '.join(INPUT_TOPIC_PARAMETERS)})")
    parser.add_argument("-o", "--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    try:
        bad = [item for item in args.inputs if "=" not in item]
        if bad:
            raise ValueError(f"--set takes PARAMETER=TOPIC, got {bad}")
        inputs = dict(item.split("=", 1) for item in args.inputs)
        text = policy_xml(args.node_name, args.namespace, args.enclave, inputs)
    except ValueError as exc:
        print(f"sros2_policy: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
