"""``tune``: the hyperparameter search of any registered model on any graph."""

from __future__ import annotations

import copy
import json
import logging
import multiprocessing
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import optuna
import torch

from graff._io import as_path, file_slug
from graff.errors import GraffError
from graff.tune import _backend as backend
from graff.tune import _journal, _outputs, _storage
from graff.tune._args import check_tune_arguments
from graff.tune._result import (
    TuneResult,
    cpu_time,
    provenance,
    span,
    storage_label,
    trial_seconds,
)
from graff.tune._space import SearchSpace, default_space, load_space, parse_space, space_differs
from graff.tune._splits import resolve_splits
from graff.tune._worker import Job, TrialEvent, best_of, event, run_worker, worker_main

__all__ = [
    "DEFAULT_TRIALS",
    "TuneError",
    "TuneResult",
    "tune",
]

log = logging.getLogger("graff.tune")

#: Counted trials a study is filled to when no number is given (``tune`` and ``graff tune``).
DEFAULT_TRIALS = 50


class TuneError(GraffError, RuntimeError):
    """A search that cannot go on or gave nothing to choose from."""


def _slug(text: str) -> str:
    return file_slug(text, "study")


def _base_config(
    dataset: str,
    model: str,
    base_config: Any,
    overrides: Sequence[str],
    data_params: Mapping[str, Any] | None,
    seed: int | None,
) -> tuple[Any, str]:
    """The config a search starts from: what ``graff train`` would run
    (:func:`graff.train.resolve.resolve_config`: ``base_config`` if a file is given, else the
    shipped config, else the model's defaults for a graph without one, else the schema's),
    with ``data_params`` in ``data.params``, then ``overrides`` and ``seed``."""
    overrides = backend.override_list(overrides)
    if base_config is None or isinstance(base_config, str | Path):
        cfg, source = backend.resolve_config(dataset, model, base_config, overrides, seed=seed)
    else:  # a RunConfig of the caller's
        cfg, source = copy.deepcopy(base_config), "a RunConfig given by the caller"
        cfg.data.dataset, cfg.model.name = dataset, model
        backend.apply_overrides(cfg, [*overrides, *([f"seed={seed}"] if seed is not None else [])])
    if data_params:
        cfg.data.params = {**cfg.data.params, **dict(data_params)}
        # an override of a data parameter still wins, as it does over the config's own
        backend.apply_overrides(cfg, [o for o in overrides if o.strip().startswith("data.params.")])
    if overrides:
        source += " with " + ", ".join(overrides)
    if seed is not None:
        source += f", seed {seed}"
    cfg.data.splits = None
    return cfg.validate(), source


def _resolve_space(space: Any, model: str, block: str | None = None) -> SearchSpace:
    if space is None:
        return default_space(model, block)
    if isinstance(space, SearchSpace):
        return space.check(model)
    if isinstance(space, Mapping):
        return parse_space(space, "<mapping>", model=model)
    return load_space(space, model)


def _study_record(job: Job, dataset: str) -> dict[str, Any]:
    """What a study is a search of; a resumed or shared search must match it."""
    base = {k: v for k, v in job.base.items() if k != "provenance"}  # text, not settings
    return {
        "dataset": dataset,
        "model": job.model,
        "base": base,  # with the training seed (``seed``: split k trains with seed + k)
        "space": job.space,
        "splits": list(job.splits),
        "sampler_seed": job.sampler_seed,
        "pruner": _pruner_name(job.pruner),
    }


def _differs(key: str, old: Any, new: Any) -> bool:
    if key == "base" and isinstance(old, Mapping) and isinstance(new, Mapping):
        return bool(backend.config_identity(dict(old)) != backend.config_identity(dict(new)))
    return space_differs(old, new) if key == "space" else bool(old != new)


def _pruner_name(pruner: Any) -> str:
    return pruner if isinstance(pruner, str) else type(pruner).__name__


