"""``cfvgg-bag``: make, play, record and score rosbag2 directories of tracking sequences.

Examples::

    cfvgg-bag make UAV123_10fps/person11 bags/person11            # 10 Hz, mcap
    cfvgg-bag make synthetic/aerial bags/aerial --size 640x360 --max-frames 100 --storage sqlite3
    cfvgg-bag record out/person11 --duration 60     # default topics: the tracking node's outputs
    cfvgg-bag play bags/person11 --wait-for /camera/image_raw     # or: --start-paused, --rate 3
    cfvgg-bag score out/person11 --groundtruth bags/person11 --rules otb,pysot

``play`` and ``record`` stop cleanly on Ctrl-C or SIGTERM, and use the package's Fast DDS
profile (``config/fastdds_shm.xml``) unless ``FASTRTPS_DEFAULT_PROFILES_FILE`` is set.
``play --start-paused`` waits for Enter on stdin or a call of the ``~/resume``
std_srvs/Trigger service (``ros2 service call /cfvgg_bag_player/resume std_srvs/srv/Trigger``).
Exit codes: 0 done, 2 bad input (message on stderr), 130 interrupted before finishing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import signal
import sys
import threading

from cfvgg_ros.bags import OUTPUT_BOX_TOPIC, OUTPUT_TOPICS, STATUS_TOPIC, STORAGES, BagError


def _topic_list(values) -> list[str]:
    topics = []
    for value in values or []:
        topics += [t.strip() for t in value.split(",") if t.strip()]
    return topics


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 320x240, got {text!r}") from exc
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError(f"size must be at least 16x16, got {text!r}")
    return width, height


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cfvgg-bag", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    make = sub.add_parser("make", help="dataset sequence -> rosbag2 directory")
    make.add_argument("spec", help="UAV123_10fps/person11, OTB100/Dog1, synthetic/aerial or a folder")
    make.add_argument("out_dir", help="new rosbag2 directory")
    make.add_argument("--storage", choices=STORAGES, default="mcap")
    make.add_argument("--fps", type=_positive(float), help="frame rate (default: the dataset's, 10 or 30)")
    make.add_argument("--max-frames", type=_positive(int), help="keep only the first N frames")
    make.add_argument("--encoding", choices=("rgb8", "bgr8"), default="rgb8")
    make.add_argument("--size", type=_size,
                      help="render synthetic/<preset> at WIDTHxHEIGHT (default 1280x720)")
    make.add_argument("--data-root", help="folder holding the datasets (default: shared/data)")
    make.add_argument("--overwrite", action="store_true", help="replace an existing bag at out_dir")

    play = sub.add_parser("play", help="publish a bag over ROS 2 at its recorded timing")
    play.add_argument("bag")
    play.add_argument("--rate", type=_positive(float), default=1.0, help="playback speed factor")
    play.add_argument("--loop", action="store_true", help="repeat until interrupted")
    play.add_argument("--start-paused", action="store_true",
                      help="wait for Enter or the ~/resume std_srvs/Trigger service before playing")
    play.add_argument("--topics", nargs="+", help="play only these topics (space or comma separated)")
    play.add_argument("--wait-for", nargs="+", default=[],
                      help="wait until these played topics have a subscriber before playing")
    play.add_argument("--wait-timeout", type=_positive(float), default=10.0,
                      help="seconds to wait for --wait-for subscribers (default 10)")
    play.add_argument("--delay", type=float, default=0.0, help="seconds to sleep before the first message")

    record = sub.add_parser("record", help="write topics to a bag (mcap) until stopped")
    record.add_argument("out_dir", help="new rosbag2 directory")
    record.add_argument("--topics", nargs="+", default=[",".join(OUTPUT_TOPICS)],
                        help=f"topics to record (default: {','.join(OUTPUT_TOPICS)})")
    record.add_argument("--duration", type=_positive(float), help="stop after S seconds")
    record.add_argument("--until-idle", type=_positive(float),
                        help="stop after S seconds without messages, once the first one arrived")
    record.add_argument("--idle-topics", nargs="+",
                        help="topics whose messages count as activity for --until-idle (default: all)")
    record.add_argument("--storage", choices=STORAGES, default="mcap")
    record.add_argument("--overwrite", action="store_true", help="replace an existing bag at out_dir")

    score = sub.add_parser("score", help="score a recorded output bag against its input bag's ground truth")
    score.add_argument("output_bag")
    score.add_argument("--groundtruth", required=True, help="the input bag made by 'cfvgg-bag make'")
    score.add_argument("--rules", default="otb,pysot", help="comma-separated rule sets: otb, pysot")
    score.add_argument("--topic", default=OUTPUT_BOX_TOPIC, help="output PolygonStamped topic")
    score.add_argument("--status-topic",
                       help=f"node DiagnosticArray topic (default: {STATUS_TOPIC} "
                            "or the bag's first DiagnosticArray topic)")
    score.add_argument("--json", help="also write the scores to this JSON file")
    return parser


def _log(message: str) -> None:
    print(message, flush=True)


@contextlib.contextmanager
def _stop_on_signals(stop: threading.Event):
    """While active, SIGTERM and the first SIGINT set ``stop`` (a clean stop) and a second SIGINT
    interrupts at once; the previous handlers are restored afterwards."""

    def on_signal(signum, _frame) -> None:
        if signum == signal.SIGINT and stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _make(args) -> int:
    from cfvgg_ros.bags.make import make_bag

    bar = None
    try:
        from tqdm import tqdm

        bar = tqdm(unit="frame", desc="make", file=sys.stderr, disable=not sys.stderr.isatty())
    except ImportError:
        pass

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    try:
        made = make_bag(args.spec, args.out_dir, data_root=args.data_root, storage=args.storage, fps=args.fps,
                        max_frames=args.max_frames, encoding=args.encoding, synthetic_size=args.size,
                        overwrite=args.overwrite, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    camera_info = "yes" if made.has_camera_info else "no"
    print(f"wrote {made.path} ({made.storage}): {made.sequence}, {made.num_frames} frames "
          f"at {made.fps:g} Hz, init frame {made.init_frame}, camera_info {camera_info}")
    return 0


def _use_transport_profile() -> None:
    """Use the package's Fast DDS profile (large shared-memory segment) unless the user set one:
    the sending participant's segment limits the image size that shared memory can carry."""
    try:
        from cfvgg_ros.ros.qos import use_fastdds_profile
    except ImportError:
        return
    use_fastdds_profile()


