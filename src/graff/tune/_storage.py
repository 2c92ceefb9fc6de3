"""Where a study lives, how its trials are counted, and what happens to a killed worker's trial.

Two kinds of storage:

* **Embedded** (the default): an Optuna journal file ``DIR/study.journal``
  (:class:`optuna.storages.JournalStorage` on a ``JournalFileBackend``): an append-only log
  written under a file lock, the store Optuna recommends for several processes on one
  machine (SQLite's whole-database lock is not meant for concurrent writers); a search
  checks it first and repairs a tail that a crash cut short (:mod:`graff.tune._journal`),
  so that no record is ever appended to a half-written one. A trial whose
  worker died (``kill -9``, a crash) stays RUNNING in the log; every worker, before it starts
  a trial, marks FAIL each RUNNING trial whose process (host and pid recorded in the trial)
  no longer exists. So running the same command again after a kill resumes at once, and
  the killed trial's configuration is run again first (at most :data:`MAX_RETRIES` times): a
  search stopped again and again (a machine lent for a few hours at a time) would otherwise
  never finish, and so silently drop, its longest configurations.
* **A database URL** (``postgresql://user:pw@host/db``, ``sqlite:///file.db``, any SQLAlchemy
  URL): :class:`optuna.storages.RDBStorage` with Optuna's heartbeat. Workers on other
  machines cannot be asked whether their process lives, so a RUNNING trial whose heartbeat
  is older than :data:`GRACE_PERIOD` seconds is marked FAIL instead, and run again as above
  (Optuna's :class:`~optuna.storages.RetryHeartbeatStaleTrialCallback`).

A failed *run* (the model diverged, the sampled combination is not a valid config) is a
finished trial: state FAIL with a user attribute ``error``. A FAIL without ``error`` is a
trial that never ran to its end (killed, or a surplus trial, see :mod:`graff.tune._worker`)
and does not count towards the requested number of trials.
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import optuna
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from graff.errors import StorageError
from graff.tune import _journal

__all__ = [
    "GRACE_PERIOD",
    "HEARTBEAT_INTERVAL",
    "Counts",
    "StorageError",
    "check_journal_path",
    "close_storage",
    "counts",
    "describe_storage",
    "embedded_storage",
    "is_embedded",
    "open_storage",
    "reap_dead_trials",
    "worker_identity",
]

#: Seconds between two heartbeats of a running trial in a database storage.
HEARTBEAT_INTERVAL = 10
#: A RUNNING trial without a heartbeat for this long is failed (database storages).
GRACE_PERIOD = 60
#: A RUNNING trial that never recorded its worker is failed after this long (embedded).
UNCLAIMED_SECONDS = 120
#: How often a killed trial's configuration is run again (its copies carry ``retry_of``).
MAX_RETRIES = 2
#: User attributes a retried trial keeps from the killed one.
_CARRIED = ("base_config",)
#: Tries to open a database whose Optuna tables other machines may be creating right now.
SCHEMA_ATTEMPTS = 5


def embedded_storage(out_dir: Path) -> str:
    """The default storage of a search writing to ``out_dir``: its journal file."""
    return str((out_dir / "study.journal").resolve())


def is_embedded(storage: str) -> bool:
    """A journal file path (embedded), not a database URL."""
    return "://" not in storage


def describe_storage(storage: str) -> str:
    """The storage for humans and provenance records: a database URL without its password."""
    if is_embedded(storage):
        return f"journal file {storage}"
    import sqlalchemy.engine

    try:
        return str(sqlalchemy.engine.make_url(storage).render_as_string(hide_password=True))
    except Exception:  # a URL SQLAlchemy cannot parse: opening it fails (StorageError)
        return storage.split("@")[-1]


def _database_url(url: str) -> str:
    """``postgresql://`` with the psycopg (3) driver when psycopg2 is absent."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        import importlib.util

        if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg"):
            return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


