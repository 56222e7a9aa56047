"""The managed (lifecycle) tracking node, as perception stacks such as Nav2 expect.

``ros2 run cfvgg_ros track_lifecycle_node --ros-args --params-file config/track.yaml`` (or
``cfvgg-track --lifecycle``, or ``ros2 launch cfvgg_ros track.launch.py lifecycle:=true``) starts it
*unconfigured*, with its parameters declared (``ros2 param list / describe`` work) and the
lifecycle services (``~/change_state``, ``~/get_state``, ...; lifecycle_msgs):

* ``configure``: read the parameters, create the tracker, load its model and warm it up (numba
  compiles), create the publishers and ``~/reset``, start the worker -- a bad parameter or model
  fails the transition (the reason is logged) and the node stays unconfigured;
* ``activate``: subscribe to the image, camera_info and init topics: tracking starts;
* ``deactivate``: unsubscribe, drop the target (IDLE) and publish nothing more (``~/status``
  included) until activated again, when a new init is needed;
* ``cleanup``: free the tracker, its model, the publishers and the worker (back to unconfigured);
* ``shutdown`` (from any state): the same, then finalized.

With the parameter ``autostart`` it configures and activates itself right after start, so also
after a respawn (``track.launch.py lifecycle:=true autostart:=true``); else a lifecycle manager
(Nav2's ``lifecycle_manager``, ``ros2 lifecycle set``) drives it.

The node's parts are those of the plain node, :class:`~cfvgg_ros.ros.runtime.TrackRuntime`
(built at configure, activated at activate): nothing of the tracking is duplicated here.
"""

from __future__ import annotations

import os
import sys

from cfvgg_ros.threads import THREAD_ENV_VARS

for _var in THREAD_ENV_VARS:  # before numpy / OpenCV / onnxruntime load
    os.environ.setdefault(_var, "1")

from rclpy.lifecycle import LifecycleNode, TransitionCallbackReturn  # noqa: E402

from cfvgg_ros.ros.params import NodeStartupError  # noqa: E402
from cfvgg_ros.ros.runtime import NODE_NAME, ParameterUpdates, TrackRuntime, declare_parameters  # noqa: E402
from cfvgg_ros.ros.track_node import run  # noqa: E402


class LifecycleTrackNode(LifecycleNode):
    """The tracking node as a managed node (see the module docstring)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.runtime: TrackRuntime | None = None
        self.startup_error: NodeStartupError | None = None
        try:
            self.p, self.settings = declare_parameters(self)
        except NodeStartupError as exc:  # reported when configured: the node itself stays up
            self.p, self.settings, self.startup_error = {}, {}, exc
            self.get_logger().error(f"bad parameters: {exc}; configure will fail")
        self.updates = ParameterUpdates(self, self.p, lambda: self.runtime)

    def on_configure(self, state) -> TransitionCallbackReturn:
        if self.startup_error is not None:
            self.get_logger().error(f"cannot configure: {self.startup_error}")
            return TransitionCallbackReturn.FAILURE
        try:
            self.runtime = TrackRuntime(self, self.p, self.settings)
        except NodeStartupError as exc:
            self.get_logger().error(f"cannot configure: {exc}")
            return TransitionCallbackReturn.FAILURE
        self.get_logger().info("configured (tracker created and warmed up); activate to start tracking")
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state) -> TransitionCallbackReturn:
        self.runtime.activate()
        self.get_logger().info("active: tracking")
        return TransitionCallbackReturn.SUCCESS

    def on_deactivate(self, state) -> TransitionCallbackReturn:
        self.runtime.deactivate()
        self.get_logger().info("inactive: not subscribed, target dropped, nothing published")
        return TransitionCallbackReturn.SUCCESS

    def on_cleanup(self, state) -> TransitionCallbackReturn:
        self._free()
        self.get_logger().info("cleaned up: tracker and publishers freed")
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state) -> TransitionCallbackReturn:
        self._free()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state) -> TransitionCallbackReturn:
        self._free()
        return TransitionCallbackReturn.SUCCESS

    def _free(self) -> None:
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.destroy()

    def start(self) -> None:
        """With the ``autostart`` parameter: configure and activate now (the transitions are published
        on ``~/transition_event`` as any others)."""
        if self.p.get("autostart") and self.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            self.trigger_activate()

    def stop(self) -> None:
        """Free the runtime (call before destroying the node)."""
        self._free()


def main(argv: list[str] | None = None) -> int:
    """Run the lifecycle node until shutdown; returns the exit code (2 when ROS cannot start)."""
    return run(LifecycleTrackNode, argv)


if __name__ == "__main__":
    sys.exit(main())
