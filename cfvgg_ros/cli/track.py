"""``cfvgg-track``: run the ROS 2 tracking node with the package's defaults.

    cfvgg-track [--tracker NAME] [--model FILE] [--image-topic TOPIC] [--cpu-core N] [--lifecycle]
                [--params-file FILE] [--no-default-params] [--ros-args ...]

Before anything heavy loads it (1) sets the math libraries' thread-count variables to 1, (2) points
``FASTRTPS_DEFAULT_PROFILES_FILE`` at the node's Fast DDS profile (``config/fastdds_node.xml``:
receives over UDP with a large socket buffer, sends over shared memory too) unless the variable is
already set, and (3) passes ``config/track.yaml`` from the package share as
the first params file, so a user's ``--params-file`` (given here or after ``--ros-args``) only needs
the parameters it changes. The options are shortcuts for ``-p`` overrides; everything after
``--ros-args`` goes to ROS unchanged. Exit code: 0 after a normal shutdown, 2 when the node cannot
start (the reason is logged on one line). ``--lifecycle`` runs the managed node
(:mod:`cfvgg_ros.ros.lifecycle_node`), which waits unconfigured for its lifecycle transitions.
"""

from __future__ import annotations

import argparse
import os
import sys

from cfvgg_ros.threads import THREAD_ENV_VARS

DEFAULT_PARAMS_NAME = "track.yaml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfvgg-track",
        description="Run the cfvgg_ros tracking node (ROS 2) with the shipped params and Fast DDS profile.",
        epilog="Arguments after --ros-args are passed to ROS unchanged.",
    )
    parser.add_argument("--tracker", help="tracker name (create_tracker) or plug-in 'module:attr'")
    parser.add_argument("--model", help="ONNX CNN feature model file (trackers that use one; default: the shipped one)")
    parser.add_argument("--image-topic", help="sensor_msgs/Image topic to track on")
    parser.add_argument("--cpu-core", type=int, help="pin the process to this CPU core (-1: no pinning)")
    parser.add_argument("--params-file", action="append", default=[], help="extra ROS params file (repeatable)")
    parser.add_argument("--lifecycle", action="store_true",
                        help="run the managed (lifecycle) node: it waits for configure / activate")
    parser.add_argument("--no-default-params", action="store_true",
                        help=f"do not load config/{DEFAULT_PARAMS_NAME} from the package share first")
    return parser


def ros_arguments(options: argparse.Namespace, user_ros_args: list[str], default_params: str | None) -> list[str]:
    """The ``--ros-args ...`` list for the node: the default params file, the user's params files,
    the shortcut overrides, then the user's own ROS arguments (later ones win)."""
    args = ["--ros-args"]
    if default_params and not options.no_default_params:
        args += ["--params-file", default_params]
    for path in options.params_file:
        args += ["--params-file", path]
    if options.tracker is not None:
        args += ["-p", f"tracker:={options.tracker}"]
    if options.model is not None:
        args += ["-p", f"model:={options.model}"]
    if options.image_topic is not None:
        args += ["-p", f"image_topic:={options.image_topic}"]
    if options.cpu_core is not None:
        args += ["-p", f"cpu_core:={options.cpu_core}"]
    rest = list(user_ros_args)
    if rest and rest[0] == "--ros-args":
        rest = rest[1:]
    return args + rest


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--ros-args") if "--ros-args" in argv else len(argv)
    options = _parser().parse_args(argv[:split])
    for path in options.params_file:
        if not os.path.isfile(path):
            print(f"cfvgg-track: params file not found: {path}", file=sys.stderr)
            return 2
    for var in THREAD_ENV_VARS:  # before numpy, OpenCV, onnxruntime load
        os.environ.setdefault(var, "1")

    from cfvgg_ros.ros.qos import package_share, use_node_fastdds_profile

    profile = use_node_fastdds_profile()
    default_params = package_share() / "config" / DEFAULT_PARAMS_NAME
    args = ros_arguments(options, argv[split:], str(default_params) if default_params.is_file() else None)
    if profile:
        print(f"cfvgg-track: Fast DDS profile {profile}", file=sys.stderr)

    if options.lifecycle:
        from cfvgg_ros.ros import lifecycle_node

        return lifecycle_node.main(["cfvgg-track", *args])
    from cfvgg_ros.ros import track_node

    return track_node.main(["cfvgg-track", *args])


if __name__ == "__main__":
    sys.exit(main())
