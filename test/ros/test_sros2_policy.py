"""The shipped SROS2 policy (config/sros2_policy.xml): sros2's 0.2.0 policy structure, generated
from the topic table, and covering every topic the node subscribes to or publishes and every
service it serves, so the policy and the node cannot drift apart unnoticed."""

from __future__ import annotations

import ast
import os
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from cfvgg_ros.ros import sros2_policy, topics
from cfvgg_ros.ros.params import SPECS

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "config" / "sros2_policy.xml"
NODE_PACKAGE = ROOT / "cfvgg_ros" / "ros"

# sros2's policy.xsd (version 0.2.0): element -> allowed children, and the qualifier attributes.
LISTS = {"topics": ("topic", {"publish", "subscribe"}), "services": ("service", {"reply", "request"}),
         "actions": ("action", {"call", "execute"})}


def _allowed(root, kind: str, qualifier: str, node_name=topics.NODE_NAME, namespace="/") -> set[str]:
    """Absolute names the profile ALLOWs for ``qualifier`` (publish / subscribe / reply ...)."""
    names = set()
    for element in root.iter(kind):
        if element.get(qualifier) == "ALLOW":
            names |= {topics.resolve(child.text.strip(), node_name, namespace) for child in element}
    return names


def _parse(text: str):
    return ET.fromstring(text.encode())


def test_the_shipped_policy_is_the_generated_one():
    assert POLICY.read_text() == sros2_policy.policy_xml(), (
        "config/sros2_policy.xml is stale: python -m cfvgg_ros.ros.sros2_policy -o config/sros2_policy.xml")


def test_policy_follows_the_sros2_0_2_0_schema():
    root = _parse(POLICY.read_text())
    assert root.tag == "policy" and root.attrib == {"version": "0.2.0"}
    assert [child.tag for child in root] == ["enclaves"]
    (enclaves,) = root
    assert enclaves and all(e.tag == "enclave" and set(e.attrib) == {"path"} for e in enclaves)
    for enclave in enclaves:
        assert enclave.get("path").startswith("/")
        assert enclave and all(p.tag == "profiles" for p in enclave)
        for profiles in enclave:
            assert profiles and all(p.tag == "profile" and set(p.attrib) == {"ns", "node"} for p in profiles)
            for profile in profiles:
                for rule in profile:
                    assert rule.tag in LISTS, rule.tag
                    child, qualifiers = LISTS[rule.tag]
                    assert rule.attrib and set(rule.attrib) <= qualifiers, rule.attrib
                    assert set(rule.attrib.values()) <= {"ALLOW", "DENY"}
                    assert len(rule) >= 1 and all(c.tag == child and c.text and c.text.strip() for c in rule)
    (profile,) = root.iter("profile")
    assert (profile.get("ns"), profile.get("node")) == ("/", topics.NODE_NAME)
    assert next(root.iter("enclave")).get("path") == sros2_policy.DEFAULT_ENCLAVE


def _node_interfaces() -> tuple[set[str], set[str]]:
    """(topics.X names the node publishes on, topics.X names it serves): every create_publisher /
    create_service call in the node's package cfvgg_ros/ros (track_node.py and its parts)."""
    published, served = set(), set()
    for path in sorted(NODE_PACKAGE.glob("*.py")):
        for call in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
                continue
            kind = {"create_publisher": published, "create_service": served}.get(call.func.attr)
            if kind is None:
                continue
            name = call.args[1] if len(call.args) > 1 else None
            assert isinstance(name, ast.Attribute) and getattr(name.value, "id", None) == "topics", (
                f"{path.name} line {call.lineno}: {call.func.attr} with a name not from the topic table")
            kind.add(getattr(topics, name.attr))
    return published, served


