"""The exceptions graff raises for problems a user can fix.

Every expected failure is a :class:`GraffError`; its message says what is wrong and what to
do. The ``graff`` command prints such an error as one line and exits with status 2 (1 for a
run that failed numerically, :class:`DivergenceError`); anything else is a bug and keeps its
traceback. :class:`graff.data.GraphDataError` is a GraffError too.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DivergenceError",
    "GraffError",
    "MissingExtraError",
    "RunDirError",
]


class GraffError(Exception):
    """A problem with the user's input, files or environment; the message says how to fix it."""


class ConfigError(GraffError, ValueError):
    """A configuration that cannot run, with what is wrong and what to do."""


class RunDirError(GraffError, RuntimeError):
    """An output or run directory that cannot be used (or is damaged) for this run."""


class DivergenceError(GraffError, RuntimeError):
    """Training produced non-finite values; the message names the most likely cause."""


class MissingExtraError(GraffError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, what: str) -> None:
        super().__init__(
            f"{what} needs {package}, which is not installed: pip install 'graff-gnn[{extra}]' "
            f"(or pip install {package})"
        )
