"""Exceptions and warnings raised by :mod:`graff.data`.

Every data problem raises :class:`GraphDataError` (a :class:`ValueError`) or a subclass, and
every message says what is wrong *and* what to do about it. Problems that still allow a run
(features of a worrying scale, a damaged processed-cache entry that is rebuilt) emit a
:class:`GraphDataWarning`.
"""

from __future__ import annotations

from graff.errors import GraffError


class GraphDataError(GraffError, ValueError):
    """A dataset, data file or graph is unusable; the message says why and how to fix it."""


class DataFileMissingError(GraphDataError, FileNotFoundError):
    """A required data file was found in none of the searched directories."""


class DataFileCorruptError(GraphDataError):
    """A data file has the wrong size or sha256, or cannot be parsed."""


class GraphDataWarning(UserWarning):
    """Something about the data is suspicious or was repaired, but work can go on."""


def check_dataset_name(name: object) -> None:
    """Raise :class:`GraphDataError` unless ``name`` is a string (a dataset's name); a
    loaded graph given instead is named as such."""
    if not isinstance(name, str):
        hint = (
            "; this takes the name of a dataset (e.g. 'texas' or 'npz:PATH'), not a loaded graph"
            if hasattr(name, "edge_index")
            else ""
        )
        raise GraphDataError(
            f"dataset name must be a string, got {type(name).__name__} {name!r:.60}{hint}"
        )
