"""The journal file of a study: finding a damaged record, and moving a damaged tail aside.

Optuna's journal (``study.journal``) is an append-only log, one JSON record per line, each
write ending in a newline under a file lock. A process killed during a write, a full disk
or a copy cut short leaves a **damaged tail**: a last record without its newline, cut
inside, or bytes that are no record at all. Optuna reads past such a tail silently, and the
next write appends to it, which damages a record in the middle of the log for good (every
later read fails).

:func:`check_journal` reads the file before a search does anything else:

* a damaged **tail** (nothing but damage after the last complete record) is repaired: the
  damaged bytes are moved into a sibling file ``<name>.damaged-<UTC time>`` and the journal
  is cut after its last complete record (a complete record that only lacks its newline gets
  it back), so every complete record is kept; the note it returns says what was done;
* damage **in the middle** (a bad line followed by complete records) cannot be cut away
  without losing the records after it: :class:`JournalError` says which line and byte, and
  how to go on.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from graff.errors import StorageError

__all__ = ["Damage", "JournalError", "check_journal", "end_cleanly", "find_damage"]

#: The operation codes of Optuna's journal records (``JournalOperation``: 0 … 10).
_OP_CODES = range(0, 11)


class JournalError(StorageError):
    """A study journal file that cannot be read and cannot be repaired without a loss."""


@dataclass(frozen=True)
class Damage:
    """Where a journal stops being a sequence of complete records.

    Attributes:
        line: the first damaged line (1-based); offset: its first byte (0-based).
        reason: what is wrong with it.
        records_after: complete records after it (0: a damaged tail, which can be cut).
        complete_at_end: the damage is only the last record's missing newline.
    """

    line: int
    offset: int
    reason: str
    records_after: int
    complete_at_end: bool = False


def _problem(line: bytes) -> str | None:
    """Why ``line`` (with its newline, if any) is not a complete journal record, or None."""
    if not line.endswith(b"\n"):
        return "a record cut short (no newline at its end)"
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        return "bytes that are not UTF-8 text"
    except ValueError:
        return "text that is not a JSON record"
    if not isinstance(record, dict):
        return "JSON that is not a journal record"
    op = record.get("op_code")
    if isinstance(op, bool) or not isinstance(op, int) or op not in _OP_CODES:
        return "a JSON object without a known op_code"
    if not isinstance(record.get("worker_id"), str):
        return "a record without its worker_id"
    return None


def find_damage(data: bytes) -> Damage | None:
    """The first damaged line of the journal ``data``, or None if every line is a record."""
    offset = 0
    first: Damage | None = None
    after = 0
    parts = data.split(b"\n")  # lines as Optuna reads them: split at newlines only
    lines = [p + b"\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    for number, line in enumerate(lines, start=1):
        reason = _problem(line)
        if first is None and reason is not None:
            complete = (
                not line.endswith(b"\n")
                and offset + len(line) == len(data)
                and _problem(line + b"\n") is None
            )
            first = Damage(number, offset, reason, 0, complete)
        elif first is not None and reason is None:
            after += 1
        offset += len(line)
    if first is None:
        return None
    return Damage(first.line, first.offset, first.reason, after, first.complete_at_end)


def check_journal(path: str | os.PathLike[str]) -> str | None:
    """Check the journal file at ``path`` before a search uses it; repair a damaged tail.

    Holds Optuna's lock of the file (``<path>.lock``) meanwhile, so that a live writer's
    record is never mistaken for a half-written one. Returns a note saying what was
    repaired, or None when the file is sound (or absent, or empty).

    Raises:
        JournalError: damage followed by complete records (repairing would lose them).
    """
    from optuna.storages.journal import JournalFileSymlinkLock

    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    lock = JournalFileSymlinkLock(str(path))
    lock.acquire()
    try:
        return _check_locked(path)
    finally:
        lock.release()


def end_cleanly(path: str | os.PathLike[str]) -> str | None:
    """Before an append, with the journal's lock held: if the file does not end in a newline
    (a writer died during its write), move its partial last record aside (or give a complete
    one its newline), so that the next record does not land on it. Reads only the tail.
    Returns a note of what was done, or None."""
    path = Path(path)
    with open(path, "rb") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return None
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        start, chunk = size, 1 << 16
        while start > 0:  # back to the last newline: the partial record begins after it
            lo = max(0, start - chunk)
            fh.seek(lo)
            found = fh.read(start - lo).rfind(b"\n")
            if found >= 0:
                start = lo + found + 1
                break
            start = lo
        fh.seek(start)
        tail = fh.read()
    reason = _problem(tail) or "a record cut short (no newline at its end)"
    complete = _problem(tail + b"\n") is None
    return _repair_tail(
        path, tail, Damage(1 + _count_newlines(path, start), start, reason, 0, complete)
    )


def _count_newlines(path: Path, end: int) -> int:
    n = 0
    with open(path, "rb") as fh:
        while fh.tell() < end:
            n += fh.read(min(1 << 20, end - fh.tell())).count(b"\n")
    return n


def _check_locked(path: Path) -> str | None:
    data = path.read_bytes()
    damage = find_damage(data)
    if damage is None:
        return None
    where = f"line {damage.line} (byte {damage.offset})"
    if damage.records_after:
        raise JournalError(
            f"the study journal {path} is damaged at {where}: {damage.reason}, followed by "
            f"{damage.records_after} complete record(s) that cutting it there would lose, so "
            "graff does not repair it; keep the file for the record (mv it aside) and start "
            "the search again with another --out (or another --storage)"
        )
    return _repair_tail(path, data[damage.offset :], damage)


def _repair_tail(path: Path, tail: bytes, damage: Damage) -> str:
    """Move the damaged ``tail`` (from ``damage.offset`` to the end) aside and cut the file
    there, or give a complete last record its newline."""
    where = f"line {damage.line} (byte {damage.offset})"
    if damage.complete_at_end:
        with open(path, "ab") as fh:
            fh.write(b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        return (
            f"the study journal {path} ended in a complete record without its newline "
            f"({where}); added the newline, every record kept"
        )
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    for n in range(1000):
        aside = path.with_name(f"{path.name}.damaged-{stamp}" + (f"-{n}" if n else ""))
        try:
            with open(aside, "xb") as fh:  # never over an earlier damaged tail
                fh.write(tail)
                fh.flush()
                os.fsync(fh.fileno())
        except FileExistsError:
            continue
        break
    else:
        raise JournalError(f"too many damaged tails beside {path}; move them away")
    with open(path, "r+b") as fh:
        fh.truncate(damage.offset)
        fh.flush()
        os.fsync(fh.fileno())
    return (
        f"the study journal {path} ended in a damaged record at {where}: {damage.reason}; "
        f"moved its {len(tail)} damaged byte(s) to {aside.name} and kept the "
        f"{damage.line - 1} complete record(s) before it"
    )
