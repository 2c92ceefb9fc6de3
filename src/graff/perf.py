"""Process-level speed settings for CPU training (opt-in; the ``graff`` CLI applies them).

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB, 128 KiB at
start) with a fresh ``mmap`` and returns it on ``free``, so each new feature matrix of a
large graph is paid again in page faults (≈ 20 ms per 51 MB tensor here), and the heap is
trimmed back to the OS after every step. :func:`tune_allocator` keeps freed memory in the
heap for reuse instead; a GRAFF training epoch on Cora or Pubmed gets 1.7–2× faster
(benchmarks/README.md). The price: the process keeps its peak heap size until it exits.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["tune_allocator"]

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

_applied = False


def tune_allocator() -> bool:
    """Make glibc malloc keep and reuse large freed blocks; return whether it was applied.

    A no-op returning False where there is no glibc (macOS, Windows, musl). Safe to call
    more than once.
    """
    global _applied
    if _applied:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = (
        mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1  # the maximum glibc accepts (HEAP_MAX / 2)
        and mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1
        and mallopt(_M_TOP_PAD, 64 << 20) == 1
    )
    _applied = ok
    return ok