def test_policy_covers_every_topic_and_service_of_the_node():
    root = _parse(POLICY.read_text())
    published, served = _node_interfaces()
    assert published and served
    missing = {topics.resolve(n) for n in published} - _allowed(root, "topics", "publish")
    assert not missing, f"the node publishes on {sorted(missing)}, which the policy does not allow"
    missing = {topics.resolve(n) for n in served} - _allowed(root, "services", "reply")
    assert not missing, f"the node serves {sorted(missing)}, which the policy does not allow"
    # inputs: every *_topic parameter of the node (their defaults come from the topic table)
    topic_params = {name: spec.default for name, spec in SPECS.items() if name.endswith("_topic")}
    assert topic_params == sros2_policy.INPUT_TOPIC_PARAMETERS
    missing = {topics.resolve(n) for n in topic_params.values()} - _allowed(root, "topics", "subscribe")
    assert not missing, f"the node subscribes to {sorted(missing)}, which the policy does not allow"
    # and the table's node outputs all appear (target_detection and ~/debug_image are conditional)
    assert {topics.resolve(n) for n in sros2_policy.PUBLISHED} >= set(topics.OUTPUT_TOPICS)


def test_policy_allows_no_more_than_the_node_uses():
    root = _parse(POLICY.read_text())
    published, served = _node_interfaces()
    own = {topics.resolve(n) for n in (*published, *sros2_policy.NODE_PUBLISHED, *sros2_policy.LIFECYCLE_PUBLISHED)}
    assert _allowed(root, "topics", "publish") == own
    assert not list(root.iter("actions")) and not _allowed(root, "services", "request")
    assert not any("*" in (e.text or "") for e in root.iter()), "no wildcards"


@pytest.mark.parametrize("lifecycle", [False, True], ids=["node", "lifecycle_node"])
def test_policy_covers_what_every_rclpy_node_serves_and_publishes(lifecycle):
    """A plain rclpy node (same rclpy as the tracking node) in its own context: its automatic
    services (parameters, type description) and publishers (/rosout, /parameter_events); and a
    rclpy lifecycle node (track_lifecycle_node): its lifecycle services and ~/transition_event."""
    rclpy = pytest.importorskip("rclpy", reason="rclpy (ROS 2 Jazzy wheels) is not installed")
    from rclpy.lifecycle import LifecycleNode

    context = rclpy.Context()
    rclpy.init(context=context)
    name = f"sros2_probe_{os.getpid()}_{int(lifecycle)}"
    node = LifecycleNode(name, context=context) if lifecycle else rclpy.create_node(name, context=context)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            services = {s for s, _ in node.get_service_names_and_types_by_node(name, "/")}
            publishers = {t for t, _ in node.get_publisher_names_and_types_by_node(name, "/")}
            if services and publishers and (not lifecycle or f"/{name}/change_state" in services):
                break
            time.sleep(0.05)
    finally:
        node.destroy_node()
        context.try_shutdown()
    root = _parse(sros2_policy.policy_xml(node_name=name))
    assert services and services <= _allowed(root, "services", "reply", name), services
    assert publishers and publishers <= _allowed(root, "topics", "publish", name), publishers
    if lifecycle:
        assert f"/{name}/transition_event" in publishers and f"/{name}/get_state" in services


def test_generator_cli_for_another_namespace_and_inputs(tmp_path, capsys):
    out = tmp_path / "policy.xml"
    assert sros2_policy.main(["--namespace", "/drone1", "--enclave", "/drone1/tracker",
                              "--set", "image_topic=/camera/image_raw", "--set", "camera_info_topic=",
                              "-o", str(out)]) == 0
    root = _parse(out.read_text())
    assert next(root.iter("enclave")).get("path") == "/drone1/tracker"
    subscribed = _allowed(root, "topics", "subscribe", namespace="/drone1")
    assert "/camera/image_raw" in subscribed and "/drone1/camera_info" not in subscribed
    assert "/drone1/track_node/status" in _allowed(root, "topics", "publish", namespace="/drone1")
    assert sros2_policy.main(["--set", "no_such_topic=/x"]) == 2
    assert "unknown input topic parameter" in capsys.readouterr().err
    assert sros2_policy.main(["--enclave", "relative"]) == 2
