"""The model registry: ``model.name`` → a module built from the model section of a config.

Every model takes ``(in_channels, hidden_channels, out_channels, *, keywords)`` and
``forward(x, edge_index, edge_weight=None)``. A registry entry names the typed model-config
fields the model takes (``hidden`` always; e.g. ``num_layers``, ``dropout``, ``T``); every
other keyword of its constructor is a model-specific parameter, set under ``model.params`` and
checked against the constructor's signature and annotations::

    model: {name: gcnii, hidden: 64, num_layers: 16, dropout: 0.5,
            params: {alpha: 0.5, theta: 1.0}}

``graff train --model gcnii --set model.params.alpha=0.2`` overrides one of them.

An entry may have other builds, chosen by ``model.block`` (:data:`BLOCKS`): ``mlp``, ``gcn``,
``sage`` and ``gat`` have ``residual``, their layer kind in the recipe of Platonov et al.
(:mod:`graff.nn.models.residual`), which reads ``model.norm``, ``model.ffn_multiplier`` (and
``model.sep`` for gat); ``gt``, the recipe's graph transformer, is residual under either
block. :func:`spec_for` picks the build of a config and refuses a recipe
field that build does not read, naming the key to set. Adding a
model is one class, one :func:`register_model` call and its configs: the name list, the
validation, ``--help`` and ``graff reproduce`` read :data:`MODELS`.

This module does not import :mod:`graff.train.config` (the config schema validates through
it), so it works on any object with the model section's attributes.
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from graff._coerce import coerce
from graff.errors import ConfigError
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
    ResidualGAT,
    ResidualGATSep,
    ResidualGCN,
    ResidualGT,
    ResidualGTSep,
    ResidualMLP,
    ResidualSAGE,
)
from graff.nn import euler_step_count as nn_euler_step_count
from graff.nn.stacked import GCNStack, GRAFFStack, MLPStack, ModelStack, ResidualStack
from graff.registry import Registry
from graff.scale.precomputed import PrecomputedGRAFF

__all__ = [
    "BLOCKS",
    "MODELS",
    "RECIPE_FIELDS",
    "ModelSettings",
    "ModelSpec",
    "build_model",
    "check_model_config",
    "config_for_file",
    "model_kwargs",
    "register_model",
    "spec_for",
    "spec_of",
]


class ModelSettings(Protocol):
    """What the registry reads of a model config section (:class:`graff.train.ModelConfig`)."""

    name: str
    hidden: int
    params: dict[str, Any]


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


def euler_step_count(cfg: Any) -> int:
    """⌈T/τ⌉: the Euler steps of a step model's config (:func:`graff.nn.euler_steps`)."""
    return nn_euler_step_count(cfg.T, cfg.step_size)


