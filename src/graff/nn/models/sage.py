"""GraphSAGE-mean with PyG ``SAGEConv``'s parameters and a cached CSR mean operator."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from graff.nn.adjacency import graph_cached, mean_adjacency
from graff.nn.checks import CheckedModule, check_probs, check_sizes
from graff.nn.linear import dropout_linear, param_dtype
from graff.nn.sparse import spmm

__all__ = ["GraphSAGE"]


class _MeanSAGEConv(SAGEConv):
    """PyG's ``SAGEConv`` (same parameters and state-dict keys) that, given ``mean_adj`` (the
    cached D⁻¹A), computes its layer as :class:`GraphSAGE` does — one fused product of the
    dropped-out input with both weights, the mean taken after the linear map — as a module
    call, so forward hooks see each layer (``graff.energy.layer_energies``); without
    ``mean_adj`` it is PyG's layer."""

    def forward(
        self,
        x: Any,
        edge_index: Any = None,
        *args: Any,
        mean_adj: Tensor | None = None,
        p: float = 0.0,
        **kwargs: Any,
    ) -> Any:
        if mean_adj is None:
            return super().forward(x, edge_index, *args, **kwargs)
        out = self.lin_l.weight.size(0)
        both = torch.cat([self.lin_l.weight, self.lin_r.weight])
        z = dropout_linear(x, both, None, p, self.training)
        return spmm(mean_adj, z[:, :out]) + self.lin_l.bias + z[:, out:]


class GraphSAGE(CheckedModule, nn.Module):
    r"""GraphSAGE-mean of `Hamilton et al. (2017) <https://arxiv.org/abs/1706.02216>`_.

    .. math::
        h_i' = W_1 h_i + W_2\,\mathrm{mean}_{j\in\mathcal{N}(i)} h_j + b

    Parameters live in PyG ``SAGEConv`` layers (``lin_r`` = W₁, ``lin_l`` = W₂, b); the mean
    is taken after the linear map (the same value, by linearity) with a cached CSR D⁻¹A, so
    the first layer never aggregates the wide raw features.

    Args:
        in_channels, hidden_channels, out_channels (int): widths.
        num_layers (int): layers (≥ 1), ReLU between them.
        input_dropout, dropout (float): dropout on X and before later layers.
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
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.convs = nn.ModuleList(
            _MeanSAGEConv(a, b, aggr="mean") for a, b in itertools.pairwise(dims)
        )
        self.input_dropout = input_dropout
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        n, dtype = x.size(0), param_dtype(self)
        adj = graph_cached(
            "mean",
            edge_index,
            n,
            edge_weight,
            dtype,
            lambda: mean_adjacency(edge_index, n, edge_weight, dtype=dtype),
        )
        h = x
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = torch.relu(h)
            h = conv(h, mean_adj=adj, p=self.input_dropout if i == 0 else self.dropout)
        return h
