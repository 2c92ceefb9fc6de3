"""Opening a finished run directory: its config, summary, per-split models and histories, and
the data it was trained on (:func:`load_run`)."""

from __future__ import annotations

import copy
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch_geometric.data import Data

from graff._io import as_path, sha256_file
from graff.data import PreparedData, prepare_data, user_npz_path
from graff.errors import ConfigError, RunDirError
from graff.train.config import RunConfig, config_from_dict
from graff.train.fit import evaluate
from graff.train.history import OVERWRITE
from graff.train.models import build_model
from graff.train.rundir import History, read_config_yaml, read_split, read_summary
from graff.train.runner import load_prepared, model_features, split_indices

__all__ = ["LoadedRun", "load_run", "read_run_config", "run_data", "run_path"]


def run_path(run_dir: object) -> Path:
    """``run_dir`` as a :class:`~pathlib.Path` (a ``TypeError`` naming what was given)."""
    return as_path(run_dir, "run_dir (the path of a run directory)")


def read_run_config(run_dir: Path) -> tuple[RunConfig, dict[str, Any]]:
    """The :class:`RunConfig` in ``run_dir/config.yaml`` and the whole record (``config``,
    ``versions`` and, for runs made since graff records it, ``data_source``: where the data
    came from).

    Raises:
        RunDirError: no graff ``config.yaml`` there, or one holding an unusable config.
    """
    if not run_dir.is_dir():
        what = "a file, not a folder" if run_dir.exists() else "no such folder"
        hint = (
            f"; pass the run directory that holds it: {run_dir.parent}"
            if run_dir.name in ("summary.json", "config.yaml") or run_dir.suffix == ".pt"
            else ""
        )
        raise RunDirError(f"{run_dir} is not a run directory ({what}){hint}")
    path = run_dir / "config.yaml"
    if not path.is_file():
        hint = ""
        if (run_dir / "study.json").is_file():  # a graff tune folder: its final run is inside
            hint = (
                f"; it is a graff tune study, whose final run is {run_dir / 'final'}"
                if (run_dir / "final" / "config.yaml").is_file()
                else "; it is a graff tune study without a final run yet (rerun graff tune)"
            )
        raise RunDirError(f"{run_dir} is not a graff run directory (no config.yaml){hint}")
    meta = read_config_yaml(path)
    if meta is None:
        raise RunDirError(
            f"{path} is damaged or not written by graff; train the run again "
            "(graff train --overwrite --out DIR)"
        )
    try:
        cfg = config_from_dict(copy.deepcopy(meta["config"]))
    except ConfigError as err:
        raise RunDirError(f"{path} holds an unusable config: {err}") from None
    return cfg, meta


def run_data(
    cfg: RunConfig,
    recorded: dict[str, Any] | None,
    data_dir: str | None = None,
    where: Path | str = "the run",
) -> PreparedData:
    """The data a run was trained on, prepared as its config says.

    A user graph (``npz:PATH``) is read from ``data_dir`` when given (the ``.npz`` itself or
    the folder holding a file of the same name), else from the path in the config (absolute
    since graff records it so). Its sha256 must be the one recorded when the run was made.
    A registered dataset is read from ``data_dir``, else from the raw-data folder the run
    recorded (if it still exists), else from ``$GRAFF_DATA`` and the user cache.

    Args:
        cfg: the run's config. recorded: ``config.yaml``'s ``data_source`` (None for a run
            from an older graff). where: the run directory, for the messages.

    Raises:
        RunDirError: the user graph is not where the run says and no ``data_dir`` gives it,
            or the file there is not the graph the run was trained on.
    """
    rec = recorded if isinstance(recorded, dict) else {}
    npz = user_npz_path(cfg.data.dataset)
    if npz is None:
        folder = rec.get("path")
        if data_dir is None and isinstance(folder, str) and Path(folder).is_dir():
            data_dir = folder
        return load_prepared(cfg, data_dir)
    given = Path(npz).expanduser()
    file = given
    if data_dir is not None:
        file = Path(data_dir).expanduser()
        if file.is_dir():
            file = file / given.name
    if not file.is_file():
        if data_dir is not None:
            hint = f"--data-dir {data_dir} holds no file {given.name}"
        elif given.is_absolute():
            hint = "that file is not there any more (moved or deleted)"
        else:  # a run from an older graff recorded the path as given
            hint = "that relative path is not found from this folder"
        raise RunDirError(
            f"{where} was trained on the graph {npz}, but {hint}; pass where the .npz is now "
            "with --data-dir PATH (the file or its folder; data_dir= in Python), or put it back"
        )
    want = rec.get("sha256")
    if isinstance(want, str) and sha256_file(file) != want:
        raise RunDirError(
            f"{file} is not the graph {where} was trained on (its sha256 differs from the one "
            "in config.yaml); pass the original file with --data-dir PATH"
        )
    local = copy.deepcopy(cfg)
    local.data.dataset = f"npz:{file.resolve()}"
    return load_prepared(local)