def layer_count(cfg: Any) -> int:
    """The propagation depth of a layered model: its layers or its ``params.K`` hops."""
    return max(int(cfg.num_layers), int(cfg.params.get("K", 0) or 0), 1)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry: how to build the model and what it can do.

    Attributes:
        cls: the model class, called as ``cls(in_channels, cfg.hidden, num_classes, **kw)``.
        fields: the typed ModelConfig fields the model reads (what its config file keeps
            and a search space may search); with ``blocks``, also ``block`` and the fields
            of those builds. The ones passed to ``cls`` as keywords are :attr:`arguments`.
        summary: one line for ``--help`` and docs.
        stack: the :class:`~graff.nn.stacked.ModelStack` that trains K splits of one config
            in one batched pass, or None: the model trains one split at a time.
        unbatched: why there is no ``stack`` (said once, here; shown by ``graff train``).
        steps: for a step model (an explicit integration of ``T`` in steps of ``step_size``),
            its number of steps from the model config; capped by ``model.max_steps``. None
            for other models.
        depth: the N × hidden tensors one forward pass keeps for the backward pass, per
            unit of width (the memory and cost estimates); default: ``steps`` for a step
            model, else :func:`layer_count`.
        blocks: the model's other builds, by ``model.block`` (e.g. ``residual``: the same
            layer kind in the residual recipe), each a spec of its own; ``plain`` is this one.
        keywords: the typed fields passed to ``cls`` when ``fields`` also names fields read
            only by the ``blocks`` (default: ``fields``).
        precomputed: the model's twin that evaluates it from precomputed propagations
            (``optim.mode: precomputed``, node mini-batches; e.g.
            :class:`graff.scale.PrecomputedGRAFF`), built from a trained or fresh model by its
            classmethod ``from_model``; None: full-graph training only.
    """

    cls: type[nn.Module]
    fields: tuple[str, ...]
    summary: str
    stack: type[ModelStack] | None = None
    unbatched: str = ""
    steps: Callable[[Any], int] | None = None
    depth: Callable[[Any], int] | None = None
    blocks: Mapping[str, ModelSpec] = field(default_factory=dict)
    keywords: tuple[str, ...] | None = None
    precomputed: type[nn.Module] | None = None

    @property
    def arguments(self) -> tuple[str, ...]:
        """The typed ModelConfig fields passed to ``cls`` as keywords."""
        return self.fields if self.keywords is None else self.keywords

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

    def memory_depth(self, cfg: Any) -> int:
        """:attr:`depth` of the model config ``cfg``."""
        if self.depth is not None:
            return self.depth(cfg)
        return self.steps(cfg) if self.steps is not None else layer_count(cfg)


#: Every registered model, in registration order (the order of ``--help`` and tables).
MODELS: Registry[ModelSpec] = Registry("model")


def register_model(
    name: str,
    cls: type[nn.Module],
    fields: Sequence[str],
    summary: str,
    *,
    stack: type[ModelStack] | None = None,
    unbatched: str = "",
    steps: Callable[[Any], int] | None = None,
    depth: Callable[[Any], int] | None = None,
    blocks: Mapping[str, ModelSpec] | None = None,
    precomputed: type[nn.Module] | None = None,
) -> None:
    """Register ``cls`` as model ``name``: ``fields`` are the typed model-config fields it takes
    as keywords of the same name; its other keyword-only parameters become ``model.params``.
    ``stack``, ``unbatched``, ``steps``, ``depth`` and ``precomputed`` say what it can do
    (:class:`ModelSpec`);
    a model without a ``stack`` must say why in ``unbatched``. ``blocks`` are its builds for
    other values of ``model.block`` (:func:`residual_block`); the entry's ``fields`` then also
    name ``block`` and the fields those builds read (a search space may search them)."""
    builds = [(name, stack, unbatched)]
    builds += [(f"{name} (block {b})", v.stack, v.unbatched) for b, v in (blocks or {}).items()]
    for what, has_stack, why in builds:
        if has_stack is None and not why:
            raise ValueError(
                f"model {what!r}: give a stack (batched training of K splits) or the reason "
                "there is none (unbatched=...)"
            )
    unknown = sorted(set(blocks or {}) - set(BLOCKS[1:]))
    if unknown:
        raise ValueError(f"model {name!r}: unknown block(s) {unknown}; blocks: {BLOCKS[1:]}")
    own = tuple(fields)
    every = own
    if blocks:
        extra = [f for b in blocks.values() for f in b.fields]
        every = tuple(dict.fromkeys([*own, "block", *extra]))
    MODELS.register(
        name,
        ModelSpec(
            cls,
            every,
            summary,
            stack,
            unbatched,
            steps,
            depth,
            dict(blocks or {}),
            own if blocks else None,
            precomputed,
        ),
    )


#: ``model.block``: how a model's layers are put together (``plain``: the classic stack).
BLOCKS = ("plain", "residual")
#: The typed fields of the residual recipe and their values when unused (ModelConfig's
#: defaults); a build that does not read one refuses any other value.
RECIPE_FIELDS: dict[str, Any] = {"norm": "none", "sep": False, "ffn_multiplier": 1.0}


def residual_depth(cfg: Any) -> int:
    """The N × hidden tensors a residual network keeps per layer (norm, aggregation, the
    feed-forward network's ``ffn_multiplier``-wide activations and masks, the sum), summed
    over ``num_layers`` layers: an estimate for the memory and cost estimates."""
    wide = float(getattr(cfg, "ffn_multiplier", 1.0))
    return math.ceil(int(cfg.num_layers) * (5 + 3 * wide)) + 3


def residual_block(cls: type[nn.Module], fields: Sequence[str], summary: str) -> ModelSpec:
    """The ``model.block: residual`` build of a model: ``cls`` (a
    :class:`graff.nn.ResidualGNN`) taking the typed ``fields``; K splits side by side in a
    :class:`~graff.nn.stacked.ResidualStack`."""
    return ModelSpec(cls, tuple(fields), summary, ResidualStack, "", None, residual_depth)


def spec_of(name: str) -> ModelSpec:
    """The registry entry of model ``name`` (a :class:`ConfigError` naming the valid ones)."""
    if name not in MODELS:
        raise ConfigError(f"model.name: {MODELS.unknown_message(name)}")
    return MODELS[name]


_RESIDUAL = ("num_layers", *("input_dropout", "dropout"), "norm", "ffn_multiplier")
_PYG_LAYERS = "its layers are PyG modules; no stacked (K-member) version is written yet"
_ODE_SOLVER = "torchdiffeq integrates one model at a time (adaptive steps differ per member)"

register_model(
    "graff",
    GRAFF,
    _GRAFF_FIELDS,
    "GRAFF, the gradient-flow GNN (the paper's model)",
    stack=GRAFFStack,
    steps=euler_step_count,
    precomputed=PrecomputedGRAFF,
)
register_model(
    "graff_nores",
    GRAFFNoResidual,
    _GRAFF_FIELDS,
    "ablation: GRAFF without residual, F ← τ(−FΩ+ĀFW+βF₀)",
    stack=GRAFFStack,
    steps=euler_step_count,
    precomputed=PrecomputedGRAFF,
)
register_model(
    "mlp",
    MLPClassifier,
    ("num_layers", *_DROPOUTS),
    "graph-agnostic MLP",
    stack=MLPStack,
    blocks={"residual": residual_block(ResidualMLP, _RESIDUAL, "ResNet (Platonov et al.)")},
)
register_model(
    "gcn",
    GCN,
    ("num_layers", *_DROPOUTS, "self_loops"),
    "GCN (Kipf & Welling)",
    stack=GCNStack,
    blocks={
        "residual": residual_block(
            ResidualGCN, (*_RESIDUAL, "self_loops"), "residual GCN (Platonov et al.)"
        )
    },
)
register_model(
    "gat",
    GAT,
    ("num_layers", *_DROPOUTS),
    "GAT (Veličković et al.)",
    unbatched=_PYG_LAYERS,
    blocks={
        "residual": residual_block(
            ResidualGAT, (*_RESIDUAL, "sep"), "residual GAT, GAT-sep (Platonov et al.)"
        )
    },
)
register_model(
    "gat_sep",
    ResidualGATSep,
    _RESIDUAL,
    "GAT-sep (Platonov et al.; residual only)",
    stack=ResidualStack,
    depth=residual_depth,
    blocks={"residual": residual_block(ResidualGATSep, _RESIDUAL, "GAT-sep (Platonov et al.)")},
)
register_model(
    "sage",
    GraphSAGE,
    ("num_layers", *_DROPOUTS),
    "GraphSAGE-mean (Hamilton et al.)",
    unbatched=_PYG_LAYERS,
    blocks={"residual": residual_block(ResidualSAGE, _RESIDUAL, "residual SAGE (Platonov et al.)")},
)


def _two_blocks_depth(cfg: Any) -> int:
    """A graph transformer's :func:`residual_depth`: two blocks per layer (attention, then
    feed-forward)."""
    return 2 * residual_depth(cfg)


_GT = dataclasses.replace(
    residual_block(
        ResidualGT, (*_RESIDUAL, "sep"), "graph transformer (Platonov et al.; residual only)"
    ),
    depth=_two_blocks_depth,
)
_GT_SEP = dataclasses.replace(
    residual_block(ResidualGTSep, _RESIDUAL, "GT-sep (Platonov et al.; residual only)"),
    depth=_two_blocks_depth,
)
for _name, _spec in (("gt", _GT), ("gt_sep", _GT_SEP)):
    register_model(
        _name,
        _spec.cls,
        _spec.fields,
        _spec.summary,
        stack=_spec.stack,
        depth=_spec.depth,
        blocks={"residual": _spec},
    )
register_model(
    "gcnii",
    GCNII,
    ("num_layers", *_DROPOUTS, "self_loops"),
    "GCNII (Chen et al.)",
    unbatched=_PYG_LAYERS,
)
register_model(
    "appnp",
    APPNPNet,
    ("num_layers", *_DROPOUTS, "self_loops"),
    "APPNP (Gasteiger et al.)",
    unbatched=_PYG_LAYERS,
)
register_model(
    "gprgnn",
    GPRGNN,
    ("num_layers", *_DROPOUTS, "self_loops"),
    "GPR-GNN (Chien et al.)",
    unbatched=_PYG_LAYERS,
)
register_model("h2gcn", H2GCN, _DROPOUTS, "H2GCN (Zhu et al.)", unbatched=_PYG_LAYERS)
register_model(
    "grand",
    GRANDLinear,
    _ODE,
    "linear GRAND, Ḟ = (𝒜(F₀) − I)F (torchdiffeq)",
    unbatched=_ODE_SOLVER,
)
register_model("cgnn", CGNN, _ODE, "CGNN, Ḟ = −ΔF + FΩ̃ + F₀ (torchdiffeq)", unbatched=_ODE_SOLVER)
register_model(
    "pde_gcn",
    PDEGCND,
    _ODE,
    "linear PDE-GCN_D, Ḟ = −ΔFKᵀK (torchdiffeq)",
    unbatched=_ODE_SOLVER,
)


def _build_of(spec: ModelSpec, block: str) -> ModelSpec | None:
    return spec if block == "plain" else spec.blocks.get(block)


def unbatched_reason(name: str, block: str = "plain", mode: str = "full") -> str:
    """Why model ``name``'s build for ``block`` trains the splits one at a time in ``mode``
    (``optim.mode``), where several side by side were asked for; "" if it can."""
    if mode == "precomputed":
        return "optim.mode=precomputed trains on node mini-batches"
    build = _build_of(spec_of(name), block)
    return build.unbatched if build is not None else ""


def _shown(value: Any) -> str:
    """``value`` as written in a config or ``--set`` (``false``, ``none``, ``1.0``)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def spec_for(cfg: ModelSettings) -> ModelSpec:
    """The registry entry that builds ``cfg``: model ``cfg.name``'s, or its build for
    ``cfg.block`` (:attr:`ModelSpec.blocks`). A :class:`ConfigError` says which key to set
    where the model has no such build, or where a recipe field (:data:`RECIPE_FIELDS`) is set
    that this build does not read."""
    spec = spec_of(cfg.name)
    block = getattr(cfg, "block", "plain")
    chosen = _build_of(spec, block)
    if chosen is None:
        having = [n for n, s in MODELS.items() if block in s.blocks]
        raise ConfigError(
            f"model.block = {block!r} is not available for model {cfg.name!r} (models with "
            f"it: {', '.join(having) or 'none'}); set model.block=plain or choose one of those"
        )
    for key, unset in RECIPE_FIELDS.items():
        value = getattr(cfg, key, unset)
        if key in chosen.arguments or value == unset:
            continue
        builds = [b for b in BLOCKS if (s := _build_of(spec, b)) and key in s.arguments]
        if builds:
            fix = (
                f"set model.block={builds[0]}, or model.{key}={_shown(unset)} for the {block} block"
            )
        else:
            users = [
                f"{n} (block {b})"
                for n, m in MODELS.items()
                for b in BLOCKS
                if (s := _build_of(m, b)) and key in s.arguments
            ]
            fix = f"set model.{key}={_shown(unset)}; the models that read it: {', '.join(users)}"
        raise ConfigError(
            f"model.{key} = {_shown(value)} is not read by model {cfg.name!r} with model.block = "
            f"{block!r}: {fix}"
        )
    return chosen


