"""One search worker: the trial objective and the loop that fills a study to its budget.

A worker (the calling process when ``jobs=1``, else one of ``jobs`` spawned processes, or a
process on another machine sharing a database) repeats: fail the trials of dead workers,
count the study's trials, and start one more only while *finished + running < trials*; it
stops once *finished ≥ trials* (or at its timeout). Two workers can both see the last free
slot and start a trial each; the one with the higher number sees, as its first act, that
the slot is gone and ends at once as an uncounted FAIL (user attribute ``surplus``) without
training. So the study ends with exactly ``trials`` counted trials, whatever the number of
workers and kills.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import statistics
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from graff.tune import _backend as backend
from graff.tune import _storage
from graff.tune._space import parse_space

__all__ = ["Job", "TrialEvent", "make_pruner", "run_worker", "worker_main"]

#: Seconds between two looks at the study while every remaining slot is taken.
POLL_SECONDS = 1.0
#: seconds a worker waits at the start for the other workers of its machine (then goes alone).
START_TIMEOUT = 300.0
#: Intermediate values reported per split (pruning decisions), evenly spaced in epochs.
REPORTS_PER_SPLIT = 10


class TrialFailed(RuntimeError):
    """A trial that ran and failed (divergence, invalid sampled config): FAIL, counted."""


class _Surplus(RuntimeError):
    """Another worker took the last slot: FAIL, not counted, nothing trained."""


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, as plain data (it crosses a process boundary)."""

    storage: str
    study_name: str
    model: str
    base: dict[str, Any]
    space: dict[str, Any]
    space_source: str
    splits: tuple[int, ...]
    trials: int
    timeout: float | None
    data_dir: str | None
    sampler_seed: int  # the TPE sampler's (training seeds are the base config's ``seed``)
    threads: int
    pruner: Any  # "median", "halving", "none" or an optuna BasePruner (picklable)
    stride: int  # steps per split in the pruner's step axis (the largest epoch count)
    batch: int | None = None  # splits side by side (graff.train.run's ``batch``)
    extra_seed: tuple[Any, ...] = field(default=())
    #: the call of :func:`graff.tune.tune` this worker belongs to; its trials record it
    #: (user attribute ``call``), so a call counts its own trials, not other callers'.
    call_id: str = ""


@dataclass(frozen=True)
class TrialEvent:
    """What ``on_trial`` gets after each finished trial (values in percent).

    Attributes:
        number: the trial number. state: ``COMPLETE``, ``PRUNED`` or ``FAIL``.
        value: its objective (mean best-validation metric over the search splits), or None.
        best_value, best_number: the best complete trial so far (None before the first).
        finished: trials that count towards the budget so far; total: the budget.
        seconds: the trial's duration. error: why it failed, if it did.
    """

    number: int
    state: str
    value: float | None
    best_value: float | None
    best_number: int | None
    finished: int
    total: int
    seconds: float | None
    error: str | None


