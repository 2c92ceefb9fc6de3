"""Multi-split runs: the protocol of ``graff train`` as a library function.

:func:`run` trains ``cfg.model`` on every selected split of a dataset and returns a
:class:`Summary`; with ``out_dir`` the results go to a resumable run directory
(:mod:`graff.train.rundir`). :func:`fit_split` trains one split exactly as :func:`run` does,
for the figures and the hyperparameter search. Split k is trained from seed ``cfg.seed + k``,
so the same config gives the same numbers on the same device and thread count.
"""

from __future__ import annotations

import copy
import operator
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch_geometric.data import Data

from graff._io import as_path
from graff.data import PreparedData, absolute_dataset, as_prepared, check_task, dataset_source
from graff.data import load_prepared as _load_prepared
from graff.device import resolve_device
from graff.errors import ConfigError
from graff.nn.checks import check_flags, check_sizes
from graff.nn.sparse import to_csr
from graff.train.batched import StackEpochHook, train_stack
from graff.train.config import RunConfig, config_to_dict
from graff.train.fit import SplitResult, build_model, seeded, train_split
from graff.train.memory import STACK_BYTES, check_memory, estimate_memory_bytes, members_per_pass
from graff.train.minibatch import Rows, fit_precomputed, world
from graff.train.models import spec_for
from graff.train.rundir import History, RunDir

__all__ = [
    "SPARSE_DENSITY",
    "STACK_BYTES",
    "EpochHook",
    "Summary",
    "estimate_memory_bytes",
    "fit_split",
    "fit_splits",
    "load_prepared",
    "members_per_pass",
    "model_features",
    "run",
    "split_chunks",
    "with_absolute_data",
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


EpochHook = Callable[[int, int, dict[str, float]], None]


def _fit(
    cfg: RunConfig,
    data: PreparedData,
    k: int,
    on_epoch: Callable[[int, dict[str, float]], None] | None,
    x: Tensor | None,
) -> tuple[SplitResult, Tensor]:
    with seeded(cfg.seed + k, data.x.device):
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
    return _check_splits("data.splits", splits, data)


def _check_config(cfg: Any, who: str) -> None:
    if not isinstance(cfg, RunConfig):
        raise TypeError(
            f"{who}() takes a RunConfig, got {type(cfg).__name__} {cfg!r:.60}; build one with "
            "graff.train.resolve_config(dataset, model)[0] or graff.train.load_config(path)"
        )


def split_indices(what: str, value: Any) -> list[int]:
    """The split indices ``value`` names: one integer for ``what == "split"``, a sequence of
    integers otherwise; a TypeError naming ``what`` for text, floats, bools or a bare number
    where a list goes."""
    many = what != "split"
    kind = "a list of split indices, e.g. [0, 1]" if many else "a split index (an int)"
    iterable = hasattr(value, "__iter__") and not isinstance(value, str | bytes)
    items = (list(value) if iterable else None) if many else [value]
    try:
        if items is None or any(isinstance(k, bool) for k in items):
            raise TypeError
        return [operator.index(k) for k in items]
    except TypeError:
        raise TypeError(f"{what} must be {kind}, got {value!r:.40}") from None


def _check_splits(what: str, splits: list[int], data: PreparedData) -> list[int]:
    """``splits`` if each is a split of ``data``; else a ConfigError naming ``what``."""
    bad = [k for k in splits if not 0 <= k < data.num_splits]
    if bad:
        shown = bad[0] if what == "split" else bad
        raise ConfigError(
            f"{what} {shown} out of range: {data.name} has {data.num_splits} splits "
            f"(0..{data.num_splits - 1})"
        )
    return splits


def _fit_stack(
    cfg: RunConfig,
    data: PreparedData,
    splits: list[int],
    on_epoch: StackEpochHook | None,
    on_done: Callable[[SplitResult], None] | None,
    x: Tensor | None,
) -> tuple[list[SplitResult], Tensor]:
    """Train ``splits`` side by side (:func:`~graff.train.batched.train_stack`). Member k is
    split k of the per-split path: initialised from seed ``cfg.seed + k``, its dropout masks
    drawn from a generator of its own that goes on from there, so its draws are those of
    split k trained alone (whatever else shares the pass) and the numbers differ only by
    floating-point summation order."""
    stack_cls = spec_for(cfg.model).stack
    assert stack_cls is not None
    device = data.x.device
    members, generators = [], []
    for k in splits:
        with seeded(cfg.seed + k, device):
            members.append(build_model(cfg.model, data.x.size(1), data.num_classes).to(device))
            gen = torch.Generator(device=device)
            gen.set_state(
                torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()
            )
            generators.append(gen)
    if x is None:
        x = model_features(members[0], data.x)
    stack = stack_cls(members)
    stack.generators = generators
    idx = torch.tensor(splits, device=device)
    with seeded(cfg.seed + splits[0], device):  # draws outside the members' generators
        results = train_stack(
            stack,
            x,
            data.edge_index,
            data.y,
            data.train_mask.index_select(1, idx),
            data.val_mask.index_select(1, idx),
            data.test_mask.index_select(1, idx),
            splits,
            cfg.optim,
            metric=data.metric,
            on_epoch=on_epoch,
            on_done=on_done,
        )
    return results, x


def split_chunks(
    cfg: RunConfig, data: PreparedData, splits: list[int], batch: int | None = None
) -> list[list[int]]:
    """The passes that train ``splits``: one split each where the model has no stack (its
    registry entry) or ``batch == 1``; else chunks of up to ``batch`` splits, fewer where the
    memory estimate says so; ``batch=None`` lets :func:`members_per_pass` choose, which on the
    CPU stacks only what stays in the cache (:data:`STACK_BYTES`)."""
    if batch is not None:
        check_sizes(batch=batch)  # a positive integer: splits side by side
    single = spec_for(cfg.model).stack is None or cfg.optim.mode == "precomputed"
    if single or batch == 1 or len(splits) <= 1:
        return [[k] for k in splits]
    wanted = min(batch or len(splits), len(splits))
    size = members_per_pass(cfg, data, wanted, cache_bound=batch is None)
    return [splits[i : i + size] for i in range(0, len(splits), size)]


def _prepared(
    cfg: RunConfig, data: PreparedData | None, data_dir: str | None, splits: list[int] | None
) -> PreparedData:
    """``data`` (or ``cfg``'s dataset, loaded) on ``cfg.device``, checked for the task on the
    splits that will be trained (:func:`graff.data.check_task`); callers have turned a loaded
    graph into a :class:`PreparedData` already (:func:`graff.data.as_prepared`)."""
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
    data: PreparedData | Data | None,
    split: int,
    *,
    data_dir: str | None = None,
    on_epoch: Callable[[int, dict[str, float]], None] | None = None,
) -> SplitResult:
    """Train split ``split`` exactly as :func:`run` trains a split alone (seed
    ``cfg.seed + split``, the model of ``cfg.model``, the test metric at the best-validation
    epoch); no files.

    ``data`` is as for :func:`run` (None: ``cfg``'s dataset is loaded).
    ``on_epoch(epoch, scores)`` is called after every epoch with ``loss``, ``train``, ``val``
    and ``test`` (fractions); raising from it stops the split (e.g. a pruned search trial).
    """
    _check_config(cfg, "fit_split")
    (split,) = split_indices("split", split)
    data = as_prepared(data, normalize_features=cfg.data.normalize_features)
    if data is not None:
        _check_splits("split", [split], data)
    data = _prepared(cfg, data, data_dir, [split])
    if cfg.optim.mode == "precomputed":
        return fit_precomputed(cfg, data, split, on_epoch, {}, None)
    return _fit(cfg, data, split, on_epoch, None)[0]