def _create_study(job: Job, dataset: str, base_point: dict[str, Any] | None) -> None:
    """Create (or check, when resuming) the study; a new one gets ``base_point`` as trial 0."""
    storage = _storage.open_storage(job.storage)
    study = optuna.create_study(
        study_name=job.study_name, storage=storage, direction="maximize", load_if_exists=True
    )
    record = json.loads(json.dumps(_study_record(job, dataset)))
    old = study.user_attrs.get("graff")
    if old is None:
        study.set_user_attr("graff", record)
        if base_point is not None and not study.get_trials(deepcopy=False):
            # Trial 0 evaluates the base config itself, so the search's best is never worse
            # on the objective than where it started (TPE alone can miss a good shipped config).
            study.enqueue_trial(base_point, user_attrs={"base_config": True}, skip_if_exists=True)
        return
    # keys that a study made by an older graff lacks are no difference; they are added. The
    # base is compared as a config: a config key added since takes its default in the old one.
    diff = [k for k in record if k in old and _differs(k, old[k], record[k])]
    if diff:
        raise backend.ConfigError(
            f"study {job.study_name!r} in {_storage.describe_storage(job.storage)} is a search "
            f"with another {', '.join(diff)}; resume it with the same options, or start a new "
            "one with another study name or output directory"
        )
    if old != record:
        study.set_user_attr("graff", {**old, **record})


def _run_workers(
    job: Job, jobs: int, on_trial: Callable[[TrialEvent], None] | None, preloaded: dict[bool, Any]
) -> None:
    if jobs == 1:
        run_worker(job, 0, on_trial, preloaded)
        return
    ctx = multiprocessing.get_context("spawn")  # no forked OpenMP/MKL thread pools
    start = ctx.Barrier(jobs)  # every worker loaded: they begin together
    procs = [
        ctx.Process(target=worker_main, args=(job, w, start), daemon=False) for w in range(jobs)
    ]
    for p in procs:
        p.start()
    seen: set[int] = set()
    study = optuna.load_study(study_name=job.study_name, storage=_storage.open_storage(job.storage))
    try:
        while True:
            alive = any(p.is_alive() for p in procs)
            trials = study.get_trials(deepcopy=False)
            for t in sorted(trials, key=lambda t: t.number):
                if t.number in seen or not t.state.is_finished():
                    continue
                seen.add(t.number)
                if on_trial is not None and _storage.counted(t):
                    on_trial(event(t, trials, job.trials))
            if not alive:
                break
            time.sleep(0.5)
    except BaseException:
        for p in procs:
            p.terminate()
        raise
    finally:
        for p in procs:
            p.join()
    bad = [(w, p.exitcode) for w, p in enumerate(procs) if p.exitcode != 0]
    if bad:
        raise TuneError(
            "search worker(s) "
            + ", ".join(f"{w} (exit code {c})" for w, c in bad)
            + " failed (traceback above); run the same command again to resume"
        )


