"""Search spaces as data: one YAML mapping from config keys to distributions.

A space file maps a config key (the keys of ``graff train --set``: ``optim.lr``,
``model.w_type``, ``model.params.alpha``, ``data.normalize_features``) to a distribution:

.. code-block:: yaml

    model.w_type: {type: categorical, choices: [sum, prod, neg_prod, diag, dd]}
    model.hidden: [32, 64, 128]                     # a list is short for categorical
    optim.lr: {type: float, low: 1.0e-3, high: 5.0e-2, log: true}
    model.T: {type: float, low: 1, high: 5, step: 0.5}
    model.encoder_layers: {type: int, low: 0, high: 2}

Every key and value is checked once, when the space is read (:func:`load_space`), against
the model it is for: an unknown key, a key the model does not use, a distribution of the
wrong type for the key (``float`` for ``model.hidden``), an empty range (``low > high``,
no choices), ``log`` with ``low <= 0`` and every value that a config would refuse (a W type
not in :data:`graff.nn.W_TYPES`, a dropout of 1) are a :class:`SpaceError` naming the file
and the key. The shipped spaces (``graff/spaces/<model>.yaml``, :func:`default_space`) are
package data read through :mod:`importlib.resources`.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from graff._yaml import load_yaml, yaml_problem
from graff.tune import _backend as backend

__all__ = [
    "SPACE_TYPES",
    "SearchSpace",
    "SpaceError",
    "SpaceParam",
    "available_spaces",
    "default_space",
    "load_space",
    "parse_space",
]

#: The distribution types of a space entry.
SPACE_TYPES = ("categorical", "float", "int")

_FIELDS = {
    "categorical": ("type", "choices"),
    "float": ("type", "low", "high", "log", "step"),
    "int": ("type", "low", "high", "log", "step"),
}

#: Config keys a space may not search, and why.
_FORBIDDEN = {
    "data.dataset": "the dataset is an argument of the search, not a hyperparameter",
    "data.params": "dataset parameters define the graph, they are not hyperparameters",
    "data.splits": "the splits of a trial are an argument of the search (splits=)",
    "model.name": "the model is an argument of the search (one space per model)",
    "model.params": "search its keys one by one, e.g. model.params.alpha",
    "seed": "searching seeds selects luck, not settings",
    "provenance": "provenance is text, not a hyperparameter",
}

_SECTIONS: dict[str, type] = {
    "data": backend.DataConfig,
    "model": backend.ModelConfig,
    "optim": backend.OptimConfig,
}


class SpaceError(backend.ConfigError):
    """A search space that cannot be used, naming the file, the key and what to do."""


@dataclass(frozen=True)
class SpaceParam:
    """One searched config key and its distribution.

    Attributes:
        key: the config key (``optim.lr``, ``model.params.alpha``); also the Optuna name.
        type: ``categorical``, ``float`` or ``int``.
        choices: the values of a categorical entry.
        low, high: the closed range of a float or int entry.
        log: sample on a log scale (``low > 0``).
        step: grid step of the range (``None``: continuous floats, 1 for ints).
    """

    key: str
    type: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    def suggest(self, trial: Any) -> Any:
        """Draw this key's value from an :class:`optuna.trial.Trial`."""
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, list(self.choices))
        assert self.low is not None and self.high is not None
        if self.type == "int":
            step = int(self.step) if self.step is not None else 1
            return trial.suggest_int(
                self.key, int(self.low), int(self.high), step=step, log=self.log
            )
        return trial.suggest_float(self.key, self.low, self.high, step=self.step, log=self.log)

    def candidates(self) -> list[Any]:
        """The values checked against a config: every choice, or both ends of the range."""
        if self.type == "categorical":
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.type == "int":
            return [int(self.low), int(self.high)]
        return [float(self.low), float(self.high)]

    def contains(self, value: Any) -> bool:
        """Whether the distribution can draw ``value`` (an enqueued trial must be one)."""
        if self.type == "categorical":  # 64 matches 64.0, but True does not match 1
            return any(
                value == c and isinstance(value, bool) == isinstance(c, bool) for c in self.choices
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        assert self.low is not None and self.high is not None
        if not self.low <= value <= self.high:
            return False
        if self.type == "int" and not float(value).is_integer():
            return False
        if self.step is not None:
            k = (value - self.low) / self.step
            return math.isclose(k, round(k), abs_tol=1e-9)
        return True

    def to_dict(self) -> dict[str, Any]:
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


@dataclass(frozen=True)
class SearchSpace:
    """The searched keys of one model; built by :func:`load_space` / :func:`default_space`.

    Attributes:
        params: one :class:`SpaceParam` per key, in file order.
        source: where it was read from (named in errors and in the provenance).
        model: the model it was checked for (``None``: only its structure was checked).
    """

    params: tuple[SpaceParam, ...]
    source: str = "<mapping>"
    model: str | None = None

    @property
    def keys(self) -> list[str]:
        return [p.key for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        """The space as a mapping (the file format); :func:`parse_space` reads it back."""
        return {p.key: p.to_dict() for p in self.params}

    def check(self, model: str) -> SearchSpace:
        """This space checked for ``model`` (SpaceError on the first problem)."""
        return parse_space(self.to_dict(), self.source, model=model)

    def check_base(self, base: Any, base_source: str) -> None:
        """Refuse (SpaceError) a space one of whose values can never run on top of ``base``,
        the config the search starts from (e.g. its ``model.params`` belong to another
        ``model.block`` than the space fixes): said before the data loads, not as a failed
        trial after it."""
        fixed, model = _fixed(self.params), base.model.name
        for p in self.params:
            _check_values(p, model, self.source, fixed, base=base, base_source=base_source)

    def for_features(self, x: Any) -> tuple[SearchSpace, str | None]:
        """This space for a graph with node features ``x``, and a note where it changed:
        ``data.normalize_features`` leaves the search where ``x`` has negative entries (row
        normalisation refuses them, so each trial drawing it would fail and still count)."""
        drawn = [p for p in self.params if p.key == "data.normalize_features"]
        if not drawn or True not in drawn[0].candidates() or not bool((x < 0).any()):
            return self, None
        note = (
            "data.normalize_features is not searched: the features have negative entries, "
            "and row normalisation needs non-negative ones (each trial keeps the base config's "
            "false)"
        )
        kept = tuple(p for p in self.params if p.key != "data.normalize_features")
        return dataclasses.replace(self, params=kept), note

    def sample(self, trial: Any) -> dict[str, Any]:
        """One value per key, drawn from an Optuna trial."""
        return {p.key: p.suggest(trial) for p in self.params}

    def point_of(self, cfg: Any) -> dict[str, Any]:
        """The values of config ``cfg`` at this space's keys, where the space can draw them
        (a key whose value lies outside its distribution is left out): the trial that
        evaluates ``cfg`` itself."""
        out = {}
        for p in self.params:
            value = _get_key(cfg, p.key)
            if p.contains(value):
                out[p.key] = value
        return out

    def apply(self, cfg: Any, values: Mapping[str, Any]) -> Any:
        """A copy of the config ``cfg`` with ``values`` (key → value) set; ``cfg`` is unchanged.

        Raises ConfigError where a value does not fit its key (the combination as a whole is
        checked by ``RunConfig.validate``).
        """
        out = copy.deepcopy(cfg)
        for key, value in values.items():
            _set_key(out, key, value)
        return out


def space_differs(old: Any, new: Any) -> bool:
    """Whether a study's recorded space (:meth:`SearchSpace.to_dict`) and this call's differ.
    A study made before :meth:`SearchSpace.for_features` drew ``data.normalize_features`` on
    a graph with signed features; the same space without that key is no difference (the
    resumed search goes on without it)."""
    key = "data.normalize_features"
    if isinstance(old, Mapping) and isinstance(new, Mapping) and key in old and key not in new:
        old = {k: v for k, v in old.items() if k != key}
    return bool(old != new)


def _get_key(cfg: Any, key: str) -> Any:
    if key.startswith("model.params."):
        return cfg.model.params.get(key.split(".", 2)[2])
    section, _, name = key.partition(".")
    return getattr(getattr(cfg, section), name)


def _set_key(cfg: Any, key: str, value: Any) -> None:
    if key.startswith("model.params."):
        cfg.model.params[key.split(".", 2)[2]] = value
        return
    section, _, name = key.partition(".")
    backend.config_from_dict({section: {name: value}}, base=cfg)


def _valid_keys(model: str | None) -> list[str]:
    keys = []
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            if key in _FORBIDDEN:
                continue
            if model is not None and section == "model" and not _model_uses(model, f.name):
                continue
            keys.append(key)
    if model is not None:
        keys += [f"model.params.{p}" for p in backend.MODELS[model].parameters()]
    return keys


def _model_uses(model: str, name: str) -> bool:
    return name == "hidden" or name in backend.MODELS[model].fields


def _strip_optional(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return inner[0] if len(inner) == 1 else Any
    return hint


def _key_hint(key: str, model: str | None, err: Any) -> Any:
    """The value type of config key ``key`` (raising through ``err`` where it is not one)."""
    if key in _FORBIDDEN:
        raise err(f"cannot be searched: {_FORBIDDEN[key]}")
    if key.startswith("data.params."):
        raise err(f"cannot be searched: {_FORBIDDEN['data.params']}")
    if key.startswith("model.params."):
        name = key.split(".", 2)[2]
        if model is None:
            return Any
        spec = backend.MODELS[model]
        allowed = spec.parameters()
        if name not in allowed:
            if name in spec.fields or name == "hidden":
                raise err(f"{name} is a typed model field: write model.{name}")
            close = difflib.get_close_matches(name, list(allowed), n=1)
            hint = f" Did you mean model.params.{close[0]}?" if close else ""
            valid = ", ".join(allowed) or "none"
            raise err(f"model {model!r} has no parameter {name!r}.{hint} Its parameters: {valid}")
        return _strip_optional(spec.hints().get(name, Any))
    section, _, name = key.partition(".")
    cls = _SECTIONS.get(section)
    hints = typing.get_type_hints(cls) if cls is not None else {}
    if name not in hints:
        close = difflib.get_close_matches(key, _valid_keys(model), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise err(
            f"unknown config key.{hint} Searchable keys"
            + (f" of model {model!r}" if model else "")
            + f": {', '.join(_valid_keys(model))}"
        )
    if model is not None and section == "model" and not _model_uses(model, name):
        uses = ", ".join(["model.hidden", *(f"model.{f}" for f in backend.MODELS[model].fields)])
        raise err(f"model {model!r} does not use model.{name} (it uses {uses})")
    return _strip_optional(hints[name])


def _number(value: Any, what: str, err: Any, integer: bool) -> float:
    if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise err(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise err(f"{what} must be finite, got {value!r}")
    if integer and not float(value).is_integer():
        raise err(f"{what} must be an integer for an int distribution, got {value!r}")
    return int(value) if integer else float(value)


def _parse_param(key: str, spec: Any, model: str | None, source: str) -> SpaceParam:
    def err(msg: str) -> SpaceError:
        return SpaceError(f"search space {source}: {key}: {msg}")

    if not isinstance(key, str) or not key:
        raise SpaceError(f"search space {source}: keys must be config keys, got {key!r}")
    if isinstance(spec, list):
        spec = {"type": "categorical", "choices": spec}
    if not isinstance(spec, dict):
        raise err(
            "expected a mapping such as {type: float, low: 0.001, high: 0.1, log: true} "
            f"or a list of choices, got {spec!r}"
        )
    kind = spec.get("type")
    if kind is None:
        bounds = [spec.get("low"), spec.get("high")]
        whole = all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
        guess = "categorical" if "choices" in spec else "int" if whole else "float"
        order = _FIELDS[guess]  # the entry's fields in the order the distribution lists them
        keys = sorted(spec, key=lambda k: order.index(k) if k in order else len(order))
        fields = ", ".join(f"{k}: {spec[k]}" for k in keys)
        raise err(
            f"no type: name its distribution ({', '.join(SPACE_TYPES)}), e.g. "
            f"{{type: {guess}, {fields}}}"
        )
    if kind not in SPACE_TYPES:
        raise err(f"type must be one of {', '.join(SPACE_TYPES)}, got {kind!r}")
    extra = sorted(set(spec) - set(_FIELDS[kind]))
    if extra:
        raise err(
            f"unknown field(s) {', '.join(map(str, extra))} for a {kind} distribution "
            f"(it takes {', '.join(_FIELDS[kind])})"
        )
    hint = _key_hint(key, model, err)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise err(f"choices must be a non-empty list, got {choices!r}")
        for c in choices:
            if c is not None and not isinstance(c, bool | int | float | str):
                raise err(f"choice {c!r} is not a scalar (number, string, boolean or null)")
        if len({repr(c) for c in choices}) != len(choices):
            raise err(f"choices {choices!r} repeat a value")
        return SpaceParam(key, kind, choices=tuple(choices))
    if hint is bool or hint is str:
        raise err(
            f"a {kind} distribution does not fit this {hint.__name__} key: "
            "use {type: categorical, choices: [...]}"
        )
    if kind == "float" and hint is int:
        raise err("this key takes integers: use {type: int, ...} or a categorical list")
    integer = kind == "int"
    for name in ("low", "high"):
        if name not in spec:
            raise err(f"a {kind} distribution needs low and high")
    low = _number(spec["low"], "low", err, integer)
    high = _number(spec["high"], "high", err, integer)
    if low > high:
        raise err(f"empty range: low = {low} > high = {high}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise err(f"log must be true or false, got {log!r}")
    if log and low <= 0:
        raise err(f"log: true needs low > 0, got low = {low}")
    step = spec.get("step")
    if step is not None:
        step = _number(step, "step", err, integer)
        if step <= 0:
            raise err(f"step must be positive, got {step}")
        if log and (kind == "float" or step != 1):
            raise err("log: true cannot be combined with a step (Optuna samples one or the other)")
        n = (high - low) / step
        if abs(n - round(n)) > 1e-9 * max(1.0, abs(n)):
            raise err(f"high - low = {high - low:g} is not a multiple of step = {step:g}")
    return SpaceParam(key, kind, low=low, high=high, log=log, step=step)


def _fixed(params: Sequence[SpaceParam]) -> list[tuple[str, Any]]:
    """The keys a space fixes (one candidate each) with their values."""
    return [(p.key, p.candidates()[0]) for p in params if len(p.candidates()) == 1]


def _check_values(
    param: SpaceParam,
    model: str,
    source: str,
    fixed: Sequence[tuple[str, Any]] = (),
    base: Any | None = None,
    base_source: str | None = None,
) -> None:
    """Every candidate value set alone on ``base`` (default: the model's default config), with
    the space's fixed keys (those of one candidate, e.g. ``model.block: [residual]``) set
    first, must validate."""
    on = "" if base_source is None else f" on top of the base config ({base_source})"
    for value in param.candidates():
        if base is None:
            cfg = backend.RunConfig(model=backend.ModelConfig(name=model))
        else:
            cfg = copy.deepcopy(base)
        try:
            for key, fixed_value in fixed:
                _set_key(cfg, key, fixed_value)
            _set_key(cfg, param.key, value)
            cfg.validate()
        except backend.ConfigError as e:
            what = "choice" if param.type == "categorical" else "bound"
            raise SpaceError(
                f"search space {source}: {param.key}: {what} {value!r} is not allowed{on}: {e}"
            ) from None


def parse_space(
    raw: Mapping[str, Any] | None, source: str = "<mapping>", *, model: str | None = None
) -> SearchSpace:
    """A :class:`SearchSpace` from a mapping (as read from YAML), checked for ``model``.

    Without ``model`` only the structure is checked (types, ranges, known config keys);
    :meth:`SearchSpace.check` does the rest once the model is known.
    """
    if model is not None and model not in backend.MODELS:
        raise SpaceError(
            f"search space {source}: unknown model {model!r}; choose one of "
            f"{', '.join(backend.MODELS)}"
        )
    if raw is None or (isinstance(raw, Mapping) and not raw):
        raise SpaceError(f"search space {source} is empty: name at least one config key")
    if not isinstance(raw, Mapping):
        raise SpaceError(
            f"search space {source} must be a mapping of config keys to distributions, "
            f"got {type(raw).__name__}"
        )
    params = tuple(_parse_param(k, v, model, source) for k, v in raw.items())
    if model is not None:
        fixed = _fixed(params)
        for p in params:
            _check_values(p, model, source, fixed)
    return SearchSpace(params, source, model)


def load_space(path: str | Path, model: str | None = None) -> SearchSpace:
    """Read a search space: a YAML file (format: module docstring), or the name of a shipped
    one (``graff/spaces/<name>.yaml``, e.g. ``residual/gcn``), checked for ``model``."""
    path = Path(path)
    if not path.is_file():
        name = str(path).removesuffix(".yaml")
        shipped = _spaces_dir().joinpath(f"{name}.yaml")
        if not path.is_absolute() and ".." not in path.parts and shipped.is_file():
            return _parse_text(shipped.read_text(), f"graff/spaces/{name}.yaml", model)
        raise SpaceError(
            f"search space file {path} does not exist (shipped spaces by name: "
            f"{', '.join(available_spaces(nested=True))})"
        )
    return _parse_text(path.read_text(), str(path), model)


def _parse_text(text: str, source: str, model: str | None) -> SearchSpace:
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as e:
        raise SpaceError(f"search space {source} is not valid YAML: {yaml_problem(e)}") from None
    return parse_space(raw, source, model=model)


def _spaces_dir() -> Any:
    return files("graff").joinpath("spaces")


def available_spaces(*, nested: bool = False) -> list[str]:
    """The models with a shipped search space, sorted; with ``nested``, every shipped space
    by the name ``--space`` takes (``gcn``, ``residual/gcn``, ...)."""
    names = [
        p.name.removesuffix(".yaml") for p in _spaces_dir().iterdir() if p.name.endswith(".yaml")
    ]
    if nested:
        names += [
            f"{d.name}/{p.name.removesuffix('.yaml')}"
            for d in _spaces_dir().iterdir()
            if d.is_dir()
            for p in d.iterdir()
            if p.name.endswith(".yaml")
        ]
    return sorted(names)


def default_space(model: str, block: str | None = None) -> SearchSpace:
    """The shipped search space of ``model`` (``graff/spaces/<model>.yaml``), checked; with
    ``block="residual"`` its residual recipe's (``graff/spaces/residual/<model>.yaml``)
    where one is shipped, the space a config of that block is searched in."""
    if block == "residual":
        res = _spaces_dir().joinpath("residual", f"{model}.yaml")
        if res.is_file():
            return _parse_text(res.read_text(), f"graff/spaces/residual/{model}.yaml", model)
    res = _spaces_dir().joinpath(f"{model}.yaml")
    if not res.is_file():
        raise SpaceError(
            f"no shipped search space for model {model!r} (shipped: "
            f"{', '.join(available_spaces())}); pass space=FILE with your own"
        )
    return _parse_text(res.read_text(), f"graff/spaces/{model}.yaml", model)
