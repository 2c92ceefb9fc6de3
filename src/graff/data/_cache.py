"""The processed-data cache, verified before every use.

Parsed graphs are stored under ``cache_dir()/processed``. An entry is one file:

* a magic line (:data:`MAGIC`);
* one JSON line: ``{"source": ..., "sha256": ..., "size": ...}`` — ``source`` describes what
  the entry was built from (loader version, dataset, parameters, and the sha256 of every raw
  file, or for a user's ``.npz`` its resolved path, sha256, size and mtime), ``sha256`` and
  ``size`` those of the payload;
* the payload: ``torch.save`` of a dict of tensors plus a ``meta`` dict.

:func:`load_entry` trusts an entry only if its ``source`` equals the caller's and the payload's
size and sha256 match; the payload is read with ``torch.load(..., weights_only=True)`` (no
code from the file runs). A damaged entry (bad checksum, unreadable) is discarded with a
:class:`~graff.data.GraphDataWarning` and the caller rebuilds it; an entry built from
different sources (e.g. an edited user ``.npz``) is replaced silently. Nothing here raises:
a cache that cannot be read or written only costs time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from ._errors import GraphDataWarning
from ._fetch import cache_dir
from ._validate import MASK_KEYS

__all__ = ["MAGIC", "entry_path", "load_entry", "notable_notes", "save_entry"]

_CACHE_NOTE = "loaded from processed cache"


def notable_notes(notes: list[str]) -> list[str]:
    """The notes of a graph worth a line on a console: what the loader repaired or noticed
    (dropped self-loops, added reverse edges, classes without training nodes, ...), not that
    it came from the processed cache (that stays in ``summary.json``'s notes)."""
    return [n for n in notes if not n.startswith(_CACHE_NOTE)]


MAGIC = b"graff processed cache 2\n"
_TENSORS = ("x", "edge_index", "y", *MASK_KEYS)


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def entry_path(stem: str, key: dict[str, Any]) -> Path:
    """``cache_dir()/processed/<stem>-<16 hex of sha256(key)>.pt``."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)[:60]
    return cache_dir() / "processed" / f"{safe}-{_digest(key)[:16]}.pt"


def _normalised(source: dict[str, Any]) -> Any:
    """``source`` as it reads back from JSON (tuples become lists, odd values strings)."""
    return json.loads(json.dumps(source, sort_keys=True, default=str))


def save_entry(path: Path, data: Data, source: dict[str, Any]) -> None:
    """Write ``data`` (built from ``source``) as a verified cache entry, atomically."""
    blob: dict[str, Any] = {k: data[k] for k in _TENSORS if data.get(k) is not None}
    x = blob.get("x")
    if x is not None and x.numel() > 0 and float((x != 0).sum()) / x.numel() < 0.5:
        blob["x"] = x.to_sparse()  # bag-of-words features: ~20-100x smaller on disk
    blob["meta"] = {
        "name": data.name,
        "metric": data.metric,
        "notes": list(data.notes),
        "num_label_classes": int(data.num_label_classes),
    }
    buf = io.BytesIO()
    torch.save(blob, buf)
    payload = buf.getvalue()
    header = {
        "source": _normalised(source),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "size": len(payload),
    }
    raw = MAGIC + json.dumps(header, sort_keys=True).encode() + b"\n" + payload
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(raw)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass  # an unwritable cache only costs speed


class _Damaged(Exception):
    pass


def _discard(path: Path, why: str) -> None:
    warnings.warn(
        f"processed cache entry {path} is damaged ({why}); discarded, the dataset is rebuilt "
        "from its source files",
        GraphDataWarning,
        stacklevel=4,
    )
    with contextlib.suppress(OSError):
        path.unlink()


def _parse(raw: bytes) -> tuple[dict[str, Any], bytes]:
    if not raw.startswith(MAGIC):
        raise _Damaged("not a graff cache entry of this version")
    end = raw.find(b"\n", len(MAGIC))
    if end < 0:
        raise _Damaged("no header")
    try:
        header = json.loads(raw[len(MAGIC) : end].decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Damaged(f"unreadable header: {exc}") from exc
    if not isinstance(header, dict) or not {"source", "sha256", "size"} <= set(header):
        raise _Damaged("incomplete header")
    payload = raw[end + 1 :]
    if len(payload) != header["size"]:
        raise _Damaged(f"{len(payload)} payload bytes, header says {header['size']}")
    if hashlib.sha256(payload).hexdigest() != header["sha256"]:
        raise _Damaged("payload sha256 differs from the one recorded")
    return header, payload


def _to_data(payload: bytes) -> Data:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's notes on foreign pickle protocols
            blob = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:  # any unpickling failure
        raise _Damaged(f"payload unreadable: {type(exc).__name__}") from exc
    if not isinstance(blob, dict) or not isinstance(blob.get("meta"), dict):
        raise _Damaged("payload has the wrong layout")
    meta = blob.pop("meta")
    if set(blob) - set(_TENSORS) or not all(isinstance(v, Tensor) for v in blob.values()):
        raise _Damaged("payload holds unexpected entries")
    if blob.get("x") is not None and blob["x"].is_sparse:
        blob["x"] = blob["x"].to_dense()
    try:
        data = Data(**blob)
        data.name = str(meta["name"])
        data.metric = str(meta["metric"])
        data.notes = [str(s) for s in meta["notes"]]
        data.num_label_classes = int(meta["num_label_classes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _Damaged(f"payload metadata unreadable: {exc}") from exc
    return data


def load_entry(path: Path, source: dict[str, Any]) -> Data | None:
    """The cached graph at ``path`` if it is intact and was built from ``source``; else ``None``.

    A damaged entry is deleted with a :class:`GraphDataWarning`; a stale one (other source) is
    left for the caller to overwrite; an unreadable path (no entry, unusable cache directory)
    is a plain miss. Never raises for a bad entry.
    """
    try:
        raw = path.read_bytes()
    except OSError:  # absent, or the cache directory is unusable: only costs time
        return None
    try:
        header, payload = _parse(raw)
        if header["source"] != _normalised(source):
            return None  # built from other sources: rebuilt and overwritten by the caller
        data = _to_data(payload)
    except _Damaged as exc:
        _discard(path, str(exc))
        return None
    data.notes.append(f"{_CACHE_NOTE} {path} (checksums verified)")
    return data