@dataclass
class LoadedRun:
    """A finished run, read by :func:`load_run`. Scores are in percent, as in the files.

    Attributes:
        path: the run directory. config: its :class:`RunConfig`. summary: ``summary.json``.
        versions: graff, torch and python of the run. data_source: where the data came from
            (``config.yaml``'s ``data_source``: ``kind``, ``path``, a user graph's ``sha256``;
            None for a run from an older graff). records: ``split_<k>.json`` by split.
        data_dir: the default of :meth:`data`.
    """

    path: Path
    config: RunConfig
    summary: dict[str, Any]
    versions: dict[str, Any]
    data_source: dict[str, Any] | None
    records: dict[int, dict[str, Any]]
    data_dir: str | None = None
    _models: dict[int, nn.Module] = field(default_factory=dict, repr=False)
    _data: dict[str | None, PreparedData] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        s = self.summary
        return (
            f"LoadedRun({str(self.path)!r}: {s['model']} on {s['dataset']}, "
            f"{len(self.splits)} splits, test {s['metric']} {s['mean']:.2f} ± {s['std']:.2f})"
        )

    @property
    def splits(self) -> list[int]:
        """The run's splits, in the summary's order."""
        return [int(k) for k in self.summary["splits"]]

    def data(self, data_dir: str | None = None) -> PreparedData:
        """The prepared data the run was trained on (:func:`run_data`; ``data_dir`` defaults
        to the one given to :func:`load_run`). Loaded once per ``data_dir``."""
        where = data_dir if data_dir is not None else self.data_dir
        if where not in self._data:
            self._data[where] = run_data(self.config, self.data_source, where, self.path)
        return self._data[where]

    def _dims(self) -> tuple[int, int]:
        rec = self.summary.get("graph")
        if isinstance(rec, dict) and "num_features" in rec and "num_classes" in rec:
            return int(rec["num_features"]), int(rec["num_classes"])
        data = self.data()  # a run from an older graff: the sizes come from the data
        return data.x.size(1), data.num_classes

    def _split(self, k: object) -> int:
        """``k`` as one of the run's splits (an ``int``; a NumPy or 0-d tensor integer too)."""
        try:
            (index,) = split_indices("split", k)
        except TypeError:
            raise TypeError(
                f"a split is an integer, one of {self.splits}; got {k!r:.40} ({type(k).__name__})"
            ) from None
        if index not in self.records:
            raise RunDirError(f"{self.path} has no split {k}; its splits are {self.splits}")
        return index

    def model(self, k: int) -> nn.Module:
        """Split ``k``'s best-validation model (:func:`~graff.train.models.build_model` with
        ``split_<k>.pt``'s state dict), on the CPU, in eval mode. Built once."""
        k = self._split(k)
        if k not in self._models:
            file = self.path / f"split_{k}.pt"
            try:
                raw = file.read_bytes()
            except OSError as err:
                raise RunDirError(f"cannot read {file}: {err.strerror or err}") from None
            want = self.records[k].get("checkpoint_sha256")
            if want is not None and hashlib.sha256(raw).hexdigest() != want:
                raise RunDirError(f"{file} changed since the run was read; reload it")
            n_in, n_out = self._dims()
            with torch.random.fork_rng(devices=[]):  # leave the caller's random stream alone
                model = build_model(self.config.model, n_in, n_out)
            try:
                state = torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except Exception as err:  # not this config's checkpoint
                raise RunDirError(
                    f"{file} does not fit the run's config ({type(err).__name__}); {OVERWRITE}"
                ) from None
            self._models[k] = model.eval()
        return self._models[k]

    @property
    def models(self) -> dict[int, nn.Module]:
        """Every split's model (:meth:`model`), by split."""
        return {k: self.model(k) for k in self.splits}

    def history(self, k: int) -> History:
        """Split ``k``'s per-epoch curves (``history_<k>.csv``)."""
        k = self._split(k)
        file = self.path / f"history_{k}.csv"
        if "history_sha256" not in self.records[k] or not file.is_file():
            raise RunDirError(
                f"{self.path} has no history of split {k} (the run was made by a graff that "
                "wrote none); rerun with --overwrite to record it"
            )
        return History.from_csv(file.read_text(), str(file))

    @property
    def histories(self) -> dict[int, History]:
        """Every split's history (:meth:`history`), by split."""
        return {k: self.history(k) for k in self.splits}

    def evaluate(self, k: int, data: PreparedData | Data | None = None) -> dict[str, float]:
        """Split ``k``'s model on split ``k`` of ``data`` (default :meth:`data`): the metric
        on its train, validation and test nodes, in percent, as :func:`graff.train.run`
        scored them (same features, eval mode, the run's ``optim.precision``). A graph given
        as a PyG ``Data`` is first prepared as the run's config prepared its own
        (:func:`~graff.data.prepare_data`: checks, ``data.normalize_features``)."""
        model = self.model(k)
        k = self._split(k)
        if data is None:
            data = self.data()
        elif not isinstance(data, PreparedData):
            data = prepare_data(data, normalize_features=self.config.data.normalize_features)
        if data.train_mask.size(1) <= k:
            raise RunDirError(
                f"the graph given has {data.train_mask.size(1)} split(s) (masks "
                f"{tuple(data.train_mask.shape)}), so no split {k} to evaluate split {k}'s model on"
            )
        masks = {m: getattr(data, f"{m}_mask")[:, k].cpu() for m in ("train", "val", "test")}
        x = model_features(model, data.x.cpu())
        ei, y, prec = data.edge_index.cpu(), data.y.cpu(), self.config.optim.precision
        scores, _ = evaluate(model, x, ei, y, masks, data.metric, prec)
        return {m: 100.0 * v for m, v in scores.items()}


