"""GAT with PyG ``GATConv``'s parameters, propagated on a cached CSR pattern."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import GATConv

from graff.nn.adjacency import edge_structure, graph_cached
from graff.nn.checks import CheckedModule, check_probs, check_sizes, reject_edge_weight
from graff.nn.functional import dropout
from graff.nn.linear import InputDropoutLinear
from graff.nn.sparse import EdgeStructure, edge_softmax, edge_values_mm

__all__ = ["GAT", "gat_conv_csr"]


class _CSRGATConv(GATConv):
    """PyG's ``GATConv`` (same parameters, state-dict keys and initialisation) called on a
    CSR pattern: ``conv(x, structure)`` is :func:`gat_conv_csr`, a module call, so forward
    hooks see each layer (``graff.energy.layer_energies``); any other graph goes to PyG."""

    def forward(self, x: Any, edge_index: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(edge_index, EdgeStructure):
            return gat_conv_csr(self, x, edge_index)
        return super().forward(x, edge_index, *args, **kwargs)


class GAT(CheckedModule, nn.Module):
    r"""GAT of `Veličković et al. (2018) <https://arxiv.org/abs/1710.10903>`_.

    .. math::
        h_i' = \big\Vert_{k=1}^{K} \sum_{j\in\mathcal{N}(i)\cup\{i\}}
        \alpha^k_{ij} W^k h_j,\quad
        \alpha^k_{ij} = \mathrm{softmax}_j\,\mathrm{LeakyReLU}\big(a_{dst}^{k\top} W^k h_i
        + a_{src}^{k\top} W^k h_j\big)

    Hidden layers concatenate ``heads`` heads of ``hidden_channels`` each, with ELU between
    layers; the output layer averages ``output_heads`` heads. The parameters and their
    initialisation are PyG ``GATConv``'s (``lin``, ``att_src``, ``att_dst``, ``bias``); the
    propagation runs on the cached CSR pattern of A + I (:func:`gat_conv_csr`), which gives
    ``GATConv``'s output without its per-edge [E, heads, channels] gather and scatter.

    Args:
        in_channels, hidden_channels, out_channels (int): widths (``hidden_channels`` per
            head).
        num_layers (int): attention layers (≥ 1).
        heads (int): heads of hidden layers.
        output_heads (int): heads of the output layer.
        input_dropout, dropout (float): dropout on X and before later layers.
        attention_dropout (float): dropout on the attention coefficients.
        negative_slope (float): LeakyReLU slope of the attention scores.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        num_layers: int = 2,
        heads: int = 8,
        output_heads: int = 1,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        attention_dropout: float = 0.0,
        negative_slope: float = 0.2,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            num_layers=num_layers,
            heads=heads,
            output_heads=output_heads,
        )
        check_probs(
            input_dropout=input_dropout, dropout=dropout, attention_dropout=attention_dropout
        )
        if not negative_slope >= 0:
            raise ValueError(f"negative_slope must be ≥ 0, got {negative_slope}")
        convs = []
        width = in_channels
        for i in range(num_layers):
            last = i == num_layers - 1
            conv = _CSRGATConv(
                width,
                out_channels if last else hidden_channels,
                heads=output_heads if last else heads,
                concat=not last,
                negative_slope=negative_slope,
                dropout=attention_dropout,
            )
            convs.append(conv)
            width = hidden_channels * heads
        first: Any = convs[0]
        first.lin = InputDropoutLinear(first.lin, input_dropout)
        self.convs = nn.ModuleList(convs)
        self.dropout = dropout

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()  # type: ignore[operator]

    def forward(self, x: Tensor, edge_index: Any, edge_weight: Tensor | None = None) -> Tensor:
        reject_edge_weight("GAT", edge_weight)
        n = x.size(0)
        s = graph_cached(
            "pattern", edge_index, n, None, torch.int64, lambda: edge_structure(edge_index, n)
        )
        h = x
        for i, conv in enumerate(self.convs):
            if i > 0:
                h = dropout(F.elu(h), self.dropout, self.training)
            h = conv(h, s)
        return h


def gat_conv_csr(conv: GATConv, x: Tensor, structure: EdgeStructure) -> Tensor:
    """``GATConv(x, edge_index)`` computed on a CSR pattern (self-loops included in it).

    Attention logits on the E stored entries, a softmax per row, attention dropout, then one
    CSR product per head; the same value as PyG's message passing for ``GATConv`` without
    edge features or residual.
    """
    s = structure
    H, C = conv.heads, conv.out_channels
    lin: Any = conv.lin
    h = lin(x).view(-1, H, C)
    a_src = (h * conv.att_src).sum(dim=-1)  # [n, H]
    a_dst = (h * conv.att_dst).sum(dim=-1)
    # Entry (i, j) of row i: the message j → i (source j, target i).
    scores = a_dst.index_select(0, s.row) + a_src.index_select(0, s.col)
    scores = F.leaky_relu(scores, conv.negative_slope)
    alpha = dropout(edge_softmax(scores, s), conv.dropout, conv.training)
    alpha_t = alpha.t().contiguous()  # [H, E]
    heads = [edge_values_mm(alpha_t[k], h[:, k], s) for k in range(H)]
    out = torch.cat(heads, dim=-1) if conv.concat else torch.stack(heads).mean(dim=0)
    return out if conv.bias is None else out + conv.bias
