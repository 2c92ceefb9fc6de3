"""Run directories: atomic, resumable, verified, and never destructive.

Layout::

    config.yaml        resolved configuration (+ versions), written first
    split_<k>.pt       best-validation model of split k
    split_<k>.json     scores of split k and the sha256 of split_<k>.pt (marks the split done)
    summary.json       written last, atomically: a run is complete iff this file exists

Every file is written through :func:`graff._io.atomic_write` (a reader never sees half a
file; permissions follow the umask). An interrupted run leaves no ``summary.json``; the same
command resumes it, skipping the splits whose record and checkpoint are intact (a damaged
record or a checkpoint whose checksum does not match is trained again).

``overwrite=True`` on a finished run trains the new run in a sibling folder
``.<name>.graff-new`` and swaps the run files in only once it has finished: a new run that
fails leaves the old one as it was. Files that are not graff run files are never deleted, and
a folder that is not a graff run (no graff ``config.yaml``) is never written into unless empty.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import platform
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml

import graff
from graff._io import atomic_write
from graff.errors import RunDirError, describe_os_error
from graff.train.config import RunConfig, config_identity, config_to_dict

__all__ = ["RunDir", "is_run_file", "read_summary"]

_RUN_FILE = re.compile(r"^(config\.yaml|summary\.json|split_\d+\.(json|pt))$")
_TMP_FILE = re.compile(r"^\.(config\.yaml|summary\.json|split_\d+\.(json|pt))\..*\.tmp$")
_SPLIT_KEYS = ("split", "metric", "train", "val", "test", "best_epoch")
_SUMMARY_KEYS = ("dataset", "model", "metric", "mean", "std", "test", "val", "splits")


def is_run_file(name: str) -> bool:
    """Whether a file name is one graff writes into a run directory (or its temporary)."""
    return bool(_RUN_FILE.match(name) or _TMP_FILE.match(name))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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


def _damage(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The summary of the complete run in ``run_dir`` and what is damaged in it (None if
    nothing: the summary, every split record and every checkpoint are intact)."""
    path = run_dir / "summary.json"
    rec = _read_json(path, _SUMMARY_KEYS)
    if rec is None:
        return None, f"{path} is not a complete graff summary"
    for k in rec.get("splits", []):
        if RunDir(run_dir).finished_split(int(k)) is None:
            return rec, f"split {k}'s record or checkpoint is missing or damaged"
    return rec, None


def read_summary(run_dir: str | Path, *, verify: bool = True) -> dict[str, Any]:
    """Read ``summary.json`` of a complete run.

    Raises:
        RunDirError: the run is incomplete, or (``verify``) its summary, a split record or a
            checkpoint is damaged; the message says to rerun with ``--overwrite``.
    """
    run_dir = Path(run_dir)
    if not (run_dir / "summary.json").is_file():
        raise RunDirError(f"{run_dir} holds no complete run (no summary.json)")
    rec, damage = _damage(run_dir)
    if rec is None or (verify and damage is not None):
        raise RunDirError(f"{run_dir}: {damage}; rerun with --overwrite to train the run again")
    return dict(rec)


@dataclass
class RunDir:
    """One run directory (see the module docstring)."""

    path: Path
    #: where files are written: ``path`` itself, or the sibling of an overwrite.
    target: Path = field(init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.target = self.path

    # -- state --------------------------------------------------------------------------------
    def is_complete(self) -> bool:
        return (self.path / "summary.json").is_file()

    def finished_split(self, k: int, where: Path | None = None) -> dict[str, Any] | None:
        """The record of split ``k`` if it and its checkpoint are intact, else None."""
        root = where or self.path
        rec = _read_json(root / f"split_{k}.json", _SPLIT_KEYS)
        ckpt = root / f"split_{k}.pt"
        if rec is None or int(rec["split"]) != k or not ckpt.is_file():
            return None
        want = rec.get("checkpoint_sha256")
        if want is not None:
            try:
                if _sha256(ckpt.read_bytes()) != want:
                    return None
            except OSError:
                return None
        return rec

    def _sibling(self) -> Path:
        return self.path.parent / f".{self.path.name}.graff-new"

    # -- opening ------------------------------------------------------------------------------
    def open(self, cfg: RunConfig, *, overwrite: bool = False) -> set[int]:
        """Prepare the directory for ``cfg``; return the splits already finished there.

        Raises:
            RunDirError: the folder holds another run (without ``overwrite``), is not a graff
                run folder, or cannot be written.
        """
        path = self.path
        if path.exists() and not path.is_dir():
            raise RunDirError(f"--out {path} is a file, not a folder; choose another --out")
        meta = read_config_yaml(path / "config.yaml") if path.is_dir() else None
        foreign = path.is_dir() and meta is None and any(path.iterdir())
        if foreign:
            raise RunDirError(
                f"{path} exists and is not a graff run directory (its config.yaml is missing "
                "or is not a graff run config); "
                "nothing in it was touched. Choose another --out"
            )
        same = meta is not None and config_identity(meta["config"]) == config_identity(cfg)
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
        if overwrite and meta is not None:
            # Train beside it; swap the run files in when the new run has finished.
            self.target = self._sibling()
            sib_meta = read_config_yaml(self.target / "config.yaml")
            stale = sib_meta is None or config_identity(sib_meta["config"]) != config_identity(cfg)
            if stale and self.target.exists():
                shutil.rmtree(self.target)  # our own scratch folder, never the user's
        self._write_config(cfg)
        return {k for k in self._split_indices(self.target) if self.finished_split(k, self.target)}

    def _write_config(self, cfg: RunConfig) -> None:
        cfg_path = self.target / "config.yaml"
        meta = read_config_yaml(cfg_path)
        if meta is not None and config_identity(meta["config"]) == config_identity(cfg):
            return
        record = {
            "config": config_to_dict(cfg),
            "versions": {
                "graff": graff.__version__,
                "torch": str(torch.__version__),
                "python": platform.python_version(),
            },
        }
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
    def save_split(self, k: int, record: dict[str, Any], state_dict: dict[str, Any]) -> None:
        """Write split ``k``'s checkpoint, then its record (with the checkpoint's sha256)."""
        buf = io.BytesIO()
        torch.save(state_dict, buf)
        raw = buf.getvalue()
        atomic_write(self.target / f"split_{k}.pt", raw)
        atomic_write(
            self.target / f"split_{k}.json",
            json.dumps({**record, "checkpoint_sha256": _sha256(raw)}, indent=2),
        )

    def load_split(self, k: int) -> dict[str, Any]:
        rec = self.finished_split(k, self.target)
        if rec is None:  # checked when opened; a file changed under us since
            raise RunDirError(f"{self.target}: split {k} was damaged while the run went on")
        return rec

    def finish(self, summary: dict[str, Any]) -> None:
        """Write ``summary.json`` (the run is complete) and, after an overwrite, swap it in."""
        atomic_write(self.target / "summary.json", json.dumps(summary, indent=2))
        if self.target == self.path:
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
        shutil.rmtree(new, ignore_errors=True)
        self.target = self.path
