"""The energy of any model's features, layer by layer: the paper's measure of smoothing
pointed at a GCN, a GAT or a residual baseline as at GRAFF.

:func:`layer_energies` runs the model once (eval mode, no gradients) with forward hooks on its
layers and records, in an :class:`~graff.energy.EnergyTrajectory`, the Dirichlet energy of
the first layer's input (step 0) and of each layer's output (step l): the same record
:func:`~graff.energy.measured_regime` and ``graff analyze`` read for GRAFF's Euler steps,
with the layer index where GRAFF has its time.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from graff.energy._regime import EnergyTrajectory
from graff.nn.checks import check_flags

__all__ = ["layer_energies", "model_layers"]


def model_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers whose outputs :func:`layer_energies` measures by default: those the model
    names itself (a method ``energy_layers()`` returning ``[(name, module), ...]`` in the order
    they run, as graff's MLP does), else the modules of its first non-empty top-level
    :class:`~torch.nn.ModuleList` (``convs``, ``blocks``, ``lins``), named as in
    ``model.named_modules()`` (``"blocks.0"``).

    Raises:
        ValueError: the model has no such list (an ODE model, one layer held alone): pass
            ``layers=`` to :func:`layer_energies`.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    own = getattr(model, "energy_layers", None)
    if callable(own):
        named = list(own())
        if not named or not all(isinstance(n, str) and isinstance(m, nn.Module) for n, m in named):
            raise TypeError(
                f"{type(model).__name__}.energy_layers() must return a non-empty list of "
                f"(name, nn.Module) pairs, got {named!r:.120}"
            )
        return named
    for name, child in model.named_children():
        if isinstance(child, nn.ModuleList) and len(child) > 0:
            return [(f"{name}.{i}", layer) for i, layer in enumerate(child)]
    hint = (
        "; its forward takes a callback: pass graff.energy.EnergyTrajectory(edge_index, "
        "num_nodes) as callback= to record every step"
        if "callback" in inspect.signature(model.forward).parameters
        else ""
    )
    raise ValueError(
        f"{type(model).__name__} has no torch.nn.ModuleList of layers at its top level; pass "
        f"layers=[...] (the modules whose outputs to measure, in the order they run){hint}"
    )


def _features(value: Any, where: str) -> Tensor:
    """The node features a hooked layer took or gave (a tuple's first tensor), dense."""
    if isinstance(value, tuple | list) and value:
        value = value[0]
    if not isinstance(value, Tensor) or value.dim() != 2:
        shown = tuple(value.shape) if isinstance(value, Tensor) else type(value).__name__
        raise ValueError(
            f"{where} is not a node-feature matrix [num_nodes, channels] (got {shown}); pass "
            "layers=[...] whose outputs are the nodes' features"
        )
    return value if value.layout == torch.strided else value.to_dense()  # sparse CSR features


def layer_energies(
    model: nn.Module,
    x: Tensor,
    edge_index: Any,
    *,
    edge_weight: Tensor | None = None,
    layers: Sequence[nn.Module] | nn.Module | None = None,
    self_loops: bool = True,
) -> EnergyTrajectory:
    """The Dirichlet energy E^Dir(F) and its normalised form E^Dir(F/‖F‖) of the features
    entering the first layer (step 0) and leaving each layer (step l = 1 … L).

    Args:
        model: called as ``model(x, edge_index[, edge_weight])``; run once in eval mode
            without gradients (each submodule's training flag is restored).
        x, edge_index, edge_weight: the graph, as the model takes it.
        layers: the modules to measure, in the order they run (default :func:`model_layers`),
            an ``nn.ModuleList``, or one module. A module called more than once is recorded
            at each call.
        self_loops: Δ = I − Ā with Ā's self-loops (default True, the operator a GCN applies)
            or without (the paper's Δ).

    Returns:
        An :class:`~graff.energy.EnergyTrajectory` whose steps and times are the layer indices.
    """
    check_flags(self_loops=self_loops)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if layers is None:
        chosen = [m for _, m in model_layers(model)]
    elif isinstance(layers, nn.Module) and not isinstance(layers, nn.ModuleList):
        chosen = [layers]  # one module: the one layer measured
    else:
        chosen = list(layers)
    if not chosen or not all(isinstance(m, nn.Module) for m in chosen):
        raise ValueError("layers must be a non-empty sequence of torch.nn.Module")
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor of node features, got {type(x).__name__}")
    values = x.values() if x.layout == torch.sparse_csr else x
    if values.is_floating_point() and not bool(torch.isfinite(values).all()):
        raise ValueError(
            "x has NaN or infinite entries: every layer's energy would be NaN; clean the "
            "features first (e.g. torch.nan_to_num(x))"
        )
    record = EnergyTrajectory(edge_index, x.size(0), self_loops=self_loops)

    def before(module: nn.Module, args: tuple[Any, ...]) -> None:
        if len(record) == 0:
            record(0, 0.0, _features(args, "the first layer's input"))

    def after(module: nn.Module, args: tuple[Any, ...], out: Any) -> None:
        step = len(record)
        record(step, float(step), _features(out, f"the output of layer {step}"))

    handles = [chosen[0].register_forward_pre_hook(before)]
    handles += [m.register_forward_hook(after) for m in chosen]
    modes = [(module, module.training) for module in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            model(x, edge_index) if edge_weight is None else model(x, edge_index, edge_weight)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes:  # each as it was (a frozen part stays in eval)
            module.training = training
    if len(record) == 0:
        raise ValueError(
            "none of the layers ran in the model's forward pass; pass layers=[...] that it calls"
        )
    return record
