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

import contextlib
import copy
import dataclasses
import difflib
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from graff._coerce import coerce
from graff._yaml import load_yaml, yaml_problem
from graff.errors import ConfigError
from graff.nn import NORMS, OMEGA_TYPES, W_TYPES
from graff.scale.precomputed import precompute_refusal
from graff.train.models import BLOCKS, MODELS, check_model_config, spec_for

__all__ = [
    "MAX_EULER_STEPS",
    "MODES",
    "OPTIMIZERS",
    "PRECISIONS",
    "ConfigError",
    "DataConfig",
    "ModelConfig",
    "OptimConfig",
    "RunConfig",
    "apply_overrides",
    "config_from_dict",
    "config_identity",
    "config_to_dict",
    "is_list_key",
    "keys_for_option",
    "load_config",
]

#: Default limit on the Euler steps ⌈T/τ⌉ of a GRAFF model (``model.max_steps`` raises it):
#: each step keeps an N × hidden tensor for the backward pass, so a typo such as
#: ``T=1000000`` would otherwise run out of memory after a long wait.
MAX_EULER_STEPS = 10_000
#: ``optim.optimizer``: Adam (L2 penalty in the gradient) or AdamW (decoupled weight decay,
#: none on biases and normalisation parameters).
OPTIMIZERS = ("adam", "adamw")
#: ``optim.mode``: full-graph training or precomputed propagation with node mini-batches.
MODES = ("full", "precomputed")
#: ``optim.precision``: float32 throughout, or bfloat16 mixed precision (torch.autocast).
PRECISIONS = ("fp32", "bf16")
#: Seeds are 64-bit (torch.manual_seed's range).
_MAX_SEED = 2**63 - 1


@dataclass
class DataConfig:
    """Which graph to train on and how to preprocess it."""

    #: registry name (``graff datasets`` lists them), e.g. ``texas``, ``csbm``, ``syn-cora``.
    dataset: str = "csbm"
    #: keyword parameters of the dataset (e.g. ``{homophily: 0.3}`` for csbm / syn-cora).
    params: dict[str, Any] = field(default_factory=dict)
    #: divide each feature row by its sum (the paper's stated protocol; the public code's
    #: loaders skip it, so the shipped configs say which they use); non-negative features only.
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

    #: the model's registry name (:data:`graff.train.MODELS`; ``graff train --help`` lists them).
    name: str = "graff"
    #: width of the hidden node features (GRAFF: the channels d of F, W and Ω).
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
    #: refuse more than this many Euler steps ⌈T/τ⌉ (GRAFF; see MAX_EULER_STEPS).
    max_steps: int = MAX_EULER_STEPS
    #: layers of the baselines (MLP/GCN/GAT/SAGE/GCNII layers, the MLP of APPNP/GPRGNN);
    #: with ``block: residual``, the residual layers.
    num_layers: int = 2
    #: how the layers of mlp, gcn, sage and gat are put together: ``plain``, the classic
    #: stack of the GRAFF paper's Table 1; ``residual``, the recipe of Platonov et al. (ICLR
    #: 2023, :mod:`graff.nn.models.residual`): input linear map → dropout → GELU, then
    #: ``num_layers`` pre-norm residual blocks H + M(Norm(H)) whose module M aggregates the
    #: neighbours (GCN: ĀH; SAGE: [H ‖ mean of the neighbours]; GAT: attention; mlp: none,
    #: the recipe's "ResNet") and ends in a two-layer GELU feed-forward network, then the
    #: output norm and linear map. With ``residual``, ``dropout`` acts after the input map
    #: and inside every block, ``input_dropout`` on the raw features X (the recipe: 0).
    #: ``gt`` (their graph transformer) is residual whatever this says.
    block: str = "plain"
    #: normalisation of each residual block and of the output (``block: residual`` only):
    #: ``none``, ``layer`` (LayerNorm, the recipe's default) or ``batch`` (BatchNorm).
    norm: str = "none"
    #: keep a node's own embedding apart from its neighbours' message, concatenated before
    #: the feed-forward network or output map (``gat`` with ``block: residual``, ``gt``;
    #: Platonov et al.'s GAT-sep and GT-sep rows are the models ``gat_sep`` and ``gt_sep``).
    sep: bool = False
    #: width of the residual blocks' feed-forward networks / ``hidden`` (the recipe's
    #: hidden_dim_multiplier; ``block: residual`` only).
    ffn_multiplier: float = 1.0
    #: model-specific keywords of the model's constructor, e.g. ``{alpha: 0.1, K: 10}``.
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class OptimConfig:
    """Full-batch Adam(W) training; the test metric is read at the best-validation epoch."""

    #: learning rate of Adam(W).
    lr: float = 0.005
    #: weight decay (see ``optimizer`` for how it is applied).
    weight_decay: float = 5e-4
    #: ``adam`` (``weight_decay`` is an L2 penalty added to every gradient) or ``adamw``
    #: (decoupled weight decay, as Platonov et al.: not applied to biases nor to the
    #: parameters of normalisation layers; :func:`graff.train.fit.make_optimizer`).
    optimizer: str = "adam"
    #: training epochs (the most; ``patience`` may stop earlier).
    epochs: int = 200
    #: stop after this many epochs without a better validation score (None: never).
    patience: int | None = None
    #: ``full``: every epoch one step on the whole graph. ``precomputed``: linear GRAFF from
    #: S_k = Ā^k [X, 1] computed once (:mod:`graff.scale`), trained on node mini-batches of
    #: ``batch_size`` training nodes that touch only their own rows of S (exact: with no
    #: ``input_dropout`` and ``batch_size`` null it follows the full mode's steps); the
    #: mode that scales past one machine's memory and across processes (torchrun).
    mode: str = "full"
    #: training nodes per optimiser step in ``mode: precomputed`` (null: all of them, one
    #: step per epoch).
    batch_size: int | None = None
    #: ``fp32``, or ``bf16``: mixed precision as Platonov et al.'s ``--amp`` — forward passes
    #: under ``torch.autocast`` (dense matrix products in bfloat16; parameters, optimiser
    #: state, sparse products, softmaxes and the loss in float32). Faster where dense
    #: products dominate, on a CPU with AVX512-BF16 or AMX and on a recent GPU; measured in
    #: benchmarks/results-precision.md (``benchmarks/precision.py``).
    precision: str = "fp32"


