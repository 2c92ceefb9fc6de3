"""Run configuration: typed dataclasses, YAML files and ``--set key=value`` overrides.

A config has four sections. Every key is checked: an unknown key, a value of the wrong type
or out of range is a :class:`ConfigError` that names the key and says what is allowed.

.. code-block:: yaml

    provenance: where these hyperparameters come from
    data:  {dataset: texas, normalize_features: false}
    model: {name: graff, hidden: 64, w_type: dd, omega_type: diag, T: 3.0, step_size: 1.0}
    optim: {lr: 0.005, weight_decay: 0.0005, epochs: 200}
    seed: 0
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from graff.nn.parametrisations import OMEGA_TYPES, W_TYPES

__all__ = [
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]

#: Names of the registered models (graff.train.models.MODELS holds their builders).
MODEL_NAMES = (
    "graff",
    "graff_nores",
    "mlp",
    "gcn",
    "gat",
    "sage",
    "gcnii",
    "appnp",
    "gprgnn",
    "h2gcn",
    "grand",
    "cgnn",
    "pde_gcn",
)


class ConfigError(ValueError):
    """A configuration that cannot run, with what is wrong and what to do."""


@dataclass
class DataConfig:
    """Which graph to train on and how to preprocess it."""

    #: registry name (``graff datasets`` lists them), e.g. ``texas``, ``csbm``, ``syn-cora``.
    dataset: str = "csbm"
    #: keyword parameters of the dataset (e.g. ``{homophily: 0.3}`` for csbm / syn-cora).
    params: dict[str, Any] = field(default_factory=dict)
    #: divide each feature row by its sum (the paper's stated protocol; the public code's
    #: loaders skip it, so the shipped configs say which they use).
    normalize_features: bool = False
    #: run only these split indices (default: all splits of the dataset).
    splits: list[int] | None = None


@dataclass
class ModelConfig:
    """Model hyperparameters (see :class:`graff.nn.GRAFF` for their meaning).

    The typed fields are shared: each model takes those its registry entry names
    (:data:`graff.train.models.MODELS`) and ignores the others. Model-specific keywords go
    in ``params`` and are checked against the model's constructor.
    """

    name: str = "graff"
    hidden: int = 64
    w_type: str = "dd"
    omega_type: str = "diag"
    T: float = 3.0
    step_size: float = 1.0
    learn_beta: bool = True
    beta: float = 0.0
    input_dropout: float = 0.0
    dropout: float = 0.0
    encoder_layers: int = 0
    output_relu: bool = False
    nonlinear: bool = False
    time_dependent: bool = False
    step_norm: bool = False
    self_loops: bool = True
    #: layers of the baselines (MLP/GCN/GAT/SAGE/GCNII layers, the MLP of APPNP/GPRGNN).
    num_layers: int = 2
    #: model-specific keywords of the model's constructor, e.g. ``{alpha: 0.1, K: 10}``.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    """Full-batch Adam training; the test metric is read at the best-validation epoch."""

    lr: float = 0.005
    weight_decay: float = 5e-4
    epochs: int = 200
    #: stop after this many epochs without a better validation score (None: never).
    patience: int | None = None


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: base seed; split k is trained with seed + k.
    seed: int = 0
    #: free text: where the hyperparameters come from.
    provenance: str = ""

    def validate(self) -> RunConfig:
        """Check ranges and names; raise :class:`ConfigError` on the first problem."""
        from graff.train.models import check_model_config  # the registry imports this module

        m, o = self.model, self.optim
        _check(m.name in MODEL_NAMES, "model.name", m.name, f"one of {', '.join(MODEL_NAMES)}")
        _check(m.w_type in W_TYPES, "model.w_type", m.w_type, f"one of {', '.join(W_TYPES)}")
        _check(
            m.omega_type in OMEGA_TYPES,
            "model.omega_type",
            m.omega_type,
            f"one of {', '.join(OMEGA_TYPES)}",
        )
        _check(m.hidden > 0, "model.hidden", m.hidden, "a positive integer")
        _check(_pos(m.T), "model.T", m.T, "a positive number (integration time)")
        _check(_pos(m.step_size), "model.step_size", m.step_size, "a positive number (τ)")
        for name in ("input_dropout", "dropout"):
            p = getattr(m, name)
            _check(0.0 <= p < 1.0, f"model.{name}", p, "a probability in [0, 1)")
        _check(m.encoder_layers >= 0, "model.encoder_layers", m.encoder_layers, "≥ 0")
        _check(m.num_layers >= 1, "model.num_layers", m.num_layers, "≥ 1")
        _check(math.isfinite(m.beta), "model.beta", m.beta, "a finite number")
        _check(_pos(o.lr), "optim.lr", o.lr, "a positive number")
        _check(o.weight_decay >= 0, "optim.weight_decay", o.weight_decay, "≥ 0")
        _check(o.epochs >= 1, "optim.epochs", o.epochs, "a positive integer")
        _check(o.patience is None or o.patience >= 1, "optim.patience", o.patience, "≥ 1 or null")
        check_model_config(m)
        if self.data.splits is not None:
            _check(
                all(s >= 0 for s in self.data.splits),
                "data.splits",
                self.data.splits,
                "a list of split indices ≥ 0",
            )
        return self


def _pos(x: float) -> bool:
    return math.isfinite(x) and x > 0


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} is invalid: expected {expected}")


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig}
_TOP = ("seed", "provenance")


def _all_keys() -> list[str]:
    keys = [f"{s}.{f.name}" for s, cls in _SECTIONS.items() for f in dataclasses.fields(cls)]
    return keys + list(_TOP)


def _unknown(key: str) -> ConfigError:
    close = difflib.get_close_matches(key, _all_keys(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown config key {key!r}.{hint} Valid keys: {', '.join(_all_keys())}")


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Convert ``value`` to the annotated type ``hint`` or raise ConfigError."""
    text = str(hint)
    optional = "None" in text
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{key} may not be null")
    if "dict" in text:
        if not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping, got {value!r}")
        return dict(value)
    if "list" in text:
        if not isinstance(value, list | tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ConfigError(f"{key} must be a list of integers, got {value!r}")
        return [int(v) for v in value]
    if text.startswith("bool") or hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if "int" in text:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if "float" in text:
        if isinstance(value, str):
            # YAML 1.1 reads "1e-3" (no dot) as a string; accept it as the number it is.
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _set(cfg: RunConfig, key: str, value: Any) -> None:
    if key in _TOP:
        setattr(cfg, key, _coerce(key, value, get_type_hints(RunConfig)[key]))
        return
    section, _, name = key.partition(".")
    if section not in _SECTIONS or not name:
        raise _unknown(key)
    obj = getattr(cfg, section)
    hints = get_type_hints(type(obj))
    if name not in hints:
        raise _unknown(key)
    setattr(obj, name, _coerce(key, value, hints[name]))


def config_from_dict(raw: dict[str, Any], base: RunConfig | None = None) -> RunConfig:
    """Build a config from a nested mapping (as read from YAML), checking every key."""
    cfg = base if base is not None else RunConfig()
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping of sections, got {type(raw).__name__}")
    for top, value in raw.items():
        if top in _SECTIONS:
            if value is None:
                continue
            if not isinstance(value, dict):
                raise ConfigError(f"config section {top!r} must be a mapping, got {value!r}")
            for name, v in value.items():
                _set(cfg, f"{top}.{name}", v)
        elif top in _TOP:
            _set(cfg, top, value)
        else:
            raise _unknown(str(top))
    return cfg


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def load_config(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """Read a YAML config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    return config_from_dict(raw, base)


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``key=value`` strings. Values are parsed as YAML (``0.5``, ``true``, ``[0, 1]``).

    A key may omit its section when the name is unambiguous (``lr=0.01`` for ``optim.lr``).
    """
    for item in overrides:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        if "." not in key and key not in _TOP:
            owners = [s for s, cls in _SECTIONS.items() if key in get_type_hints(cls)]
            if len(owners) == 1:
                key = f"{owners[0]}.{key}"
            elif len(owners) > 1:
                raise ConfigError(
                    f"override key {key!r} is ambiguous: write one of "
                    + ", ".join(f"{s}.{key}" for s in owners)
                )
        if key.startswith(("data.params.", "model.params.")):
            section, _, name = key.split(".", 2)
            getattr(cfg, section).params[name] = value
            continue
        _set(cfg, key, value)
    return cfg