def model_kwargs(cfg: ModelSettings) -> tuple[ModelSpec, dict[str, Any]]:
    """The spec and the constructor keywords of ``cfg`` (typed fields + coerced params);
    the spec is :func:`spec_for`'s (the build for ``cfg.block``)."""
    spec = spec_for(cfg)
    if not isinstance(cfg.params, dict):
        raise ConfigError(f"model.params must be a mapping, got {cfg.params!r}")
    allowed = spec.parameters()
    hints = spec.hints()
    kwargs: dict[str, Any] = {f: getattr(cfg, f) for f in spec.arguments}
    for key, value in cfg.params.items():
        if key in allowed:
            kwargs[key] = coerce(f"model.params.{key}", value, hints.get(key, Any))
            continue
        if key in spec.fields or key == "hidden":
            raise ConfigError(
                f"model.params.{key}: {key} is a typed model field; set model.{key} instead"
            )
        valid = ", ".join(allowed) if allowed else "none"
        close = difflib.get_close_matches(str(key), [*allowed, *spec.arguments], n=1)
        hint = ""
        if close and close[0] in allowed:
            hint = f" Did you mean {close[0]}?"
        elif close:  # a typed field, set outside params
            hint = f" Did you mean the field model.{close[0]} (set as --set model.{close[0]}=…)?"
        block = getattr(cfg, "block", "plain")
        entry = spec_of(cfg.name)
        builds = {"plain": entry, **entry.blocks}
        other = [b for b, sp in builds.items() if b != block and key in sp.parameters()]
        switched = (
            f" It is a parameter of model.block={other[0]}: a config written for that block "
            "keeps it; replace the block's parameters with --set 'model.params={...}' "
            "(e.g. model.params={} for the defaults)."
            if other
            else ""
        )
        raise ConfigError(
            f"model.params.{key} is not a parameter of model {cfg.name!r}"
            f"{f' with model.block={block}' if other else ''}.{hint} "
            f"Its parameters: {valid} (besides the fields model.hidden, "
            f"{', '.join('model.' + f for f in spec.arguments)}).{switched}"
        )
    return spec, kwargs


