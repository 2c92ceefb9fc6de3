"""Configs, the model registry, single-split training, multi-split runs and run directories.

- :mod:`~graff.train.config`: the config schema (dataclasses), YAML and ``--set`` overrides.
- :mod:`~graff.train.models`: the model registry (:data:`MODELS`, :func:`register_model`).
- :mod:`~graff.train.fit`: one split of full-batch training (:func:`train_split`).
- :mod:`~graff.train.runner`: :func:`run` (every split, optionally into a run directory) and
  :func:`fit_split` / :func:`fit_splits` (splits as :func:`run` trains them, no files).
- :mod:`~graff.train.batched`: K splits trained side by side
  (:func:`~graff.train.batched.train_stack`).
- :mod:`~graff.train.rundir`: atomic, resumable, verified run directories.
- :mod:`~graff.train.load`: :func:`load_run`, a finished run's config, summary, models,
  histories and data.
- :mod:`~graff.train.resolve`: dataset/model/config/overrides → a validated config.
"""

from graff.data import PreparedData, prepare_data
from graff.errors import ConfigError, DivergenceError, RunDirError
from graff.train.config import (
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    apply_overrides,
    config_from_dict,
    config_identity,
    config_to_dict,
    load_config,
)
from graff.train.fit import SplitResult, build_model, evaluate, train_split
from graff.train.load import LoadedRun, load_run
from graff.train.models import MODELS, config_for_file, register_model
from graff.train.resolve import resolve_config
from graff.train.rundir import History, read_summary
from graff.train.runner import (
    Summary,
    fit_split,
    fit_splits,
    load_prepared,
    model_features,
    run,
)

__all__ = [
    "MODELS",
    "ConfigError",
    "DataConfig",
    "DivergenceError",
    "History",
    "LoadedRun",
    "ModelConfig",
    "OptimConfig",
    "PreparedData",
    "RunConfig",
    "RunDirError",
    "SplitResult",
    "Summary",
    "apply_overrides",
    "build_model",
    "config_for_file",
    "config_from_dict",
    "config_identity",
    "config_to_dict",
    "evaluate",
    "fit_split",
    "fit_splits",
    "load_config",
    "load_prepared",
    "load_run",
    "model_features",
    "prepare_data",
    "read_summary",
    "register_model",
    "resolve_config",
    "run",
    "train_split",
]
