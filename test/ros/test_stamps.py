"""Header stamps <-> integer nanoseconds (one conversion for the node and the bag tools)."""

from types import SimpleNamespace as NS

from cfvgg_ros.ros.stamps import NS_PER_S, format_stamp, ns_to_sec_nanosec, stamp_to_ns


def test_stamp_round_trip_and_text():
    assert NS_PER_S == 1_000_000_000
    assert stamp_to_ns(NS(sec=7, nanosec=9)) == 7_000_000_009
    assert ns_to_sec_nanosec(7_000_000_009) == (7, 9)
    ns = 1_600_000_000 * NS_PER_S + 123_456_789
    sec, nanosec = ns_to_sec_nanosec(ns)
    assert (sec, nanosec) == (1_600_000_000, 123_456_789) and stamp_to_ns(NS(sec=sec, nanosec=nanosec)) == ns
    assert format_stamp(12 * NS_PER_S + 5) == "12.000000005"
