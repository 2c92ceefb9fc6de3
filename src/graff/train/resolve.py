"""From what a user names (dataset, model, config file, ``--set`` overrides) to a RunConfig."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graff.configs import default_config, shipped_config
from graff.data import canonical_dataset
from graff.device import resolve_device
from graff.errors import ConfigError
from graff.train.config import RunConfig, apply_overrides, load_config, override_list
from graff.train.models import MODELS, spec_for

__all__ = ["resolve_config"]


def resolve_config(
    dataset: str | None = None,
    model: str | None = None,
    config: str | Path | None = None,
    overrides: Sequence[str] = (),
    *,
    seed: int | None = None,
    device: str | None = None,
    strict: bool = True,
) -> tuple[RunConfig, str]:
    """The validated config of a run and where its settings came from.

    The base is ``config`` if given, else the shipped config of (``model`` or graff,
    ``dataset``) if there is one, else the model's defaults for an unknown graph
    (``graff/defaults/<model>.yaml``, where there is one; the schema's defaults otherwise);
    ``dataset`` and ``model`` then name the data and the model, ``overrides``
    (``key=value``) set single keys, and ``seed`` / ``device`` the top-level keys. An
    override that renames the dataset or the model named here is refused: the settings would
    belong to another one. With ``strict``, an override that changes a model key the model
    does not read (``model.num_layers`` of GRAFF, whose depth is T / step_size) is refused,
    not ignored; ``graff reproduce`` applies its overrides to every model, unstrictly.
    """
    if isinstance(dataset, str):  # Texas, actor: the shipped config of texas, film
        dataset = canonical_dataset(dataset)
    if model is not None:  # GRAFF, GAT-sep: graff, gat_sep
        model = MODELS.canonical(model)
    cfg = RunConfig()
    source = "defaults"
    if config is not None:
        cfg = load_config(config)
        source = str(config)
    elif dataset is not None:
        path = shipped_config(model or "graff", dataset)
        if path is not None:
            cfg = load_config(path)
            source = f"shipped config {model or 'graff'}/{dataset}.yaml"
            model = model or cfg.model.name  # its settings belong to that model
        elif default_config(model or "graff") is not None:
            path = default_config(model or "graff")
            cfg = load_config(path)  # type: ignore[arg-type]
            source = f"defaults for a graph without a shipped config ({path})"
    if config is not None:  # say whose settings run on another graph or model
        replaced = [
            f"its {key} {old!r} replaced by --{flag} {new}"
            for key, flag, old, new in (
                ("data.dataset", "dataset", cfg.data.dataset, dataset),
                ("model.name", "model", cfg.model.name, model),
            )
            if new is not None and isinstance(old, str) and _differs(old, new)
        ]
        source += f" ({'; '.join(replaced)})" if replaced else ""
    if dataset is not None:
        cfg.data.dataset = dataset
    if model is not None:
        cfg.model.name = model
    before = dataclasses.replace(cfg.model)
    apply_overrides(cfg, override_list(overrides))
    cfg.model.name = MODELS.canonical(cfg.model.name)
    if strict:
        _refuse_unread_overrides(cfg, before)
    for given, key, now in (
        (dataset, "dataset", cfg.data.dataset),
        (model, "model", cfg.model.name),
    ):
        if given is not None and now != given:
            raise ConfigError(
                f"--{key} {given} and an override setting the {key} to {now!r} disagree: the "
                f"settings would be those of {given}. Use --{key} {now} instead"
            )
    if seed is not None:
        apply_overrides(cfg, [f"seed={seed}"])
    if device is not None:
        cfg.device = device
    cfg.validate()
    resolve_device(cfg.device)  # a device that is not there: an error now, not after loading
    return cfg, source


def _refuse_unread_overrides(cfg: RunConfig, before: Any) -> None:
    """A ConfigError for a model key the overrides changed but the model does not read."""
    spec = spec_for(cfg.model)  # its own ConfigError for a recipe key of another block
    reads = {"name", "hidden", "block", "params", *spec.arguments}
    unread = [
        f.name
        for f in dataclasses.fields(cfg.model)
        if f.name not in reads and getattr(cfg.model, f.name) != getattr(before, f.name)
    ]
    if unread:
        uses = ", ".join(f"model.{k}" for k in ("hidden", *spec.arguments))
        raise ConfigError(
            f"model.{unread[0]} is not read by model {cfg.model.name!r} (it reads {uses}): "
            "the override would change nothing; drop it, or name the model it is for"
        )


def _differs(old: str, new: str) -> bool:
    """Whether the config's dataset or model is another one than the one named (``Texas``
    is texas; any other name is compared as written)."""
    return canonical_dataset(old.strip()) != canonical_dataset(new.strip())