@dataclass
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    #: base seed; split k is trained with seed + k.
    seed: int = 0
    #: free text: where the hyperparameters come from.
    provenance: str = ""
    #: where to train: cpu, cuda, cuda:N, mps or auto (not part of the results' identity).
    device: str = "cpu"

    def validate(self) -> RunConfig:
        """Check types, ranges and names; raise :class:`ConfigError` on the first problem.

        The types matter for a config built or changed in Python (``cfg.model.hidden =
        "64"``), which no YAML reader coerced: each field is checked against its annotation
        as ``--set`` and config files are."""
        self._check_types()
        m, o, d = self.model, self.optim, self.data
        _check_choice("model.name", m.name, MODELS)
        _check_choice("model.w_type", m.w_type, W_TYPES)
        _check_choice("model.omega_type", m.omega_type, OMEGA_TYPES)
        _check(m.hidden > 0, "model.hidden", m.hidden, "a positive integer")
        _check(_pos(m.T), "model.T", m.T, "a positive number (integration time)")
        _check(_pos(m.step_size), "model.step_size", m.step_size, "a positive number (τ)")
        _check(m.max_steps >= 1, "model.max_steps", m.max_steps, "a positive integer")
        count = MODELS[m.name].steps
        steps = count(m) if count is not None else 0
        if steps > m.max_steps:
            raise ConfigError(
                f"model.T / model.step_size = {m.T:g} / {m.step_size:g} is {steps} Euler steps, "
                f"more than model.max_steps = {m.max_steps}; every step keeps an N × hidden "
                "tensor for the backward pass. Use a larger step_size or a smaller T, or raise "
                f"the limit with --set model.max_steps={steps} if you mean it"
            )
        for name in ("input_dropout", "dropout"):
            p = getattr(m, name)
            _check(0.0 <= p < 1.0, f"model.{name}", p, "a probability in [0, 1)")
        _check(m.encoder_layers >= 0, "model.encoder_layers", m.encoder_layers, "≥ 0")
        _check(m.num_layers >= 1, "model.num_layers", m.num_layers, "≥ 1")
        _check_choice("model.block", m.block, BLOCKS)
        _check_choice("model.norm", m.norm, NORMS)
        _check(
            _pos(m.ffn_multiplier),
            "model.ffn_multiplier",
            m.ffn_multiplier,
            "a positive number (feed-forward width / hidden)",
        )
        _check(math.isfinite(m.beta), "model.beta", m.beta, "a finite number")
        _check(_pos(o.lr), "optim.lr", o.lr, "a positive finite number")
        _check(
            math.isfinite(o.weight_decay) and o.weight_decay >= 0,
            "optim.weight_decay",
            o.weight_decay,
            "a finite number ≥ 0",
        )
        _check_choice("optim.optimizer", o.optimizer, OPTIMIZERS)
        _check(o.epochs >= 1, "optim.epochs", o.epochs, "a positive integer")
        _check(o.patience is None or o.patience >= 1, "optim.patience", o.patience, "≥ 1 or null")
        _check_choice("optim.mode", o.mode, MODES)
        _check_choice(
            "optim.precision",
            o.precision,
            PRECISIONS,
            " (bf16: mixed precision; fp16 is not offered, it needs loss scaling)",
        )
        _check(
            o.batch_size is None or o.batch_size >= 1,
            "optim.batch_size",
            o.batch_size,
            "a positive number of training nodes or null",
        )
        _check(0 <= self.seed <= _MAX_SEED, "seed", self.seed, f"an integer in [0, {_MAX_SEED}]")
        check_model_config(m)
        _check_mode(m, o)
        if d.splits is not None:
            _check(
                len(d.splits) > 0 and all(s >= 0 for s in d.splits),
                "data.splits",
                d.splits,
                "a non-empty list of split indices ≥ 0",
            )
            dup = sorted({s for s in d.splits if d.splits.count(s) > 1})
            _check(
                not dup,
                "data.splits",
                d.splits,
                f"each split once (repeated: {dup}); a repeated split would be averaged twice",
            )
        _check(
            isinstance(self.device, str) and bool(self.device.strip()),
            "device",
            self.device,
            "cpu, cuda, cuda:N, mps or auto",
        )
        return self

    def _check_types(self) -> None:
        for section, cls in _SECTIONS.items():
            obj = getattr(self, section)
            if not isinstance(obj, cls):
                raise ConfigError(
                    f"config section {section!r} must be a {cls.__name__}, got {type(obj).__name__}"
                    + (
                        "; build a config from a mapping with config_from_dict"
                        if isinstance(obj, dict)
                        else ""
                    )
                )
            hints = get_type_hints(cls)
            for f in dataclasses.fields(cls):
                coerce(f"{section}.{f.name}", getattr(obj, f.name), hints[f.name])
        hints = get_type_hints(RunConfig)
        for key in _TOP:
            coerce(key, getattr(self, key), hints[key])


