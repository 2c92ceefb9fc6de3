"""Writing files safely: the one atomic-write helper every module uses, and the one rule
that turns a name (a dataset's ``npz:PATH`` included) into a file name."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "check_writable", "current_umask", "file_slug", "sha256_file"]


def file_slug(text: str, empty: str = "run") -> str:
    """``text`` as one file name: each run of characters other than letters, digits, ``_``,
    ``.`` and ``-`` becomes ``_`` (``npz:/data/g.npz-graff`` → ``npz_data_g.npz-graff``, one
    folder, not a tree of them); ``empty`` where nothing is left."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or empty


def current_umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], data: bytes | str) -> Path:
    """Write ``data`` to ``path`` all at once: a temporary file beside it, flushed to disk,
    then :func:`os.replace`. Readers see the old file or the new one, never half of one; the
    new file gets the permissions of an ordinary new file (0666 less the umask)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def check_writable(path: str | os.PathLike[str]) -> Path:
    """Make sure ``path`` can be written later, before a long job computes what goes there:
    its folder is created if missing and a probe file is written and removed in it.
    Raises the :class:`OSError` that writing would (the CLI turns it into one clear line)."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(parent))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".probe")
    except OSError as err:  # name the path asked for, not the probe
        raise type(err)(err.errno, err.strerror, str(path)) from None
    os.close(fd)
    Path(tmp).unlink()
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
