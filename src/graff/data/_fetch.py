"""Locating, verifying and downloading the raw data files.

Raw files are addressed by their path relative to the shared data root (for example
``"geom-gcn/splits/texas_split_0.6_0.2_3.npz"``). :func:`fetch_file` looks for them in the
directories returned by :func:`resolve_data_dir`, checks size and sha256 against the pinned
``manifest.csv`` shipped with the package, and, when the network is reachable, downloads a
missing file from its pinned upstream commit into the user data cache.
"""

from __future__ import annotations

import csv
import hashlib
import os
import socket
import tempfile
import urllib.request
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ._errors import DataFileCorruptError, DataFileMissingError, GraphDataError

__all__ = [
    "ManifestEntry",
    "cache_dir",
    "fetch_file",
    "file_present",
    "manifest",
    "resolve_data_dir",
    "sha256_of",
]

_MANIFEST_PATH = Path(__file__).with_name("manifest.csv")
_NET_HOST = ("raw.githubusercontent.com", 443)
_network_answer: bool | None = None
_verified: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class ManifestEntry:
    """One pinned raw file: relative path, size in bytes, sha256 and canonical download URL."""

    relpath: str
    size: int
    sha256: str
    url: str


@lru_cache(maxsize=1)
def manifest() -> dict[str, ManifestEntry]:
    """The pinned manifest of known raw files, keyed by relative path."""
    out: dict[str, ManifestEntry] = {}
    with _MANIFEST_PATH.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            out[row["relpath"]] = ManifestEntry(
                row["relpath"], int(row["size"]), row["sha256"], row["url"]
            )
    return out


def _xdg_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return Path(base) if base else Path.home() / ".cache"


def cache_dir() -> Path:
    """Root of graff's writable cache.

    ``$GRAFF_CACHE`` if set, else ``($XDG_CACHE_HOME or ~/.cache)/graff``.

    Processed datasets are written to ``cache_dir()/processed``; nothing is ever written into a
    data directory. The environment is read at call time, so tests can redirect it.
    """
    env = os.environ.get("GRAFF_CACHE")
    return Path(env).expanduser() if env else _xdg_cache() / "graff"


def _user_data_dir() -> Path:
    return _xdg_cache() / "graff" / "data"


def _folder(path: Path, what: str) -> Path:
    """``path`` unless it exists and is not a directory (a file given by mistake)."""
    if path.exists() and not path.is_dir():
        raise GraphDataError(
            f"{what} is {str(path)!r}, which is a file, not a directory; point it at the folder "
            "that holds the dataset files (e.g. a copy of shared/data)"
        )
    return path


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Directories searched for raw files, in order.

    1. ``data_dir`` if given;
    2. ``$GRAFF_DATA`` if set;
    3. the user data cache ``($XDG_CACHE_HOME or ~/.cache)/graff/data`` (downloads land here).

    Directories are returned whether or not they exist; duplicates are dropped.
    """
    cands: list[Path] = []
    if data_dir is not None:
        cands.append(_folder(Path(data_dir).expanduser(), "--data-dir (data_dir)"))
    env = os.environ.get("GRAFF_DATA")
    if env:
        cands.append(_folder(Path(env).expanduser(), "$GRAFF_DATA"))
    cands.append(_user_data_dir())
    out: list[Path] = []
    for c in cands:
        if c not in out:
            out.append(c)
    return out


def network_available(timeout: float = 2.0) -> bool:
    """Whether ``raw.githubusercontent.com:443`` accepts a TCP connection (answer cached)."""
    global _network_answer
    if _network_answer is None:
        try:
            with socket.create_connection(_NET_HOST, timeout=timeout):
                _network_answer = True
        except OSError:
            _network_answer = False
    return _network_answer


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _verify(path: Path, entry: ManifestEntry) -> None:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if _verified.get(key) == entry.sha256:
        return
    fix = f"delete {path} and copy it again from shared/data (or re-download it from {entry.url})"
    if st.st_size != entry.size:
        raise DataFileCorruptError(
            f"data file {path} ({entry.relpath}) has {st.st_size} bytes, expected "
            f"{entry.size} (truncated or wrong file); {fix}"
        )
    got = sha256_of(path)
    if got != entry.sha256:
        raise DataFileCorruptError(
            f"data file {path} ({entry.relpath}) has sha256 {got}, expected {entry.sha256}; {fix}"
        )
    _verified[key] = entry.sha256


def _download(entry: ManifestEntry, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry.url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        got_size = tmp.stat().st_size
        got = sha256_of(tmp)
        if got_size != entry.size or got != entry.sha256:
            raise DataFileCorruptError(
                f"download of {entry.relpath} from {entry.url} gave {got_size} bytes with sha256 "
                f"{got}, expected {entry.size} bytes with {entry.sha256}; the upstream file may "
                "have moved or the transfer was cut: retry, or copy the file from shared/data and "
                "pass --data-dir / set GRAFF_DATA"
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise DataFileMissingError(
            f"could not download {entry.relpath} from {entry.url}: {exc}; copy the file from "
            "shared/data and pass --data-dir DIR or set GRAFF_DATA=DIR"
        ) from exc
    finally:
        if tmp.exists():
            tmp.unlink()


def file_present(relpath: str, data_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """Path of ``relpath`` in the first search directory holding it, or ``None`` (no checks)."""
    for d in resolve_data_dir(data_dir):
        p = d / relpath
        if p.is_file():
            return p
    return None


def fetch_file(
    relpath: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool | None = None,
) -> Path:
    """Find a raw data file, verify it against the pinned manifest and return its path.

    Args:
        relpath: path relative to the shared data root, e.g. ``"planetoid/ind.cora.x"``.
        data_dir: explicit directory searched first (see :func:`resolve_data_dir`).
        download: ``True`` downloads a missing file, ``False`` never does, ``None`` (default)
            downloads only if ``raw.githubusercontent.com`` is reachable.

    Raises:
        DataFileMissingError: the file is in no search directory and cannot be downloaded.
        DataFileCorruptError: the file's size or sha256 differs from the manifest.

    Files not listed in the manifest are returned unchecked. Verification is memoised per
    ``(path, size, mtime)`` within the process.
    """
    rel = relpath.replace("\\", "/").lstrip("/")
    if ".." in Path(rel).parts:
        raise GraphDataError(f"data path {relpath!r} must stay inside the data directory")
    entry = manifest().get(rel)
    dirs = resolve_data_dir(data_dir)
    found = file_present(rel, data_dir)
    if found is not None:
        if entry is not None:
            _verify(found, entry)
        return found
    want = download if download is not None else (entry is not None and network_available())
    if want and entry is not None:
        dest = _user_data_dir() / rel
        _download(entry, dest)
        _verify(dest, entry)
        return dest
    searched = ", ".join(str(d) for d in dirs)
    how = (
        f"or run where github is reachable to download it from {entry.url}"
        if entry is not None
        else "(this file is not in graff's manifest, so it cannot be downloaded)"
    )
    copy = " (e.g. a copy of shared/data)" if entry is not None else ""
    raise DataFileMissingError(
        f"data file {rel!r} not found; searched: {searched}. Pass --data-dir DIR or set "
        f"GRAFF_DATA=DIR to a folder containing {rel}{copy}; {how}"
    )