def fit_splits(
    cfg: RunConfig,
    data: PreparedData | Data | None,
    splits: list[int],
    *,
    data_dir: str | None = None,
    batch: int | None = None,
    on_epoch: StackEpochHook | None = None,
) -> list[SplitResult]:
    """Train ``splits`` as :func:`run` does (side by side where the model's registry entry
    has a stack, see :func:`~graff.train.runner.split_chunks`); no files.
    ``on_epoch(epoch, scores)`` is called after every epoch of every pass with the scores of
    the splits still training, by split; raising from it stops the training (e.g. a pruned
    search trial)."""
    _check_config(cfg, "fit_splits")
    splits = split_indices("splits", splits)
    data = as_prepared(data, normalize_features=cfg.data.normalize_features)
    if data is not None:
        _check_splits("splits", splits, data)
    data = _prepared(cfg, data, data_dir, list(splits))
    results: dict[int, SplitResult] = {}
    _train_passes(cfg, data, list(splits), batch, on_epoch, lambda r: results.update({r.split: r}))
    return [results[k] for k in splits]


def _train_passes(
    cfg: RunConfig,
    data: PreparedData,
    splits: list[int],
    batch: int | None,
    on_epoch: StackEpochHook | None,
    on_done: Callable[[SplitResult], None],
    on_pass: Callable[[list[int]], None] | None = None,
    precomputed_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Train ``splits`` in the passes of :func:`~graff.train.runner.split_chunks`: a split
    alone (:func:`_fit`, or :func:`~graff.train.minibatch.fit_precomputed` in
    ``optim.mode: precomputed``) or several side by side
    (:func:`_fit_stack`). ``on_pass(splits)`` before each pass, ``on_done(result)`` as each
    split ends; ``data.x`` is converted for the model (or propagated) once."""
    x: Tensor | None = None
    cache: dict[str, Rows] = {}
    for chunk in split_chunks(cfg, data, splits, batch):
        if on_pass is not None:
            on_pass(chunk)
        if len(chunk) == 1:
            k = chunk[0]
            hook = None if on_epoch is None else (lambda e, sc, k=k: on_epoch(e, {k: sc}))
            if cfg.optim.mode == "precomputed":
                on_done(fit_precomputed(cfg, data, k, hook, cache, precomputed_dir))
                continue
            res, x = _fit(cfg, data, k, hook, x)
            on_done(res)
        else:
            _, x = _fit_stack(cfg, data, chunk, on_epoch, on_done, x)


def run(
    cfg: RunConfig,
    data: PreparedData | Data | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    *,
    data_dir: str | None = None,
    overwrite: bool = False,
    batch: int | None = None,
    on_split_start: Callable[[int, int], None] | None = None,
    on_epoch: EpochHook | None = None,
    precomputed_dir: str | os.PathLike[str] | None = None,
) -> Summary:
    """Train ``cfg.model`` on every selected split of ``data``; return the summary.

    Splits train side by side in one batched pass where the model's registry entry has a
    stack (:class:`~graff.nn.stacked.ModelStack`), in chunks that fit the memory estimate;
    else one at a time. Each split follows the same protocol either way (seed
    ``cfg.seed + k``, Adam, test at the best-validation epoch); the numbers agree in
    distribution, not bit for bit.

    Args:
        cfg: the run config (validated here).
        data: the prepared graph, or a loaded one (a PyG ``Data`` in graff's convention, e.g.
            from :func:`graff.data.load_dataset`: prepared here as ``cfg.data`` says); None
            loads ``cfg.data.dataset`` (from ``data_dir``, else ``$GRAFF_DATA``, else the user
            cache).
        data_dir: where the raw files are (also when ``data`` is given: the run directory
            records the folder that holds them).
        out_dir: a resumable run directory (:mod:`graff.train.rundir`): each split's model,
            record and per-epoch history (``history_<k>.csv``), then ``summary.json``; its
            paths are checked before training. None writes nothing. A user graph's path
            (``npz:PATH``) is recorded as an absolute path (:func:`with_absolute_data`),
            with the file's sha256, so the run can be loaded from any folder
            (:func:`graff.load_run`).
        overwrite: replace a finished run in ``out_dir`` once the new one has finished.
        batch: at most this many splits side by side (1: one split at a time; None: as many
            as :func:`members_per_pass` finds fast on this device).
        on_split_start: ``f(k, n_splits)`` before each split trained here.
        on_epoch: ``f(k, epoch, scores)`` after each epoch of each split.
        precomputed_dir: in ``optim.mode: precomputed``, a folder for S = Ā^k [X, 1] on disk
            (memory-mapped, resumable, reused by later runs of the same graph and steps:
            :func:`graff.scale.precompute_on_disk`); None keeps S in memory.

    Under an initialised :mod:`torch.distributed` process group (``torchrun``), every
    process calls :func:`run` with the same arguments: ``optim.mode: precomputed`` only,
    each process trains on its share of every node mini-batch
    (:mod:`graff.train.minibatch`), and rank 0 alone writes ``out_dir``.
    """
    _check_config(cfg, "run")
    check_flags(overwrite=overwrite)  # "no" would count as true and replace the run
    if out_dir is not None:
        out_dir = as_path(out_dir, "out_dir", "a folder's path")
    if not isinstance(cfg.data.dataset, str):
        raise ConfigError(
            f"data.dataset is a dataset's name (registered, or npz:PATH), got "
            f"{type(cfg.data.dataset).__name__}"
            + ("; pass a graph in memory as run(cfg, data)" if cfg.data.dataset is not None else "")
        )
    data = as_prepared(data, normalize_features=cfg.data.normalize_features)
    if data is not None:
        _split_list(cfg, data)  # out-of-range indices: a ConfigError naming data.splits
    cfg = with_absolute_data(cfg)
    data = _prepared(cfg, data, data_dir, cfg.data.splits)
    splits = _split_list(cfg, data)
    chunks = split_chunks(cfg, data, splits, batch)
    rank, size = world()
    if size > 1 and cfg.optim.mode != "precomputed":
        raise ConfigError(
            f"{size} processes (torch.distributed) train only optim.mode=precomputed (node "
            "mini-batches shared out between the processes); set optim.mode=precomputed or "
            "run one process"
        )
    if precomputed_dir is not None and cfg.optim.mode != "precomputed":
        raise ConfigError(
            "a folder for precomputed propagations is for optim.mode=precomputed; set it or "
            "drop the folder"
        )
    if cfg.optim.mode != "precomputed" or precomputed_dir is None:
        check_memory(cfg, data, data.x.device, max(len(c) for c in chunks))
    rundir = RunDir(Path(out_dir)) if out_dir is not None and rank == 0 else None
    source: dict[str, Any] | None = None
    done: set[int] = set()
    if rundir is not None:
        source = dataset_source(cfg.data.dataset, cfg.data.params, data_dir)
        done = rundir.open(cfg, overwrite=overwrite, splits=splits, data_source=source)
    try:
        start = time.perf_counter()
        results: dict[int, SplitResult] = {}
        for k in splits:
            if rundir is not None and k in done:
                rec = rundir.load_split(k)
                fields = {f: rec[f] for f in SplitResult.record_fields() if f in rec}
                results[k] = SplitResult(
                    **{**fields, **{m: rec[m] / 100.0 for m in ("train", "val", "test")}}
                )
        if size > 1:  # the splits rank 0 found finished, for every process
            shared: list[Any] = [results]
            torch.distributed.broadcast_object_list(shared, src=0)
            results = shared[0]
        curves: dict[int, list[tuple[int, float, float, float, float]]] = {}

        def save(res: SplitResult) -> None:
            results[res.split] = res
            rows = curves.pop(res.split, [])
            if rundir is not None:
                rec = res.to_json()
                rec.update({m: 100.0 * rec[m] for m in ("train", "val", "test")})
                history = History(
                    res.metric,
                    epoch=[r[0] for r in rows],
                    loss=[r[1] for r in rows],
                    train=[r[2] for r in rows],
                    val=[r[3] for r in rows],
                    test=[r[4] for r in rows],
                )
                rundir.save_split(res.split, rec, res.state_dict, history)

        def stack_hook(epoch: int, scores: dict[int, dict[str, float]]) -> None:
            for k, sc in scores.items():
                if rundir is not None:
                    row = (
                        epoch,
                        sc["loss"],
                        100.0 * sc["train"],
                        100.0 * sc["val"],
                        100.0 * sc["test"],
                    )
                    curves.setdefault(k, []).append(row)
                if on_epoch is not None:
                    on_epoch(k, epoch, sc)

        def start_pass(chunk: list[int]) -> None:
            if on_split_start is not None:
                for k in chunk:
                    on_split_start(k, len(splits))

        todo = [k for k in splits if k not in results]
        hook = stack_hook if rundir is not None or on_epoch is not None else None
        _train_passes(cfg, data, todo, batch, hook, save, start_pass, precomputed_dir)
        ordered = [results[k] for k in splits]
        took = time.perf_counter() - start
        summary = Summary.from_results(data.name, cfg.model.name, ordered, took)
        if rundir is not None:
            payload = summary.to_json()
            payload["config"] = config_to_dict(cfg)
            payload["notes"] = data.notes
            payload["data_source"] = source
            payload["graph"] = {
                "num_nodes": data.x.size(0),
                "num_features": data.x.size(1),
                "num_classes": data.num_classes,
            }
            # Bit-reproducible for the same device, torch build, thread count and split chunks
            # (GEMM reductions split across threads round differently; members trained side by
            # side draw their dropout masks from one stream), so the summary records them.
            payload["environment"] = {
                "device": str(data.x.device),
                "threads": torch.get_num_threads(),
                "torch": str(torch.__version__),
                "splits_side_by_side": [len(c) for c in chunks],
                "processes": size,
            }
            rundir.finish(payload)
        return summary
    finally:  # a failed or interrupted run lets go of its folder (finish did otherwise)
        if rundir is not None:
            rundir.release()


def with_absolute_data(cfg: RunConfig) -> RunConfig:
    """``cfg``, or a copy whose user graph (``npz:PATH``) names its file by absolute path, so
    that the run directory records where the data came from and a rerun from another folder
    with the same file is the same run (:func:`graff.data.absolute_dataset`)."""
    name = absolute_dataset(cfg.data.dataset)
    if name == cfg.data.dataset:
        return cfg
    out = copy.deepcopy(cfg)
    out.data.dataset = name
    return out