def tune(
    dataset: str,
    model: str = "graff",
    *,
    trials: int = DEFAULT_TRIALS,
    timeout: float | None = None,
    splits: int | Sequence[int] | None = None,
    space: str | Path | SearchSpace | Mapping[str, Any] | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    jobs: int = 1,
    final: bool = True,
    base_trial: bool = True,
    out_dir: str | Path | None = None,
    data_dir: str | None = None,
    data_params: Mapping[str, Any] | None = None,
    base_config: str | Path | Any | None = None,
    overrides: Sequence[str] = (),
    seed: int | None = None,
    sampler_seed: int = 0,
    threads: int = 1,
    batch: int | None = None,
    pruner: str | optuna.pruners.BasePruner = "median",
    plots: bool = True,
    on_trial: Callable[[TrialEvent], None] | None = None,
) -> TuneResult:
    """Search the hyperparameters of ``model`` on ``dataset``, choosing on validation only.

    Each trial draws the keys of the search space with a seeded TPE sampler, sets them on the
    base config — the config ``graff train`` would run
    (:func:`graff.train.resolve.resolve_config`: the shipped config of ``(model, dataset)``,
    else the model's defaults for a graph without one, ``graff/defaults/<model>.yaml``, else
    the schema's), then ``data_params``, ``overrides`` and ``seed`` — trains it on the
    search splits exactly as ``graff train`` does (:func:`graff.train.fit_split`) and scores
    it by its **mean best-validation metric** (percent). After every tenth of a split's
    epochs it reports the running mean to the pruner, so that a bad trial stops within its
    first split. A trial whose training diverges or whose sampled combination is not a valid
    config is recorded as FAIL and the search goes on. Test scores are stored in each trial
    for the record and never used.

    Writes to ``out_dir`` (default ``runs/tune/<dataset>-<model>``):

    * ``study.journal`` — the study (default storage; see :mod:`graff.tune._storage`);
    * ``study.json`` — which study the directory's files belong to (name, storage, dataset,
      model): a search of another study into the same ``out_dir`` is refused;
    * ``best.yaml`` — the complete chosen config, for ``graff train --config``, whose
      ``provenance`` names the study, storage, trial counts, splits, budget and date;
    * ``final/`` — with ``final=True``, the chosen config trained on every split like
      ``graff train`` (``final/summary.json``, same schema);
    * ``trials.csv`` — one row per trial (:data:`graff.tune._outputs.TRIALS_COLUMNS`);
    * ``history.png``, ``importances.png`` — with matplotlib installed.

    Running the same call again resumes: ``trials`` is the study's total of finished trials
    (a trial killed mid-run does not count and is run again), so only the missing ones run.
    ``jobs`` worker processes (spawned, ``threads`` torch threads each) share the study;
    with ``storage="postgresql://..."`` any number of machines running the same call fill
    one study to ``trials`` in total.

    A journal file is checked before anything else is done (:mod:`graff.tune._journal`). A
    damaged tail — the last record cut short by a crash during a write, or bytes after the
    last record that are no record — is repaired **automatically**: the damaged bytes are
    moved to ``study.journal.damaged-<UTC time>`` beside it, every complete record is kept,
    and a warning (logger ``graff.tune``; also in ``TuneResult.notes``) says so. Damage in the
    middle of the journal (a bad line followed by complete records) cannot be cut away
    without losing trials: :class:`~graff.tune._journal.JournalError` (a StorageError) names
    the line and byte, and nothing is changed.

    Args:
        dataset: a dataset name of :func:`graff.data.load_dataset` (``texas``, ``npz:PATH``).
        model: a registered model name.
        trials: the study's total number of counted trials (complete + pruned + failed)
            (default: :data:`DEFAULT_TRIALS`, 50, as ``graff tune``).
        timeout: stop starting trials after this many seconds (per call and worker).
        splits: splits each trial is scored on: None for :func:`default_splits`, K for the
            first K, or a list of indices. The final run uses every split.
        space: a YAML file, a mapping or a :class:`SearchSpace`; None: the shipped one
            (:func:`default_space` for the base config's ``model.block``). A space one of
            whose values cannot run on the base config is refused (SpaceError) up front.
        storage: a database URL; None: the journal file ``out_dir/study.journal`` (a path
            without ``://`` names another journal file).
        study_name: default ``<model>-<dataset>``.
        jobs: worker processes on this machine (1: this process).
        final: train the chosen config on every split into ``out_dir/final``.
        base_trial: a new study's trial 0 is the base config itself (its values at the
            space's keys, where the space can draw them; the sampler draws the rest), so the
            best trial is at least as good on the objective as the config searched around.
        data_dir: data folder (default ``$GRAFF_DATA``, else the cache).
        data_params: keyword parameters of the dataset (e.g. csbm's ``num_nodes``).
        base_config: a config file (as ``graff train --config``) or a RunConfig to search
            around instead of the shipped one.
        overrides: ``key=value`` strings applied to the base config (``optim.epochs=100``).
        seed: the base seed of the runs, as ``graff train --seed``: sets the config's
            ``seed`` (split k trains with seed + k); None keeps the base config's.
        sampler_seed: seed of the TPE sampler, i.e. which settings are drawn (part of the
            study's record: a resume must give the same).
        threads: torch threads per worker (the caller's setting is restored afterwards).
        batch: at most this many objective splits side by side in one batched pass (1: one
            at a time; None: as :func:`graff.train.run` chooses).
        pruner: ``median``, ``halving``, ``none`` or an Optuna pruner (steps are epochs,
            split k's epoch e at step ``k * E + e`` with E the largest epoch count).
        plots: write the plots (if matplotlib is installed).
        on_trial: called with a :class:`TrialEvent` after each counted trial (in the calling
            process, also with ``jobs > 1``): a progress bar's hook.

    Raises:
        ConfigError: a bad model, dataset option, override, space (SpaceError) or splits.
        StorageError: ``storage`` is not a usable URL, or its database cannot be reached, or
            its journal file is damaged in the middle (JournalError).
        RunDirError: ``out_dir`` holds the files of another study (its ``study.json``).
        TuneError: no trial completed, or a worker process failed.
    """
    model = check_tune_arguments(
        dataset,
        model,
        counts={"trials": trials, "jobs": jobs, "threads": threads},
        sampler_seed=sampler_seed,
        timeout=timeout,
        pruner=pruner,
        flags={"final": final, "base_trial": base_trial, "plots": plots},
        on_trial=on_trial,
    )
    # NumPy integers pass the checks; the study's record and best.yaml take Python ints
    trials, jobs, threads, sampler_seed = int(trials), int(jobs), int(threads), int(sampler_seed)
    final, base_trial, plots = bool(final), bool(base_trial), bool(plots)
    base, base_source = _base_config(dataset, model, base_config, overrides, data_params, seed)
    space_ = _resolve_space(space, model, base.model.block)
    space_.check_base(base, base_source)
    if storage is not None and not _storage.is_embedded(storage):
        # A bad URL, a missing driver or an unreachable server fails now, not after the data.
        _storage.open_storage(storage)
        _storage.close_storage(storage)
    elif storage is not None:
        _storage.check_journal_path(storage)
    out = (
        as_path(out_dir, "out_dir")
        if out_dir is not None
        else Path("runs") / "tune" / _slug(f"{dataset}-{model}")
    )
    if out.exists() and not out.is_dir():
        raise backend.RunDirError(f"--out {out} is a file, not a folder; choose another --out")
    store = storage if storage is not None else _storage.embedded_storage(out)
    name = study_name or _slug(f"{model}-{dataset}")
    owner = {
        "study": name,
        "storage": storage_label(store, out),
        "dataset": dataset,
        "model": model,
    }
    # Whose files --out holds, and whether the journal is sound: before any data or trial.
    _outputs.check_owner(out, owner)
    notes = []
    if _storage.is_embedded(store):
        note = _journal.check_journal(store)
        if note is not None:
            log.warning("%s", note)
            notes.append(note)
    data = backend.load_prepared(base, data_dir)
    for note in backend.notable_notes(data.notes):  # what the loader repaired or noticed
        log.warning("data: %s", note)
    split_list = resolve_splits(splits, data)
    space_, note = space_.for_features(data.x)
    if note is not None:
        log.warning("space: %s", note)
        notes.append(note)
    note = _unbatched_note(base, space_, batch)
    if note is not None:  # said, not silently ignored
        log.warning("%s", note)
        notes.append(note)
    out.mkdir(parents=True, exist_ok=True)
    epochs = [base.optim.epochs]
    for p in space_.params:
        if p.key == "optim.epochs":
            epochs += [int(v) for v in p.candidates()]
    job = Job(
        storage=store,
        study_name=name,
        model=model,
        base=json.loads(json.dumps(backend.config_to_dict(base))),
        space=space_.to_dict(),
        space_source=space_.source,
        splits=tuple(split_list),
        trials=trials,
        timeout=timeout,
        data_dir=data_dir,
        sampler_seed=sampler_seed,
        threads=threads,
        pruner=pruner,
        stride=max(epochs),
        batch=batch,
        extra_seed=() if _storage.is_embedded(store) else (socket.gethostname(), os.getpid()),
        call_id=uuid.uuid4().hex,
    )
    old_threads, old_level = torch.get_num_threads(), optuna.logging.get_verbosity()
    # Failed and pruned trials are reported through the trials themselves (error attribute,
    # trials.csv, on_trial); Optuna's per-trial log lines would repeat them with tracebacks.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        _create_study(job, dataset, space_.point_of(base) if base_trial else None)
        _outputs.claim(out, owner)
        start = time.perf_counter()
        if jobs == 1:
            torch.set_num_threads(threads)
        _run_workers(job, jobs, on_trial, {bool(base.data.normalize_features): data})
        search_seconds = time.perf_counter() - start
        res = _finish(job, dataset, data, base_source, out, search_seconds, final, plots)
        res.notes = notes
        return res
    finally:
        torch.set_num_threads(old_threads)
        optuna.logging.set_verbosity(old_level)
        _storage.close_storage(job.storage)


