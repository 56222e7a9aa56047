"""Test-suite settings: one thread per math library (set before numpy loads), so tests are
deterministic and do not oversubscribe the 2-core CI machine."""

import os

from cfvgg_ros.threads import THREAD_ENV_VARS

for _var in THREAD_ENV_VARS:
    os.environ.setdefault(_var, "1")