def _play(args) -> int:
    from cfvgg_ros.bags.play import play_bag

    _use_transport_profile()
    topics = _topic_list(args.topics) if args.topics else None
    with _stop_on_signals(threading.Event()) as stop:
        stats = play_bag(args.bag, rate=args.rate, loop=args.loop, start_paused=args.start_paused,
                         topics=topics, wait_for=_topic_list(args.wait_for), wait_timeout=args.wait_timeout,
                         delay=args.delay, stop=stop, log=_log)
    counts = ", ".join(f"{topic} {count}" for topic, count in stats.published.items())
    print(f"published {stats.total} messages in {stats.seconds:.2f} s ({counts}); "
          f"max lateness {1000 * stats.max_lateness:.1f} ms")
    return 130 if stats.interrupted and not args.loop else 0


def _record(args) -> int:
    from cfvgg_ros.bags.record import record_bag

    _use_transport_profile()
    topics = _topic_list(args.topics)
    idle_topics = _topic_list(args.idle_topics) if args.idle_topics else None
    with _stop_on_signals(threading.Event()) as stop:
        stats = record_bag(args.out_dir, topics, duration=args.duration, until_idle=args.until_idle,
                           idle_topics=idle_topics, storage=args.storage, overwrite=args.overwrite,
                           stop=stop, log=_log)
    counts = ", ".join(f"{topic} {count}" for topic, count in stats.recorded.items()) or "nothing"
    print(f"wrote {stats.path}: {counts} in {stats.seconds:.2f} s (stopped by {stats.stopped_by})")
    if stats.not_seen:
        print(f"never published: {', '.join(stats.not_seen)}")
    return 0


def _score(args) -> int:
    from cfvgg_ros.bags.score import score_bags

    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    result = score_bags(args.output_bag, args.groundtruth, rules=rules, topic=args.topic,
                        status_topic=args.status_topic)
    print(result.summary())
    if args.json:
        payload = {
            "sequence": result.sequence,
            "frames": len(result.matched),
            "frames_with_output": int(result.matched.sum()),
            "tracker_fps": result.tracker_fps,
            "node_fps": result.node_fps,
            "output_rate_hz": result.output_rate_hz,
            "scores": {r: {"auc": s.auc, "precision20": s.precision20, "num_frames": s.num_frames}
                       for r, s in result.scores.items()},
            "diagnostics": {k: vars(v) for k, v in result.diagnostics.items()},
        }
        with open(args.json, "w") as handle:
            json.dump(_json_safe(payload), handle, indent=2)
    return 0


def _json_safe(value):
    """``value`` with NaN/infinite floats replaced by None (strict JSON)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from cfvgg_ros.datasets import DatasetError

    handlers = {"make": _make, "play": _play, "record": _record, "score": _score}
    try:
        return handlers[args.command](args)
    except (BagError, DatasetError, FileNotFoundError) as exc:
        print(f"cfvgg-bag {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cfvgg-bag {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