def _check_mode(m: ModelConfig, o: OptimConfig) -> None:
    """``optim.mode`` / ``optim.batch_size`` against what the model's registry entry can do."""
    if o.mode == "full":
        if o.batch_size is not None:
            raise ConfigError(
                f"optim.batch_size = {o.batch_size} is the node mini-batch of "
                "optim.mode=precomputed; the full mode trains on the whole graph each step: "
                "drop optim.batch_size or set optim.mode=precomputed"
            )
        return
    spec = spec_for(m)
    if spec.precomputed is None:
        able = [name for name, s in MODELS.items() if s.precomputed is not None]
        raise ConfigError(
            f"optim.mode = 'precomputed' is invalid for model {m.name!r}"
            f"{' (block ' + m.block + ')' if m.block != 'plain' else ''}: its propagation "
            f"cannot be computed once before training; models that can: {', '.join(able)}. "
            "Use optim.mode=full"
        )
    why = precompute_refusal(
        nonlinear=m.nonlinear, encoder_layers=m.encoder_layers, step_norm=m.step_norm
    )
    if why is not None:
        raise ConfigError(f"optim.mode = 'precomputed' cannot train this GRAFF, model.{why}")


def _pos(x: float) -> bool:
    return math.isfinite(x) and x > 0


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r} is invalid: expected {expected}")


