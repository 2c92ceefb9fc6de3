"""The shipped run configs: one YAML per model and dataset, installed with the package.

``graff/configs/<model>/<dataset>.yaml`` holds the hyperparameters a model uses on a dataset and
where they come from (``provenance``). They are package data, read through
:mod:`importlib.resources`, so a wheel install finds the same files as a source checkout; the
working directory is never searched. ``$GRAFF_CONFIGS`` names another folder of the same
layout and replaces the shipped one (an explicit override, e.g. for a private set of configs).
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = ["available_configs", "configs_dir", "default_config", "shipped_config"]


def configs_dir() -> Path:
    """The folder of shipped configs: ``$GRAFF_CONFIGS`` if set, else the package's own."""
    env = os.environ.get("GRAFF_CONFIGS")
    if env:
        return Path(env)
    return Path(str(files(__name__)))


def shipped_config(model: str, dataset: str) -> Path | None:
    """The config file of ``model`` on ``dataset``, or None where none is shipped."""
    path = configs_dir() / model / f"{dataset}.yaml"
    return path if path.is_file() else None


def available_configs(model: str) -> list[str]:
    """The datasets that ``model`` has a shipped config for, sorted."""
    return sorted(p.stem for p in (configs_dir() / model).glob("*.yaml"))


def default_config(model: str) -> Path | None:
    """The settings ``model`` uses on a graph without a shipped config (``graff/defaults``),
    or None where the schema's defaults apply unchanged."""
    path = Path(str(files("graff"))) / "defaults" / f"{model}.yaml"
    return path if path.is_file() else None
