"""numba compilation with an on-disk cache that degrades gracefully.

:func:`cached_njit` is ``numba.njit(cache=True, nogil=True)``, falling back to an uncached
``njit`` where numba finds no writable cache folder (a read-only install without a usable
per-user cache). Every numba kernel of the package (fHOG, colour, ECO's fused loops) uses it.
"""

from __future__ import annotations

from numba import njit

__all__ = ["cached_njit"]


def cached_njit(func=None, *, fastmath: bool = False):
    """Decorator: compile ``func`` with ``njit(cache=True, nogil=True, fastmath=fastmath)``, or
    without the cache when numba cannot write one. Use as ``@cached_njit`` or
    ``@cached_njit(fastmath=True)``."""

    def compile_(f):
        try:
            return njit(cache=True, nogil=True, fastmath=fastmath)(f)
        except RuntimeError:  # numba: "cannot cache function ...: no locator available"
            return njit(nogil=True, fastmath=fastmath)(f)

    return compile_ if func is None else compile_(func)