def make_pruner(spec: Any, stride: int) -> optuna.pruners.BasePruner:
    """The pruner named ``spec`` on a step axis of ``stride`` steps (epochs) per split.

    ``median``: :class:`~optuna.pruners.MedianPruner` after 5 complete trials, from the middle
    of the first split on (the first half of a split's epochs are too noisy to judge).
    ``halving``: :class:`~optuna.pruners.SuccessiveHalvingPruner` with a first rung at a
    quarter of the first split, reduction factor 3. ``none``: never prune.
    """
    if isinstance(spec, optuna.pruners.BasePruner):
        return spec
    if spec == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=max(1, stride // 2))
    if spec == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(
            min_resource=max(1, stride // 4), reduction_factor=3
        )
    if spec in ("none", None):
        return optuna.pruners.NopPruner()
    raise backend.ConfigError(
        f"pruner {spec!r} is not known: choose median, halving or none, or pass an "
        "optuna.pruners.BasePruner"
    )


def _sampler_seed(job: Job, worker: int, existing: int) -> int:
    """The TPE seed of a worker: ``job.sampler_seed`` itself for the first worker of a fresh
    study (a single-process search is reproducible); otherwise a hash of the seed, the number of
    trials already in the study and the worker, so that a resumed or parallel worker does
    not redraw the random start-up trials already drawn."""
    if worker == 0 and existing == 0 and not job.extra_seed:
        return job.sampler_seed
    key = repr((job.sampler_seed, existing, worker, *job.extra_seed)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:4], "little")


class Objective:
    """The value of a trial: mean best-validation metric (percent) over the search splits.

    The test metric of each split is stored in the trial (``test``, ``test_mean``) for the
    record; it is never returned, reported to the pruner, or otherwise used to choose.
    """

    def __init__(self, job: Job, preloaded: dict[bool, Any] | None = None) -> None:
        self.job = job
        self.base = backend.config_from_dict(job.base)
        self.space = parse_space(job.space, job.space_source, model=job.model)
        #: prepared data by data.normalize_features (a space may search it)
        self._data: dict[bool, Any] = dict(preloaded or {})

    def data(self, cfg: Any) -> Any:
        key = bool(cfg.data.normalize_features)
        if key not in self._data:
            self._data[key] = backend.load_prepared(cfg, self.job.data_dir)
        return self._data[key]

    def _check_slot(self, trial: optuna.Trial) -> None:
        before = [
            t
            for t in trial.study.get_trials(deepcopy=False)
            if t.number < trial.number and (t.state == TrialState.RUNNING or _storage.counted(t))
        ]
        if len(before) >= self.job.trials:
            trial.set_user_attr("surplus", "budget already taken by other workers")
            raise _Surplus(f"trial {trial.number} not run: the budget is taken")
        if trial.user_attrs.get("base_config") and any(
            t.user_attrs.get("base_config") for t in before
        ):
            # Machines that start a new shared study together may each enqueue the base
            # config; it runs once.
            trial.set_user_attr("surplus", "the base config is already another trial")
            raise _Surplus(f"trial {trial.number} not run: a second copy of the base config")

    def __call__(self, trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", _storage.worker_identity())
        trial.set_user_attr("call", self.job.call_id)
        self._check_slot(trial)
        # The trial's CPU time (this process, all its threads), whatever its end: unlike its
        # wall time, not inflated by a paused search or by other work sharing the cores.
        cpu = time.process_time()
        try:
            return self._run(trial)
        finally:
            trial.set_user_attr("cpu_seconds", round(time.process_time() - cpu, 3))

    def _run(self, trial: optuna.Trial) -> float:
        try:
            cfg = self.space.apply(self.base, self.space.sample(trial))
            cfg.validate()
        except backend.ConfigError as e:
            trial.set_user_attr("error", f"invalid config: {e}")
            raise TrialFailed(str(e)) from None
        stride = self.job.stride
        splits = list(self.job.splits)
        every = max(1, math.ceil(cfg.optim.epochs / REPORTS_PER_SPLIT))
        best: dict[int, float] = {}
        base = 0  # splits trained before the current pass (one split, or several side by side)

        def on_epoch(epoch: int, scores: dict[int, dict[str, float]]) -> None:
            # Each split's best validation so far, averaged over the splits begun; reported
            # on the axis of sequential splits (split i's epoch e is step i·stride + e).
            nonlocal base
            if epoch == 1:
                base = len(best)
            for k, sc in scores.items():
                best[k] = max(best.get(k, -math.inf), 100.0 * sc["val"])
            last = epoch == cfg.optim.epochs
            if epoch % every == 0 or last:
                trial.report(statistics.fmean(best.values()), base * stride + epoch)
                # a sign of life: a trial killed later ran until about then (its worker time)
                trial.set_user_attr("reported_at", round(time.time(), 1))
                if trial.should_prune() and (not last or len(best) < len(splits)):
                    raise optuna.TrialPruned(f"pruned at epoch {epoch} of splits {list(scores)}")

        # The first split alone, then the others (side by side where the model allows): a
        # bad trial is still pruned within its first split, at the cost of one split.
        passes = [splits[:1], splits[1:]] if len(splits) > 1 else [splits]
        try:
            results = [
                r
                for chunk in passes
                for r in backend.fit_splits(
                    cfg, self.data(cfg), chunk, batch=self.job.batch, on_epoch=on_epoch
                )
            ]
        except backend.DivergenceError as e:
            trial.set_user_attr("error", f"diverged: {e}")
            raise TrialFailed(str(e)) from None
        except backend.ConfigError as e:
            trial.set_user_attr("error", f"invalid config: {e}")
            raise TrialFailed(str(e)) from None
        vals = [100.0 * r.val for r in results]
        tests = [100.0 * r.test for r in results]
        trial.set_user_attr("val", vals)
        trial.set_user_attr("test", tests)
        for r in results:
            if not (math.isfinite(r.val) and math.isfinite(r.test)):
                trial.set_user_attr("error", f"non-finite scores on split {r.split}")
                raise TrialFailed(f"split {r.split} gave non-finite scores")
        trial.set_user_attr("test_mean", statistics.fmean(tests))
        return statistics.fmean(vals)


def best_of(trials: list[FrozenTrial]) -> FrozenTrial | None:
    """The complete trial of highest value (ties: the earlier one)."""
    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def event(trial: FrozenTrial, trials: list[FrozenTrial], total: int) -> TrialEvent:
    best = best_of(trials)
    seconds = None
    if trial.datetime_start and trial.datetime_complete:
        seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return TrialEvent(
        number=trial.number,
        state=trial.state.name,
        value=trial.value if trial.state == TrialState.COMPLETE else None,
        best_value=None if best is None else best.value,
        best_number=None if best is None else best.number,
        finished=_storage.counts(trials).finished,
        total=total,
        seconds=seconds,
        error=trial.user_attrs.get("error"),
    )


def load_study(job: Job, worker: int = 0) -> optuna.Study:
    storage = _storage.open_storage(job.storage)
    existing = optuna.load_study(study_name=job.study_name, storage=storage)
    n = len(existing.get_trials(deepcopy=False))
    sampler = optuna.samplers.TPESampler(
        seed=_sampler_seed(job, worker, n),
        n_startup_trials=max(1, min(10, job.trials // 3)),
    )
    return optuna.load_study(
        study_name=job.study_name,
        storage=storage,
        sampler=sampler,
        pruner=make_pruner(job.pruner, job.stride),
    )


def run_worker(
    job: Job,
    worker: int = 0,
    on_trial: Callable[[TrialEvent], None] | None = None,
    preloaded: dict[bool, Any] | None = None,
    start: Any = None,
) -> int:
    """Run trials of ``job``'s study until it holds ``job.trials`` counted trials or the
    timeout passes; return the number of trials this worker started. ``start``: a
    :class:`multiprocessing.Barrier` the workers of one machine pass together once their data
    is loaded, so that the first to import torch does not take every short trial alone."""
    study = load_study(job, worker)
    objective = Objective(job, preloaded)
    if start is not None:
        objective.data(objective.base)
        with contextlib.suppress(threading.BrokenBarrierError):
            start.wait(timeout=START_TIMEOUT)
    deadline = None if job.timeout is None else time.monotonic() + job.timeout
    ran = 0

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        if on_trial is not None and "surplus" not in trial.user_attrs:
            on_trial(event(trial, study.get_trials(deepcopy=False), job.trials))

    while deadline is None or time.monotonic() < deadline:
        _storage.fail_stale(study)
        c = _storage.counts(study.get_trials(deepcopy=False))
        if c.finished >= job.trials:
            break
        if c.finished + c.running >= job.trials:
            _storage.wait(POLL_SECONDS)  # a running trial may still fail or be abandoned
            continue
        study.optimize(objective, n_trials=1, catch=(TrialFailed, _Surplus), callbacks=[callback])
        ran += 1
    return ran


def worker_main(job: Job, worker: int, start: Any = None) -> None:
    """Entry point of a spawned worker process: its threads, allocator and log level."""
    import torch

    backend.tune_allocator()
    torch.set_num_threads(job.threads)
    warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
    # Failed and pruned trials are reported through the trials themselves (error attribute,
    # trials.csv); Optuna's own per-trial log lines would repeat them with tracebacks.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        run_worker(job, worker, start=start)
    finally:
        _storage.close_storage(job.storage)
