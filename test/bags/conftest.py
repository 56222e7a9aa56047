"""Shared fixtures of the bag tests: an isolated DDS domain and small synthetic bags."""

from __future__ import annotations

import os
import random

import pytest

NUM_FRAMES = 20
SIZE = (320, 240)


@pytest.fixture(scope="module", autouse=True)
def isolated_ros_domain():
    """Real DDS kept off the network and away from other runs: a random domain id in 101..200
    on loopback only, in this process's environment (read by ``rclpy.init``) and so in every
    subprocess the tests start. Restored after each test module, so tests elsewhere never see it."""
    saved = {k: os.environ.get(k) for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")}
    os.environ["ROS_DOMAIN_ID"] = str(random.SystemRandom().randint(101, 200))
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    yield os.environ["ROS_DOMAIN_ID"]
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def subprocess_env(isolated_ros_domain) -> dict:
    """Environment for subprocesses: this domain, loopback discovery, unbuffered output."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def translation_sequence():
    """The synthetic 'translation' preset at 320x240, 20 frames."""
    from cfvgg_ros.datasets.synthetic import make_sequence

    return make_sequence("translation", num_frames=NUM_FRAMES, width=SIZE[0], height=SIZE[1])


@pytest.fixture(scope="session")
def synthetic_bag(tmp_path_factory, translation_sequence):
    """An mcap bag of :func:`translation_sequence` made by ``make_bag``."""
    from cfvgg_ros.bags.make import make_bag

    return make_bag(translation_sequence, tmp_path_factory.mktemp("bags") / "translation")


class RosHarness:
    """An rclpy context and node of the test process, spun in a background thread."""

    def __init__(self, name: str) -> None:
        import threading

        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.signals import SignalHandlerOptions

        self._rclpy = rclpy
        self.context = rclpy.Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and self.context.ok():
            self.executor.spin_once(timeout_sec=0.02)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        self._rclpy.shutdown(context=self.context)


@pytest.fixture
def ros(isolated_ros_domain):
    """A spinning rclpy node in the test process (its own context), shut down afterwards."""
    harness = RosHarness("bag_test_peer")
    yield harness
    harness.close()


def _wait_until(predicate, timeout: float, period: float = 0.02) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed; returns its last value."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(period)
    return bool(predicate())


@pytest.fixture
def wait_until():
    """``wait_until(predicate, timeout)``: poll until true or timed out; returns the last value."""
    return _wait_until
