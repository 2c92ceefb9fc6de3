"""What a search returns and records: :class:`TuneResult`, ``best.yaml``'s provenance, and
the trial counts and times both are made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import optuna
from optuna.trial import FrozenTrial

from graff.tune import _storage

if TYPE_CHECKING:
    from graff.tune._worker import Job


@dataclass
class TuneResult:
    """What a search found and what it cost. Metrics in percent.

    Attributes:
        best_value: mean best-validation metric of the best trial over ``splits``.
        best_config: the chosen config (all splits, as ``best.yaml``).
        n_trials: counted trials of the study (complete + pruned + failed); the others are
            split by state. ``n_stopped``: trials stopped before their end (a search or
            worker killed; their configuration runs again), which do not count.
            ``new_trials``: those this call's own workers ran to an end (not those of other
            calls or machines sharing the study meanwhile).
        search_seconds: wall time of this call's search; ``final_seconds``: its final run.
        study_seconds: wall time of the whole study (first trial's start to last trial's end,
            over every call, worker and machine); ``trial_seconds``: the sum of its trials'
            durations (worker time); ``cpu_seconds``: the CPU time of the ``cpu_trials``
            trials that recorded theirs (those run to their end since graff kept it).
        final: ``final/summary.json`` as a dict (None with ``final=False``).
        files: ``best``, ``trials``, ``final`` and the plots, by name.
        notes: what this call repaired or noticed before it began (a damaged journal tail,
            a space value the features rule out, --batch without a stacked build), for humans.
    """

    study_name: str
    storage: str
    out_dir: Path
    model: str
    dataset: str
    metric: str
    splits: list[int]
    best_number: int
    best_value: float
    best_test_mean: float | None
    best_params: dict[str, Any]
    best_config: Any
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    n_stopped: int
    new_trials: int
    search_seconds: float
    study_seconds: float
    trial_seconds: float
    final_seconds: float
    final: dict[str, Any] | None
    files: dict[str, Path] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    cpu_trials: int = 0
    #: the study's trial 0 is the base config itself (``base_trial``) / the best trial is it.
    has_base_trial: bool = False
    best_is_base: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def trials_per_hour(self) -> float:
        """Trials finished per hour of this call's search (all workers together)."""
        return 3600.0 * self.new_trials / self.search_seconds if self.search_seconds else 0.0

    @property
    def _stopped_note(self) -> str:
        n = self.n_stopped
        if not n:
            return ""
        return f"; {n} more stopped before their end, not counted"

    def report(self) -> list[str]:
        """A few lines for humans (what ``graff tune`` prints at the end)."""
        metric = "ROC-AUC" if self.metric == "roc_auc" else "accuracy"
        splits = ",".join(map(str, self.splits))
        lines = [
            f"{self.model} on {self.dataset}: study {self.study_name!r} ({self.storage}): "
            f"{self.n_trials} trials ({self.n_complete} complete, {self.n_pruned} pruned, "
            f"{self.n_failed} failed{self._stopped_note}), {self.new_trials} in this call, "
            f"{self.search_seconds:.0f} s ({self.trials_per_hour:.0f} trials/h)",
            f"best trial #{self.best_number}: validation {metric} {self.best_value:.2f} "
            f"(mean over splits {splits})"
            + (
                " — the base config itself; the search found nothing better"
                if self.best_is_base
                else ""
            ),
        ]
        if self.final is not None:
            lines.append(
                f"final run of the best config: test {metric} {self.final['mean']:.2f} ± "
                f"{self.final['std']:.2f} over {self.final['n_splits']} splits (± sample std)"
            )
        lines += [f"{name}: {path}" for name, path in self.files.items()]
        return lines


def storage_label(storage: str, out: Path) -> str:
    """The storage as records name it: a journal file inside ``out`` relative to it (the
    search directory can move), another one by its absolute path, a database URL without
    its password."""
    if not _storage.is_embedded(storage):
        return _storage.describe_storage(storage)
    path = Path(storage).resolve()
    try:
        return str(path.relative_to(out.resolve()))
    except ValueError:
        return str(path)


def trial_seconds(t: FrozenTrial) -> float:
    """A trial's wall time; for one stopped before its end, until its last report (it is
    marked failed only when a later call finds its worker gone, maybe hours later)."""
    if t.datetime_start is None or t.datetime_complete is None:
        return 0.0
    end = t.datetime_complete.timestamp()
    if "killed" in t.user_attrs and "reported_at" in t.user_attrs:
        end = min(end, float(t.user_attrs["reported_at"]))
    return max(0.0, end - t.datetime_start.timestamp())


def cpu_time(trials: list[FrozenTrial]) -> tuple[float, int]:
    """The CPU seconds of the trials that recorded them (graff tune does since 2026-12-06),
    and how many did: unlike wall time, it leaves out a paused search and other work on the
    same cores."""
    cpu = [float(t.user_attrs["cpu_seconds"]) for t in trials if "cpu_seconds" in t.user_attrs]
    return sum(cpu), len(cpu)


def span(trials: list[FrozenTrial]) -> float:
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0


def provenance(
    job: Job, res: TuneResult, pruner: str, base_source: str, when: str, storage: str
) -> str:
    """``best.yaml``'s provenance; ``storage`` as :func:`storage_label` names it (a journal
    in the search directory relative to it, so the directory can move)."""
    metric = "ROC-AUC" if res.metric == "roc_auc" else "accuracy"
    splits = ", ".join(map(str, res.splits))
    timeout = "no timeout" if job.timeout is None else f"timeout {job.timeout:g} s per call"
    itself = " (the base config itself)" if res.best_is_base else ""
    first = ", the first the base config itself, the others" if res.has_base_trial else ""
    stopped = (
        f", {res.n_stopped} trial(s) stopped before their end (a search or worker killed; not "
        "counted) included"
        if res.n_stopped
        else ""
    )
    # a call that found the budget spent (a resumed, finished search) searched for nothing
    this_call = f"this call searched for {res.search_seconds:.0f} s; " if res.new_trials else ""
    cpu = (
        f"; {res.cpu_seconds:.0f} s of CPU time in the {res.cpu_trials} trials that recorded it"
        if res.cpu_trials
        else ""
    )
    where = f"journal file {storage}" if _storage.is_embedded(job.storage) else storage
    return (
        f"Chosen by graff tune (Optuna {optuna.__version__}) on validation only: study "
        f"{res.study_name!r} in {where}; {res.n_trials} trials ({res.n_complete} complete, "
        f"{res.n_pruned} pruned, {res.n_failed} failed){first} drawn by a TPE sampler "
        f"(seed {job.sampler_seed}) "
        f"with {pruner} pruning from the space {job.space_source}, on top of {base_source}. "
        f"Objective: mean best-validation {metric} over splits {splits}; the test metric was "
        f"recorded, never used to choose. Best trial #{res.best_number}: validation "
        f"{res.best_value:.2f}{itself}. Budget: {job.trials} trials, {timeout}; {this_call}"
        f"the study took {res.study_seconds:.0f} s of wall time and "
        f"{res.trial_seconds:.0f} s of worker time{stopped}{cpu}. Written {when}."
    )
