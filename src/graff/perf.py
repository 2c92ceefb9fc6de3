"""Process-level speed settings for CPU training (opt-in; the ``graff`` CLI applies them).

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MiB, 128 KiB at
start) with a fresh ``mmap`` and returns it on ``free``, so each new feature matrix of a
large graph is paid again in page faults (≈ 20 ms per 51 MB tensor here), and the heap is
trimmed back to the OS after every step. :func:`tune_allocator` keeps freed memory in the
heap for reuse instead; a GRAFF training epoch on Cora or Pubmed gets 1.7–2× faster
(benchmarks/README.md). The price: the process keeps its peak heap size until it exits.

:func:`peak_memory_mb` measures what one call adds to the process's memory (``graff bench``),
under the opposite settings, so that resident memory tracks live memory while it measures.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

__all__ = ["peak_memory_mb", "release_memory", "tune_allocator"]

# mallopt parameters, from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

_applied = False


def _libc() -> Any:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


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
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    ok = (
        mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1  # the maximum glibc accepts (HEAP_MAX / 2)
        and mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1
        and mallopt(_M_TOP_PAD, 64 << 20) == 1
    )
    _applied = ok
    return ok


# -- measuring memory (graff bench) -----------------------------------------------------------


def _vm_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key):
                return int(line.split()[1])
    raise OSError(f"{key} not in /proc/self/status")


@contextmanager
def _os_returns_freed_memory() -> Iterator[Any]:
    """glibc settings under which RSS follows live memory (undone afterwards)."""
    global _applied
    libc = _libc()
    if libc is None:
        yield None
        return
    libc.mallopt(_M_MMAP_THRESHOLD, 64 << 10)
    libc.mallopt(_M_TRIM_THRESHOLD, 64 << 10)
    libc.mallopt(_M_TOP_PAD, 0)
    try:
        yield libc
    finally:
        if _applied:
            _applied = False
            tune_allocator()


def peak_memory_mb(fn: Callable[[], object], device: torch.device | str = "cpu") -> float | None:
    """Peak memory (MB) that one call of ``fn`` adds: resident memory of the process on the
    CPU, allocated device memory on CUDA; None where it cannot be measured (MPS, no /proc)."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        gc.collect()
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    if device.type != "cpu":
        return None
    try:
        with _os_returns_freed_memory() as libc:
            if libc is None:
                return None
            gc.collect()
            libc.malloc_trim(0)
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")  # reset VmHWM to the current RSS
            base = _vm_kb("VmRSS")
            fn()
            return (_vm_kb("VmHWM") - base) / 1024
    except OSError:
        return None


def release_memory() -> None:
    """Drop the last configuration's models and hand free heap memory back to the OS, so that
    a long benchmark does not accumulate fragmented heap (an OOM kill on the 200k graphs)."""
    gc.collect()
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
