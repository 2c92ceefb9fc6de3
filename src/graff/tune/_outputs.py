"""The files of a search directory: ``study.json``, ``best.yaml``, ``trials.csv`` and the plots.

``study.json`` names the study a directory belongs to (:func:`check_owner`): its
``best.yaml``, ``trials.csv``, plots and ``final/`` are that study's, and a search of
another study into the same directory is refused instead of replacing them.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial

from graff.tune import _backend as backend
from graff.tune._result import trial_seconds
from graff.tune._storage import counted

__all__ = [
    "OWNER_FILE",
    "TRIALS_COLUMNS",
    "check_owner",
    "claim",
    "final_run",
    "write_best",
    "write_plots",
    "write_trials_csv",
]

log = logging.getLogger("graff.tune")

#: The fixed leading columns of trials.csv; then ``val_<k>`` per search split, then one
#: column per searched key (the config key, e.g. ``optim.lr``).
TRIALS_COLUMNS = (
    "number", "state", "counted", "value", "test_mean", "seconds", "cpu_seconds", "error",
)  # fmt: skip

#: The file of a search directory naming the study its files belong to.
OWNER_FILE = "study.json"
#: What identifies a study's directory (``study.json`` holds these keys).
OWNER_KEYS = ("study", "storage", "dataset", "model")


def _describe(owner: dict[str, Any]) -> str:
    return (
        f"study {owner.get('study')!r} ({owner.get('model')} on {owner.get('dataset')}, "
        f"{owner.get('storage')})"
    )


def check_owner(out_dir: Path, owner: dict[str, str]) -> None:
    """Refuse ``out_dir`` if its files belong to another study than ``owner`` (the keys
    :data:`OWNER_KEYS`). A directory without ``study.json`` whose ``best.yaml`` names
    another study (written before graff recorded owners) is refused as well.

    Raises:
        RunDirError: the directory holds another study's files, or an unreadable study.json.
    """
    path = out_dir / OWNER_FILE
    mine = _describe(owner)
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            old = None
        if not isinstance(old, dict) or not all(isinstance(old.get(k), str) for k in OWNER_KEYS):
            raise backend.RunDirError(
                f"{path} is not a graff tune record of which study owns {out_dir}; nothing was "
                f"touched. Choose another --out for {mine} (or remove {path} if that folder "
                "holds nothing you need)"
            )
        if {k: old[k] for k in OWNER_KEYS} != {k: owner[k] for k in OWNER_KEYS}:
            raise backend.RunDirError(
                f"{out_dir} holds the files of {_describe(old)}; choose another --out for "
                f"{mine} (or resume that study with its own options)"
            )
        return
    best = out_dir / "best.yaml"
    if best.is_file():
        try:
            header = best.read_text(encoding="utf-8").split("\n", 1)[0]
        except (OSError, UnicodeDecodeError):
            header = ""
        expected = f"# graff tune: {owner['model']} on {owner['dataset']}, best of study "
        if header.startswith("# graff tune: ") and header != expected + repr(owner["study"]):
            raise backend.RunDirError(
                f"{out_dir} holds the best.yaml of another search ({header[2:]}); choose "
                f"another --out for {mine}"
            )


def claim(out_dir: Path, owner: dict[str, str]) -> None:
    """Record ``owner`` as the study of ``out_dir`` (``study.json``, written atomically)."""
    path = out_dir / OWNER_FILE
    if not path.is_file():
        backend.atomic_write(path, json.dumps(dict(owner), indent=2) + "\n")


def write_trials_csv(
    path: Path, trials: list[FrozenTrial], keys: list[str], splits: list[int]
) -> None:
    """One row per trial, metrics in percent: ``value`` = the objective (mean best
    validation over the search splits; for a PRUNED trial the last running mean it reported),
    ``val_<k>`` = best validation of split k, ``test_mean`` = mean test over the same splits
    (for the record only), ``seconds`` / ``cpu_seconds`` = its wall time (a killed trial's
    until its last report) / the CPU time of its process (empty for a trial that never
    finished, or recorded before graff kept CPU time), ``counted`` = 1 if the trial counts
    towards the budget, ``error`` = why a trial failed, was killed or was not run (surplus)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([*TRIALS_COLUMNS, *(f"val_{k}" for k in splits), *keys])
    for t in sorted(trials, key=lambda t: t.number):
        seconds = f"{trial_seconds(t):.3f}" if t.datetime_start and t.datetime_complete else ""
        vals = list(t.user_attrs.get("val", []))
        vals += [""] * (len(splits) - len(vals))
        error = t.user_attrs.get("error") or t.user_attrs.get("surplus") or ""
        if not error and "killed" in t.user_attrs:
            error = f"killed: {t.user_attrs['killed']}"
        writer.writerow(
            [
                t.number,
                t.state.name,
                int(counted(t)),
                "" if t.value is None else t.value,
                t.user_attrs.get("test_mean", ""),
                seconds,
                t.user_attrs.get("cpu_seconds", ""),
                error.replace("\n", " "),
                *vals,
                *(t.params.get(k, "") for k in keys),
            ]
        )
    backend.atomic_write(path, buf.getvalue())


