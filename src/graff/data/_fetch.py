"""Locating, verifying and downloading the raw data files.

Raw files are addressed by their path relative to the shared data root (for example
``"geom-gcn/splits/texas_split_0.6_0.2_3.npz"``). :func:`fetch_file` looks for them in the
directories returned by :func:`resolve_data_dir`, checks each against the pinned ``manifest.csv``
shipped with the package, and, when the network is reachable, downloads a missing file from its
pinned upstream commit into the user data cache.

Two kinds of pin:

* **size + sha256** for the files of shared/data (``MANIFEST.md``), the usual case;
* **git blob SHA-1** alone for upstream files whose sha256 was never published because no copy
  of their content was at hand (Platonov et al.'s ``roman_empire.npz``, ``amazon_ratings.npz``,
  ``questions.npz``: only the upstream git tree, and so each file's blob id, is known). Git names
  a file's content ``sha1(b"blob <size>\\0" + content)`` (:func:`git_blob_sha1`), so the tree
  entry at the pinned commit (the one the URL names) identifies the exact bytes: a sure guard
  against truncation, damage and a wrong file, if weaker than sha256 against a deliberately
  crafted SHA-1 collision. Add the sha256 once someone has the verified file.
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

from graff._io import as_path, sha256_file
from graff.nn.checks import check_flags

from ._errors import DataFileCorruptError, DataFileMissingError, GraphDataError

__all__ = [
    "ManifestEntry",
    "cache_dir",
    "fetch_file",
    "file_present",
    "git_blob_sha1",
    "host_reachable",
    "manifest",
    "resolve_data_dir",
    "sha256_of",
]

_MANIFEST_PATH = Path(__file__).with_name("manifest.csv")
_NET_HOST = ("raw.githubusercontent.com", 443)
_reachable: dict[tuple[str, int], bool] = {}
_verified: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class ManifestEntry:
    """One pinned raw file: relative path, size in bytes, sha256, canonical download URL and
    git blob SHA-1 (the id of its content in the upstream git tree).

    ``size`` and ``sha256`` are ``None`` for an upstream-only file (not in shared/data, content
    never seen here); such a file is verified by ``git_blob`` alone. A file with a sha256 is
    verified by size and sha256.
    """

    relpath: str
    size: int | None
    sha256: str | None
    url: str
    git_blob: str | None = None

    @property
    def in_shared_data(self) -> bool:
        """Whether the file is one of shared/data's (pinned by sha256 from its MANIFEST.md)."""
        return self.sha256 is not None

    @property
    def checksum(self) -> str:
        """What the file is verified by: its sha256, else ``"git-blob:<sha1>"``."""
        return self.sha256 if self.sha256 is not None else f"git-blob:{self.git_blob}"


@lru_cache(maxsize=1)
def manifest() -> dict[str, ManifestEntry]:
    """The pinned manifest of known raw files, keyed by relative path."""
    out: dict[str, ManifestEntry] = {}
    with _MANIFEST_PATH.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            e = ManifestEntry(
                row["relpath"],
                int(row["size"]) if row["size"] else None,
                row["sha256"] or None,
                row["url"],
                row.get("git_blob") or None,
            )
            if e.sha256 is None and e.git_blob is None:
                raise RuntimeError(f"manifest.csv: {e.relpath} has neither sha256 nor git_blob")
            out[e.relpath] = e
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

    ``data_dir``, named on purpose, must exist (a typo would otherwise read the files from
    the next folder without a word); the others are returned whether or not they exist.
    Duplicates are dropped.
    """
    cands: list[Path] = []
    if data_dir is not None:
        given = _folder(as_path(data_dir, "data_dir").expanduser(), "--data-dir (data_dir)")
        if not given.exists():
            raise GraphDataError(
                f"--data-dir (data_dir) is {str(given)!r}, which does not exist; point it at the "
                "folder that holds the dataset files (e.g. a copy of shared/data), or leave it "
                "out to read $GRAFF_DATA, then the user data cache"
            )
        cands.append(given)
    env = os.environ.get("GRAFF_DATA")
    if env:
        cands.append(_folder(Path(env).expanduser(), "$GRAFF_DATA"))
    cands.append(_user_data_dir())
    out: list[Path] = []
    for c in cands:
        if c not in out:
            out.append(c)
    return out


def host_reachable(host: tuple[str, int], timeout: float = 2.0) -> bool:
    """Whether ``host`` (name, port) accepts a TCP connection (answer cached per host for the
    process)."""
    if host not in _reachable:
        try:
            with socket.create_connection(host, timeout=timeout):
                _reachable[host] = True
        except OSError:
            _reachable[host] = False
    return _reachable[host]


def network_available(timeout: float = 2.0) -> bool:
    """Whether ``raw.githubusercontent.com:443`` accepts a TCP connection (answer cached)."""
    return host_reachable(_NET_HOST, timeout)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file (:func:`graff._io.sha256_file`)."""
    return sha256_file(path)