def load_run(run_dir: str | Path, *, data_dir: str | None = None) -> LoadedRun:
    """Open the finished run in ``run_dir`` (written by :func:`graff.train.run` or
    ``graff train``), after checking it: the summary, every split record (and its checksum),
    checkpoint and history must be intact.

    Models are built on first use (:meth:`LoadedRun.model`), the data is loaded on first use
    (:meth:`LoadedRun.data`, from ``data_dir`` or where the run recorded it).

    Example::

        import graff
        from graff.train import RunConfig, run

        cfg = RunConfig()  # GRAFF on a small synthetic graph (csbm)
        cfg.data.params = {"num_nodes": 200, "num_splits": 2}
        cfg.model.hidden, cfg.optim.epochs = 16, 20
        run(cfg, out_dir="runs/csbm-demo")

        r = graff.load_run("runs/csbm-demo")
        r.config.model.name, r.summary["mean"]  # the RunConfig and summary.json
        model = r.model(0)  # split 0's best-validation model, in eval mode
        r.evaluate(0)["test"] == r.summary["test"][0]  # True: the recorded test score
        h = r.history(0)  # per-epoch loss and train/val/test scores
        h.best_epoch() == r.records[0]["best_epoch"]  # True
        data = r.data()  # the prepared graph (data_dir= where the data has moved)

    Raises:
        RunDirError: ``run_dir`` holds no complete run, or a file of it is damaged or was
            edited; the message names the file and says what to do.
    """
    path = run_path(run_dir)
    cfg, meta = read_run_config(path)
    summary = read_summary(path)
    records = {int(k): read_split(path, int(k)) for k in summary["splits"]}
    # a run resumed from an older graff's config.yaml records the source in its summary only
    source = meta.get("data_source") or summary.get("data_source")
    return LoadedRun(
        path=path,
        config=cfg,
        summary=summary,
        versions=dict(meta["versions"]),
        data_source=dict(source) if isinstance(source, dict) else None,
        records=records,
        data_dir=data_dir,
    )