def write_best(path: Path, cfg: Any, header: str) -> Any:
    """Write the complete config ``cfg`` to ``path`` and read it back as ``graff train
    --config`` would (a ConfigError here is a bug, not a user error)."""
    text = f"# {header}\n" + yaml.safe_dump(
        backend.config_for_file(backend.config_to_dict(cfg)),
        sort_keys=False,
        width=100,
        allow_unicode=True,
    )
    backend.atomic_write(path, text)
    return backend.load_config(path).validate()


def write_plots(study: optuna.Study, out_dir: Path) -> list[Path]:
    """The optimisation history and the parameter importances as PNGs, when matplotlib
    is installed (the ``plot`` extra); otherwise a logged note and no files."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        log.info("matplotlib is not installed (pip install 'graff-gnn[plot]'): no plots written")
        return []
    from optuna.visualization import matplotlib as ov

    made = []
    plots: dict[str, Any] = {
        "history.png": ov.plot_optimization_history,
        "importances.png": ov.plot_param_importances,
    }
    for name, fn in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the matplotlib backend is "experimental"
                ax = fn(study)
            fig = ax.figure
            fig.tight_layout()
            fig.savefig(out_dir / name, dpi=120)
            plt.close(fig)
            made.append(out_dir / name)
        except (ValueError, RuntimeError, ZeroDivisionError) as e:
            # e.g. importances need two complete trials that differ
            log.info("plot %s skipped: %s", name, e)
            plt.close("all")
    return made


def final_run(
    cfg: Any, out: Path, data_dir: str | None, batch: int | None = None
) -> tuple[dict[str, Any], float]:
    """Train the chosen config on every split into ``out`` (reusing a finished run of the
    same config; replacing one of another config, left by an earlier best). Configs are
    compared by what determines the results (:func:`graff.train.config_identity`, a user
    graph by its absolute path as the run records it), not by the provenance text, which
    changes with every call."""
    start = time.perf_counter()
    identity = json.loads(json.dumps(backend.config_identity(backend.with_absolute_data(cfg))))
    if (out / "summary.json").is_file():
        old = backend.read_summary(out)
        if backend.config_identity(old.get("config", {})) == identity:
            return old, 0.0
    overwrite = False
    if (out / "config.yaml").is_file():
        meta = backend.read_config_yaml(out / "config.yaml")
        overwrite = meta is None or backend.config_identity(meta["config"]) != identity
    try:
        data = backend.load_prepared(cfg, data_dir)
        backend.run(cfg, data, out, overwrite=overwrite, batch=batch)
    except backend.RunDirBusyError:  # another process of the study trains it: wait, then reuse
        log.warning("the final run in %s is being trained by another process: waiting", out)
        lock = backend.FolderLock(out)
        lock.acquire(wait=True)
        lock.release()
        return final_run(cfg, out, data_dir, batch)
    return backend.read_summary(out), time.perf_counter() - start
