"""Argument types of the ``graff`` command line (argparse ``type=`` callables), shared by the
parser and the commands that add their own options (``graff tune``)."""

from __future__ import annotations

import argparse
import os

__all__ = ["max_workers", "positive_int", "seed_value", "worker_count"]


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def max_workers() -> int:
    """The most threads or processes one option may ask for: 4 per core, at least 64 (more
    only thrash; torch crashes on a thread count in the hundred thousands)."""
    return max(64, 4 * (os.cpu_count() or 1))


def worker_count(text: str) -> int:
    """``--threads`` / ``--jobs``: a positive integer no larger than :func:`max_workers`."""
    value = positive_int(text)
    limit = max_workers()
    if value > limit:
        raise argparse.ArgumentTypeError(
            f"{value} is more than this machine can use ({os.cpu_count()} cores; at most "
            f"{limit}); give the number of cores or fewer"
        )
    return value


def seed_value(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"a seed must be in [0, 2^63 - 1], got {value}")
    return value
