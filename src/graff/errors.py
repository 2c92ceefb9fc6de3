"""The exceptions graff raises for problems a user can fix.

Every expected failure is a :class:`GraffError`; its message says what is wrong and what to
do. The ``graff`` command prints such an error as one line and exits with status 2 (1 for a
run that failed numerically, :class:`DivergenceError`); anything else is a bug and keeps its
traceback. :class:`graff.data.GraphDataError` is a GraffError too.
"""

from __future__ import annotations

import errno

__all__ = [
    "ConfigError",
    "DivergenceError",
    "GraffError",
    "MissingExtraError",
    "NotEnoughMemoryError",
    "RunDirBusyError",
    "RunDirError",
    "StorageError",
    "TorchScriptError",
    "describe_os_error",
]


class GraffError(Exception):
    """A problem with the user's input, files or environment; the message says how to fix it."""


class ConfigError(GraffError, ValueError):
    """A configuration that cannot run, with what is wrong and what to do."""


class RunDirError(GraffError, RuntimeError):
    """An output or run directory that cannot be used (or is damaged) for this run."""


class RunDirBusyError(RunDirError):
    """The run directory is being written by another process (its lock is held)."""


class DivergenceError(GraffError, RuntimeError):
    """Training produced non-finite values; the message names the most likely cause."""


class NotEnoughMemoryError(GraffError, MemoryError):
    """A computation refused before it starts: it would need more memory than is available;
    the message says how much, and what to reduce or use instead."""


class StorageError(GraffError, RuntimeError):
    """A study storage that cannot be opened: a bad URL, a missing driver, no server, or a
    journal file that cannot be read."""


class TorchScriptError(GraffError, RuntimeError):
    """``torch.jit.script`` of a graff model: refused, with what to use instead."""


class MissingExtraError(GraffError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs {package}, which is not installed: pip install 'graff-gnn[{extra}]' "
            f"(or pip install {package})"
        )


_OS_HINTS = {
    errno.ENOSPC: "free some disk space or choose another --out",
    errno.EDQUOT: "free some disk space or choose another --out",
    errno.EACCES: "choose a folder you may write to (--out) or fix its permissions",
    errno.EPERM: "choose a folder you may write to (--out) or fix its permissions",
    errno.EROFS: "choose a writable folder (--out)",
    errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
    errno.EISDIR: "the path is a folder, not a file",
    errno.ENOENT: "check the path",
    errno.EEXIST: "a file of that name is where graff needs a folder: move it or use another path",
    errno.ENOTEMPTY: "the folder is not empty: choose another path or empty it",
}


def describe_os_error(err: OSError) -> str:
    """One line for an operating-system error: what failed, on which path, and what to do."""
    where = f": {err.filename}" if err.filename else ""
    hint = _OS_HINTS.get(err.errno or 0, "check the path and try again")
    return f"{err.strerror or err}{where}; {hint}"
