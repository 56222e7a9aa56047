"""The managed node over DDS (lifecycle_msgs services, as a lifecycle manager such as Nav2's calls
them): unconfigured with its parameters declared; configure creates the tracker (model loaded,
warmed up) and publishes nothing yet; activate subscribes and tracks; deactivate unsubscribes,
drops the target and publishes nothing; cleanup and configure again; a configure that cannot
succeed (missing model) fails and leaves the node unconfigured; shutdown finalizes it."""

from __future__ import annotations

import time

import pytest

from cfvgg_ros.ros.params import default_tracker

pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")

MODULE = "cfvgg_ros.ros.lifecycle_node"
PARAMS = {"camera_info_topic": "", "image_qos": "reliable", "status_period": 0.25}


class Lifecycle:
    """The node's lifecycle services."""

    def __init__(self, client, node_name: str = "track_node") -> None:
        from lifecycle_msgs.srv import ChangeState, GetState

        self.client = client
        self.change = client.node.create_client(ChangeState, f"/{node_name}/change_state")
        self.get = client.node.create_client(GetState, f"/{node_name}/get_state")
        self.ChangeState, self.GetState = ChangeState, GetState

    def state(self) -> str:
        return self.client.call(self.get, self.GetState.Request(), timeout=120.0).current_state.label

    def settled_state(self, timeout: float = 120.0) -> str:
        """The state once no transition is in progress."""
        return self.client.wait_for(lambda: (s := self.state()) not in self.TRANSITIONAL and s, timeout,
                                    "the transition to end")

    TRANSITIONAL = ("configuring", "cleaningup", "shuttingdown", "activating", "deactivating", "errorprocessing")

    def transition(self, transition_id: int, timeout: float = 120.0) -> bool:
        """Request a transition; its success.

        A change_state request is not idempotent, so a lost reply (see ``RosClient.call``) is not
        answered by resending blindly: if the state has moved, the transition happened; if not, it
        was never received or it failed, and sending it again is safe.
        """
        before = self.settled_state()
        self.client.wait_for(self.change.service_is_ready, 30, f"service {self.change.srv_name}")
        request = self.ChangeState.Request()
        request.transition.id = transition_id
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            future = self.change.call_async(request)
            reply_by = min(deadline, time.monotonic() + 30.0)
            while time.monotonic() < reply_by and not future.done():
                time.sleep(0.01)
            if future.done():
                return future.result().success
            future.cancel()
            if self.settled_state() != before:
                return True
        pytest.fail(f"no reply from {self.change.srv_name} in {timeout:.0f} s")


@pytest.fixture(scope="module")
def managed(tmp_path_factory, ros_client, h):
    proc = h.NodeProcess(tmp_path_factory.mktemp("lifecycle"), PARAMS, module=MODULE)
    yield proc, Lifecycle(ros_client)
    assert proc.stop() == 0, proc.log()[-3000:]


def _no_status_for(client, seconds: float) -> bool:
    client.clear()
    time.sleep(seconds)
    return client.last_status() is None


def test_transitions(managed, ros_client, synthetic, h):
    from lifecycle_msgs.msg import Transition
    from rcl_interfaces.srv import ListParameters

    proc, lifecycle = managed
    client = ros_client
    assert lifecycle.state() == "unconfigured"
    # parameters are declared before configure: the tracker's settings are listed already
    lister = client.node.create_client(ListParameters, "/track_node/list_parameters")
    names = set(client.call(lister, ListParameters.Request()).result.names)
    assert {"tracker", "model", "image_qos"} <= names
    assert any(n.startswith(default_tracker().replace("-", "_") + ".") for n in names)
    assert _no_status_for(client, 1.0)

    # configure: tracker created and warmed up, still nothing published, no subscription yet
    assert lifecycle.transition(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.state() == "inactive"
    log = proc.log()
    assert f"tracking with '{default_tracker()}'" in log and "configured (tracker created and warmed up)" in log
    assert client.pub_image.get_subscription_count() == 0
    assert _no_status_for(client, 1.0)

    # activate: subscribed, status published, tracking
    assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
    assert lifecycle.state() == "active"
    client.wait_ready(proc)
    frames, boxes, _ = synthetic
    client.publish_frame(frames[0], h.stamp_of(0), log=proc.log)
    client.publish_roi(boxes[0])
    client.wait_box(h.stamp_of(0), timeout=30, log=proc.log)
    for i in range(1, 6):
        client.publish_frame(frames[i], h.stamp_of(i), log=proc.log)
    assert h.iou(client.wait_box(h.stamp_of(5), log=proc.log), boxes[5]) > 0.3
    assert client.last_status()["state"] == "TRACKING"

    # deactivate: unsubscribed, target dropped, nothing published
    assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
    assert lifecycle.state() == "inactive"
    client.wait_for(lambda: client.pub_image.get_subscription_count() == 0, 10, "the node to unsubscribe")
    client.pub_image.publish(client.image_msg(frames[6], h.stamp_of(6)))
    assert _no_status_for(client, 1.0) and not client.boxes

    # activate again: IDLE, a new init is needed
    assert lifecycle.transition(Transition.TRANSITION_ACTIVATE)
    client.wait_ready(proc)
    status = client.publish_frame(frames[7], h.stamp_of(7), log=proc.log)
    assert status["state"] == "IDLE"

    # cleanup (from inactive) frees everything; configure builds it again
    assert lifecycle.transition(Transition.TRANSITION_DEACTIVATE)
    assert lifecycle.transition(Transition.TRANSITION_CLEANUP)
    assert lifecycle.state() == "unconfigured"
    assert "cleaned up" in proc.log()
    assert lifecycle.transition(Transition.TRANSITION_CONFIGURE)
    assert lifecycle.state() == "inactive"

    # shutdown: finalized
    assert lifecycle.transition(Transition.TRANSITION_INACTIVE_SHUTDOWN)
    assert lifecycle.state() == "finalized"
    assert proc.alive()


def test_a_configure_that_cannot_succeed_fails_and_stays_unconfigured(tmp_path, ros_client, h):
    from lifecycle_msgs.msg import Transition

    name = "bad_model_node"  # beside the module's node
    proc = h.NodeProcess(tmp_path, {**PARAMS, "model": "/nonexistent/student.onnx"}, module=MODULE,
                         extra_args=["--ros-args", "-r", f"__node:={name}"])
    try:
        lifecycle = Lifecycle(ros_client, name)
        assert lifecycle.state() == "unconfigured"
        assert not lifecycle.transition(Transition.TRANSITION_CONFIGURE)
        assert lifecycle.state() == "unconfigured"
        assert "cannot configure: model file not found: '/nonexistent/student.onnx'" in proc.log()
        assert proc.alive()
    finally:
        assert proc.stop() == 0, proc.log()[-3000:]


def test_autostart_configures_and_activates_at_start(tmp_path, ros_client, h):
    name = "autostarted_node"
    proc = h.NodeProcess(tmp_path, {**PARAMS, "tracker": "opencv-csrt", "autostart": True}, module=MODULE,
                         extra_args=["--ros-args", "-r", f"__node:={name}"])
    try:
        lifecycle = Lifecycle(ros_client, name)
        ros_client.wait_for(lambda: lifecycle.state() == "active", 60, "the node to be active", proc.log)
        assert "configured (tracker created and warmed up)" in proc.log()
    finally:
        assert proc.stop() == 0, proc.log()[-3000:]