_OPEN: dict[str, optuna.storages.BaseStorage] = {}


def open_storage(storage: str) -> optuna.storages.BaseStorage:
    """The Optuna storage of a journal file path or a database URL (module docstring); one
    per process and storage, until :func:`close_storage`."""
    if storage not in _OPEN:
        _OPEN[storage] = _open(storage)
    return _OPEN[storage]


def close_storage(storage: str) -> None:
    """Close this process's connections to ``storage`` (a database's connection pool)."""
    opened = _OPEN.pop(storage, None)
    if isinstance(opened, optuna.storages.RDBStorage):
        opened.remove_session()
        opened.engine.dispose()


def _open(storage: str) -> optuna.storages.BaseStorage:
    if is_embedded(storage):
        return _open_journal(storage)
    import sqlalchemy.engine
    import sqlalchemy.exc

    usage = (
        "give postgresql://USER:PASSWORD@HOST:5432/DB, sqlite:///FILE.db, or no --storage "
        "(a journal file in --out)"
    )
    where = describe_storage(storage)
    try:
        url = sqlalchemy.engine.make_url(storage)
    except (sqlalchemy.exc.ArgumentError, ValueError) as err:
        raise StorageError(f"storage {where!r} is not a database URL ({err}); {usage}") from None
    try:
        return _open_database(storage)
    except sqlalchemy.exc.NoSuchModuleError:
        raise StorageError(
            f"storage {where!r}: unknown database kind {url.drivername!r}; {usage}"
        ) from None
    except ImportError as err:
        missing = getattr(err.__cause__, "name", None) or err.name
        raise StorageError(
            f"storage {where!r} needs a database driver for {url.get_backend_name()} that is not "
            f"installed ({missing or err}); install one (PostgreSQL: pip install psycopg)"
        ) from None
    except sqlalchemy.exc.DBAPIError as err:
        reason = str(err.orig or err).strip().splitlines()[0]
        hint = (
            "check that its folder exists and is writable"
            if url.get_backend_name() == "sqlite"
            else "check that the server runs and is reachable from this machine, and the "
            "user, password and database name"
        )
        raise StorageError(f"cannot open the study database {where}: {reason}; {hint}") from None


class _JournalFile(JournalFileBackend):
    """Optuna's journal file, whose appends never land on a half-written record.

    :meth:`append_logs` is Optuna's (``optuna/storages/journal/_file.py``, Optuna 5), plus a
    look at the file's end under the same lock: a writer that died during its write (while
    other workers go on) left a partial record there, which
    :func:`graff.tune._journal.end_cleanly` moves aside first.
    """

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
        self._lock.acquire()
        try:
            note = _journal.end_cleanly(self._file_path)
            if note is not None:
                logging.getLogger("graff.tune").warning("%s", note)
            with open(self._file_path, "ab") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
        finally:
            self._lock.release()


def check_journal_path(storage: str) -> None:
    """A :class:`StorageError` where a journal storage names a folder, not a file."""
    if Path(storage).is_dir():
        raise StorageError(
            f"storage {storage} is a folder; a journal storage is a file: give a path such as "
            f"{Path(storage) / 'study.journal'}, or leave --storage out (a journal in --out)"
        )


def _open_journal(storage: str) -> optuna.storages.BaseStorage:
    check_journal_path(storage)
    Path(storage).parent.mkdir(parents=True, exist_ok=True)
    try:
        return optuna.storages.JournalStorage(_JournalFile(storage))
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as err:
        # Records Optuna cannot replay (graff.tune._journal checks the lines before a
        # search; this is what is left: well-formed lines that make no study).
        raise StorageError(
            f"the study journal {storage} cannot be read by Optuna ({type(err).__name__}: "
            f"{err}); keep the file for the record (mv it aside) and start the search again "
            "with another --out (or another --storage)"
        ) from None


