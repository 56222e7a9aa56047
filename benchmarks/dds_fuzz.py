"""DDS fuzz run against a live tracking node: random messages on every input topic at a high rate
while a valid stream is tracked, then a check that the node still tracks.

Usage::

    python benchmarks/dds_fuzz.py                          # 3000 messages per topic (README figures)
    python benchmarks/dds_fuzz.py --count 300 --json f.json    # the short version (a test runs it)

The node runs as its own process (``python -m cfvgg_ros.ros.track_node``, its default tracker,
``image_qos: reliable`` so that as many fuzz images as possible reach it, pinned to
``--cpu-core``). This script, on the other core(s), publishes a valid stream (the 320x240
synthetic ``translation`` sequence at 30 Hz, looping, stamped with the wall clock, initialised
on its ground truth and re-initialised whenever the node has not been TRACKING for 0.5 s:
the fuzz resets and re-inits it) and, from a seeded generator, ``--count`` messages on each input
topic at up to ``--rate`` messages per second per topic:

* ``/image``: encodings that are supported, near misses or arbitrary text; headers claiming
  100000x100000 (or just over the node's size limit) over a 16-byte buffer; random
  width / height / step / data length; buffers one byte short; decodable images of random
  size and padding, and of the stream's own size, with random pixels;
* ``/camera_info``: K, D, P with NaN / infinite / negative / zero / huge values, random
  distortion models and sizes;
* ``/init_bbox`` (RegionOfInterest): offsets and sizes 0, 1, random, 2^31 and 2^32 - 1;
* ``/init_bbox_stamped`` (PolygonStamped): 0-6 corners with NaN / infinite / negative / huge
  coordinates;
* ``/init_detection`` (Detection2D) when ``vision_msgs`` is installed;
* header stamps: zero, now, the past, the far future, ``sec`` negative, ``nanosec`` >= 1e9;
* a ``~/reset`` call every ``--reset-every`` fuzz rounds.

Printed: messages sent per topic, the rejects the node counted in ``~/status`` per kind
(``rejected_images``, ``rejected_inits``, ``rejected_camera_info``) and its errors, whether it is
alive, valid-stream frames published / tracked with a pose during the fuzz, the track after the
fuzz (poses and IoU with the ground truth), the node's RSS before / max during / after, threads
and open files, and "internal error" lines (exceptions the worker caught) in its log.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import reliability as rel  # noqa: E402  (sets the Fast DDS profile before rclpy loads)

ENCODINGS = ["rgb8", "bgr8", "rgba8", "bgra8", "mono8", "8UC3", "8UC1", "RGB8", "rgb16", "mono16", "bgr8 ",
             "yuv422", "16UC1", "8UC4", "32FC1", "", "jpeg", "rgb8\x00", "ünïcödé"]
CHANNELS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1, "8UC3": 3, "8UC1": 1}
U32, I32 = 2**32 - 1, 2**31 - 1


class Fuzzer:
    """Random input messages from a seeded generator (see the module docstring)."""

    def __init__(self, probe: rel.Probe, seed: int, stream_size: tuple[int, int]) -> None:
        self.p, self.r = probe, random.Random(seed)
        self.np = np.random.default_rng(seed)
        self.stream_size = stream_size

    def stamp(self, msg) -> None:
        r = self.r
        now = time.time_ns()
        kind = r.choice(("zero", "now", "now", "past", "future", "far_future", "negative", "bad_nanosec"))
        sec, nanosec = {
            "zero": (0, 0), "now": divmod(now, rel.NS), "past": (r.randint(1, 10**6), r.randint(0, 10**9 - 1)),
            "future": (now // rel.NS + r.randint(2, 10**6), 0), "far_future": (I32, 999_999_999),
            "negative": (r.choice((-1, -(2**31))), 0), "bad_nanosec": (now // rel.NS, r.choice((10**9, U32))),
        }[kind]
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(sec), int(nanosec)

    def number(self, kinds=("nan", "inf", "-inf", "neg", "zero", "huge", "normal", "normal", "normal")) -> float:
        r = self.r
        kind = r.choice(kinds)
        return {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf"), "neg": -r.uniform(0, 1e4),
                "zero": 0.0, "huge": r.choice((3e38, -3e38, 1e30)), "normal": r.uniform(-50, 400)}[kind]

    def uint(self) -> int:
        r = self.r
        return r.choice((0, 1, r.randint(0, 400), r.randint(0, 5000), 2**31, U32))

    def image(self):
        r, msg = self.r, self.p.Image()
        case = r.choice(("huge_header", "over_limit", "random_header", "short", "decodable", "decodable",
                         "stream_size", "bad_encoding"))
        enc = r.choice(ENCODINGS) if case in ("random_header", "bad_encoding") else r.choice(list(CHANNELS))
        c = CHANNELS.get(enc, 3)
        if case == "huge_header":
            w = h = 100_000
            step, data = w * c, bytes(16)
        elif case == "over_limit":
            w, h = 4097, 4096
            step, data = w * c, bytes(16)
        elif case == "random_header":
            w, h = self.uint(), self.uint()
            step = r.choice((0, w * c, max(0, w * c - 1), r.randint(0, 20000), U32)) % (U32 + 1)
            data = self.np.bytes(r.randint(0, 20000))
        elif case == "short":
            w, h = r.randint(1, 200), r.randint(1, 200)
            step = w * c
            data = self.np.bytes(step * h - 1)
        else:
            w, h = self.stream_size if case == "stream_size" else (r.randint(1, 160), r.randint(1, 160))
            step = w * c + r.choice((0, 0, r.randint(1, 64)))
            data = self.np.bytes(step * h)
        msg.encoding, msg.width, msg.height, msg.step = enc, w, h, step % (U32 + 1)
        msg.is_bigendian = r.choice((0, 1))
        msg.data = data
        self.stamp(msg)
        return msg, case

    def camera_info(self):
        r, msg = self.r, self.p.CameraInfo()
        msg.width, msg.height = self.uint(), self.uint()
        if r.random() < 0.3:  # a plausible camera, perhaps with bad distortion
            fx = r.uniform(50, 1000)
            msg.k = [fx, 0.0, 160.0, 0.0, fx, 120.0, 0.0, 0.0, 1.0]
        else:
            msg.k = [self.number() for _ in range(9)]
        msg.d = [self.number() for _ in range(r.choice((0, 4, 5, 8, 14, r.randint(0, 20))))]
        msg.distortion_model = r.choice(("plumb_bob", "rational_polynomial", "equidistant", "", "fisheye", "x" * 300))
        msg.p = [self.number() for _ in range(12)]
        self.stamp(msg)
        return msg

    def roi(self):
        return self.p.RegionOfInterest(x_offset=self.uint(), y_offset=self.uint(), width=self.uint(),
                                       height=self.uint(), do_rectify=self.r.random() < 0.5)

    def polygon(self):
        from geometry_msgs.msg import Point32

        msg = self.p.PolygonStamped()
        n = self.r.choice((0, 1, 2, 2, 2, 3, 4, 4, 5, 6))
        msg.polygon.points = [Point32(x=self.number(), y=self.number(), z=self.number()) for _ in range(n)]
        self.stamp(msg)
        return msg

    def detection(self):
        msg = self.p.Detection2D()
        centre = msg.bbox.center
        position = getattr(centre, "position", centre)
        position.x, position.y = self.number(), self.number()
        msg.bbox.size_x, msg.bbox.size_y = self.number(), self.number()
        self.stamp(msg)
        return msg


class ValidStream:
    """The valid stream in a thread: 30 Hz, re-initialised when the node is not TRACKING for 0.5 s."""

    def __init__(self, probe: rel.Probe, frames: rel.Frames, rate: float = 30.0) -> None:
        self.p, self.frames, self.period = probe, frames, 1.0 / rate
        self.stamps: dict[int, int] = {}  # stamp -> sequence frame index
        self.inits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> ValidStream:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        start, k, not_tracking_since = time.monotonic(), 0, None
        while not self._stop.is_set():
            index = self.frames.index(k)
            stamp = time.time_ns()
            self.p.publish_image(self.frames.with_target[index], stamp)
            self.stamps[stamp] = index
            state = self.p.status().get("state")
            now = time.monotonic()
            if state == "TRACKING":
                not_tracking_since = None
            elif not_tracking_since is None:
                not_tracking_since = now
            if k == 0 or (not_tracking_since is not None and now - not_tracking_since > 0.5):
                self.p.publish_polygon(self.frames.boxes[index], stamp)
                self.inits += 1
                not_tracking_since = None
            k += 1
            time.sleep(max(0.0, start + k * self.period - time.monotonic()))


def iou(a, b) -> float:
    from cfvgg_ros.evaluation.metrics import box_iou

    return float(box_iou(a, b))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=3000, help="fuzz messages per topic (default 3000)")
    parser.add_argument("--rate", type=float, default=150.0, help="at most this many per topic per second")
    parser.add_argument("--reset-every", type=int, default=50, help="a ~/reset call every N rounds")
    parser.add_argument("--tracker", default=None, help="tracker (default: the node's default)")
    parser.add_argument("--cpu-core", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="results/dds_fuzz")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    tracker = args.tracker or rel.default_tracker()
    params = {"tracker": tracker, "cpu_core": args.cpu_core, "image_qos": "reliable", "status_period": 0.5}
    print(f"# dds fuzz: {tracker} on core {args.cpu_core}, {args.count} messages per topic at <= {args.rate:g}/s "
          f"(seed {args.seed}); {rel.domain()}; {rel.machine_load()}", flush=True)
    node = rel.NodeProcess(Path(args.output), params)
    rel.pin_to(set(range(64)) - {args.cpu_core})
    probe = rel.Probe()
    try:
        frames = rel.make_frames(probe, "translation", 60, 320, 240)
        probe.wait_ready(node)
        figures = fuzz(args, node, probe, frames)
    finally:
        probe.close()
        code = node.stop()
    figures.update(node_exit_code=code, tracker=tracker)
    report(figures)
    rel.write_json(args.json, figures)
    ok = figures["alive_after_fuzz"] and code == 0 and figures["internal_errors"] == 0
    return 0 if ok else 1


def fuzz(args, node, probe, frames) -> dict:
    fuzzer = Fuzzer(probe, args.seed, (frames.width, frames.height))
    stream = ValidStream(probe, frames).start()
    probe.wait_for(lambda: probe.status().get("state") == "TRACKING", 60, "the valid stream to be tracked", node)
    time.sleep(2.0)
    before, res_before = probe.status(), node.resources()
    sent = {"image": 0, "camera_info": 0, "init_bbox": 0, "init_bbox_stamped": 0, "init_detection": 0, "reset": 0}
    image_cases: dict[str, int] = {}
    rss_max, resets = res_before.rss_mb, []
    start = time.monotonic()
    for i in range(args.count):
        msg, case = fuzzer.image()
        probe.pub_image.publish(msg)
        image_cases[case] = image_cases.get(case, 0) + 1
        probe.pub_info.publish(fuzzer.camera_info())
        probe.pub_roi.publish(fuzzer.roi())
        probe.pub_polygon.publish(fuzzer.polygon())
        sent["image"] += 1
        sent["camera_info"] += 1
        sent["init_bbox"] += 1
        sent["init_bbox_stamped"] += 1
        if probe.pub_detection is not None:
            probe.pub_detection.publish(fuzzer.detection())
            sent["init_detection"] += 1
        if args.reset_every and i % args.reset_every == args.reset_every - 1:
            resets.append(probe.reset_client.call_async(probe.Trigger.Request()))
            sent["reset"] += 1
        if i % 100 == 99:
            rss_max = max(rss_max, node.resources().rss_mb)
            if not node.alive():
                break
        time.sleep(max(0.0, start + (i + 1) / args.rate - time.monotonic()))
    fuzz_s = time.monotonic() - start
    time.sleep(3.0)  # the node works off what is queued
    alive = node.alive()
    during = probe.status()
    valid_published = dict(stream.stamps)
    with probe.lock:
        valid_boxes = {s: b for s, b in probe.boxes.items() if s in valid_published}
    stream_inits = stream.inits
    # after the fuzz: reset, one init on the valid stream, 3 s of tracking
    stream.stop()
    probe.reset()
    stream = ValidStream(probe, frames).start()
    t0 = time.time_ns()
    time.sleep(3.5)
    stream.stop()
    time.sleep(1.0)
    after, res_after = probe.status(), node.resources() if node.alive() else res_before
    with probe.lock:
        final = {s: b for s, b in probe.boxes.items() if s >= t0 and s in stream.stamps}
    ious = [iou(b, frames.boxes[stream.stamps[s]]) for s, b in sorted(final.items())]

    def delta(key: str) -> int:
        return rel.status_int(during, key) - rel.status_int(before, key)

    log = node.log()
    return {
        "fuzz_s": round(fuzz_s, 1), "sent": sent, "image_cases": image_cases,
        "detection_topic": probe.pub_detection is not None,
        "resets_answered": sum(1 for f in resets if f.done()),
        "rejected_images": delta("rejected_images"), "rejected_inits": delta("rejected_inits"),
        "rejected_camera_info": delta("rejected_camera_info"), "errors": delta("errors"),
        "frames_received": delta("frames_received"), "frames_out_of_order": delta("frames_out_of_order"),
        "inits_accepted": delta("inits"), "alive_after_fuzz": alive,
        "valid_frames_published": len(valid_published), "valid_frames_with_pose": len(valid_boxes),
        "valid_stream_reinits": stream_inits,
        "after_frames": len(stream.stamps), "after_poses": len(final),
        "after_iou_mean": float(np.mean(ious)) if ious else float("nan"),
        "after_iou_last": ious[-1] if ious else float("nan"), "after_state": after.get("state"),
        "rss_before_mb": res_before.rss_mb, "rss_max_mb": rss_max, "rss_after_mb": res_after.rss_mb,
        "threads": [res_before.threads, res_after.threads], "fds": [res_before.fds, res_after.fds],
        "internal_errors": log.count("internal error"), "log_errors": node.log_count("ERROR"),
        "log_fatal": node.log_count("FATAL"),
    }


def report(f: dict) -> None:
    sent = ", ".join(f"{k} {v}" for k, v in f["sent"].items() if k != "init_detection" or f["detection_topic"])
    print(f"dds fuzz ({f['tracker']}): sent in {f['fuzz_s']:.1f} s: {sent}"
          f"{'' if f['detection_topic'] else ' (no /init_detection: vision_msgs is not installed)'}")
    print(f"  image cases: {f['image_cases']}")
    print(f"  counted by the node (~/status): rejected_images {f['rejected_images']}, rejected_inits "
          f"{f['rejected_inits']}, rejected_camera_info {f['rejected_camera_info']}, errors {f['errors']}; "
          f"frames received {f['frames_received']}, out of order {f['frames_out_of_order']}, inits accepted "
          f"{f['inits_accepted']}; resets answered {f['resets_answered']}/{f['sent']['reset']}")
    print(f"  node alive after the fuzz: {f['alive_after_fuzz']} (exit code {f['node_exit_code']}); internal errors "
          f"{f['internal_errors']}, ERROR lines {f['log_errors']}, FATAL {f['log_fatal']}")
    print(f"  valid stream during the fuzz: {f['valid_frames_published']} frames, {f['valid_frames_with_pose']} with "
          f"a pose ({f['valid_stream_reinits']} inits by the stream after resets / bad re-inits)")
    print(f"  after the fuzz: {f['after_poses']}/{f['after_frames']} frames with a pose, IoU mean "
          f"{f['after_iou_mean']:.2f}, last {f['after_iou_last']:.2f}, state {f['after_state']}")
    print(f"  RSS {f['rss_before_mb']:.1f} MB before, max {f['rss_max_mb']:.1f} MB during, {f['rss_after_mb']:.1f} MB "
          f"after; threads {f['threads'][0]} -> {f['threads'][1]}, open fds {f['fds'][0]} -> {f['fds'][1]}")


if __name__ == "__main__":
    sys.exit(main())
