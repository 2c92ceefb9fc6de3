"""Configs, single-split training and the multi-split runner."""

from graff.train.config import (
    ConfigError,
    DataConfig,
    ModelConfig,
    OptimConfig,
    RunConfig,
    apply_overrides,
    load_config,
)
from graff.train.fit import DivergenceError, SplitResult, build_model, evaluate, train_split
from graff.train.runner import (
    PreparedData,
    RunDirError,
    Summary,
    fit_split,
    prepare_data,
    published_results,
    read_summary,
    run,
)

__all__ = [
    "ConfigError",
    "DataConfig",
    "DivergenceError",
    "ModelConfig",
    "OptimConfig",
    "PreparedData",
    "RunConfig",
    "RunDirError",
    "SplitResult",
    "Summary",
    "apply_overrides",
    "build_model",
    "evaluate",
    "fit_split",
    "load_config",
    "prepare_data",
    "published_results",
    "read_summary",
    "run",
    "train_split",
]
