"""Writing files safely: the one atomic-write helper every module uses, the one rule that
turns a name (a dataset's ``npz:PATH`` included) into a file name, and the lock that keeps
one writer per run folder."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

__all__ = [
    "FolderLock",
    "as_path",
    "atomic_write",
    "check_writable",
    "current_umask",
    "file_slug",
    "sha256_file",
]


def as_path(value: object, what: str, kind: str = "a path (str or pathlib.Path)") -> Path:
    """``value`` (str or path-like) as a :class:`~pathlib.Path`, else a ``TypeError`` that
    names the argument ``what``, the ``kind`` of path it must be and what was given
    (``Path(3)`` says only "expected str, bytes or os.PathLike object, not int")."""
    if not isinstance(value, str | os.PathLike):
        raise TypeError(f"{what} must be {kind}, got {type(value).__name__} {value!r:.60}")
    return Path(value)


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


class FolderLock:
    """An exclusive lock on a folder that only a living process holds: ``fcntl.flock`` on a
    hidden file in it, removed on :meth:`release` (the kernel lets go of the lock when its
    process ends, so a crash leaves at most an unlocked file). Where ``fcntl`` is missing
    (Windows) nothing is locked.

    ``acquire`` returns None when the lock is taken, else the text the holder wrote into the
    file (its pid and command), for the caller's error message."""

    NAME = ".graff-lock"

    def __init__(self, folder: Path) -> None:
        self.path = folder / self.NAME
        self._fd: int | None = None

    def acquire(self, *, wait: bool = False) -> str | None:
        """Take the lock (``wait``: until the holder lets go), or return who holds it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return None
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    os.close(fd)
                    raise
                holder = os.pread(fd, 4096, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                return holder or "another process"
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)  # the holder removed the file as we took it: lock the new one
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {' '.join(sys.argv)[:300]}\n".encode(), 0)
        self._fd = fd
        return None

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still held: no one locks a file that is going
            os.close(fd)  # closing the descriptor lets go of the flock