def _check_choice(key: str, value: str, choices: Iterable[str], note: str = "") -> None:
    """``value`` one of ``choices``; else an error that names them and the likely one (the
    same name in other case, or a close spelling: ``DD`` → ``dd``, ``adam_w`` → ``adamw``)."""
    names = list(choices)
    if value in names:
        return
    lower = {c.lower(): c for c in names}
    close = difflib.get_close_matches(str(value).lower(), list(lower), n=1)
    guess = f" (did you mean {lower[close[0]]!r}?)" if close else ""
    raise ConfigError(
        f"{key} = {value!r} is invalid{guess}: expected one of {', '.join(names)}{note}"
    )


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "optim": OptimConfig}
_TOP = ("seed", "provenance", "device")


def _all_keys() -> list[str]:
    keys = [f"{s}.{f.name}" for s, cls in _SECTIONS.items() for f in dataclasses.fields(cls)]
    return keys + list(_TOP)


def _param_users() -> dict[str, list[str]]:
    """Each model keyword (``model.params.NAME``) and the models with a build that takes it."""
    users: dict[str, list[str]] = {}
    for name, spec in MODELS.items():
        for param in dict.fromkeys(
            p for b in (spec, *spec.blocks.values()) for p in b.parameters()
        ):
            users.setdefault(param, []).append(name)
    return users


def _unknown(key: str) -> ConfigError:
    if key in _SECTIONS:
        keys = [k for k in _all_keys() if k.startswith(f"{key}.")]
        return ConfigError(
            f"{key!r} is a section of the config, not a key: set one of its keys, e.g. "
            f"{keys[0]}=VALUE; its keys: {', '.join(keys)}"
        )
    section, _, name = key.partition(".")
    users = _param_users().get(name, []) if section == "model" else []
    if users:  # --set model.heads=4: a model's own keyword, kept under model.params
        return ConfigError(
            f"unknown config key {key!r}: {name} is a parameter of model(s) {', '.join(users)}; "
            f"set it as model.params.{name}=VALUE"
        )
    close = difflib.get_close_matches(key, _all_keys(), n=3)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"unknown config key {key!r}.{hint} Valid keys: {', '.join(_all_keys())}")


def keys_for_option(option: str) -> tuple[list[str], bool]:
    """The config keys a command-line option likely means, and whether one is an exact match:
    ``--epochs`` → ``optim.epochs`` (exact), ``--split`` → ``data.splits``, ``--layers`` →
    ``model.encoder_layers`` and ``model.num_layers`` (the keys whose last part is the
    option's name, nearly or as a ``_`` suffix); models' own keywords as
    ``model.params.NAME`` (``--heads`` → ``model.params.heads``)."""
    name = option.lstrip("-").split("=", 1)[0].replace("-", "_").lower()
    if not name:
        return [], False
    params = [f"model.params.{param}" for param in sorted(_param_users())]
    keys = [k for k in [*_all_keys(), *params] if k not in ("provenance", "device")]
    by_part: dict[str, list[str]] = {}
    for k in keys:
        by_part.setdefault(k.rpartition(".")[2].lower(), []).append(k)
    if name in by_part:
        return by_part[name], True
    close = difflib.get_close_matches(name, list(by_part), n=2, cutoff=0.8)
    if close:
        return [k for part in close for k in by_part[part]], False
    return [k for part, ks in by_part.items() if part.endswith(f"_{name}") for k in ks], False


def is_list_key(key: str) -> bool:
    """Whether the config key ``key`` holds a list (its value is written ``[a, b]``)."""
    section, _, name = key.partition(".")
    cls = _SECTIONS.get(section)
    return cls is not None and "list" in str(get_type_hints(cls).get(name, ""))


def _set(cfg: RunConfig, key: str, value: Any) -> None:
    if key in _TOP:
        setattr(cfg, key, coerce(key, value, get_type_hints(RunConfig)[key]))
        return
    section, _, name = key.partition(".")
    if section not in _SECTIONS or not name:
        raise _unknown(key)
    obj = getattr(cfg, section)
    hints = get_type_hints(type(obj))
    if name not in hints:
        raise _unknown(key)
    setattr(obj, name, coerce(key, value, hints[name]))


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