def _open_database(storage: str) -> optuna.storages.BaseStorage:
    engine_kwargs: dict[str, Any] = {}
    if storage.startswith("sqlite"):
        engine_kwargs["connect_args"] = {"timeout": 120}
    else:
        engine_kwargs["pool_pre_ping"] = True
    import sqlalchemy.exc

    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                # The heartbeat is marked experimental; it makes a dead machine's trial fail.
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    _database_url(storage),
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=HEARTBEAT_INTERVAL,
                    grace_period=GRACE_PERIOD,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES
                    ),
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
            # Machines that start together on an empty database all create Optuna's tables;
            # all but one fail on a duplicate type or table. Once it exists, opening works.
            if attempt == SCHEMA_ATTEMPTS - 1:
                raise
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def worker_identity() -> dict[str, Any]:
    """What a trial records about the process that runs it."""
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def reap_dead_trials(study: optuna.Study) -> list[int]:
    """Mark FAIL the RUNNING trials of an embedded study whose worker process is gone.

    A trial records ``worker = {host, pid}`` as its first act; one on this host whose pid no
    longer runs was killed. One that never recorded its worker (killed within milliseconds
    of its start) is failed once it is :data:`UNCLAIMED_SECONDS` old. Returns the numbers of
    the trials failed here. Database storages rely on the heartbeat instead.
    """
    host = socket.gethostname()
    failed = []
    now = datetime.now()
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = t.user_attrs.get("worker")
        if isinstance(worker, dict):
            dead = worker.get("host") == host and not _process_alive(int(worker.get("pid", -1)))
        else:
            start = t.datetime_start or now
            dead = (now - start).total_seconds() > UNCLAIMED_SECONDS
        if not dead:
            continue
        try:
            study._storage.set_trial_user_attr(t._trial_id, "killed", "worker process ended")
            study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, RuntimeError):
            continue  # another worker got there first
        failed.append(t.number)
        _retry(study, t)
    return failed


def _retry(study: optuna.Study, killed: FrozenTrial) -> None:
    """Queue the killed trial's configuration to run next, unless it was retried
    :data:`MAX_RETRIES` times already or was killed before it had one."""
    retries = int(killed.user_attrs.get("retries", 0))
    if retries >= MAX_RETRIES or not killed.params:
        return
    attrs = {k: v for k, v in killed.user_attrs.items() if k in _CARRIED}
    attrs.update(retries=retries + 1, retry_of=killed.number)
    study.enqueue_trial(killed.params, user_attrs=attrs)


def fail_stale(study: optuna.Study) -> None:
    """Fail the trials left behind by dead workers (pid check or heartbeat)."""
    if isinstance(study._storage, optuna.storages.JournalStorage):
        reap_dead_trials(study)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


@dataclass(frozen=True)
class Counts:
    """Trials of a study by what they mean for the budget."""

    complete: int
    pruned: int
    failed: int  # ran and failed (divergence, invalid combination): counts
    running: int
    stopped: int  # killed before its end (its configuration runs again): does not count
    surplus: int  # never run, the budget already taken: does not count

    @property
    def finished(self) -> int:
        """The trials that count towards the requested number."""
        return self.complete + self.pruned + self.failed


def counted(t: FrozenTrial) -> bool:
    """Whether a trial counts towards the requested number (it ran to an end)."""
    if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
        return True
    return t.state == TrialState.FAIL and "error" in t.user_attrs


def counts(trials: list[FrozenTrial]) -> Counts:
    c = p = f = r = st = su = 0
    for t in trials:
        if t.state == TrialState.COMPLETE:
            c += 1
        elif t.state == TrialState.PRUNED:
            p += 1
        elif t.state == TrialState.RUNNING:
            r += 1
        elif t.state == TrialState.FAIL:
            if counted(t):
                f += 1
            elif "surplus" in t.user_attrs:
                su += 1
            else:
                st += 1
    return Counts(c, p, f, r, st, su)


def wait(seconds: float) -> None:
    time.sleep(seconds)
