"""The README's node tables are the generator's output (python -m cfvgg_ros.ros.docs): topics,
parameters, the default tracker's settings and the launch arguments cannot drift from the code.
After changing any of them: ``python -m cfvgg_ros.ros.docs --update README.md``."""

from __future__ import annotations

from pathlib import Path

import pytest

from cfvgg_ros.ros import docs, launch_args, params, topics

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.parametrize("name", docs.SECTIONS)
def test_readme_tables_equal_the_generator_output(name):
    blocks = docs.blocks(README.read_text())
    assert name in blocks, f"README.md has no generated block {name!r} ({docs.BEGIN.format(name)})"
    assert blocks[name] == docs.section(name), (
        f"README.md's {name!r} table is out of date: run python -m cfvgg_ros.ros.docs --update README.md")


def test_tables_cover_the_code():
    table = docs.parameters_table()
    assert all(f"| `{spec.name}` |" in table for spec in params.PARAMETERS)
    rows = docs.topic_rows()
    assert {name for _, name, _ in rows} >= {topics.IMAGE, topics.TARGET_POSE, topics.STATUS, topics.RESET_SERVICE}
    assert all(doc for _, _, doc in rows)
    assert all(f"| `{a.name}` |" in docs.launch_table(launch_args.TRACK_ARGS) for a in launch_args.TRACK_ARGS)
    settings = docs.tracker_settings_table()
    assert f"`{params.default_tracker()}`" in settings and ".search_area_scale` | double |" in settings


def test_update_rewrites_only_the_blocks(capsys):
    text = f"intro\n{docs.BEGIN.format('topics')}\nstale\n{docs.END.format('topics')}\noutro\n"
    updated = docs.update(text)
    assert updated.startswith("intro\n") and updated.endswith("\noutro\n")
    assert docs.blocks(updated)["topics"] == docs.section("topics")
    assert docs.main(["launch-replay"]) == 0 and "| `bag` | (required) |" in capsys.readouterr().out
