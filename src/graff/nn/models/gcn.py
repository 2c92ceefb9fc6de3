"""GCN and GCNII: PyG's ``GCNConv`` / ``GCN2Conv`` fed with the cached CSR Ā."""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import GCN2Conv, GCNConv

from graff.nn.adjacency import as_edge_index, gcn_adjacency, normalized_edges
from graff.nn.checks import (
    CheckedModule,
    check_flags,
    check_probs,
    check_sizes,
    check_unit_interval,
)
from graff.nn.functional import dropout
from graff.nn.linear import InputDropoutLinear, param_dtype
from graff.nn.sparse import EdgeList, spmm

__all__ = ["GCN", "GCNII", "propagation_args"]


# PyG layers fed with the cached CSR Ā (normalize=False): PyG routes a sparse adjacency to
# message_and_aggregate, which here multiplies through the CSR product with a cached Āᵀ.
class _CSRGCNConv(GCNConv):
    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return spmm(adj_t, x)


class _CSRGCN2Conv(GCN2Conv):
    def message_and_aggregate(self, adj_t: Tensor, x: Tensor) -> Tensor:
        return spmm(adj_t, x)


def propagation_args(
    module: nn.Module,
    graph: Any,
    num_nodes: int,
    edge_weight: Tensor | None,
    self_loops: bool,
) -> tuple[Tensor, Tensor | None]:
    """The graph arguments of a PyG layer with ``normalize=False``: ``(Ā, None)`` with the
    cached CSR Ā, or ``(index, weight)`` of Ā while ``torch.jit.trace`` records (a traced
    model then computes Ā from its ``edge_index`` input, like PyG's ``GCNConv``) or under
    ``torch.compile`` (the cached Ā as an edge list: PyG's message passing compiles)."""
    dtype = param_dtype(module)
    if torch.jit.is_tracing():
        ei, ew = as_edge_index(graph, num_nodes, edge_weight)
        return normalized_edges(ei, num_nodes, ew, self_loops=self_loops, dtype=dtype)
    adj = gcn_adjacency(graph, num_nodes, edge_weight, self_loops=self_loops, dtype=dtype)
    if isinstance(adj, EdgeList):
        return adj.edges, adj.weight
    return adj, None


class GCN(CheckedModule, nn.Module):
    r"""GCN of `Kipf and Welling (2017) <https://arxiv.org/abs/1609.02907>`_.

    .. math::
        H^{(l+1)} = \sigma\big(\bar{A}\,\mathrm{dropout}(H^{(l)})\,W^{(l)} + b^{(l)}\big),
        \qquad \bar{A} = \tilde{D}^{-1/2}(A+I)\tilde{D}^{-1/2},

    with σ = ReLU between layers and none after the last (logits). Layers are PyG
    ``GCNConv`` fed with the cached CSR Ā. The graph is ``edge_index`` (+ ``edge_weight``) or
    ``adj_t`` as for ``GCNConv``, directed or not; ``torch.jit.trace`` of an evaluated model
    works on ``edge_index`` inputs.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): graph convolutions (≥ 1).
        input_dropout (float): dropout on X. dropout (float): dropout before later layers.
        self_loops (bool): self-loops in Ā.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 2,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        self_loops: bool = True,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        check_flags(self_loops=self_loops)
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(
            _CSRGCNConv(a, b, normalize=False) for a, b in itertools.pairwise(dims)
        )
        first: Any = self.convs[0]
        first.lin = InputDropoutLinear(first.lin, input_dropout)
        self.dropout = dropout
        self.self_loops = self_loops

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        graph = propagation_args(self, edge_index, x.size(0), edge_weight, self.self_loops)
        h = x
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = dropout(torch.relu(h), self.dropout, self.training)
            h = conv(h, *graph)
        return h


class GCNII(CheckedModule, nn.Module):
    r"""GCNII of `Chen et al. (2020) <https://arxiv.org/abs/2007.02133>`_ (PyG ``GCN2Conv``).

    .. math::
        H^{(0)} = \sigma(\mathrm{dropout}(X) W_{in}),\quad
        H^{(l+1)} = \sigma\Big(\big((1-\alpha)\bar{A}H^{(l)} + \alpha H^{(0)}\big)
        \big((1-\beta_l)I + \beta_l W^{(l)}\big)\Big),\quad \beta_l = \log(\theta/l + 1)

    with dropout before every layer and before the output linear map.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): GCNII layers L (the paper uses 8–64).
        alpha (float): initial-residual strength α. theta (float): λ of β_l = log(λ/l + 1).
        input_dropout, dropout (float): dropout on X and inside.
        self_loops (bool): self-loops in Ā.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 16,
        alpha: float = 0.1,
        theta: float = 0.5,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        self_loops: bool = True,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        check_flags(self_loops=self_loops)
        check_unit_interval(alpha=alpha)
        if not (math.isfinite(theta) and theta > 0):
            raise ValueError(f"theta (λ) must be a positive number, got {theta}")
        self.input = InputDropoutLinear(nn.Linear(in_channels, hidden_channels), input_dropout)
        self.convs = nn.ModuleList(
            _CSRGCN2Conv(hidden_channels, alpha, theta, layer=i + 1, normalize=False)
            for i in range(num_layers)
        )
        self.output = nn.Linear(hidden_channels, out_channels)
        self.dropout = dropout
        self.self_loops = self_loops

    def reset_parameters(self) -> None:
        self.input.reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]
        self.output.reset_parameters()

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        graph = propagation_args(self, edge_index, x.size(0), edge_weight, self.self_loops)
        h = h0 = torch.relu(self.input(x))
        for conv in self.convs:
            h = torch.relu(conv(dropout(h, self.dropout, self.training), h0, *graph))
        return self.output(dropout(h, self.dropout, self.training))
