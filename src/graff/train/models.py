"""The model registry: ``model.name`` → a module built from a :class:`ModelConfig`.

Every model takes ``(in_channels, hidden_channels, out_channels, *, keywords)`` and
``forward(x, edge_index, edge_weight=None)``. A registry entry names the typed
:class:`~graff.train.config.ModelConfig` fields the model takes (``hidden`` always; e.g.
``num_layers``, ``dropout``, ``T``); every other keyword of its constructor is a
model-specific parameter, set under ``model.params`` and checked against the constructor's
signature and annotations::

    model: {name: gcnii, hidden: 64, num_layers: 16, dropout: 0.5,
            params: {alpha: 0.5, theta: 1.0}}

``graff train --model gcnii --set model.params.alpha=0.2`` overrides one of them.
"""

from __future__ import annotations

import difflib
import inspect
import math
import types
import typing
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from graff.nn import (
    CGNN,
    GAT,
    GCN,
    GCNII,
    GPRGNN,
    GRAFF,
    H2GCN,
    PDEGCND,
    APPNPNet,
    GRAFFNoResidual,
    GRANDLinear,
    GraphSAGE,
    MLPClassifier,
)
from graff.train.config import ConfigError, ModelConfig

__all__ = ["MODELS", "ModelSpec", "build_model", "check_model_config"]

_GRAFF_FIELDS = (
    "w_type",
    "omega_type",
    "T",
    "step_size",
    "learn_beta",
    "beta",
    "input_dropout",
    "dropout",
    "encoder_layers",
    "output_relu",
    "nonlinear",
    "time_dependent",
    "step_norm",
    "self_loops",
)
_DROPOUTS = ("input_dropout", "dropout")
_ODE = ("T", "step_size", *_DROPOUTS)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        cls: the model class, called as ``cls(in_channels, cfg.hidden, num_classes, **kw)``.
        fields: typed ModelConfig fields passed as keywords of the same name.
        summary: one line for ``--help`` and docs.
    """

    cls: type[nn.Module]
    fields: tuple[str, ...]
    summary: str

    def parameters(self) -> dict[str, inspect.Parameter]:
        """The model-specific keywords (those that are not typed ModelConfig fields)."""
        sig = inspect.signature(self.cls)
        return {
            name: p
            for name, p in sig.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name not in self.fields
        }

    def hints(self) -> dict[str, Any]:
        return typing.get_type_hints(self.cls.__init__)


MODELS: dict[str, ModelSpec] = {
    "graff": ModelSpec(GRAFF, _GRAFF_FIELDS, "GRAFF, the gradient-flow GNN (the paper's model)"),
    "graff_nores": ModelSpec(
        GRAFFNoResidual, _GRAFF_FIELDS, "ablation: GRAFF without residual, F ← τ(−FΩ+ĀFW+βF₀)"
    ),
    "mlp": ModelSpec(MLPClassifier, ("num_layers", *_DROPOUTS), "graph-agnostic MLP"),
    "gcn": ModelSpec(GCN, ("num_layers", *_DROPOUTS, "self_loops"), "GCN (Kipf & Welling)"),
    "gat": ModelSpec(GAT, ("num_layers", *_DROPOUTS), "GAT (Veličković et al.)"),
    "sage": ModelSpec(GraphSAGE, ("num_layers", *_DROPOUTS), "GraphSAGE-mean (Hamilton et al.)"),
    "gcnii": ModelSpec(GCNII, ("num_layers", *_DROPOUTS, "self_loops"), "GCNII (Chen et al.)"),
    "appnp": ModelSpec(
        APPNPNet, ("num_layers", *_DROPOUTS, "self_loops"), "APPNP (Gasteiger et al.)"
    ),
    "gprgnn": ModelSpec(GPRGNN, ("num_layers", *_DROPOUTS, "self_loops"), "GPR-GNN (Chien et al.)"),
    "h2gcn": ModelSpec(H2GCN, _DROPOUTS, "H2GCN (Zhu et al.)"),
    "grand": ModelSpec(GRANDLinear, _ODE, "linear GRAND, Ḟ = (𝒜(F₀) − I)F (torchdiffeq)"),
    "cgnn": ModelSpec(CGNN, _ODE, "CGNN, Ḟ = −ΔF + FΩ̃ + F₀ (torchdiffeq)"),
    "pde_gcn": ModelSpec(PDEGCND, _ODE, "linear PDE-GCN_D, Ḟ = −ΔFKᵀK (torchdiffeq)"),
}


def _unknown_model(name: str) -> ConfigError:
    close = difflib.get_close_matches(name, list(MODELS), n=2)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    return ConfigError(
        f"model.name = {name!r} is not a registered model.{hint} Choose one of: {', '.join(MODELS)}"
    )


def _describe(hint: Any) -> str:
    text = str(hint).replace("typing.", "")
    return getattr(hint, "__name__", text) if isinstance(hint, type) else text


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """``value`` as the annotated type ``hint`` (int, float, bool, str, lists, Optional)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(key, value, inner[0])
        return value
    bad = ConfigError(f"model.params.{key} = {value!r} is invalid: expected {_describe(hint)}")
    if hint is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if hint is float:
        if isinstance(value, str):
            try:  # YAML 1.1 reads "1e-3" as a string
                value = float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        if not math.isfinite(value):
            raise bad
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad
        return value
    if typing.get_origin(hint) is list:
        if not isinstance(value, list | tuple):
            raise bad
        (item,) = args or (Any,)
        return [_coerce(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
    return value


def _model_kwargs(cfg: ModelConfig) -> tuple[ModelSpec, dict[str, Any]]:
    """The spec and the constructor keywords of ``cfg`` (typed fields + coerced params)."""
    spec = MODELS.get(cfg.name)
    if spec is None:
        raise _unknown_model(cfg.name)
    if not isinstance(cfg.params, dict):
        raise ConfigError(f"model.params must be a mapping, got {cfg.params!r}")
    allowed = spec.parameters()
    hints = spec.hints()
    kwargs: dict[str, Any] = {f: getattr(cfg, f) for f in spec.fields}
    for key, value in cfg.params.items():
        if key in allowed:
            kwargs[key] = _coerce(key, value, hints.get(key, Any))
            continue
        if key in spec.fields or key == "hidden":
            raise ConfigError(
                f"model.params.{key}: {key} is a typed model field; set model.{key} instead"
            )
        valid = ", ".join(allowed) if allowed else "none"
        close = difflib.get_close_matches(str(key), list(allowed), n=1)
        hint = f" Did you mean {close[0]}?" if close else ""
        raise ConfigError(
            f"model.params.{key} is not a parameter of model {cfg.name!r}.{hint} "
            f"Its parameters: {valid} (besides the fields model.hidden, "
            f"{', '.join('model.' + f for f in spec.fields)})"
        )
    return spec, kwargs


def check_model_config(cfg: ModelConfig) -> None:
    """Raise :class:`ConfigError` unless ``cfg`` builds: known name, known params of the right
    types, and values the model's constructor accepts (checked by building a tiny instance)."""
    spec, kwargs = _model_kwargs(cfg)
    try:
        # On the meta device (no memory, no arithmetic) and without touching the global RNG.
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            spec.cls(2, cfg.hidden, 2, **kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model {cfg.name!r}: {err}") from None


def build_model(cfg: ModelConfig, in_channels: int, num_classes: int) -> nn.Module:
    """Instantiate the model named ``cfg.name`` for the given input width and class count."""
    spec, kwargs = _model_kwargs(cfg)
    return spec.cls(in_channels, cfg.hidden, num_classes, **kwargs)