def git_blob_sha1(path: Path) -> str:
    """Hex git blob id of a file: ``sha1(b"blob <size>\\0" + content)``, as ``git hash-object``."""
    h = hashlib.sha1(usedforsecurity=False)
    h.update(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _mismatch(path: Path, entry: ManifestEntry) -> str | None:
    """How ``path`` differs from its pin (size + sha256, else git blob), or ``None``."""
    size = path.stat().st_size
    if entry.size is not None and size != entry.size:
        return f"has {size} bytes, expected {entry.size} (truncated or wrong file)"
    if entry.sha256 is not None:
        got = sha256_of(path)
        return None if got == entry.sha256 else f"has sha256 {got}, expected {entry.sha256}"
    got = git_blob_sha1(path)
    if got != entry.git_blob:
        return (
            f"has git blob SHA-1 {got} ({size} bytes), expected {entry.git_blob} (the blob id "
            f"of the pinned upstream file, {entry.url})"
        )
    return None


def _verify(path: Path, entry: ManifestEntry) -> None:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if _verified.get(key) == entry.checksum:
        return
    fix = (
        f"delete {path} and copy it again from shared/data (or re-download it from {entry.url})"
        if entry.in_shared_data
        else f"delete {path} and download it again from {entry.url}"
    )
    problem = _mismatch(path, entry)
    if problem is not None:
        raise DataFileCorruptError(f"data file {path} ({entry.relpath}) {problem}; {fix}")
    _verified[key] = entry.checksum


def _copy_advice(entry: ManifestEntry) -> str:
    if entry.in_shared_data:
        return "copy the file from shared/data and pass --data-dir DIR or set GRAFF_DATA=DIR"
    return (
        f"fetch {entry.url} where the network is reachable, save it as DIR/{entry.relpath} and "
        "pass --data-dir DIR or set GRAFF_DATA=DIR"
    )


def _download(entry: ManifestEntry, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(entry.url, timeout=60) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        problem = _mismatch(tmp, entry)
        if problem is not None:
            raise DataFileCorruptError(
                f"download of {entry.relpath} from {entry.url} {problem}; the upstream file may "
                f"have moved or the transfer was cut: retry, or {_copy_advice(entry)}"
            )
        os.replace(tmp, dest)
    except OSError as exc:
        raise DataFileMissingError(
            f"could not download {entry.relpath} from {entry.url}: {exc}; {_copy_advice(entry)}"
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


def check_download(download: object) -> None:
    """``download`` is True, False or None: text such as ``"no"`` would count as true."""
    if download is not None:
        try:
            check_flags(download=download)
        except TypeError as err:
            also = "True, False or None (download when the server is reachable)"
            raise TypeError(str(err).replace("True or False", also, 1)) from None


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
        DataFileCorruptError: the file's size or sha256 (or, for an upstream-only file, its git
            blob SHA-1) differs from the manifest.

    Files not listed in the manifest are returned unchecked. Verification is memoised per
    ``(path, size, mtime)`` within the process.
    """
    check_download(download)
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
    env = os.environ.get("GRAFF_DATA")
    searched = ", ".join(
        f"{d} ($GRAFF_DATA, which does not exist)"
        if env and d == Path(env).expanduser() and not d.exists()
        else str(d)
        for d in dirs
    )
    if entry is not None and not entry.in_shared_data:
        raise DataFileMissingError(
            f"data file {rel!r} not found; searched: {searched}. It is not part of shared/data "
            f"(too large for the offline snapshot): download {entry.url} where the network is "
            f"reachable and save it as {dirs[-1] / rel} (found there without options), or save "
            f"it as DIR/{rel} and pass --data-dir DIR or set GRAFF_DATA=DIR. It is verified by "
            f"its git blob SHA-1 {entry.git_blob}"
        )
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
