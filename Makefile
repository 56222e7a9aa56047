# Two commands for a fresh Debian/Ubuntu machine with Python 3.11 and make:
#   make demo   set up .venv (pinned dependencies) and run the main job on the built-in default
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.cfvgg-installed
SEQ    ?=
TRACKER ?=
ARGS   ?=
# The ROS 2 launch system and ros2 CLI (launch, launch_ros, ros2launch, ros2cli, ...) are not on PyPI:
# their Jazzy wheels sit in ../shared/wheels/ros2-jazzy-launch when ../shared is beside the checkout
# (installed with --no-deps: their metadata names ROS packages that mean other things on PyPI). Without
# them everything else works and the launch tests skip with the reason.
LAUNCH_WHEELS_DIR ?= ../shared/wheels/ros2-jazzy-launch
LAUNCH_WHEELS := $(wildcard $(LAUNCH_WHEELS_DIR)/*.whl)
DEMO_ARGS := $(if $(SEQ),--sequence $(SEQ)) $(if $(TRACKER),--tracker $(TRACKER)) $(ARGS)

.PHONY: setup demo test lint bench-peers clean

$(STAMP): requirements.txt setup.py setup.cfg $(LAUNCH_WHEELS)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(if $(LAUNCH_WHEELS),$(PY) -m pip install --quiet --no-deps $(LAUNCH_WHEELS),@echo "make setup: no $(LAUNCH_WHEELS_DIR): the launch tests will skip")
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(PY) -m cfvgg_ros.cli.demo $(DEMO_ARGS)

# The layering contracts (pyproject.toml [tool.importlinter]) first, then the test suite.
test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache --no-logo pyproject.toml
	@$(PY) -m pytest -q -p no:cacheprovider; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; exit $$rc

# ruff and the layering contracts; both run, and the target fails if either fails.
lint: $(STAMP)
	@rc=0; \
	$(VENV)/bin/ruff check . || rc=1; \
	$(VENV)/bin/lint-imports --no-cache --no-logo pyproject.toml || rc=1; \
	exit $$rc

# The peer table in the README: OpenCV trackers on the shared eval split, both rule sets.
bench-peers: $(STAMP)
	$(VENV)/bin/cfvgg-bench --split eval --trackers opencv-csrt,opencv-kcf,opencv-nano --run-name peers --jobs 2 --markdown

clean:
	rm -rf build install log results *.egg-info