#: Keys that do not change a run's numbers: two configs that differ only there are the same run.
_NOT_IDENTITY = ("device", "provenance")


def config_identity(cfg: RunConfig | dict[str, Any]) -> dict[str, Any]:
    """The part of a config that determines the results (without device and provenance):
    what a finished or unfinished run directory is compared by. A recorded config (a mapping)
    is read as a config first, so a record written before a key existed equals a config that
    has that key at its default."""
    if isinstance(cfg, RunConfig):
        record = config_to_dict(cfg)
    else:
        record = dict(cfg)
        # Keys a record from an older graff lacks take their defaults; a record this graff
        # cannot read as a config is compared as it is.
        with contextlib.suppress(ConfigError):
            record = config_to_dict(config_from_dict(copy.deepcopy(record)))
    return {k: v for k, v in record.items() if k not in _NOT_IDENTITY}


def load_config(path: str | Path, base: RunConfig | None = None) -> RunConfig:
    """Read a YAML config file: a config (sections ``data``, ``model``, ``optim``, ...), a
    ``graff tune`` output's ``best.yaml`` or a run directory's ``config.yaml`` or
    ``summary.json`` (the config that run used). A key given twice in one mapping is an
    error, not a silent overwrite."""
    if not isinstance(path, str | os.PathLike):
        hint = "; for a mapping of sections use config_from_dict" if isinstance(path, dict) else ""
        raise TypeError(
            f"load_config reads a YAML file: give its path, got {type(path).__name__}{hint}"
        )
    path = Path(path)
    if path.is_dir():
        hint = ""
        if (path / "best.yaml").is_file():
            hint = f" (a graff tune output: pass {path / 'best.yaml'})"
        elif (path / "config.yaml").is_file():
            hint = f" (a run directory: pass {path / 'config.yaml'})"
        raise ConfigError(f"config {path} is a directory; pass a YAML config file{hint}")
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; check the path")
    try:
        raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError:
        raise ConfigError(
            f"config file {path} is not a text file (not UTF-8); give a YAML config"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {yaml_problem(err)}") from None
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {err.strerror or err}") from None
    if _is_run_record(raw):
        raw = raw["config"]  # a run directory's config.yaml or summary.json: the config it ran
    if not isinstance(raw, dict):
        raise ConfigError(
            f"config file {path} holds a YAML {type(raw).__name__} ({str(raw)!r:.40}), not a "
            "mapping of sections (data:, model:, optim:, seed:); see the shipped configs, "
            "e.g. graff/configs/graff/texas.yaml"
        )
    return config_from_dict(raw, base)


def _is_run_record(raw: Any) -> bool:
    """Whether ``raw`` is a record of a run directory that holds its config: ``config.yaml``
    (``{config: {...}, versions: {...}}``, :mod:`graff.train.rundir`) or ``summary.json``
    (``{config: {...}, ..., summary_sha256}``), rather than a config."""
    if not isinstance(raw, dict) or not isinstance(raw.get("config"), dict):
        return False
    if "summary_sha256" in raw:  # summary.json (its "model" is the model's name)
        return True
    return not set(raw) & {*_SECTIONS, *_TOP} and isinstance(raw.get("versions"), dict)


def override_list(overrides: Sequence[str]) -> list[str]:
    """``overrides`` as a list of ``key=value`` strings; one string (iterated, it would be
    its characters) is a :class:`ConfigError` saying to wrap it in a list."""
    if isinstance(overrides, str):
        raise ConfigError(
            f"overrides must be a list of 'key=value' strings, got one string {overrides!r}: "
            f"pass [{overrides!r}]"
        )
    return list(overrides)


def apply_overrides(cfg: RunConfig, overrides: list[str]) -> RunConfig:
    """Apply ``key=value`` strings. Values are parsed as YAML (``0.5``, ``true``, ``[0, 1]``).

    A key may omit its section when the name is unambiguous (``lr=0.01`` for ``optim.lr``).
    """
    for item in override_list(overrides):
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
