"""``graff reproduce`` as a library function: shipped configs × datasets, trained and tabulated.

:func:`reproduce` resolves the shipped config of every (model, dataset) cell, reuses finished
runs under ``out_root``, trains the rest (in this process or in ``jobs`` worker processes,
dearest first) and returns the table of :mod:`graff.paper` beside the published numbers.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graff._io import atomic_write
from graff.configs import available_configs, configs_dir, shipped_config
from graff.data import DATASET_SIZES, EXTRA_DATASETS, dataset_groups, user_npz_path
from graff.errors import ConfigError, RunDirError
from graff.nn.checks import is_int
from graff.paper import Cell, paper_cell, published_results, results_csv, results_markdown
from graff.train import (
    MODELS,
    RunConfig,
    config_from_dict,
    config_identity,
    config_to_dict,
    read_summary,
    resolve_config,
    run,
)
from graff.train.models import spec_for, spec_of
from graff.train.rundir import run_state

__all__ = [
    "HETEROPHILY_MODELS",
    "PlannedCell",
    "ReproduceHooks",
    "ReproduceResult",
    "default_models",
    "estimated_cost",
    "plan",
    "reproduce",
    "train_cell",
]


def estimated_cost(cfg: Any) -> float:
    """A relative training cost of a run config (multiply-adds per epoch × epochs × splits).

    Only for scheduling: ``graff reproduce --jobs N`` starts the dearest cells first so that
    the workers finish together. Unknown datasets count as Cora-sized.
    """
    n, e, p = DATASET_SIZES.get(cfg.data.dataset, DATASET_SIZES["cora"])
    m = cfg.model
    depth = spec_for(m).memory_depth(m)
    per_epoch = m.hidden * (n * p + depth * (e + n) + depth * n * m.hidden)
    splits = len(cfg.data.splits) if cfg.data.splits is not None else 10
    return float(per_epoch * cfg.optim.epochs * splits)


def train_cell(
    config: dict[str, Any],
    run_dir: str,
    data_dir: str | None,
    threads: int,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train one (model, dataset) cell in this process and return its summary record.

    The worker of ``graff reproduce --jobs N``: it takes plain data (the config as a dict) so
    that it can run in a spawned process, sets that process's torch threads and allocator,
    and writes the usual resumable run directory.
    """
    import warnings

    import torch

    from graff.perf import tune_allocator

    tune_allocator()
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    cfg = config_from_dict(config)
    return run(cfg, None, run_dir, data_dir=data_dir, overwrite=overwrite).to_json()


@dataclass
class ReproduceHooks:
    """Progress callbacks of :func:`reproduce` (each optional).

    ``cell_start(model, dataset, cfg, n_splits)`` before a cell trains in this process, then
    ``split_start(k, n)`` and ``epoch(k, epoch, scores)`` as in :func:`graff.train.run`;
    ``cells_start(n, jobs, threads)`` before training in worker processes;
    ``cell_done(model, dataset, summary, reused)`` after each cell.
    """

    cell_start: Callable[[str, str, RunConfig, int], None] | None = None
    split_start: Callable[[int, int], None] | None = None
    epoch: Callable[[int, int, dict[str, float]], None] | None = None
    cell_end: Callable[[], None] | None = None
    cells_start: Callable[[int, int, int], None] | None = None
    cell_done: Callable[[str, str, dict[str, Any], bool], None] | None = None


@dataclass
class ReproduceResult:
    """The table of one :func:`reproduce` call."""

    cells: list[Cell]
    markdown: str
    csv: str
    #: cells without a finished run (``table_only``), as ``model/dataset``.
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0
    files: list[Path] = field(default_factory=list)
    #: with ``models=["all"]``, the cells no config is shipped for (left empty), as
    #: ``model/dataset`` (e.g. GAT-sep's, shipped for Platonov et al.'s graphs only).
    unconfigured: list[str] = field(default_factory=list)
    #: what the table alone does not say (e.g. the ``overrides`` every cell ran with), as
    #: written under it in ``markdown``.
    notes: list[str] = field(default_factory=list)


