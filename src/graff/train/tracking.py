"""Experiment tracking: a run's per-epoch curves and its config, sent to TensorBoard.

A tracker is an epoch hook of :func:`graff.train.run` (``on_epoch=tracker``, called as
``tracker(k, epoch, scores)``) that also records the finished run (:meth:`finish`) and closes
its files (:meth:`close`, or use it as a context manager). :func:`combine_hooks` passes
several hooks (a progress bar and a tracker) as one. Trackers are registered in
:data:`TRACKERS` by the name ``graff train --log NAME`` takes.

.. code-block:: python

    from graff.train import RunConfig, run
    from graff.train.tracking import TensorBoardLogger

    cfg = RunConfig()
    with TensorBoardLogger("runs/tb/csbm", cfg) as tb:
        tb.finish(run(cfg, on_epoch=tb))
    # tensorboard --logdir runs/tb

MLflow is not offered: its current releases refuse the local file store unless an
environment variable opts in, and the SQLite store needs the full ``mlflow`` package
(Flask, pandas, pyarrow, scikit-learn and more).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol

from graff.errors import ConfigError, MissingExtraError
from graff.registry import Registry
from graff.train.config import RunConfig, config_to_dict

if TYPE_CHECKING:
    from graff.train.runner import Summary

__all__ = [
    "TRACKERS",
    "TensorBoardLogger",
    "Tracker",
    "combine_hooks",
    "flatten_config",
    "parse_trackers",
]

P = ParamSpec("P")


def combine_hooks(*hooks: Callable[P, None] | None) -> Callable[P, None]:
    """One hook that calls each of ``hooks`` (None skipped) in order with the same arguments,
    e.g. ``on_epoch=combine_hooks(bar.epoch, tracker)``."""
    live = [h for h in hooks if h is not None]

    def call(*args: P.args, **kwargs: P.kwargs) -> None:
        for h in live:
            h(*args, **kwargs)

    return call


def flatten_config(cfg: RunConfig | Mapping[str, Any]) -> dict[str, float | int | bool | str]:
    """The config as one level of ``section.key`` names (``model.hidden``,
    ``data.params.homophily``), the values TensorBoard's hyperparameters accept: numbers,
    booleans and strings (anything else, None and lists included, as its ``str``)."""
    record = config_to_dict(cfg) if isinstance(cfg, RunConfig) else dict(cfg)
    out: dict[str, float | int | bool | str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, bool | int | float | str):
            out[prefix] = value
        else:
            out[prefix] = str(value)

    walk("", record)
    return out


class Tracker(Protocol):
    """What ``graff train --log`` drives: an epoch hook that also records the finished run."""

    def __call__(self, k: int, epoch: int, scores: Mapping[str, float]) -> None: ...

    def finish(self, summary: Summary) -> None: ...

    def close(self) -> None: ...


def _summary_writer() -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MissingExtraError("tensorboard", "track", "logging to TensorBoard") from None
    return SummaryWriter


def _after_newest_event_file(folder: Path) -> None:
    """Wait (under a second) until the clock has left the second in which ``folder``'s newest
    event file was opened. TensorBoard names a file by that second and then an unpadded
    counter, so a file opened in the same second can sort before an older one ("…10" before
    "…9"); reading files in name order, TensorBoard would take its steps for a restart and
    hide them."""
    stamps = [f.name.split(".") for f in folder.glob("events.out.tfevents.*")]
    latest = max((int(p[3]) for p in stamps if len(p) > 3 and p[3].isdigit()), default=None)
    while latest is not None and int(time.time()) == latest:
        time.sleep(0.01)


class TensorBoardLogger:
    """Per-epoch curves of every split and the run's config, as TensorBoard event files.

    Layout of ``log_dir`` (``tensorboard --logdir`` on it or on a folder above):

    * ``split_<k>/``: one TensorBoard run per split, so that each chart overlays the splits;
      per epoch (the step) the training loss ``loss/train`` and the metric in percent on each
      mask, ``<metric>/train``, ``<metric>/val``, ``<metric>/test``.
    * ``log_dir`` itself, written by :meth:`finish`: the config as hyperparameters
      (:func:`flatten_config`) with the run's results as their metrics, ``hparam/test_mean``,
      ``hparam/test_std`` (sample std over splits) and ``hparam/val_mean``, in percent.

    A split's folder is created at its first epoch (so ``log_dir`` may lie inside a run
    directory that :func:`~graff.train.run` has yet to open). A run that is resumed or
    trained again (``--overwrite``) writes to the same folders: a split trained here hides
    its earlier curve there (TensorBoard's purge of the steps from epoch 1 on), a split
    finished before keeps its curve, and the hyperparameters are those of the last
    :meth:`finish`.

    Args:
        log_dir: the folder of the event files.
        cfg: the run's config, logged as hyperparameters (default: none).
        metric: the name of the dataset's metric in the tags (default ``"metric"``; e.g.
            ``"accuracy"`` or ``"roc_auc"``, :attr:`graff.data.PreparedData.metric`).
        flush_secs: how often the event files are flushed, in seconds (default 10).
    """

    #: At most this many split writers are open at once (each holds a file and a thread);
    #: the least recently used is closed first and reopened if its split goes on.
    MAX_OPEN = 128

    def __init__(
        self,
        log_dir: str | Path,
        cfg: RunConfig | None = None,
        *,
        metric: str = "metric",
        flush_secs: int = 10,
    ) -> None:
        self._writer_cls = _summary_writer()  # a missing extra fails now, not after an epoch
        self.log_dir = Path(log_dir)
        self.cfg = cfg
        self.metric = metric
        self.flush_secs = flush_secs
        self._writers: OrderedDict[int, Any] = OrderedDict()
        self._started: set[int] = set()

    def _writer(self, k: int) -> Any:
        w = self._writers.get(k)
        if w is None:
            if len(self._writers) >= self.MAX_OPEN:
                self._writers.popitem(last=False)[1].close()
            # The first writer of a split hides that split's earlier curve from epoch 1 on
            # (an interrupted or overwritten run's); a reopened one keeps this run's points.
            purge = None if k in self._started else 1
            self._started.add(k)
            folder = self.log_dir / f"split_{k}"
            _after_newest_event_file(folder)  # reopened or rerun: its file must sort last
            w = self._writer_cls(
                log_dir=str(folder),
                flush_secs=self.flush_secs,
                purge_step=purge,
            )
            self._writers[k] = w
        else:
            self._writers.move_to_end(k)
        return w

    def __call__(self, k: int, epoch: int, scores: Mapping[str, float]) -> None:
        """Log split ``k``'s scores of ``epoch`` (the hook of :func:`graff.train.run`):
        ``loss`` as is, ``train``/``val``/``test`` (fractions) in percent."""
        w = self._writer(k)
        w.add_scalar("loss/train", scores["loss"], epoch)
        for mask in ("train", "val", "test"):
            w.add_scalar(f"{self.metric}/{mask}", 100.0 * scores[mask], epoch)

    def finish(self, summary: Summary) -> None:
        """Write the config as hyperparameters with the run's mean and std test score and
        mean validation score as their metrics (percent), then close the files."""
        self.close()
        hparams = flatten_config(self.cfg) if self.cfg is not None else {}
        hparams["n_splits"] = len(summary.splits)
        val_mean = sum(summary.val) / len(summary.val) if summary.val else float("nan")
        metrics = {
            "hparam/test_mean": summary.mean,
            "hparam/test_std": summary.std,
            "hparam/val_mean": val_mean,
        }
        with self._writer_cls(log_dir=str(self.log_dir)) as w:
            w.add_hparams(hparams, metrics, run_name=".")

    def close(self) -> None:
        """Flush and close the event files (idempotent)."""
        while self._writers:
            self._writers.popitem()[1].close()

    def __enter__(self) -> TensorBoardLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Trackers by the name of ``graff train --log``: ``f(log_dir, cfg, metric=...)``.
TRACKERS: Registry[Callable[..., Tracker]] = Registry("tracker")
TRACKERS.register("tensorboard", TensorBoardLogger)


def parse_trackers(text: str) -> list[str]:
    """The tracker names of a comma-separated list (``"tensorboard"``), checked against
    :data:`TRACKERS`, without repeats; an :class:`~graff.registry.UnknownNameError` naming
    the choices otherwise, a :class:`~graff.errors.ConfigError` for an empty list."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise ConfigError(f"--log needs a tracker name: one of {', '.join(TRACKERS)}")
    for n in names:
        TRACKERS.get_or_raise(n)
    return list(dict.fromkeys(names))
