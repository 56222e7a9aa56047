"""The README's node reference tables, generated from the code so that they cannot drift:

    python -m cfvgg_ros.ros.docs                   # every section
    python -m cfvgg_ros.ros.docs parameters        # one: topics, parameters, tracker-settings,
                                                   #      launch-track, launch-replay
    python -m cfvgg_ros.ros.docs --update README.md

Sources: the topic table (:mod:`.topics`, each name's ``#:`` comment), the parameter table
(:mod:`.params`), the default tracker's settings (:mod:`.tracker_settings`) and the launch
arguments (:mod:`.launch_args`). In the README each table sits between
``<!-- BEGIN GENERATED <section> -->`` and ``<!-- END GENERATED <section> -->``;
``--update`` rewrites them, and ``test/ros/test_docs.py`` fails when they differ from this output.
Nothing here imports ROS.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import re
import sys
from pathlib import Path

from cfvgg_ros.ros import launch_args, params, topics

SECTIONS = ("topics", "parameters", "tracker-settings", "launch-track", "launch-replay")
BEGIN, END = "<!-- BEGIN GENERATED {} -->", "<!-- END GENERATED {} -->"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(value) -> str:
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, tuple)):
        return "`[" + ", ".join(str(v) for v in value) + "]`"
    if isinstance(value, float):
        text = f"{value:.6g}"
        return f"`{text if any(c in text for c in '.en') else text + '.0'}`"
    return "unset" if value is None else f"`{value}`"


def topic_rows() -> list[tuple[str, str, str]]:
    """(direction, name, what) of every node input and output in :mod:`.topics`, from the
    ``#:`` comment above each name and the section it is in."""
    source = inspect.getsource(topics)
    lines = source.splitlines()
    rows = []
    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)):
            continue
        headers = [line.strip() for line in lines[:node.lineno - 1] if line.strip().startswith("# --")]
        section = headers[-1] if headers else ""
        row, block = node.lineno - 2, []
        while row >= 0 and lines[row].strip().startswith("#:"):
            block.insert(0, lines[row].strip()[2:].strip())
            row -= 1
        doc = " ".join(block).replace("``", "`")
        value = getattr(topics, node.targets[0].id)
        if "node inputs" in section:
            rows.append(("in", value, doc))
        elif "node outputs" in section:
            rows.append(("out" if not value.endswith("reset") else "service", value, doc))
    return rows


def topics_table() -> str:
    out = ["| direction | name | what |", "|---|---|---|"]
    for direction, name, doc in topic_rows():
        out.append(f"| {direction} | `{name}` | {_cell(doc)} |")
    out.append(f"| in | `{topics.IMAGE}/compressed` | sensor_msgs/CompressedImage (jpeg, png) instead of "
               f"`{topics.IMAGE}`, with `image_transport: compressed` |")
    return "\n".join(out)


def parameters_table() -> str:
    out = ["| parameter | type | default | rule | run time | description |", "|---|---|---|---|---|---|"]
    for spec in params.PARAMETERS:
        default = spec.default
        out.append(f"| `{spec.name}` | {spec.type.__name__} | {_code(default)} | {_cell(spec.rule_text())} | "
                   f"{'set' if spec.dynamic else 'read-only'} | "
                   f"{_cell(('DEPRECATED (' + spec.deprecated + '): ') if spec.deprecated else '')}"
                   f"{_cell(spec.description)} |")
    return "\n".join(out)


def _short(text: str, limit: int = 110) -> str:
    text = text.split(": ", 1)[1] if ": " in text else text
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:(") + " ..."


def tracker_settings_table(tracker: str | None = None) -> str:
    from cfvgg_ros.ros.tracker_settings import base_config, settings_for

    tracker = tracker or params.default_tracker()
    settings = settings_for(tracker)
    config = base_config(tracker)
    head = (f"Settings of the default tracker `{tracker}` ({type(config).__name__ if config else 'none'}); "
            "all read-only after start, set in the params file under the tracker's name. Unset: the tracker "
            "picks.")
    out = [head, "", "| parameter | type | default | rule | description |", "|---|---|---|---|---|"]
    for s in settings:
        out.append(f"| `{s.param}` | {s.type_name} | {_code(s.default)} | {_cell(s.rule.words())} | "
                   f"{_cell(_short(s.description))} |")
    return "\n".join(out)


def launch_table(args) -> str:
    out = ["| argument | default | values | description |", "|---|---|---|---|"]
    for arg in args:
        default = "(required)" if arg.required else f"`{arg.default}`" if arg.default else '`""`'
        values = ", ".join(f"`{c}`" if c else '`""`' for c in arg.choices) or {
            int: "integer", float: "number", bool: "true, false"}.get(arg.kind, "text")
        out.append(f"| `{arg.name}` | {default} | {values} | {_cell(arg.description)} |")
    return "\n".join(out)


def section(name: str) -> str:
    """The Markdown of section ``name`` (one of :data:`SECTIONS`)."""
    return {
        "topics": topics_table,
        "parameters": parameters_table,
        "tracker-settings": tracker_settings_table,
        "launch-track": lambda: launch_table(launch_args.TRACK_ARGS),
        "launch-replay": lambda: launch_table(launch_args.REPLAY_ARGS),
    }[name]()


def blocks(text: str) -> dict[str, str]:
    """The generated blocks of a README text: section -> the text between its markers."""
    found = {}
    for name in SECTIONS:
        match = re.search(re.escape(BEGIN.format(name)) + r"\n(.*?)\n?" + re.escape(END.format(name)), text, re.S)
        if match:
            found[name] = match.group(1)
    return found


def update(text: str) -> str:
    """``text`` with every generated block replaced by the current output."""
    for name in blocks(text):
        pattern = re.escape(BEGIN.format(name)) + r"\n.*?\n?" + re.escape(END.format(name))
        replacement = f"{BEGIN.format(name)}\n{section(name)}\n{END.format(name)}"
        text = re.sub(pattern, lambda _m, r=replacement: r, text, flags=re.S)
    return text


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cfvgg_ros.ros.docs", description=__doc__.split("\n")[0])
    parser.add_argument("sections", nargs="*", choices=[[], *SECTIONS], metavar="section",
                        help=f"one or more of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--update", metavar="README", help="rewrite the generated blocks of this file")
    args = parser.parse_args(argv)
    if args.update:
        path = Path(args.update)
        path.write_text(update(path.read_text()))
        return 0
    for name in args.sections or SECTIONS:
        sys.stdout.write(f"{BEGIN.format(name)}\n{section(name)}\n{END.format(name)}\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