#: The models of the heterophily benchmark's table (docs/provenance/heterophily.md): GRAFF
#: and the baselines searched there with one budget; the model group ``heterophily``.
HETEROPHILY_MODELS = ("graff", "mlp", "gcn", "sage", "gat", "gat_sep", "gcnii")
_MODEL_GROUPS = {"all": tuple(MODELS), "heterophily": HETEROPHILY_MODELS}


def default_models(datasets: str | Sequence[str] | None = None) -> list[str]:
    """``graff``; on datasets that are all graphs of the heterophily benchmark (the group
    ``extra``: Platonov et al.'s minesweeper and tolokers, the filtered chameleon and
    squirrel), the models of its table, so ``graff reproduce --datasets minesweeper,tolokers``
    reruns every cell of that table."""
    return _models_for(_dataset_list(datasets))


def _dataset_list(datasets: str | Sequence[str] | None) -> list[str]:
    """The datasets named (groups expanded, names canonical): :func:`dataset_groups`."""
    return dataset_groups(
        datasets if isinstance(datasets, str) or datasets is None else ",".join(datasets)
    )


def _models_for(names: list[str]) -> list[str]:
    heterophily = bool(names) and all(d in EXTRA_DATASETS for d in names)
    return list(HETEROPHILY_MODELS) if heterophily else ["graff"]


def _is_group(models: Sequence[str]) -> bool:
    """A model group (``all``, ``heterophily``): each model where it has a shipped config."""
    return len(models) == 1 and models[0].strip().lower() in _MODEL_GROUPS


def _check_models(models: Sequence[str]) -> list[str]:
    """The models named (a group, any case: its models), each once, in order."""
    if _is_group(models):
        return list(_MODEL_GROUPS[models[0].strip().lower()])
    names = list(dict.fromkeys(map(MODELS.canonical, models)))
    groups = " or ".join(_MODEL_GROUPS)
    if not names:
        raise ConfigError(f"no models named; give one or more of {', '.join(MODELS)}, or {groups}")
    unknown = [m for m in names if m not in MODELS]
    grouped = [m for m in unknown if m.lower() in _MODEL_GROUPS]
    if grouped:
        raise ConfigError(
            f"{grouped[0]} is a group of models, named alone (--models {grouped[0].lower()}); "
            f"to add models to it, list them: {', '.join(_MODEL_GROUPS[grouped[0].lower()])}"
        )
    if unknown:
        raise ConfigError(
            f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}, or {groups}"
        )
    return names


