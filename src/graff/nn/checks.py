"""Argument checks shared by every module of :mod:`graff.nn`, in one place.

Constructors validate their scalars once, here, with messages that name the argument, say
what it must be and show what was given (torchdiffeq's ``_check_inputs`` pattern). Forward
passes check what costs nothing — the features' shape and dtype (:func:`check_features`) —
and, once per graph where its operator is built, the node ids of ``edge_index`` and the
finiteness of its edge weights (:mod:`graff.nn.adjacency`); the feature values themselves
are trusted.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, NoReturn

import torch
from torch import Tensor

from graff.errors import TorchScriptError
from graff.nn import cache

__all__ = [
    "CheckedModule",
    "TorchScriptError",
    "check_features",
    "check_finite",
    "check_flags",
    "check_positive",
    "check_probs",
    "check_sizes",
    "check_unit_interval",
    "is_int",
    "is_real",
    "reject_edge_weight",
]


def check_sizes(**sizes: int) -> None:
    """Each size (channels, layers, heads, ...) must be a positive integer."""
    for name, value in sizes.items():
        if not is_int(value):
            raise TypeError(f"{name} must be a positive integer, got {_shown(value)}")
        if value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value}")


def is_int(value: object) -> bool:
    """An integer, not a bool (``True`` is not a size), a NumPy or 0-d tensor integer
    included (``int(v) == v`` for those)."""
    if isinstance(value, bool | float | str | bytes):
        return False
    try:
        return int(value) == value  # type: ignore[call-overload]
    except (TypeError, ValueError, RuntimeError):
        return False


def is_real(value: object) -> bool:
    """A real number (int, float, NumPy or 0-d tensor scalar), not a bool or a string."""
    if isinstance(value, bool | str | bytes):
        return False
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, RuntimeError):
        return False
    return True


def _shown(value: object) -> str:
    return f"{value!r:.60} ({type(value).__name__})"


def _check_real(name: str, value: object) -> None:
    if not is_real(value):
        raise TypeError(f"{name} must be a number, got {_shown(value)}")


def check_probs(**probs: float) -> None:
    """Each dropout probability must lie in [0, 1)."""
    for name, p in probs.items():
        _check_real(name, p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"{name} must be a probability in [0, 1), got {p}")


def check_unit_interval(**values: float) -> None:
    """Each value (a teleport or residual strength α) must lie in [0, 1]."""
    for name, value in values.items():
        _check_real(name, value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")


def check_positive(**values: float) -> None:
    """Each value (a time T, a step τ, a tolerance) must be a finite positive number."""
    for name, value in values.items():
        _check_real(name, value)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value}")


def check_finite(**values: float) -> None:
    """Each value (a source strength β) must be a finite real number."""
    for name, value in values.items():
        _check_real(name, value)
        if not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")


def check_flags(**flags: object) -> None:
    """Each switch must be ``True`` or ``False`` (a NumPy bool too): a string such as
    ``"no"`` would count as true, and ``2`` is no answer."""
    for name, value in flags.items():
        numpy_bool = type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
        if not (isinstance(value, bool) or numpy_bool):
            raise TypeError(f"{name} must be True or False, got {_shown(value)}")


def check_features(x: Tensor, weight: Tensor) -> None:
    """Node features ``x`` [n, p] (dense or sparse CSR) fit the first linear map ``weight``
    [d, p]: a matrix, p columns, the parameters' device and floating dtype, finite values.
    Shape, device and dtype cost nothing per call; finiteness is one pass over x made once
    per feature tensor (:func:`graff.nn.cache.cached`), not while tracing or compiling."""
    p = weight.size(-1)
    if not isinstance(x, Tensor):
        fix = (
            "call model(data.x, data.edge_index)"
            if hasattr(x, "edge_index")
            else f"convert it, e.g. torch.as_tensor(x, dtype={weight.dtype})"
        )
        raise TypeError(
            f"node features x must be a torch.Tensor [num_nodes, {p}], got "
            f"{type(x).__module__}.{type(x).__name__}; {fix}"
        )
    if x.dim() != 2:
        raise ValueError(
            f"node features x must be a matrix [num_nodes, {p}], got shape {tuple(x.shape)}"
        )
    if x.size(1) != p:
        raise ValueError(
            f"x has {x.size(1)} features per node, but this model was built for "
            f"in_channels={p}; build it with in_channels={x.size(1)} (data.num_features)"
        )
    if x.device != weight.device:
        raise RuntimeError(
            f"x is on {x.device} but the model's parameters are on {weight.device}: move them "
            f"to one device, e.g. model.to(x.device), with the graph (edge_index.to(x.device))"
        )
    if x.dtype != weight.dtype:
        fix = (
            f"pass x.to({weight.dtype}) or convert the model with model.to({x.dtype})"
            if x.dtype.is_floating_point
            else f"pass x.to({weight.dtype}) (features are real numbers)"
        )
        raise TypeError(f"x is {x.dtype} but the model's parameters are {weight.dtype}: {fix}")
    if not (torch.jit.is_tracing() or torch.compiler.is_compiling()):
        cache.cached([x], (), "finite", lambda: _check_finite_features(x))


def _check_finite_features(x: Tensor) -> bool:
    """NaN or ±inf in x would turn every logit it reaches into NaN, silently: one pass over
    x, made once per feature tensor (cached while it lives unchanged, like a graph's
    operators), so repeated forwards on the same x cost nothing."""
    x = x.detach()
    if x.layout == torch.sparse_csr:  # the stored values, and the row of each
        values, rows = x.values(), torch.repeat_interleave(torch.diff(x.crow_indices()))
    elif x.layout == torch.sparse_coo:
        values, rows = x._values(), x._indices()[0]
    else:
        values = x.to_dense() if x.layout != torch.strided else x
        rows = None
    finite = torch.isfinite(values)
    if bool(finite.all()):
        return True
    bad = ~finite
    bad_rows = bad.any(dim=1).nonzero().flatten() if rows is None else rows[bad].unique()
    raise ValueError(
        f"x has {int(bad.sum())} NaN or infinite entries in {bad_rows.numel()} rows "
        f"(first: row {int(bad_rows[0])}): every logit they reach would be NaN; clean the "
        "features first, e.g. torch.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0) or by "
        "imputing the missing values"
    )


def check_callback(callback: object) -> None:
    """A TypeError unless ``callback`` is None or callable as ``callback(step, t, F)``."""
    if callback is not None and not callable(callback):
        raise TypeError(
            f"callback must be callable as callback(step, t, F), e.g. a "
            f"graff.energy.EnergyTrajectory; got {type(callback).__name__}"
        )


_GRAPH_ARGS = ("edge_index", "adj_t")
_GRAPH_INPUTS = (*_GRAPH_ARGS, "edge_weight")


def _positional_names(module: object) -> list[str]:
    """The names of ``module.forward``'s positional arguments, in order."""
    params = inspect.signature(module.forward).parameters.values()  # type: ignore[attr-defined]
    return [p.name for p in params if p.kind == p.POSITIONAL_OR_KEYWORD]


