"""Multi-split runs: the protocol of ``graff train`` as a library function.

:func:`run` trains ``cfg.model`` on every selected split of a dataset and returns a
:class:`Summary`; with ``out_dir`` the results go to a resumable run directory
(:mod:`graff.train.rundir`). :func:`fit_split` trains one split exactly as :func:`run` does,
for the figures and the hyperparameter search. Split k is trained from seed ``cfg.seed + k``,
so the same config gives the same numbers on the same device and thread count.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from graff.data import PreparedData, check_task
from graff.data import load_prepared as _load_prepared
from graff.device import resolve_device
from graff.errors import ConfigError
from graff.nn.sparse import to_csr
from graff.train.config import RunConfig, config_to_dict
from graff.train.fit import SplitResult, build_model, train_split
from graff.train.rundir import RunDir

__all__ = [
    "SPARSE_DENSITY",
    "EpochHook",
    "Summary",
    "estimate_memory_bytes",
    "fit_split",
    "load_prepared",
    "model_features",
    "run",
]


@dataclass
class Summary:
    """Result of a multi-split run. Metrics in percent; ``std`` is the sample std (n − 1)."""

    dataset: str
    model: str
    metric: str
    mean: float
    std: float
    std_population: float
    test: list[float]
    val: list[float]
    splits: list[int]
    best_epochs: list[int]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model": self.model,
            "metric": self.metric,
            "mean": self.mean,
            "std": self.std,
            "std_kind": "sample standard deviation over splits (n-1)",
            "std_population": self.std_population,
            "n_splits": len(self.splits),
            "splits": self.splits,
            "test": self.test,
            "val": self.val,
            "best_epochs": self.best_epochs,
            "seconds": self.seconds,
        }

    @classmethod
    def from_results(
        cls, dataset: str, model: str, results: list[SplitResult], seconds: float
    ) -> Summary:
        test = [100.0 * r.test for r in results]
        return cls(
            dataset=dataset,
            model=model,
            metric=results[0].metric,
            mean=statistics.fmean(test),
            std=statistics.stdev(test) if len(test) > 1 else 0.0,
            std_population=statistics.pstdev(test),
            test=test,
            val=[100.0 * r.val for r in results],
            splits=[r.split for r in results],
            best_epochs=[r.best_epoch for r in results],
            seconds=seconds,
        )


def load_prepared(cfg: RunConfig, data_dir: str | None = None) -> PreparedData:
    """The dataset of ``cfg`` loaded (from ``data_dir``, else ``$GRAFF_DATA``, else the user
    cache) and prepared as ``cfg.data`` says (:func:`graff.data.load_prepared`)."""
    d = cfg.data
    return _load_prepared(d.dataset, d.params, d.normalize_features, data_dir)


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's generators (CPU, and the CUDA device in use) and restore them after."""
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


#: Features denser than this stay dense; sparser ones go to the model as CSR when it accepts
#: them (dropout and the encoder then touch only the non-zeros).
SPARSE_DENSITY = 0.25


def model_features(model: object, x: Tensor) -> Tensor:
    """``x`` as CSR when the model (instance or class) accepts sparse features and ``x`` is
    sparse enough; else ``x`` unchanged. The rule of :func:`run`, for every caller."""
    density = float((x != 0).sum()) / max(1, x.numel())
    if getattr(model, "accepts_sparse_features", False) and density < SPARSE_DENSITY:
        return to_csr(x)
    return x


def estimate_memory_bytes(cfg: RunConfig, data: PreparedData) -> int:
    """A rough upper estimate of a training step's memory: the features, the graph, and the
    N × hidden tensors every layer or Euler step keeps for the backward pass."""
    m = cfg.model
    n, e = data.x.size(0), data.edge_index.size(1)
    if m.name.startswith("graff"):
        depth = math.ceil(m.T / m.step_size - 1e-9)
    else:
        depth = max(m.num_layers, int(m.params.get("K", 0) or 0), 1)
    per_layer = 4 * n * m.hidden * 4  # features, increment, dropout mask, gradient
    return int(data.x.numel() * 4 * 3 + e * 24 + (depth + 2) * per_layer)


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _check_memory(cfg: RunConfig, data: PreparedData, device: torch.device) -> None:
    if device.type != "cpu":
        return
    need, have = estimate_memory_bytes(cfg, data), _available_memory()
    if have is None:
        return
    if need > have:
        raise ConfigError(
            f"this run needs about {need / 2**30:.1f} GiB ({data.x.size(0)} nodes × hidden "
            f"{cfg.model.hidden} × its depth) but {have / 2**30:.1f} GiB of memory is "
            "available; reduce model.hidden or the depth (model.T / model.step_size, "
            "model.num_layers)"
        )
    if need > have / 2:
        warnings.warn(
            f"this run may need about {need / 2**30:.1f} GiB of the {have / 2**30:.1f} GiB "
            "of memory available",
            ResourceWarning,
            stacklevel=3,
        )


EpochHook = Callable[[int, int, dict[str, float]], None]