def _train_parallel(
    todo: list[tuple[str, str, RunConfig, Path]],
    jobs: int,
    threads: int | None,
    data_dir: str | None,
    overwrite: bool,
    hooks: ReproduceHooks,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Train the cells in ``jobs`` worker processes, dearest first."""
    threads = threads or max(1, (os.cpu_count() or 1) // jobs)
    order = sorted(todo, key=lambda c: estimated_cost(c[2]), reverse=True)
    done: dict[tuple[str, str], dict[str, Any]] = {}
    if hooks.cells_start:
        hooks.cells_start(len(order), jobs, threads)
    ctx = multiprocessing.get_context("spawn")  # no forked OpenMP/MKL thread pools
    with ProcessPoolExecutor(jobs, mp_context=ctx) as pool:
        running: dict[Future[dict[str, Any]], tuple[str, str]] = {}
        for model, ds, cfg, run_dir in order:
            args = (config_to_dict(cfg), str(run_dir), data_dir, threads, overwrite)
            running[pool.submit(train_cell, *args)] = (model, ds)
        try:
            pending = set(running)
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    model, ds = running[fut]
                    summary = fut.result()  # re-raises a worker's error (config, data, NaN)
                    done[model, ds] = summary
                    if hooks.cell_done:
                        hooks.cell_done(model, ds, summary, False)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
    return done


@dataclass
class PlannedCell:
    """One (model, dataset) cell of a :func:`reproduce` call, before anything runs."""

    model: str
    dataset: str
    config: RunConfig
    #: the shipped config file the cell's config comes from
    config_file: Path
    run_dir: Path

    def state(self) -> tuple[str, list[int]]:
        """What its run directory holds (:func:`graff.train.rundir.run_state`)."""
        return run_state(self.run_dir, self.config, self.config.data.splits)


def plan(
    models: str | Sequence[str] | None = None,
    datasets: str | Sequence[str] | None = None,
    out_root: str | os.PathLike[str] = "runs/reproduce",
    *,
    overrides: Sequence[str] = (),
    device: str | None = None,
) -> tuple[list[PlannedCell], list[str]]:
    """The cells :func:`reproduce` would train or reuse (arguments as there), with their
    resolved configs; and, for ``models=["all"]``, the cells without a shipped config
    (``model/dataset``). Reads the shipped configs only; trains and writes nothing."""
    if isinstance(models, str):  # "gcn,gat" as --models takes it; iterated, its letters
        models = [m.strip() for m in models.split(",") if m.strip()]
    names = [] if models is None else _check_models(models)  # a bad name first, as before
    ds_list = _dataset_list(datasets)
    if models is None:  # default_models, from the datasets resolved once
        models = _models_for(ds_list)
        names = _check_models(models)
    if not ds_list:
        raise ConfigError(
            f"no datasets named in {datasets!r}; give dataset names or the groups paper, extra, all"
        )
    files = [d for d in ds_list if user_npz_path(d) is not None]
    if files:
        raise ConfigError(
            f"graff reproduce reruns graff's shipped configs, and {files[0]} is a graph of your "
            f"own: train it with `graff train --dataset {files[0]} --model MODEL`, or search a "
            f"config with `graff tune --dataset {files[0]} --model MODEL`"
        )
    missing = [(m, d) for m in names for d in ds_list if shipped_config(m, d) is None]
    unconfigured = []
    if missing and len(missing) == len(names) * len(ds_list) and _is_group(models):
        raise ConfigError(
            f"no model has a shipped config for {', '.join(ds_list)}, so there is nothing to "
            "reproduce; `graff train --dataset NAME --model MODEL` trains one from the model's "
            "defaults, and `graff tune --dataset NAME --model MODEL` searches one"
        )
    if missing and _is_group(models):
        # every model where it has a config: a row shipped for some graphs only (gat_sep
        # and gt_sep on Platonov et al.'s) leaves the others' cells empty
        unconfigured = [f"{m}/{d}" for m, d in missing]
        missing = []
    if missing:
        listing = ", ".join(f"{m}/{d}" for m, d in missing)
        raise ConfigError(
            f"no shipped config for {listing} in {configs_dir()}; available for "
            + "; ".join(f"{m}: " + ", ".join(available_configs(m)) for m in names)
        )
    cells = []
    for model in names:
        for ds in ds_list:
            if f"{model}/{ds}" in unconfigured:
                continue
            file = shipped_config(model, ds)
            assert file is not None  # checked above
            cfg, _ = resolve_config(config=file, overrides=overrides, device=device, strict=False)
            cells.append(PlannedCell(model, ds, cfg, Path(file), Path(out_root) / f"{ds}-{model}"))
    _refuse_overrides_read_by_none(cells, overrides)
    return cells, unconfigured


def _refuse_overrides_read_by_none(cells: list[PlannedCell], overrides: Sequence[str]) -> None:
    """Overrides apply to every cell, each where its model reads the key (``model.T`` to
    GRAFF's, not GCN's); one that no planned cell reads would change nothing: refused."""
    for item in overrides:
        why = ""
        for cell in cells:
            try:
                resolve_config(config=cell.config_file, overrides=[item], strict=True)
                break
            except ConfigError as err:
                why = why or str(err)
        else:
            if why:
                raise ConfigError(f"--set {item} changes none of the planned cells: {why}")


def reproduce(
    models: str | Sequence[str] | None = None,
    datasets: str | Sequence[str] | None = None,
    out_root: str | os.PathLike[str] = "runs/reproduce",
    *,
    jobs: int = 1,
    threads: int | None = None,
    overwrite: bool = False,
    table_only: bool = False,
    data_dir: str | None = None,
    overrides: Sequence[str] = (),
    device: str | None = None,
    hooks: ReproduceHooks | None = None,
) -> ReproduceResult:
    """Train (or reuse) every model × dataset cell with its shipped config; the table.

    Args:
        models: model names (a list, or one comma-separated string), or a group, ``"all"``
            or ``"heterophily"``
            (:data:`HETEROPHILY_MODELS`): each of its models on the datasets it has a shipped
            config for (the others are :attr:`ReproduceResult.unconfigured`); a named model
            without a config for a named dataset is an error. None: :func:`default_models`.
        datasets: ``paper``, ``extra``, ``all`` (default), names, or a comma-separated string.
        out_root: run directories go to ``out_root/<dataset>-<model>``; the table to
            ``reproduce.md`` and ``reproduce.csv`` there.
        jobs: cells trained at once in spawned worker processes (``threads`` each, default
            cores / jobs).
        table_only: train nothing; tabulate the finished runs.
        overrides: ``key=value`` applied to every cell's config.
    """
    hooks = hooks or ReproduceHooks()
    if not (is_int(jobs) and jobs >= 1):
        raise ConfigError(f"jobs must be a positive integer, got {jobs!r}")
    if threads is not None and not (is_int(threads) and threads >= 1):  # 0 meant the default
        raise ConfigError(
            f"threads must be a positive integer (None: cores / jobs), got {threads!r}"
        )
    t0 = time.perf_counter()
    out = Path(out_root)
    planned, unconfigured = plan(models, datasets, out, overrides=overrides, device=device)
    summaries: dict[tuple[str, str], dict[str, Any]] = {}
    skipped: list[str] = []
    for c in planned:
        if (c.run_dir / "summary.json").exists() and not overwrite:
            summary = read_summary(c.run_dir)
            if config_identity(summary.get("config", {})) != config_identity(c.config):
                raise RunDirError(
                    f"{c.run_dir} holds a finished run with another configuration; "
                    "pass --overwrite or another --out"
                )
            summaries[c.model, c.dataset] = summary
            if hooks.cell_done:
                hooks.cell_done(c.model, c.dataset, summary, True)
        elif table_only:
            skipped.append(f"{c.model}/{c.dataset}")
    todo = [
        (c.model, c.dataset, c.config, c.run_dir)
        for c in planned
        if (c.model, c.dataset) not in summaries and not table_only
    ]
    if jobs > 1 and len(todo) > 1:
        summaries.update(_train_parallel(todo, jobs, threads, data_dir, overwrite, hooks))
    else:
        for model, ds, cfg, run_dir in todo:
            n = len(cfg.data.splits) if cfg.data.splits is not None else 10
            if hooks.cell_start:
                hooks.cell_start(model, ds, cfg, n)
            try:
                summary = run(
                    cfg,
                    None,
                    run_dir,
                    data_dir=data_dir,
                    overwrite=overwrite,
                    on_split_start=hooks.split_start,
                    on_epoch=hooks.epoch,
                ).to_json()
            finally:
                if hooks.cell_end:
                    hooks.cell_end()
            summaries[model, ds] = summary
            if hooks.cell_done:
                hooks.cell_done(model, ds, summary, False)
    published = published_results()
    cells = [
        _cell(c.model, c.dataset, c.config, summaries[c.model, c.dataset], published)
        for c in planned
        if (c.model, c.dataset) in summaries
    ]
    if not cells:
        raise RunDirError(f"no finished runs under {out} for these models and datasets")
    notes = []
    if overrides:  # a table of changed configs must say so where it is read
        notes.append(
            f"Every cell ran with {' '.join('--set ' + o for o in overrides)}: the shipped "
            "configs changed, not as they are."
        )
    md, csv_text = results_markdown(cells), results_csv(cells)
    md += "".join(f"\n{note}\n" for note in notes)
    files = [atomic_write(out / "reproduce.md", md), atomic_write(out / "reproduce.csv", csv_text)]
    return ReproduceResult(
        cells, md, csv_text, skipped, time.perf_counter() - t0, files, unconfigured, notes
    )


def _cell(
    model: str, ds: str, cfg: RunConfig, summary: dict[str, Any], published: list[dict[str, Any]]
) -> Cell:
    paper = paper_cell(published, model, ds)
    return Cell(
        model=model,
        dataset=ds,
        metric=summary["metric"],
        mean=summary["mean"],
        std=summary["std"],
        n_splits=len(summary["test"]),
        seconds=summary["seconds"],
        w_type=cfg.model.w_type if "w_type" in spec_of(model).fields else "",
        paper_model=paper["model"] if paper else "",
        paper_mean=paper["mean"] if paper else float("nan"),
        paper_std=paper["std"] if paper else float("nan"),
    )
