"""Where a dataset comes from, as a run records it: the absolute path of a user ``.npz`` (and
its sha256), or the folder that holds a registered dataset's raw files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ._errors import GraphDataError, check_dataset_name
from ._fetch import resolve_data_dir, sha256_of
from ._registry import _check_params, _files_for, _resolve

__all__ = ["absolute_dataset", "dataset_source", "user_npz_path"]


def user_npz_path(name: str) -> str | None:
    """The path of a user graph (``npz:PATH`` or a name ending in ``.npz``) as written, or
    None for a registered dataset (the rule of :func:`~graff.data.load_dataset`)."""
    check_dataset_name(name)
    stripped = name.strip()
    if stripped.lower().startswith("npz:"):
        return stripped[4:]
    if stripped.lower().endswith(".npz"):
        return stripped
    return None


def absolute_dataset(name: str) -> str:
    """``name`` with a user graph's path made absolute (``npz:/abs/path.npz``), so that it
    names the same file from any working folder; a registered name is returned unchanged."""
    path = user_npz_path(name)
    if path is None:
        return name
    return "npz:" + os.path.abspath(os.path.expanduser(path))


def dataset_source(
    name: str, params: dict[str, Any] | None = None, data_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """Where ``name`` is read from: ``{"kind": "npz", "path": ABSOLUTE, "sha256": HEX}`` for a
    user graph; ``{"kind": "files", "path": FOLDER}`` for a registered dataset, FOLDER the first
    search folder (:func:`~graff.data.resolve_data_dir`) holding all its raw files (None when
    none does yet); ``{"kind": "generated", "path": None}`` for one without files (``csbm``).
    Never downloads."""
    path = user_npz_path(name)
    if path is not None:
        file = Path(absolute_dataset(name)[4:])
        try:
            digest: str | None = sha256_of(file)
        except OSError:
            digest = None
        return {"kind": "npz", "path": str(file), "sha256": digest}
    info = _resolve(name)
    try:
        files = _files_for(info, _check_params(info, dict(params or {})))
    except GraphDataError:
        files = list(info.files)
    if not files:
        return {"kind": "generated", "path": None}
    for folder in resolve_data_dir(data_dir):
        if all((folder / f).is_file() for f in files):
            return {"kind": "files", "path": os.path.abspath(folder)}
    return {"kind": "files", "path": None}