def _fit(
    cfg: RunConfig,
    data: PreparedData,
    k: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None,
    x: Tensor | None,
) -> tuple[SplitResult, Tensor]:
    with _seeded(cfg.seed + k, data.x.device):
        model = build_model(cfg.model, data.x.size(1), data.num_classes).to(data.x.device)
        if x is None:
            x = model_features(model, data.x)
        res = train_split(
            model,
            x,
            data.edge_index,
            data.y,
            data.train_mask[:, k],
            data.val_mask[:, k],
            data.test_mask[:, k],
            cfg.optim,
            metric=data.metric,
            split=k,
            on_epoch=on_epoch,
        )
    return res, x


def _split_list(cfg: RunConfig, data: PreparedData) -> list[int]:
    splits = list(range(data.num_splits)) if cfg.data.splits is None else list(cfg.data.splits)
    bad = [s for s in splits if s >= data.num_splits]
    if bad:
        raise ConfigError(
            f"data.splits {bad} out of range: {data.name} has {data.num_splits} splits "
            f"(0..{data.num_splits - 1})"
        )
    return splits


def _prepared(
    cfg: RunConfig, data: PreparedData | None, data_dir: str | None, splits: list[int] | None
) -> PreparedData:
    """``data`` (or ``cfg``'s dataset, loaded) on ``cfg.device``, checked for the task on the
    splits that will be trained (:func:`graff.data.check_task`)."""
    cfg.validate()
    device = resolve_device(cfg.device)
    if data is None:
        data = load_prepared(cfg, data_dir)
    check_task(data, splits=splits)
    if data.x.device != device:
        data = data.to(device)
    return data


def fit_split(
    cfg: RunConfig,
    data: PreparedData | None,
    split: int,
    *,
    data_dir: str | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> SplitResult:
    """Train split ``split`` exactly as :func:`run` does (seed ``cfg.seed + split``, the
    model of ``cfg.model``, the test metric at the best-validation epoch); no files.

    ``data`` may be None: ``cfg``'s dataset is then loaded. ``on_epoch(epoch, scores)`` is
    called after every epoch with ``loss``, ``train``, ``val`` and ``test`` (fractions);
    raising from it stops the split (e.g. a pruned search trial).
    """
    if data is not None and not 0 <= split < data.num_splits:
        raise ConfigError(
            f"split {split} out of range: {data.name} has {data.num_splits} splits "
            f"(0..{data.num_splits - 1})"
        )
    data = _prepared(cfg, data, data_dir, [split])
    return _fit(cfg, data, split, on_epoch, None)[0]


def run(
    cfg: RunConfig,
    data: PreparedData | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | None = None,
    overwrite: bool = False,
    on_split_start: Callable[[int, int], None] | None = None,
    on_epoch: EpochHook | None = None,
) -> Summary:
    """Train ``cfg.model`` on every selected split of ``data``; return the summary.

    Args:
        cfg: the run config (validated here).
        data: the prepared graph; None loads ``cfg.data.dataset`` (from ``data_dir``, else
            ``$GRAFF_DATA``, else the user cache).
        out_dir: a resumable run directory (:mod:`graff.train.rundir`); None writes nothing.
        overwrite: replace a finished run in ``out_dir`` once the new one has finished.
        on_split_start: ``f(k, n_splits)`` before each split trained here.
        on_epoch: ``f(k, epoch, scores)`` after each epoch.
    """
    if data is not None:
        _split_list(cfg, data)  # out-of-range indices: a ConfigError naming data.splits
    data = _prepared(cfg, data, data_dir, cfg.data.splits)
    splits = _split_list(cfg, data)
    _check_memory(cfg, data, data.x.device)
    x: Tensor | None = None  # data.x as the model takes it, converted once for all splits
    rundir = RunDir(Path(out_dir)) if out_dir is not None else None
    done = rundir.open(cfg, overwrite=overwrite) if rundir is not None else set()
    start = time.perf_counter()
    results: list[SplitResult] = []
    for k in splits:
        if rundir is not None and k in done:
            rec = rundir.load_split(k)
            fields = {f: rec[f] for f in SplitResult.record_fields() if f in rec}
            results.append(
                SplitResult(**{**fields, **{m: rec[m] / 100.0 for m in ("train", "val", "test")}})
            )
            continue
        if on_split_start is not None:
            on_split_start(k, len(splits))
        hook = None if on_epoch is None else (lambda e, s, k=k: on_epoch(k, e, s))
        res, x = _fit(cfg, data, k, hook, x)
        results.append(res)
        if rundir is not None:
            rec = res.to_json()
            rec.update({m: 100.0 * rec[m] for m in ("train", "val", "test")})
            rundir.save_split(k, rec, res.state_dict)
    summary = Summary.from_results(data.name, cfg.model.name, results, time.perf_counter() - start)
    if rundir is not None:
        payload = summary.to_json()
        payload["config"] = config_to_dict(cfg)
        payload["notes"] = data.notes
        # Bit-reproducible for the same device, torch build and thread count (GEMM reductions
        # split across threads round differently), so the summary records them.
        payload["environment"] = {
            "device": str(data.x.device),
            "threads": torch.get_num_threads(),
            "torch": str(torch.__version__),
        }
        rundir.finish(payload)
    return summary
