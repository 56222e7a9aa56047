"""Property-based fuzzing (hypothesis) of the tracker contract's box check: whatever is passed as a
box (four numbers, NaN / infinite / negative / huge values, ints beyond the float range, the wrong
count, text, None, arrays, nested junk), with or without a frame shape, ``check_box`` returns four
finite floats with positive width and height that overlap the frame, or raises TrackerError,
never another exception. Deterministic (``derandomize=True``)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from cfvgg_ros.core.contract import TrackerError, check_box

VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1000, 1000),
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), True, 0, -0.0]),
    st.none(),
    st.text(max_size=5),
    st.complex_numbers(allow_nan=False, allow_infinity=False, max_magnitude=1e3),
)
BOX = st.one_of(
    st.tuples(VALUE, VALUE, VALUE, VALUE),
    st.lists(VALUE, max_size=6),
    st.lists(st.floats(-50, 50), min_size=4, max_size=4).map(np.array),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.none(),
    st.integers(),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=4),
)
SHAPE = st.one_of(st.none(), st.tuples(st.integers(0, 200), st.integers(0, 200), st.just(3)))


@settings(max_examples=2000, derandomize=True, database=None, deadline=None)
@given(BOX, SHAPE)
def test_check_box_returns_a_valid_box_or_raises_tracker_error(box, shape):
    try:
        out = check_box(box, shape)
    except TrackerError as exc:
        assert str(exc) and len(str(exc)) < 400  # says why, without echoing a huge input
        return
    assert isinstance(out, tuple) and len(out) == 4
    x, y, w, h = out
    assert all(isinstance(v, float) and math.isfinite(v) for v in out)
    assert w > 0 and h > 0
    if shape is not None:
        assert x < shape[1] and y < shape[0] and x + w > 0 and y + h > 0


def test_text_is_not_a_box():
    for box in ("1234", b"1234"):  # iterable into four numbers, but not a box
        try:
            check_box(box)
        except TrackerError as exc:
            assert "four numbers" in str(exc)
        else:
            raise AssertionError(f"{box!r} was accepted as a box")