def config_for_file(record: dict[str, Any]) -> dict[str, Any]:
    """A config dict (:func:`graff.train.config_to_dict`) as a YAML file should hold it: the
    model section keeps only what its model reads (name, hidden, the model's own typed fields,
    ``max_steps`` for the step models, params), so a GCN config carries no W type or T;
    ``block`` only where it is not ``plain``, with the fields of that build.
    The fields left out are defaults on loading and unread by the model."""
    out = dict(record)
    model = dict(out.get("model") or {})
    name = model.get("name")
    if isinstance(name, str) and name in MODELS:
        block = model.get("block", "plain")
        build = _build_of(MODELS[name], block) if isinstance(block, str) else None
        fields = MODELS[name].fields if build is None else build.arguments
        keep = {"name", "hidden", *fields, "params"}
        if block != "plain":
            keep.add("block")
        if MODELS[name].steps is not None:
            keep.add("max_steps")
        out["model"] = {k: v for k, v in model.items() if k in keep}
    return out


def check_model_config(cfg: ModelSettings) -> None:
    """Raise :class:`ConfigError` unless ``cfg`` builds: known name, known params of the right
    types, and values the model's constructor accepts (checked by building a tiny instance)."""
    spec, kwargs = model_kwargs(cfg)
    try:
        # On the meta device (no memory, no arithmetic) and without touching the global RNG.
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            spec.cls(2, cfg.hidden, 2, **kwargs)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"model {cfg.name!r}: {err}") from None
    except RuntimeError as err:  # "Storage size calculation overflowed": past any memory
        if "overflow" not in str(err):
            raise
        raise ConfigError(
            f"model {cfg.name!r} at hidden {cfg.hidden} has tensors too large to address "
            f"({err}); use a smaller model.hidden"
        ) from None


def build_model(cfg: ModelSettings, in_channels: int, num_classes: int) -> nn.Module:
    """Instantiate the model named ``cfg.name`` for the given input width and class count."""
    spec, kwargs = model_kwargs(cfg)
    return spec.cls(in_channels, cfg.hidden, num_classes, **kwargs)