def _unbatched_note(base: Any, space: SearchSpace, batch: int | None) -> str | None:
    """Why ``batch`` > 1 splits will train one at a time in some or all trials: the model's
    builds (``model.block``, as the base config or the space sets it) without a stacked
    version, or mini-batch training (``optim.mode=precomputed``)."""
    if batch is None or batch <= 1:
        return None
    blocks = [base.model.block]
    for p in space.params:
        if p.key == "model.block":
            blocks = list(p.candidates())
    why = {b: backend.unbatched_reason(base.model.name, b, base.optim.mode) for b in blocks}
    why = {b: w for b, w in why.items() if w}
    if not why:
        return None
    where = "" if len(why) == len(blocks) else f" in trials with model.block={'/'.join(why)}"
    reasons = "; ".join(dict.fromkeys(why.values()))
    return f"--batch {batch}: {base.model.name} trains one split at a time{where} ({reasons})"


def _load(job: Job) -> optuna.Study:
    return optuna.load_study(study_name=job.study_name, storage=_storage.open_storage(job.storage))


def _finish(
    job: Job,
    dataset: str,
    data: Any,
    base_source: str,
    out: Path,
    search_seconds: float,
    final: bool,
    plots: bool,
) -> TuneResult:
    study = _load(job)
    trials = study.get_trials(deepcopy=False)
    space = parse_space(job.space, job.space_source, model=job.model)
    files = {"trials": out / "trials.csv"}
    _outputs.write_trials_csv(files["trials"], trials, space.keys, list(job.splits))
    c = _storage.counts(trials)
    cpu = cpu_time(trials)
    best = best_of(trials)
    if best is None:
        errors = [t.user_attrs["error"] for t in trials if "error" in t.user_attrs]
        first = f" First error: {errors[0]}" if errors else ""
        raise TuneError(
            f"no trial of study {job.study_name!r} completed ({c.pruned} pruned, {c.failed} "
            f"failed, {c.running} running); see {files['trials']}.{first}"
        )
    assert best.value is not None
    cfg = space.apply(backend.config_from_dict(job.base), best.params)
    res = TuneResult(
        study_name=job.study_name,
        storage=_storage.describe_storage(job.storage),  # this machine's path, for humans
        out_dir=out,
        model=job.model,
        dataset=dataset,
        metric=data.metric,
        splits=list(job.splits),
        best_number=best.number,
        best_value=float(best.value),
        best_test_mean=best.user_attrs.get("test_mean"),
        best_params=dict(best.params),
        best_config=cfg,
        n_trials=c.finished,
        n_complete=c.complete,
        n_pruned=c.pruned,
        n_failed=c.failed,
        n_stopped=c.stopped,
        new_trials=sum(
            1 for t in trials if _storage.counted(t) and t.user_attrs.get("call") == job.call_id
        ),
        search_seconds=search_seconds,
        study_seconds=span(trials),
        trial_seconds=sum(trial_seconds(t) for t in trials),
        cpu_seconds=cpu[0],
        cpu_trials=cpu[1],
        final_seconds=0.0,
        final=None,
        files=files,
        has_base_trial=any(t.user_attrs.get("base_config") for t in trials),
        best_is_base=bool(best.user_attrs.get("base_config")),
    )
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    pruner = _pruner_name(job.pruner)
    cfg.provenance = provenance(
        job, res, pruner, base_source, when, storage_label(job.storage, out)
    )
    header = f"graff tune: {job.model} on {dataset}, best of study {job.study_name!r}"
    res.best_config = _outputs.write_best(out / "best.yaml", cfg, header)
    files["best"] = out / "best.yaml"
    if plots:
        for path in _outputs.write_plots(study, out):
            files[path.stem] = path
    if final:
        res.final, res.final_seconds = _outputs.final_run(
            res.best_config, out / "final", job.data_dir, job.batch
        )
        files["final"] = out / "final" / "summary.json"
    return res
