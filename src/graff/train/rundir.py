"""Run directories: atomic, resumable, verified, and never destructive.

Layout::

    config.yaml        {config, versions, data_source}: the resolved configuration (a user
                       graph's path made absolute), the versions, and where the data came
                       from (data_source.path: the .npz, with its sha256, or the raw-data
                       folder); written first
    split_<k>.pt       best-validation model of split k
    history_<k>.csv    split k's curves: epoch, loss, train_<metric>, val_<metric>,
                       test_<metric> (percent) after every epoch
    split_<k>.json     scores of split k, the sha256 of split_<k>.pt and history_<k>.csv, and
                       record_sha256 over all its own fields (marks the split done)
    summary.json       written last, atomically: a run is complete iff this file exists; it
                       repeats config and data_source, gives the graph's size (graph), and
                       its summary_sha256 covers all its other fields

Every file is written through :func:`graff._io.atomic_write` (a reader never sees half a
file; permissions follow the umask). An interrupted run leaves no ``summary.json``; the same
command resumes it, skipping the splits whose record, checkpoint and history are intact (a
damaged file is trained again). A record whose fields no longer match its ``record_sha256``
(a score edited by hand) is an error, on resume and in :func:`read_summary`: graff neither
trusts nor silently replaces it. Records written before checksums existed (no
``record_sha256``) are trained again on resume; a complete run of that age is still read.

Before anything is written, :meth:`RunDir.open` checks every path the run will write (no
folder where a file goes; the folders writable), so a run fails before training, with one
line naming the path. It also takes the folder's lock (``.graff-lock``,
:class:`graff._io.FolderLock`) until the run finishes or fails: a second process writing the
same folder is refused (:class:`~graff.errors.RunDirBusyError`, naming the holder's pid and
command); the lock dies with its process, so a crash leaves none held (at most the
unlocked file, which the next run takes).

``overwrite=True`` on a run trains the new run in a sibling folder ``.<name>.graff-new`` and
swaps the run files in only once it has finished: a new run that fails leaves the old one as
it was. graff marks that folder when it creates it (``.graff-scratch``: a random token and the
folder's device and inode), and empties or removes only a folder carrying its mark, and in it
only the files it writes; a folder of that name without the mark is an error, never deleted.
Files that are not graff run files are never deleted, and a folder that is not a graff run
(no graff ``config.yaml``) is never written into unless empty.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import math
import os
import platform
import re
import secrets
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

from graff._io import FolderLock, atomic_write
from graff._version import __version__
from graff.data import absolute_dataset
from graff.errors import RunDirBusyError, RunDirError, describe_os_error
from graff.train.config import RunConfig, config_identity, config_to_dict
from graff.train.history import OVERWRITE as _OVERWRITE
from graff.train.history import History

__all__ = ["History", "RunDir", "is_run_file", "read_config_yaml", "read_split", "read_summary"]

_NAMES = r"config\.yaml|summary\.json|split_\d+\.(json|pt)|history_\d+\.csv"
_RUN_FILE = re.compile(rf"^({_NAMES})$")
_TMP_FILE = re.compile(rf"^\.({_NAMES})\..*\.tmp$")
_SPLIT_KEYS = ("split", "metric", "train", "val", "test", "best_epoch")
_SUMMARY_KEYS = ("dataset", "model", "metric", "mean", "std", "test", "val", "splits")
#: graff's mark in the scratch folder of an overwrite (see the module docstring).
MARKER = ".graff-scratch"
_MARKER_TMP = re.compile(rf"^\.{re.escape(MARKER)}\..*\.tmp$")


def is_run_file(name: str) -> bool:
    """Whether a file name is one graff writes into a run directory (or its temporary)."""
    return bool(_RUN_FILE.match(name) or _TMP_FILE.match(name))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checksum(rec: dict[str, Any], key: str) -> str:
    """sha256 of ``rec``'s fields other than ``key``, as canonical JSON."""
    body = {k: v for k, v in rec.items() if k != key}
    return _sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def _read_json(path: Path, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The JSON object in ``path`` if it parses and has ``keys`` with finite numbers, else None."""
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(rec, dict) or any(k not in rec for k in keys):
        return None
    for k in keys:
        v = rec[k]
        if isinstance(v, float) and not math.isfinite(v):
            return None
    return rec


def read_config_yaml(path: Path) -> dict[str, Any] | None:
    """The graff ``config.yaml`` record in ``path``, or None if it is not one."""
    try:
        meta = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError, UnicodeDecodeError, ValueError):
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
        return None
    if not isinstance(meta.get("versions"), dict) or "graff" not in meta["versions"]:
        return None
    return meta


def _same_config(stored: dict[str, Any], cfg: RunConfig) -> bool:
    """Whether a stored config is ``cfg``'s run: same identity, a user graph's path compared
    as an absolute path (a run recorded with a relative one is read from this folder)."""
    a, b = config_identity(stored), config_identity(cfg)
    for rec in (a, b):
        data = rec.get("data")
        if isinstance(data, dict) and isinstance(data.get("dataset"), str):
            rec["data"] = {**data, "dataset": absolute_dataset(data["dataset"])}
    return a == b


@dataclass(frozen=True)
class _SplitState:
    record: dict[str, Any] | None  # the intact record, else None
    problem: str = ""  # what is wrong, naming the file
    edited: bool = False  # the record parses but no longer matches its checksum


def _file_sha(path: Path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except OSError:
        return None


def _split_state(root: Path, k: int, *, legacy_ok: bool) -> _SplitState:
    """Split ``k``'s record in ``root`` if it, its checksum, its checkpoint and its history
    are intact; else what is wrong. ``legacy_ok``: accept a record without a checksum."""
    path = root / f"split_{k}.json"
    rec = _read_json(path, _SPLIT_KEYS)
    if rec is None or rec["split"] != k:
        return _SplitState(None, f"{path} is missing or damaged")
    want = rec.get("record_sha256")
    if want is None and not legacy_ok:
        return _SplitState(None, f"{path} has no checksum (written by an older graff)")
    if want is not None and want != _checksum(rec, "record_sha256"):
        return _SplitState(
            None,
            f"{path} does not match its checksum: its fields (scores, epochs, split, metric "
            "or checkpoint hash) were changed after graff wrote them",
            edited=True,
        )
    for name, key in (
        (f"split_{k}.pt", "checkpoint_sha256"),
        (f"history_{k}.csv", "history_sha256"),
    ):
        file = root / name
        if not file.is_file() and (key in rec or name.endswith(".pt")):
            return _SplitState(None, f"{file} is missing (split {k} is damaged)")
        if key in rec and _file_sha(file) != rec[key]:
            return _SplitState(None, f"{file} is damaged (its sha256 differs from {path}'s)")
    return _SplitState(rec)


def _damage(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The summary of the complete run in ``run_dir`` and what is damaged in it (None if
    nothing: the summary, every split record, checkpoint and history are intact and agree)."""
    path = run_dir / "summary.json"
    rec = _read_json(path, _SUMMARY_KEYS)
    if rec is None:
        return None, f"{path} is damaged (not a complete graff summary)"
    want = rec.get("summary_sha256")
    if want is not None and want != _checksum(rec, "summary_sha256"):
        return rec, f"{path} does not match its checksum: it was changed after graff wrote it"
    splits = rec["splits"]
    if not all(isinstance(rec[m], list) and len(rec[m]) == len(splits) for m in ("test", "val")):
        return rec, f"{path} is damaged (its lists of scores and splits differ in length)"
    for i, k in enumerate(splits):
        if not isinstance(k, int):
            return rec, f"{path} is damaged (split {k!r} is not a split index)"
        state = _split_state(run_dir, k, legacy_ok=True)
        if state.record is None:
            return rec, state.problem
        for m in ("test", "val"):
            if not math.isclose(rec[m][i], state.record[m], rel_tol=1e-12, abs_tol=1e-12):
                return rec, f"{path}'s {m} score of split {k} differs from split_{k}.json's"
    return rec, None


def read_summary(run_dir: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Read ``summary.json`` of a complete run.

    Raises:
        RunDirError: the run is incomplete, or (``verify``) its summary, a split record, a
            checkpoint or a history is damaged or does not match its checksum; the message
            names the file and says to rerun with ``--overwrite``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "summary.json").is_file():
        raise RunDirError(
            f"{run_dir} holds no complete run (no summary.json); finish it by rerunning the "
            f"same graff train command with --out {run_dir}"
        )
    rec, damage = _damage(run_dir)
    if rec is None or (verify and damage is not None):
        raise RunDirError(f"{run_dir}: {damage}; {_OVERWRITE}")
    return dict(rec)


def read_split(run_dir: str | Path, k: int) -> dict[str, Any]:
    """Split ``k``'s record in ``run_dir``, checked as :func:`read_summary` checks it.

    Raises:
        RunDirError: the record, its checkpoint or history is damaged or was edited.
    """
    state = _split_state(Path(run_dir), k, legacy_ok=True)
    if state.record is None:
        raise RunDirError(f"{state.problem}; {_OVERWRITE}")
    return dict(state.record)


def run_state(
    run_dir: str | Path, cfg: RunConfig, splits: Iterable[int] | None = None
) -> tuple[str, list[int]]:
    """What a run of ``cfg`` on ``splits`` (None: every split) would find in ``run_dir``,
    read without writing: ``("finished", [])``, ``("resume", done)`` (the splits whose
    record, checkpoint and history are intact; possibly none), ``("other", [])`` (a run of
    another configuration, refused without ``overwrite``) or ``("new", [])`` (no run)."""
    root = Path(run_dir)
    meta = read_config_yaml(root / "config.yaml")
    if meta is None:
        return "new", []
    if not _same_config(meta["config"], cfg):
        return "other", []
    if (root / "summary.json").is_file():
        return "finished", []
    if splits is None:
        found = (re.fullmatch(r"split_(\d+)\.json", f.name) for f in root.iterdir())
        splits = sorted(int(m[1]) for m in found if m)
    return "resume", [k for k in splits if _split_state(root, k, legacy_ok=False).record]


def _probe(folder: Path) -> None:
    """Create ``folder`` if missing and a file in it (removed again), or raise RunDirError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".graff-probe.", suffix=".tmp")
    except OSError as err:
        raise RunDirError(
            f"cannot write the run directory {folder}: {describe_os_error(err)}"
        ) from None
    os.close(fd)
    os.unlink(tmp)


def _run_files(splits: Iterable[int]) -> dict[str, str]:
    """The files a run of ``splits`` writes, with what each holds."""
    out = {"config.yaml": "configuration", "summary.json": "summary"}
    for k in splits:
        out[f"split_{k}.pt"] = f"split {k}'s checkpoint"
        out[f"history_{k}.csv"] = f"split {k}'s history"
        out[f"split_{k}.json"] = f"split {k}'s record"
    return out


@dataclass
class RunDir:
    """One run directory (see the module docstring)."""

    path: Path
    #: where files are written: ``path`` itself, or the sibling of an overwrite.
    target: Path = field(init=False)
    #: the token of the scratch folder this object made or adopted (None: none).
    _token: str | None = field(init=False, default=None, repr=False)
    #: held from :meth:`open` to :meth:`finish` or :meth:`release`: one writer at a time.
    _lock: FolderLock | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.target = self.path

    # -- state --------------------------------------------------------------------------------
    def is_complete(self) -> bool:
        return (self.path / "summary.json").is_file()

    def finished_split(self, k: int, where: Path | None = None) -> dict[str, Any] | None:
        """The record of split ``k`` if it, its checksum, checkpoint and history are intact."""
        return _split_state(where or self.path, k, legacy_ok=False).record

    def _sibling(self) -> Path:
        return self.path.parent / f".{self.path.name}.graff-new"

    # -- opening ------------------------------------------------------------------------------
    def open(
        self,
        cfg: RunConfig,
        *,
        overwrite: bool = False,
        splits: Iterable[int] | None = None,
        data_source: dict[str, Any] | None = None,
    ) -> set[int]:
        """Prepare the directory for ``cfg`` and the ``splits`` it will train (their files
        are checked before anything is written); return the splits already finished there.
        ``data_source`` (:func:`graff.data.dataset_source`) goes into ``config.yaml``.

        Raises:
            RunDirError: the folder holds another run (without ``overwrite``), is not a graff
                run folder, holds an edited record, has a folder where a run file goes, or
                cannot be written.
        """
        path = self.path
        if path.exists() and not path.is_dir():
            raise RunDirError(f"--out {path} is a file, not a folder; choose another --out")
        files = _run_files(splits or ())
        self._check_files(path, files)
        meta = read_config_yaml(path / "config.yaml") if path.is_dir() else None
        others = path.is_dir() and any(p.name != FolderLock.NAME for p in path.iterdir())
        if meta is None and others:
            raise RunDirError(
                f"{path} exists and is not a graff run directory (its config.yaml is missing "
                "or is not a graff run config); "
                "nothing in it was touched. Choose another --out"
            )
        self._hold(path)
        try:
            return self._open(cfg, files, overwrite, data_source)
        except BaseException:
            self.release()
            raise

    def _open(
        self,
        cfg: RunConfig,
        files: dict[str, str],
        overwrite: bool,
        data_source: dict[str, Any] | None,
    ) -> set[int]:
        path = self.path
        meta = read_config_yaml(path / "config.yaml")  # again, now that no one else writes
        same = meta is not None and _same_config(meta["config"], cfg)
        if self.is_complete() and not overwrite:
            damage = _damage(path)[1]
            if damage is not None:
                raise RunDirError(
                    f"{path} holds a finished run with damaged files ({damage}); pass "
                    "--overwrite to train it again, or choose another --out"
                )
            raise RunDirError(
                f"{path} already holds a complete run; choose another --out or pass --overwrite"
            )
        if meta is not None and not same and not overwrite:
            raise RunDirError(
                f"{path} holds an unfinished run with a different configuration; resume it "
                "with the same options, pass --overwrite, or choose another --out"
            )
        if meta is not None and not overwrite:
            self._check_same_graph(meta, data_source)
        _probe(path)
        if overwrite and meta is not None:
            # Train beside it; swap the run files in when the new run has finished.
            self.target = self._scratch(cfg, files)
        self._write_config(cfg, data_source)
        done = set()
        for k in self._split_indices(self.target):
            state = _split_state(self.target, k, legacy_ok=False)
            if state.edited and self.target == path:
                raise RunDirError(f"{state.problem}; {_OVERWRITE}, or restore the file")
            if state.record is not None:
                done.add(k)
        return done

    def _hold(self, path: Path) -> None:
        """Take the folder's lock (:class:`graff._io.FolderLock`), or say who holds it."""
        lock = FolderLock(path)
        try:
            path.mkdir(parents=True, exist_ok=True)
            holder = lock.acquire()
        except OSError as err:
            if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                return  # no one writes here: the checks that follow say why, as before
            raise RunDirError(
                f"cannot write the run directory {path}: {describe_os_error(err)}"
            ) from None
        if holder is not None:
            raise RunDirBusyError(
                f"{path} is being written by another graff process ({holder}); wait for it "
                "to finish (then the same command resumes or reuses its run), or choose "
                "another --out"
            )
        self._lock = lock

    def release(self) -> None:
        """Let go of the folder's lock (:meth:`finish` does; after a failed run, the
        caller)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    @staticmethod
    def _check_files(root: Path, files: dict[str, str]) -> None:
        for name, what in files.items():
            if (root / name).is_dir():
                raise RunDirError(
                    f"{root / name} is a folder, but graff writes the run's {what} there; move "
                    "or remove that folder, or choose another --out"
                )

    def _check_same_graph(self, meta: dict[str, Any], source: dict[str, Any] | None) -> None:
        """Refuse to resume on a user graph whose file changed since the run began."""
        old = meta.get("data_source")
        if not isinstance(old, dict) or source is None or source.get("kind") != "npz":
            return
        if old.get("sha256") and source.get("sha256") and old["sha256"] != source["sha256"]:
            raise RunDirError(
                f"{source['path']} changed since the run in {self.path} began (its sha256 "
                "differs from the one in config.yaml): the finished splits were trained on "
                "another graph; pass --overwrite to train the run again, or choose another --out"
            )

    # -- the scratch folder of an overwrite ---------------------------------------------------
    @staticmethod
    def _marked(folder: Path) -> str | None:
        """The token in ``folder``'s graff mark if the mark is graff's for this very folder
        (same device and inode: a copy or a folder made by hand has none), else None."""
        try:
            if folder.is_symlink() or not folder.is_dir():
                return None
            mark = json.loads((folder / MARKER).read_text())
            st = folder.stat()
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(mark, dict) or not isinstance(mark.get("token"), str):
            return None
        if mark.get("device") != st.st_dev or mark.get("inode") != st.st_ino:
            return None
        return str(mark["token"])

    def _scratch(self, cfg: RunConfig, files: dict[str, str]) -> Path:
        """The marked sibling folder the overwrite trains in: kept when it holds this config's
        unfinished run, else emptied of graff's files and made anew."""
        sib = self._sibling()
        if sib.exists() or sib.is_symlink():
            token = self._marked(sib)
            if token is None:
                raise RunDirError(
                    f"{sib} exists but graff did not make it (it has no graff mark for this "
                    f"folder); graff trains an --overwrite of {self.path} there. Nothing in "
                    "it was touched: move or remove it, then rerun"
                )
            self._token = token
            self._check_files(sib, files)
            meta = read_config_yaml(sib / "config.yaml")
            if meta is not None and _same_config(meta["config"], cfg):
                return sib
            self._remove_scratch(sib, strict=True)
        try:
            sib.mkdir()
            st = sib.stat()
            self._token = secrets.token_hex(16)
            mark = {"token": self._token, "device": st.st_dev, "inode": st.st_ino}
            atomic_write(sib / MARKER, json.dumps(mark))
        except OSError as err:
            raise RunDirError(
                f"cannot make the folder {sib} that an --overwrite trains in: "
                f"{describe_os_error(err)}"
            ) from None
        return sib

    def _remove_scratch(self, sib: Path, *, strict: bool) -> None:
        """Delete graff's files in the scratch folder ``sib`` (its mark last) and the folder,
        if it carries this object's token. ``strict``: anything else left is an error, else a
        warning (the run itself is done)."""
        if self._token is None or self._marked(sib) != self._token:
            problem = f"{sib} no longer carries graff's mark; it was left as it is"
        else:
            for p in sib.iterdir():
                if p.is_file() and (is_run_file(p.name) or _MARKER_TMP.match(p.name)):
                    p.unlink()
            others = sorted(p.name for p in sib.iterdir() if p.name != MARKER)
            if not others:
                (sib / MARKER).unlink()
                sib.rmdir()
                return
            problem = f"{sib} holds files graff did not write ({', '.join(others[:5])})"
        if strict:
            raise RunDirError(f"{problem}; move them out or remove the folder, then rerun")
        warnings.warn(f"{problem}; remove it yourself", RuntimeWarning, stacklevel=3)

    def _write_config(self, cfg: RunConfig, data_source: dict[str, Any] | None) -> None:
        cfg_path = self.target / "config.yaml"
        meta = read_config_yaml(cfg_path)
        if meta is not None and _same_config(meta["config"], cfg):
            return
        record: dict[str, Any] = {
            "config": config_to_dict(cfg),
            "versions": {
                "graff": __version__,
                "torch": str(torch.__version__),
                "python": platform.python_version(),
            },
        }
        if data_source is not None:
            record["data_source"] = data_source
        try:
            atomic_write(cfg_path, yaml.safe_dump(record, sort_keys=False))
        except OSError as err:
            raise RunDirError(
                f"cannot write the run directory {self.target}: {describe_os_error(err)}"
            ) from None

    @staticmethod
    def _split_indices(root: Path) -> list[int]:
        if not root.is_dir():
            return []
        out = []
        for p in root.glob("split_*.json"):
            m = re.fullmatch(r"split_(\d+)\.json", p.name)
            if m:
                out.append(int(m.group(1)))
        return sorted(out)

    # -- writing ------------------------------------------------------------------------------
    def save_split(
        self,
        k: int,
        record: dict[str, Any],
        state_dict: dict[str, Any],
        history: History | None = None,
    ) -> None:
        """Write split ``k``'s checkpoint and history, then its record (with their sha256 and
        the record's own checksum)."""
        buf = io.BytesIO()
        torch.save(state_dict, buf)
        raw = buf.getvalue()
        atomic_write(self.target / f"split_{k}.pt", raw)
        rec = {**record, "checkpoint_sha256": _sha256(raw)}
        if history is not None:
            text = history.to_csv().encode()
            atomic_write(self.target / f"history_{k}.csv", text)
            rec["history_sha256"] = _sha256(text)
        rec["record_sha256"] = _checksum(rec, "record_sha256")
        atomic_write(self.target / f"split_{k}.json", json.dumps(rec, indent=2))

    def load_split(self, k: int) -> dict[str, Any]:
        rec = self.finished_split(k, self.target)
        if rec is None:  # checked when opened; a file changed under us since
            raise RunDirError(f"{self.target}: split {k} was damaged while the run went on")
        return rec

    def finish(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` (with its checksum; the run is complete) and, after an
        overwrite, swap it in and remove graff's scratch folder."""
        summary = {k: v for k, v in summary.items() if k != "summary_sha256"}
        summary["summary_sha256"] = _checksum(summary, "summary_sha256")
        atomic_write(self.target / "summary.json", json.dumps(summary, indent=2))
        if self.target == self.path:
            self.release()
            return
        new = self.target
        # 1. the old run is no longer complete; 2. its splits go; 3. the new files come in,
        # the config before the splits, the summary last.
        (self.path / "summary.json").unlink(missing_ok=True)
        for p in self.path.iterdir():
            if p.is_file() and is_run_file(p.name) and p.name != "config.yaml":
                p.unlink()
        names = sorted(p.name for p in new.iterdir() if p.is_file() and is_run_file(p.name))
        order = ["config.yaml"] + [n for n in names if n not in ("config.yaml", "summary.json")]
        for name in [*order, "summary.json"]:
            if (new / name).exists():
                (new / name).replace(self.path / name)
        self.target = self.path
        self._remove_scratch(new, strict=False)
        self.release()
