"""Heap trimming of the node's worker: when it runs, how often, and glibc's call itself."""

from __future__ import annotations

import pytest

from cfvgg_ros.ros.heap_trim import HeapTrimmer, glibc_malloc_trim


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_trims_at_most_once_per_period():
    clock, calls = Clock(), []
    trimmer = HeapTrimmer(10.0, trim=lambda pad: calls.append(pad) or 1, clock=clock)
    assert trimmer.enabled and not trimmer.maybe_trim()  # the period counts from construction
    clock.now += 9.9
    assert not trimmer.maybe_trim() and calls == []
    clock.now += 0.1
    assert trimmer.maybe_trim() and calls == [0]
    assert not trimmer.maybe_trim()  # not again at once
    clock.now += 25.0
    assert trimmer.maybe_trim() and not trimmer.maybe_trim()
    assert calls == [0, 0] and trimmer.trims == 2 and trimmer.seconds >= 0


def test_period_zero_or_no_malloc_trim_means_off():
    clock, calls = Clock(), []
    off = HeapTrimmer(0.0, trim=calls.append, clock=clock)
    clock.now += 1e6
    assert not off.enabled and not off.maybe_trim() and calls == []
    assert not HeapTrimmer(0.0).enabled  # glibc is not even looked up
    with pytest.raises(ValueError, match="heap trim period"):
        HeapTrimmer(-1.0)
    with pytest.raises(ValueError, match="heap trim period"):
        HeapTrimmer(float("nan"))


def test_glibc_malloc_trim_releases_freed_heap_pages():
    """On this glibc machine: a heap grown by many small blocks and then freed keeps its pages
    resident until ``malloc_trim`` gives them back."""
    trim = glibc_malloc_trim()
    if trim is None:
        pytest.skip("no malloc_trim in this C library (not glibc)")
    import ctypes

    libc = ctypes.CDLL(None)
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]

    def resident_mb() -> float:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * 4096 / 2**20

    blocks = []
    for _ in range(6000):  # 6000 x 16 KiB = 94 MiB below the mmap threshold: heap memory
        pointer = libc.malloc(16384)
        libc.memset(pointer, 1, 16384)
        blocks.append(pointer)
    keep = blocks.pop()  # the top block stays, so a plain top-of-heap trim could not release
    for pointer in blocks:
        libc.free(pointer)
    before = resident_mb()
    assert trim(0) in (0, 1)
    after = resident_mb()
    libc.free(keep)
    assert before - after > 50, (before, after)
