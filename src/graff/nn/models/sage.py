"""GraphSAGE-mean with PyG ``SAGEConv``'s parameters and a cached CSR mean operator."""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from graff.nn.adjacency import graph_cached, mean_adjacency
from graff.nn.checks import NotScriptable, check_probs, check_sizes
from graff.nn.linear import dropout_linear, param_dtype
from graff.nn.sparse import spmm

__all__ = ["GraphSAGE"]


class GraphSAGE(NotScriptable, nn.Module):
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
        self.convs = nn.ModuleList(SAGEConv(a, b, aggr="mean") for a, b in itertools.pairwise(dims))
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
            p = self.input_dropout if i == 0 else self.dropout
            sage: Any = conv
            lin_l, lin_r = sage.lin_l, sage.lin_r
            out = lin_l.weight.size(0)
            both = torch.cat([lin_l.weight, lin_r.weight])
            z = dropout_linear(h, both, None, p, self.training)
            h = spmm(adj, z[:, :out]) + lin_l.bias + z[:, out:]
        return h
