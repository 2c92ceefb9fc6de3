"""H2GCN: ego-embedding, separate one- and two-hop aggregation, all rounds combined."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from graff.nn.adjacency import gcn_adjacency, graph_cached, two_hop_adjacency
from graff.nn.checks import (
    CheckedModule,
    check_callback,
    check_probs,
    check_sizes,
    reject_edge_weight,
)
from graff.nn.functional import dropout
from graff.nn.graff import StepCallback
from graff.nn.linear import InputDropoutLinear, param_dtype
from graff.nn.sparse import spmm

__all__ = ["H2GCN"]


class H2GCN(CheckedModule, nn.Module):
    r"""H2GCN of `Zhu et al. (2020) <https://arxiv.org/abs/2006.11468>`_.

    Ego-embedding, separate one- and strict two-hop aggregation, all rounds combined:

    .. math::
        R^{(0)} = \sigma(\mathrm{dropout}(X) W_e),\quad
        R^{(k)} = \big[\bar{A}_1 R^{(k-1)} \,\Vert\, \bar{A}_2 R^{(k-1)}\big],\quad
        Y = \big[R^{(0)} \Vert \cdots \Vert R^{(K)}\big]\,W_c

    Ā₁ = D^{-1/2}AD^{-1/2} (no self-loops) and Ā₂ the same normalisation of the strict
    two-hop graph (shortest-path distance exactly 2). Both are built once (CSR) and cached.

    Args:
        in_channels, hidden_channels, out_channels (int): widths (the final representation
            has ``hidden_channels · (2^{K+1} − 1)`` columns).
        rounds (int): aggregation rounds K.
        input_dropout (float): dropout on X. dropout (float): dropout before the classifier.
    """

    accepts_sparse_features = True

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        *,
        rounds: int = 2,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        check_sizes(
            in_channels=in_channels,
            hidden_channels=hidden_channels,
            out_channels=out_channels,
            rounds=rounds,
        )
        check_probs(input_dropout=input_dropout, dropout=dropout)
        self.rounds = rounds
        self.embed = InputDropoutLinear(
            nn.Linear(in_channels, hidden_channels, bias=False), input_dropout
        )
        self.classify = nn.Linear(hidden_channels * (2 ** (rounds + 1) - 1), out_channels)
        self.dropout = dropout

    def reset_parameters(self) -> None:
        self.embed.reset_parameters()
        self.classify.reset_parameters()

    def adjacencies(self, edge_index: Any, num_nodes: int) -> tuple[Tensor, Tensor]:
        """(Ā₁, Ā₂), cached."""
        dtype = param_dtype(self)
        a1 = gcn_adjacency(edge_index, num_nodes, None, self_loops=False, dtype=dtype)
        a2 = graph_cached(
            "two_hop",
            edge_index,
            num_nodes,
            None,
            dtype,
            lambda: two_hop_adjacency(edge_index, num_nodes, dtype=dtype),
        )
        return a1, a2

    #: what :meth:`forward` hands to its callback (``graff analyze`` names it)
    callback_steps = "the ego embedding R⁽⁰⁾ (k = 0) and each round's [Ā₁R ‖ Ā₂R] (k = 1 … K)"

    def forward(
        self,
        x: Tensor,
        edge_index: Any,
        edge_weight: Tensor | None = None,
        *,
        callback: StepCallback | None = None,
    ) -> Tensor:
        """Class logits [n, k]; ``callback(k, t, R)`` (as GRAFF's, t = k) sees R⁽ᵏ⁾, the ego
        embedding (k = 0) and each round's representation."""
        reject_edge_weight("H2GCN", edge_weight)
        check_callback(callback)
        a1, a2 = self.adjacencies(edge_index, x.size(0))
        r = torch.relu(self.embed(x))
        reps = [r]
        if callback is not None:
            callback(0, 0.0, r)
        for k in range(1, self.rounds + 1):
            r = torch.cat([spmm(a1, r), spmm(a2, r)], dim=-1)
            reps.append(r)
            if callback is not None:
                callback(k, float(k), r)
        h = dropout(torch.cat(reps, dim=-1), self.dropout, self.training)
        return self.classify(h)
