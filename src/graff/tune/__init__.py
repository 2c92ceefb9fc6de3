"""Hyperparameter search (``graff tune``): the same search for every model, on any graph.

:func:`tune` runs an Optuna study — seeded TPE sampling, pruning from intermediate
validation scores, failed trials recorded and skipped — whose objective is the mean
best-validation metric over a few splits (test scores are recorded, never used), then trains
the chosen config on every split. Search spaces are data: one YAML file per model, shipped
in ``graff/spaces`` (:func:`default_space`) or your own (:func:`load_space`). The study lives
in a journal file of the output directory (resumable after a kill, shared by ``jobs``
processes) or in a database (``postgresql://``) that several machines fill together.

.. code-block:: python

    from graff.tune import tune

    result = tune("texas", "graff", trials=20, out_dir="runs/tune/texas-graff")
    result.best_value, result.final["mean"]   # validation of the choice, its test mean

Several machines: start a PostgreSQL server every machine can reach, then run the *same*
call everywhere with ``storage="postgresql://user:password@host:5432/db"`` (and the same
``study_name``, dataset, model, space, overrides and splits — a study refuses a worker whose
search differs). Each machine runs trials until the study holds ``trials`` counted trials in
total, then writes its own ``out_dir`` from the shared study (the same ``best.yaml`` on
every machine; pass ``final=False`` on all but one to train the final run once). A machine
that dies leaves a RUNNING trial that the others fail after
:data:`graff.tune._storage.GRACE_PERIOD` seconds without heartbeat, and run again.
"""

from graff.tune._journal import JournalError
from graff.tune._outputs import TRIALS_COLUMNS
from graff.tune._result import cpu_time, trial_seconds
from graff.tune._space import (
    SPACE_TYPES,
    SearchSpace,
    SpaceError,
    SpaceParam,
    available_spaces,
    default_space,
    load_space,
    parse_space,
)
from graff.tune._splits import TARGET_VAL_NODES, default_splits, parse_splits
from graff.tune._storage import StorageError
from graff.tune._study import DEFAULT_TRIALS, TuneError, TuneResult, tune
from graff.tune._worker import TrialEvent

__all__ = [
    "DEFAULT_TRIALS",
    "SPACE_TYPES",
    "TARGET_VAL_NODES",
    "TRIALS_COLUMNS",
    "JournalError",
    "SearchSpace",
    "SpaceError",
    "SpaceParam",
    "StorageError",
    "TrialEvent",
    "TuneError",
    "TuneResult",
    "available_spaces",
    "cpu_time",
    "default_space",
    "default_splits",
    "load_space",
    "parse_space",
    "parse_splits",
    "trial_seconds",
    "tune",
]