def _check_one_device(module: Any, args: tuple[Any, ...]) -> None:
    """A RuntimeError naming the argument if the tensors given are not on x's device while x
    is on the model's (an x on another device than the model is named by the model's own
    check); e.g. a model and x moved to the GPU with the edge_index left behind."""
    x = args[0]
    if not isinstance(x, Tensor) or all(
        not isinstance(a, Tensor) or a.device == x.device for a in args
    ):
        return
    weight = next(iter(module.parameters()), None)
    if weight is not None and weight.device != x.device:
        return
    names = _positional_names(module)
    i, a = next(
        (i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and a.device != x.device
    )
    what = names[i] if i < len(names) else f"argument {i}"
    whole = f" (the whole graph: data.to({str(x.device)!r}))" if what in _GRAPH_INPUTS else ""
    raise RuntimeError(
        f"{type(module).__name__}: x is on {x.device} but {what} is on {a.device}; move it "
        f"where x is: {what}.to(x.device){whole}"
    )


def _refuse_graph_object(module: object, obj: object) -> None:
    """A TypeError naming the call to make if ``obj`` is a whole graph (it has node features
    ``x`` and an ``edge_index`` or ``adj_t``), not the features alone."""
    if isinstance(obj, Tensor) or not hasattr(obj, "x"):
        return
    graph = next((k for k in _GRAPH_ARGS if getattr(obj, k, None) is not None), None)
    if graph is None:
        return
    takes = _positional_names(module)
    takes = takes[: next((i + 1 for i, t in enumerate(takes) if t in _GRAPH_ARGS), len(takes))]
    name = type(module).__name__
    call = (
        f"model(data.x, data.{graph}) (as PyG's models take them)"
        if len(takes) == 2
        else f"{name}({', '.join(takes)}) with the graph's tensors"
    )
    raise TypeError(
        f"{name} takes tensors, ({', '.join(takes)}), not a {type(obj).__name__} object: call "
        f"{call}"
    )


def reject_edge_weight(model: str, edge_weight: Tensor | None) -> None:
    """Refuse edge weights in a model that has no use for them (instead of ignoring them)."""
    if edge_weight is not None:
        raise ValueError(f"{model} does not use edge weights; pass edge_weight=None")


class CheckedModule:
    """Mixin of graff's modules: each call's inputs are checked before ``forward`` (a whole
    graph object instead of x and edge_index, a graph on another device than x), and
    ``torch.jit.script`` refuses them, each in one clear line.

    TorchScript cannot compile them (keyword-only arguments, custom autograd functions,
    sparse CSR operators cached per graph tensor, PyG layers, torchdiffeq); instead of
    TorchScript's first complaint about one of those, ``torch.jit.script`` raises
    :class:`TorchScriptError` through the ``__prepare_scriptable__`` hook it calls first.

    ``model(data)`` with a PyG ``Data`` (or graff's ``PreparedData``) ended in Python's
    "missing 1 required positional argument"; it is answered with the call to make,
    ``model(data.x, data.edge_index)``, as PyG's own models take their inputs.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            _refuse_graph_object(self, args[0])
        elif len(args) > 1:
            _check_one_device(self, args)
        return super().__call__(*args, **kwargs)  # type: ignore[misc]

    def __prepare_scriptable__(self) -> NoReturn:
        raise TorchScriptError(
            f"{type(self).__name__} does not support torch.jit.script (TorchScript is not "
            "supported by graff's models); use torch.compile(model) to compile it, or "
            "torch.jit.trace(model.eval(), (x, edge_index)) to export an evaluated model"
        )
