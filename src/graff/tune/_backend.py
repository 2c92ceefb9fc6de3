"""Everything :mod:`graff.tune` takes from the rest of graff, imported in this one place.

The search only needs a config type and ``graff train``'s resolution of one
(:func:`resolve_config`), a way to load and preprocess a dataset, the training
of the objective splits (for trials: side by side where the model allows) and the
multi-split runner (for the final run). Should one of these move (e.g. ``load_prepared`` to
:mod:`graff.data`), only this file changes; tests replace ``fit_splits`` here to feed the
search with made-up scores.
"""

from __future__ import annotations

from graff._io import FolderLock, atomic_write
from graff.data import notable_notes
from graff.errors import RunDirBusyError
from graff.nn.checks import check_flags, is_int, is_real
from graff.perf import tune_allocator
from graff.train import (
    MODELS,
    ConfigError,
    DataConfig,
    DivergenceError,
    ModelConfig,
    OptimConfig,
    PreparedData,
    RunConfig,
    RunDirError,
    SplitResult,
    Summary,
    apply_overrides,
    config_for_file,
    config_from_dict,
    config_identity,
    config_to_dict,
    fit_split,
    fit_splits,
    load_config,
    load_prepared,
    read_summary,
    resolve_config,
    run,
)
from graff.train.config import override_list
from graff.train.models import unbatched_reason
from graff.train.rundir import read_config_yaml
from graff.train.runner import with_absolute_data

__all__ = [
    "MODELS",
    "ConfigError",
    "DataConfig",
    "DivergenceError",
    "FolderLock",
    "ModelConfig",
    "OptimConfig",
    "PreparedData",
    "RunConfig",
    "RunDirBusyError",
    "RunDirError",
    "SplitResult",
    "Summary",
    "apply_overrides",
    "atomic_write",
    "check_flags",
    "config_for_file",
    "config_from_dict",
    "config_identity",
    "config_to_dict",
    "fit_split",
    "fit_splits",
    "is_int",
    "is_real",
    "load_config",
    "load_prepared",
    "notable_notes",
    "override_list",
    "read_config_yaml",
    "read_summary",
    "resolve_config",
    "run",
    "tune_allocator",
    "unbatched_reason",
    "with_absolute_data",
]
